"""The bulk-put approach run end to end: books to S3, ``StartBulkPutItems`` into the existing table, polled to its end.

``run_bulk_put(books, target, s3_target, options, progress)`` needs the table to exist (the runner resets it) and uses
the run id as the ClientToken, so a retried start is the same operation. A ``cancel`` during the operation calls
``CancelBulkOperation`` and waits for its end (the items written stay and are verified); one before the start raises
``BulkCancelled``. Items the ERROR report names are counted failed with their reason.

In the ``RunReport``: ``seconds`` spans the upload and the operation; ``requests`` are S3 PUTs plus the bulk calls
(``latencies_ms``: one per part); ``items_ok`` is processed minus failed once the operation completed, 0 when it was
CANCELLED or FAILED (those items are ``items_unknown``); ``timeline`` is 0 through the upload, then each poll.
``BulkRun.operation`` is the last description, which the verification must agree with.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from core.domain.books import Book
from core.domain.bulkmodel import EMULATED, BulkAssumptions
from core.domain.bulkwire import (
    BulkOperationDescription,
    InputS3Configuration,
    OutputS3Configuration,
    ReportedItem,
    StartBulkPutItems,
    Tier,
    report_line,
)
from core.domain.errors import LabError, TargetError
from core.domain.results import RunReport
from core.domain.s3source import SEEDED_LINE_BYTES, Part, S3Location, even_part_bytes, item_line, parts
from core.run.staging import S3Stage
from core.targets.bulkclient import BulkCallError, BulkClient
from core.targets.target import Target, error_code
from core.wire import logs

MAX_TRACKED_KEYS = 200_000  # keys kept to name a cancelled operation's items as unknown (verification: recovered)
MAX_REPORTED = 100_000  # ERROR report lines read back
MAX_FAILURE_LINES = 5


class BulkCancelled(LabError):
    """The run was cancelled before the bulk put started; the line says what was left where."""


@dataclass(frozen=True)
class BulkOptions:
    location: S3Location
    tier: Tier = "STANDARD"
    max_wru: int | None = None
    local: bool = True  # the lab's own S3 (moto): it creates the bucket and removes the parts and reports
    emulated: bool = True  # the operation runs in the lab's proxy (every view says so)
    items: int | None = None
    part_bytes: int | None = None  # None: even_part_bytes(the books' expected size)
    poll_seconds: float = 10.0
    timeout_seconds: float = 24 * 3600.0
    cancel: threading.Event | None = field(default=None, compare=False)
    run_id: str | None = None
    malformed: Collection[int] = ()  # positions of books written as broken lines (to see the ERROR report work)
    assumptions: BulkAssumptions = field(default_factory=BulkAssumptions)

    @property
    def part_size(self) -> int:
        if self.part_bytes is not None:
            return self.part_bytes
        return even_part_bytes((self.items or 1) * SEEDED_LINE_BYTES)


@dataclass(frozen=True)
class BulkProgress:
    """Where a bulk-put run is: uploading parts, or the operation processing them."""

    stage: str  # upload | bulk
    uploaded: int
    parts: int
    operation: BulkOperationDescription | None = None

    @property
    def line(self) -> str:
        if self.operation is None:
            return f"uploading: {self.parts:,} part(s), {self.uploaded:,} items to S3"
        return self.operation.line


@dataclass(frozen=True)
class BulkRun:
    report: RunReport
    operation: BulkOperationDescription | None  # the last description (None: the operation never started)
    reported: tuple[ReportedItem, ...] = ()


def broken_line(book: Book) -> bytes:
    """A book's line cut short: malformed JSON that still shows its key (what the ERROR report must name)."""
    return item_line(book)[:-12] + b"\n"


def run_bulk_put(books: Iterable[Book], target: Target, s3_target: Target, options: BulkOptions,
                 progress: Callable[[BulkProgress], None] | None = None, table: str = "BulkPutBooks",
                 clock: Callable[[], float] = time.perf_counter) -> BulkRun:
    """Bulk put ``books`` into the existing ``table``; see the module's docstring for the report's fields."""
    return _BulkRun(target, s3_target, options, progress, table, clock).go(books)


