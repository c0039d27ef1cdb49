"""The s3-import approach run end to end: books to S3, ``ImportTable``, ``DescribeImport`` polled to the import's end.

``run_import(books, target, options, progress)`` holds one compressed part in memory at a time; it is not a writer
(botocore's standard retries cover each call). Once ImportTable has answered, a temporary DescribeImport failure is
retried until the import's deadline, and every failure line names the import's ARN. Failures are one-line
``TargetError`` (bucket missing or unreadable, table exists, no ImportTable); a cancel raises ``ImportCancelled``,
and DynamoDB cannot cancel an import, so one already started goes on. On local engines (``options.local``) the lab
creates the bucket and removes the parts; on AWS it leaves them and says where.

In the ``RunReport``: ``seconds`` spans the upload and the import; ``requests`` are the part PUTs; ``throttled`` is
0; ``items_ok`` is ImportedItemCount and ``items_failed`` the rest once it ended (never unknown); ``timeline`` counts
books uploaded, then one point at the import's end (the import's own count is in ``ImportProgress.line``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from core.domain.books import Book
from core.domain.errors import LabError, TargetError
from core.domain.results import RunReport
from core.domain.s3source import PART_BYTES, SEEDED_LINE_BYTES, Part, S3Location, part_bytes_for, parts
from core.run.staging import S3Stage, message
from core.targets.tables import KEY, delete_table, describe_table
from core.targets.target import Target, error_code
from core.wire import logs

IMPORT_TABLE = "ImportedBooks"
UNKNOWN_OPERATION = frozenset({"UnknownOperationException", "UnknownOperation", "InvalidAction", "NotImplemented"})
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
TEMPORARY = frozenset({"ThrottlingException", "Throttling", "ProvisionedThroughputExceededException",
                       "RequestLimitExceeded", "LimitExceededException", "InternalServerError",
                       "ServiceUnavailable", "InternalFailure", "RequestTimeout", "RequestTimeoutException"})
MAX_POLL_BACKOFF_S = 120.0  # the longest wait between DescribeImport calls after failures


class ImportCancelled(LabError):
    """The run was cancelled (by the user, or because a server died); the line says what was left where."""


@dataclass(frozen=True)
class ImportOptions:
    location: S3Location
    local: bool = True  # the lab's own server: it creates the bucket, replaces ImportedBooks, removes the parts
    part_bytes: int | None = None  # None: part_bytes_for(the books' expected size) when items is known, else PART_BYTES
    items: int | None = None  # how many books the run imports, when known (the part size grows with it)
    poll_seconds: float = 10.0  # DescribeImport's rate limit on AWS is low; moto: 0.2 s is plenty
    timeout_seconds: float = 24 * 3600.0
    cancel: threading.Event | None = field(default=None, compare=False)
    run_id: str | None = None  # the parts' folder under the prefix (default: time and randomness)
    note: str | None = None  # e.g. the import ran on moto, not on the chosen engine

    @property
    def part_size(self) -> int:
        """Uncompressed bytes per part: ``part_bytes`` when given, else ``part_bytes_for`` the expected source."""
        if self.part_bytes is not None:
            return self.part_bytes
        return part_bytes_for(self.items * SEEDED_LINE_BYTES) if self.items else PART_BYTES


@dataclass(frozen=True)
class ImportProgress:
    """Where an import run is: uploading parts, or the import processing them."""

    stage: Literal["upload", "import"]
    items: int  # uploaded, or processed by the import (never less than the import's previous answer)
    bytes: int  # uncompressed bytes uploaded, or processed
    parts: int
    status: str = ""  # the import's status (IN_PROGRESS, ...)
    uploaded: int = 0  # books uploaded to S3 so far: the run's progress, which never goes back (0: ``items``)

    @property
    def done(self) -> int:
        """The run's monotonic progress in books (a progress bar's value): the books uploaded; the import's processed
        count restarts at 0 and is shown in ``line``, not here."""
        return self.uploaded or (self.items if self.stage == "upload" else 0)

    @property
    def line(self) -> str:
        if self.stage == "upload":
            return f"uploading: {self.parts:,} part(s), {self.items:,} items, {self.bytes / 1e6:,.1f} MB to S3"
        return f"importing ({self.status}): {self.items:,} items, {self.bytes / 1e6:,.1f} MB processed"


ImportProgressCallback = Callable[[ImportProgress], None]


def prepare_table(client: Any, table: str, local: bool, region: str, cancel: threading.Event | None = None) -> None:
    """An import creates its table: a table of that name must not exist. The lab deletes its own on a local engine
    (a cancel stops that wait: ``Cancelled``); on AWS a ``TargetError`` says how to remove it."""
    if describe_table(client, table) is None:
        return
    if local:
        delete_table(client, table, cancel=cancel)
        return
    raise TargetError(f"table {table} already exists in {region}: an import creates a new table; delete it with "
                      f"`aws dynamodb delete-table --table-name {table} --region {region}` and run again")


def run_import(books: Iterable[Book], target: Target, options: ImportOptions,
               progress: ImportProgressCallback | None = None, table: str = IMPORT_TABLE,
               clock: Callable[[], float] = time.perf_counter) -> RunReport:
    """Import ``books`` into a new ``table`` through S3; see the module's docstring for the report's fields."""
    run = _ImportRun(target, options, progress, table, clock)
    return run.go(books)


class _ImportRun:
    def __init__(self, target: Target, options: ImportOptions, progress: ImportProgressCallback | None, table: str,
                 clock: Callable[[], float]) -> None:
        self.target, self.options, self.progress, self.table, self.clock = target, options, progress, table, clock
        self.cancel = options.cancel or threading.Event()
        self.run_id = options.run_id or f"import-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(4).hex()}"
        self.location = options.location
        self.where = target.where
        self.dynamodb = target.client(max_attempts=3, timeout=30.0)
        self.stage = S3Stage(target.s3_client(), self.location, self.run_id, target.region, self.where,
                             options.local,
                             "s3-import needs S3 where the import runs (AWS, or S3 and DynamoDB at one URL such as a "
                             "moto server)")
        self.timeline: list[tuple[float, int]] = []
        self.started = 0.0

    def go(self, books: Iterable[Book]) -> RunReport:
        wall, cpu = self.clock(), time.process_time()
        self.started = wall
        try:
            self._check_import_known()
            self.stage.bucket()
            self._upload(books)
            arn = self._start()
            answer = self._poll(arn)
        finally:
            if self.options.local:
                self.stage.remove()
        return self._report(answer, self.clock() - wall, time.process_time() - cpu)

    # -- steps -------------------------------------------------------------------------------------------------
    def _check_import_known(self) -> None:
        """A server that does not know ImportTable (a custom target) is named before anything is uploaded."""
        probe = self.target.client(max_attempts=1, timeout=10.0)
        try:
            probe.describe_import(ImportArn=f"arn:aws:dynamodb:{self.target.region}:000000000000:table/"
                                            f"{self.table}/import/00000000000000-lab0probe")
        except ClientError as error:
            if (code := error_code(error)) in UNKNOWN_OPERATION:
                raise TargetError(f"{self.where} does not implement ImportTable ({code}): s3-import needs AWS "
                                  "or a moto server; leave s3-import out for this target") from None
        # any other answer (not found, a 500 from moto, access denied) means the operation exists

    def _upload(self, books: Iterable[Book]) -> None:
        def check(when: str) -> None:
            if self.cancel.is_set():
                raise ImportCancelled(self._cancelled(f"{when} the upload, before the import started"))

        def uploaded(_: Part) -> None:
            self.timeline.append((self.clock() - self.started, self.stage.items))
            self._tell(ImportProgress("upload", self.stage.items, self.stage.source_bytes, len(self.stage.keys),
                                      uploaded=self.stage.items))

        self.stage.upload(parts(books, self.options.part_size), check, uploaded)

    def _start(self) -> str:
        try:
            answer = self.dynamodb.import_table(
                ClientToken=self.run_id,
                S3BucketSource={"S3Bucket": self.location.bucket, "S3KeyPrefix": self.location.folder(self.run_id)},
                InputFormat="DYNAMODB_JSON", InputCompressionType="GZIP",
                TableCreationParameters={"TableName": self.table,
                                         "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
                                         "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
                                         "BillingMode": "PAY_PER_REQUEST"})
        except ClientError as error:
            code = error_code(error)
            if code in UNKNOWN_OPERATION:
                raise TargetError(f"{self.where} does not implement ImportTable ({code}): s3-import needs AWS or a "
                                  "moto server; leave s3-import out for this target") from None
            if code == "ResourceInUseException":
                raise TargetError(f"table {self.table} already exists at {self.where}: an import creates a new "
                                  f"table; delete it (aws dynamodb delete-table --table-name {self.table}) and run "
                                  "again") from None
            raise TargetError(f"ImportTable was refused at {self.where} ({code}: {message(error)})") from None
        return str(answer["ImportTableDescription"]["ImportArn"])

    def _poll(self, arn: str) -> dict[str, Any]:
        """DescribeImport until the import ends; a temporary failure waits (backoff) and asks again, up to the
        deadline; every failure line names ``arn`` (the import goes on whatever the lab does)."""
        deadline = self.clock() + self.options.timeout_seconds
        processed = processed_bytes = failures = 0
        while True:
            try:
                answer: dict[str, Any] = dict(self.dynamodb.describe_import(ImportArn=arn)["ImportTableDescription"])
            except (ClientError, BotoCoreError) as error:
                failures += 1
                why = self._temporary(error)
                if why is None:
                    raise TargetError(f"DescribeImport of import {arn} was refused at {self.where} "
                                      f"({_one_line(error)}): {self._follow(arn)}") from None
                wait = min(self.options.poll_seconds * 2 ** min(failures, 16), MAX_POLL_BACKOFF_S)
                if self.clock() + wait > deadline:
                    raise TargetError(f"DescribeImport of import {arn} kept failing ({why}) until the deadline "
                                      f"({self.options.timeout_seconds:,.0f} s): {self._follow(arn)}") from None
                logging.getLogger(__name__).warning("DescribeImport of %s failed (%s): asking again in %.1f s",
                                                    arn, why, wait)
                self._wait(wait, arn)
                continue
            failures = 0
            status = str(answer.get("ImportStatus", ""))
            processed = max(processed, int(answer.get("ProcessedItemCount") or 0))
            processed_bytes = max(processed_bytes, int(answer.get("ProcessedSizeBytes") or 0))
            self._tell(ImportProgress("import", processed, processed_bytes, len(self.stage.keys), status,
                                      uploaded=self.stage.items))
            if status in TERMINAL:
                self.timeline.append((self.clock() - self.started, self.stage.items))
                return answer
            if self.clock() > deadline:
                raise TargetError(f"the import {arn} is still {status} after {self.options.timeout_seconds:,.0f} s: "
                                  f"the lab stopped waiting; {self._follow(arn)}")
            self._wait(self.options.poll_seconds, arn)

    def _temporary(self, error: ClientError | BotoCoreError) -> str | None:
        """Why a failed call is worth asking again (throttling, a 5xx, the connection), or None."""
        if isinstance(error, (ConnectionError, HTTPClientError)):
            return type(error).__name__
        if isinstance(error, ClientError):
            code = error_code(error)
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in TEMPORARY or status >= 500:
                return code or f"HTTP {status}"
        return None

    def _wait(self, seconds: float, arn: str) -> None:
        if self.cancel.wait(seconds):
            raise ImportCancelled(self._cancelled(
                f"while the import ran: DynamoDB has no API to stop an import, so import {arn} goes on and "
                f"creates table {self.table}"))

    def _follow(self, arn: str) -> str:
        return f"the import goes on; follow it with `aws dynamodb describe-import --import-arn {arn}`"

    # -- the end ---------------------------------------------------------------------------------------------
    def _report(self, answer: dict[str, Any], seconds: float, cpu: float) -> RunReport:
        status = str(answer.get("ImportStatus", ""))
        imported = min(int(answer.get("ImportedItemCount") or 0), self.stage.items)
        halted: str | None = None
        failures: tuple[str, ...] = ()
        errors: dict[str, int] = {}
        if status != "COMPLETED":
            code = str(answer.get("FailureCode") or status)
            reason = logs.redact(str(answer.get("FailureMessage") or "no message").splitlines()[0][:300])
            halted = f"the import ended {status} ({code}: {reason})"
            failures, errors = (halted,), {code: 1}
        return RunReport(approach="s3-import", table=self.table, items=self.stage.items, seconds=seconds,
                         requests=len(self.stage.keys), retries=self.stage.retries, throttled=0, errors=errors,
                         items_ok=imported, items_failed=self.stage.items - imported, items_unknown=0,
                         latencies_ms=tuple(self.stage.latencies), client_cpu_seconds=cpu,
                         timeline=tuple(self.timeline),
                         failures=failures, halted=halted, notes=self._notes())

    def _notes(self) -> tuple[str, ...]:
        notes = [self.options.note] if self.options.note else []
        if not self.options.local and self.stage.keys:
            notes.append(f"the {len(self.stage.keys):,} uploaded part(s) are left in your bucket at "
                         f"{self.location.url(self.run_id)} (delete them with `aws s3 rm --recursive "
                         f"{self.location.url(self.run_id)}`)")
        return tuple(notes)

    def _cancelled(self, when: str) -> str:
        return self.stage.cancelled("s3-import", when)

    def _tell(self, event: ImportProgress) -> None:
        if self.progress is not None:
            self.progress(event)


def _one_line(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        return f"{error_code(error)}: {message(error)}"
    return logs.redact(str(error).splitlines()[0][:200]) if str(error) else type(error).__name__


__all__ = ["IMPORT_TABLE", "ImportCancelled", "ImportOptions", "ImportProgress", "prepare_table", "run_import"]