class _BulkRun:
    def __init__(self, target: Target, s3_target: Target, options: BulkOptions,
                 progress: Callable[[BulkProgress], None] | None, table: str, clock: Callable[[], float]) -> None:
        self.target, self.options, self.progress, self.table, self.clock = target, options, progress, table, clock
        self.cancel = options.cancel or threading.Event()
        self.run_id = options.run_id or f"bulk-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(4).hex()}"
        self.location = options.location
        self.where = target.where
        self.bulk = BulkClient(target)
        self.stage = S3Stage(s3_target.s3_client(), self.location, self.run_id, s3_target.region,
                             s3_target.where, options.local,
                             "bulk-put needs S3 that DynamoDB can read in the table's region (AWS, or the lab's proxy "
                             "with its local S3)")
        self.isbns: list[str] = []
        self.timeline: list[tuple[float, int]] = [(0.0, 0)]
        self.calls = 0
        self.started = 0.0

    @property
    def report_prefix(self) -> str:
        return f"{self.location.prefix}{self.run_id}-report/"

    def go(self, books: Iterable[Book]) -> BulkRun:
        wall, cpu = self.clock(), time.process_time()
        self.started = wall
        try:
            self.stage.bucket()
            self._upload(books)
            operation = self._poll(self._start())
            reported = self._read_report()
        finally:
            if self.options.local:
                self.stage.remove(self.location.folder(self.run_id))
                self.stage.remove(self.report_prefix)
        return BulkRun(self._report(operation, reported, self.clock() - wall, time.process_time() - cpu),
                       operation, tuple(reported))

    # -- steps -------------------------------------------------------------------------------------------------
    def _upload(self, books: Iterable[Book]) -> None:
        malformed = frozenset(self.options.malformed)
        position = iter(range(2**62))

        def line_of(book: Book) -> bytes:
            if len(self.isbns) < MAX_TRACKED_KEYS:
                self.isbns.append(book.isbn)
            return broken_line(book) if next(position) in malformed else item_line(book)

        def check(when: str) -> None:
            if self.cancel.is_set():
                raise BulkCancelled(self._cancelled(f"{when} the upload, before the bulk put started"))

        def uploaded(_: Part) -> None:
            self._tell(BulkProgress("upload", self.stage.items, len(self.stage.keys)))

        self.stage.upload(parts(books, self.options.part_size, line_of=line_of), check, uploaded)

    def _start(self) -> BulkOperationDescription:
        request = StartBulkPutItems(
            self.table, InputS3Configuration(self.location.bucket, self.location.folder(self.run_id)),
            OutputS3Configuration(self.location.bucket, self.report_prefix), max_wru=self.options.max_wru,
            tier=self.options.tier, client_token=self.run_id)
        self.calls += 1
        try:
            return self.bulk.start(request)
        except BulkCallError as error:
            if error.unknown_operation:
                raise TargetError(f"{self.where} does not implement StartBulkPutItems ({error.code}): bulk-put needs "
                                  "AWS or the lab's proxy (the embedded, dynamodb-local and localstack targets); "
                                  "leave bulk-put out for this target") from None
            raise

    def _poll(self, operation: BulkOperationDescription) -> BulkOperationDescription:
        """DescribeBulkOperation until a terminal status; a cancel sends CancelBulkOperation once and waits on."""
        deadline = self.clock() + self.options.timeout_seconds
        cancelled = False
        while True:
            self.timeline.append((self.clock() - self.started, max(self.timeline[-1][1], operation.processed_items)))
            self._tell(BulkProgress("bulk", self.stage.items, len(self.stage.keys), operation))
            if operation.terminal:
                return operation
            if self.clock() > deadline:
                return operation  # reported as not finished (halted names the ARN)
            if self.cancel.wait(self.options.poll_seconds) and not cancelled:
                cancelled = True
                self.calls += 1
                with contextlib.suppress(BulkCallError):  # already ending: the next description says how
                    self.bulk.cancel(operation.arn)
                deadline = min(deadline, self.clock() + max(600.0, 10 * self.options.poll_seconds))
                logging.getLogger(__name__).info("bulk put %s: cancel asked, waiting for its end", operation.arn)
            self.calls += 1
            try:
                operation = self.bulk.describe(operation.arn)
            except BulkCallError as error:
                raise TargetError(f"DescribeBulkOperation of {operation.arn} failed ({error.code}): follow it with "
                                  f"`aws dynamodb describe-bulk-operation --bulk-operation-arn {operation.arn}`"
                                  ) from None

    def _read_report(self) -> list[ReportedItem]:
        out: list[ReportedItem] = []
        try:
            pages = self.stage.s3.get_paginator("list_objects_v2").paginate(Bucket=self.location.bucket,
                                                                            Prefix=self.report_prefix)
            for page in pages:
                for entry in page.get("Contents", []):
                    if "/ERROR/" not in entry["Key"]:
                        continue
                    body = self.stage.s3.get_object(Bucket=self.location.bucket, Key=entry["Key"])["Body"].read()
                    out.extend(item for raw in body.splitlines() if (item := report_line(raw)) is not None)
                    if len(out) >= MAX_REPORTED:
                        return out[:MAX_REPORTED]
        except ClientError as error:
            logging.getLogger(__name__).warning("the ERROR report under %s could not be read (%s)",
                                                self.report_prefix, error_code(error))
        return out

    # -- the end ---------------------------------------------------------------------------------------------
    def _report(self, operation: BulkOperationDescription, reported: list[ReportedItem], seconds: float,
                cpu: float) -> RunReport:
        completed = operation.status in ("COMPLETED", "COMPLETED_WITH_ERRORS")
        failed = min(operation.failed_items, self.stage.items)
        ok = min(operation.written, self.stage.items - failed) if completed else 0
        failed_isbns = tuple(dict.fromkeys(r.isbn for r in reported if r.isbn))
        unknown = self.stage.items - ok - failed
        unknown_isbns: tuple[str, ...] = ()
        if unknown:
            known = set(failed_isbns)
            unknown_isbns = tuple(isbn for isbn in self.isbns if isbn not in known)
        errors = dict(Counter(r.code for r in reported))
        failures = [r.reason for r in reported[:MAX_FAILURE_LINES]]
        halted = None
        if not completed:
            code = operation.failure_code or operation.status
            message = logs.redact((operation.failure_message or "no message").splitlines()[0][:300])
            halted = (f"the bulk put ended {operation.status} ({code}: {message}); "
                      f"{operation.processed_items:,} items processed before it stopped" if operation.terminal else
                      f"the bulk put {operation.arn} is still {operation.status} after "
                      f"{self.options.timeout_seconds:,.0f} s: the lab stopped waiting")
            failures.insert(0, halted)
            if operation.status == "FAILED":
                errors[code] = errors.get(code, 0) + 1
        self.timeline.append((seconds, max(self.timeline[-1][1], ok)))
        return RunReport(approach="bulk-put", table=self.table, items=self.stage.items, seconds=seconds,
                         requests=len(self.stage.keys) + self.calls, retries=self.stage.retries, throttled=0,
                         errors=errors, items_ok=ok, items_failed=failed, items_unknown=unknown,
                         latencies_ms=tuple(self.stage.latencies), client_cpu_seconds=cpu,
                         timeline=tuple(self.timeline), failures=tuple(failures), failed_isbns=failed_isbns,
                         unknown_isbns=unknown_isbns, halted=halted, notes=self._notes(operation))

    def _notes(self, operation: BulkOperationDescription) -> tuple[str, ...]:
        notes = [EMULATED] if self.options.emulated else []
        notes.append(f"bulk put {operation.status}: ProcessedItemCount {operation.processed_items:,}, "
                     f"FailedItemCount {operation.failed_items:,} ({self.options.tier}"
                     f"{f', MaxWriteRequestUnits {self.options.max_wru:,}' if self.options.max_wru else ''})")
        notes.append(self.options.assumptions.cost_line(operation.bulk_put_bytes, self.options.tier))
        if not self.options.local and self.stage.keys:
            notes.append(f"the {len(self.stage.keys):,} uploaded part(s) and the reports are left in your bucket at "
                         f"{self.location.url(self.run_id)} and s3://{self.location.bucket}/{self.report_prefix} "
                         f"(delete them with `aws s3 rm --recursive`)")
        return tuple(notes)

    def _cancelled(self, when: str) -> str:
        return self.stage.cancelled("bulk-put", when)

    def _tell(self, event: BulkProgress) -> None:
        if self.progress is not None:
            self.progress(event)


