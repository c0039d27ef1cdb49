"""``python -m core aws-check``: a tiny bulk put on the user's own account, timed, verified and cleaned up.

``CheckOptions`` validates the flags (``ConfigError`` naming the flag); ``confirmation`` says what the check creates
and costs and sends nothing. ``run_check(options)`` creates a fresh table of the lab's (never an existing name), bulk
puts ``items`` seeded books through ``core.run.bulkput``, reads them back, and always deletes the table and the S3
objects, saying what it could not delete. Its figures come back in ``CheckResult`` for the caller to store; a custom
endpoint's are marked emulated. A ``cancel`` cancels the operation and cleans up. Failures are one line in
``CheckResult.error``, or a ``LabError`` raised before anything was created.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from core.domain.books import generate_books
from core.domain.bulkmodel import BulkAssumptions, MeasuredBulk, Poll, check_tier, measure
from core.domain.bulkwire import ListBulkOperations, Tier
from core.domain.endpoints import DEFAULT_REGION, off_machine, validate_endpoint_url, validate_region
from core.domain.errors import ConfigError, LabError, TargetError
from core.domain.pricing import RRU_PRICE_USD, S3_GET_PRICE_USD, S3_PUT_PRICE_USD
from core.domain.results import Verification
from core.domain.s3source import (
    DEFAULT_PREFIX,
    GZIP_RATIO,
    SEEDED_ITEM_BYTES,
    SEEDED_LINE_BYTES,
    S3Location,
)
from core.run.bulkput import BulkCancelled, BulkOptions, BulkProgress, BulkRun, run_bulk_put
from core.targets.bulkclient import BulkCallError, BulkClient
from core.targets.tables import create_table, delete_table, describe_table
from core.targets.target import Target, error_code
from core.targets.verify import verify
from core.wire import logs

DEFAULT_ITEMS = 100
MAX_ITEMS = 100_000  # a check, not a load: the planner and `run --target aws` are for more
KB = 1024
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
S3_REQUESTS = (1, 4)  # PUTs (and LISTs, priced alike): the part, the report's and the clean-up's listings; GETs


def _code(error: ClientError) -> str:
    return error_code(error) or "error"


@dataclass(frozen=True)
class CheckOptions:
    """What one check does: ``items`` books through ``s3://bucket/prefix`` into a fresh table in ``region``."""

    bucket: str
    prefix: str = DEFAULT_PREFIX
    region: str = DEFAULT_REGION
    table: str | None = None  # None: LabBulkCheck-<time>-<random>
    items: int = DEFAULT_ITEMS
    tier: Tier = "STANDARD"
    profile: str | None = None
    endpoint_url: str | None = None  # DynamoDB elsewhere than AWS: the figures are marked emulated
    s3_endpoint_url: str | None = None  # S3 elsewhere than AWS (default: endpoint_url)
    poll_seconds: float | None = None  # None: 1 s on AWS, 0.05 s on this machine
    timeout_seconds: float = 3600.0
    run_id: str = field(default_factory=lambda: f"check-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}")

    def __post_init__(self) -> None:
        S3Location(self.bucket, self.prefix)  # the bucket and prefix checked as every S3 approach checks them
        object.__setattr__(self, "prefix", S3Location(self.bucket, self.prefix).prefix)
        validate_region(self.region)
        object.__setattr__(self, "tier", check_tier(self.tier))
        if isinstance(self.items, bool) or not isinstance(self.items, int) or not 1 <= self.items <= MAX_ITEMS:
            raise ConfigError(f"--items must be a whole number from 1 to {MAX_ITEMS:,} (a check is tiny), "
                              f"got {self.items!r}")
        if self.table is not None and not _TABLE.match(self.table):
            raise ConfigError(f"invalid table name {self.table!r}: 3 to 255 letters, digits, '_', '-' or '.' "
                              "(--table)")
        for url in (self.endpoint_url, self.s3_endpoint_url):
            if url is not None:
                validate_endpoint_url(url)
        if self.s3_endpoint_url is not None and self.endpoint_url is None:
            raise ConfigError("--s3-endpoint-url is for a check against --endpoint-url: on AWS, S3 is AWS's")

    @property
    def table_name(self) -> str:
        return self.table or f"LabBulkCheck-{self.run_id.removeprefix('check-')}"

    @property
    def emulated(self) -> bool:
        """Not AWS: the figures are stored marked emulated and the planner never takes them."""
        return self.endpoint_url is not None

    @property
    def where(self) -> str:
        return self.endpoint_url or f"AWS {self.region}"

    @property
    def off_machine(self) -> str | None:
        """Where the check writes when that is off this machine (then it needs a confirmation), else None."""
        if self.endpoint_url is None:
            return off_machine("aws", None, self.region)
        return off_machine("custom", self.endpoint_url, self.region) or (
            off_machine("custom", self.s3_endpoint_url, self.region) if self.s3_endpoint_url else None)

    @property
    def location(self) -> S3Location:
        return S3Location(self.bucket, self.prefix)

    @property
    def report_prefix(self) -> str:
        """Where the operation writes its reports (``core.run.bulkput``'s layout)."""
        return f"{self.prefix}{self.run_id}-report/"

    @property
    def poll(self) -> float:
        if self.poll_seconds is not None:
            return self.poll_seconds
        return 1.0 if self.endpoint_url is None or off_machine("custom", self.endpoint_url, self.region) else 0.05

    def targets(self) -> tuple[Target, Target]:
        """DynamoDB's target and S3's (the user's credential chain on AWS)."""
        if self.endpoint_url is None:
            target = Target("aws", self.region, profile=self.profile)
            return target, target
        dynamodb = Target("custom", self.region, self.endpoint_url, profile=self.profile)
        return dynamodb, Target("custom", self.region, self.s3_endpoint_url or self.endpoint_url, profile=self.profile)


def cost_usd(items: int, tier: str, assumptions: BulkAssumptions | None = None) -> float:
    """What a check of ``items`` books costs: the bulk put bytes at the assumed price, the S3 requests, the reads
    back (strongly consistent, 1 RRU per started 4 KB, plus the count's scan). Creating and deleting a table is
    free; the objects live for minutes (storage is negligible)."""
    bulk = (assumptions or BulkAssumptions()).cost(items * SEEDED_ITEM_BYTES, tier)
    reads = (items * -(-SEEDED_ITEM_BYTES // (4 * KB)) + -(-items * SEEDED_ITEM_BYTES // (4 * KB))) * RRU_PRICE_USD
    return bulk + S3_REQUESTS[0] * S3_PUT_PRICE_USD + S3_REQUESTS[1] * S3_GET_PRICE_USD + reads


def confirmation(options: CheckOptions) -> list[str]:
    """Exactly what the check creates and what it costs, in lines (nothing is sent)."""
    where = options.where
    source_kb = options.items * SEEDED_LINE_BYTES / 1e3
    bulk_bytes = options.items * SEEDED_ITEM_BYTES
    price = BulkAssumptions().price_per_gb[options.tier]
    return [
        f"aws-check will, at {where}" + ("" if options.emulated else " with your AWS credentials") + ":",
        f"  create the on-demand table {options.table_name} (deleted at the end; a table of that name must not "
        "exist)",
        f"  put 1 object of about {source_kb * GZIP_RATIO:,.1f} KB ({options.items:,} books, {source_kb:,.1f} KB of "
        f"DynamoDB JSON gzipped) at {options.location.url(options.run_id)}part-00000.json.gz; the bulk put writes "
        f"its reports under s3://{options.bucket}/{options.report_prefix} (all deleted at the end)",
        f"  start one {options.tier} bulk put (StartBulkPutItems) into that table, poll it every "
        f"{options.poll:g} s, read the {options.items:,} books back",
        f"  cost: about ${cost_usd(options.items, options.tier):.5f}: {bulk_bytes / 1e3:,.1f} KB of bulk put bytes "
        f"at {price:.2f} USD/GB (an assumed price: AWS publishes none yet), {S3_REQUESTS[0]} S3 PUT and "
        f"{S3_REQUESTS[1]} GET/LIST requests, {options.items:,} strongly consistent reads; creating and deleting "
        "the table is free",
    ]


@dataclass(frozen=True)
class CheckResult:
    """What a check did: its figures (None when it measured nothing), the operation's last status, the table read
    back, what it could not clean up (one line each), and the one line that says why it failed."""

    figures: MeasuredBulk | None
    status: str  # the operation's last status, or "not started"
    verification: Verification | None = None
    left: tuple[str, ...] = ()
    error: str | None = None
    cancelled: bool = False


def preflight(options: CheckOptions, dynamodb: Target, s3: object) -> None:
    """Before anything is created: the endpoint knows the bulk operations, the bucket is there and readable, the
    table does not exist. ``LabError`` in one line otherwise."""
    try:
        BulkClient(dynamodb, attempts=2).list(ListBulkOperations(max_results=1))
    except BulkCallError as error:
        if error.unknown_operation:
            raise TargetError(f"{options.where} does not know the bulk put operations ({error.code}): they are not "
                              "available in this region or at this endpoint yet; try another --region") from None
        if error.code.startswith("AccessDenied"):
            raise TargetError(f"{options.where} refused ListBulkOperations ({error.code}): your credentials need "
                              "dynamodb:StartBulkPutItems, DescribeBulkOperation, ListBulkOperations, "
                              "CancelBulkOperation, CreateTable, DeleteTable, DescribeTable, BatchGetItem and "
                              "Scan") from None
        raise
    try:
        s3.head_bucket(Bucket=options.bucket)  # type: ignore[attr-defined]
    except ClientError as error:
        code = _code(error)
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise TargetError(f"S3 bucket {options.bucket} does not exist at {options.where}: create it (in "
                              f"{options.region}) or name one of yours with --s3-bucket") from None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise TargetError(f"S3 bucket {options.bucket} refused your credentials ({code}): the check needs "
                              "s3:ListBucket, s3:PutObject, s3:GetObject and s3:DeleteObject on it") from None
        raise TargetError(f"S3 bucket {options.bucket} is not usable ({code}): name a bucket of yours in "
                          f"{options.region} with --s3-bucket") from None
    except BotoCoreError as error:
        raise TargetError(f"S3 at {options.where} did not answer ({logs.redact(str(error))[:200]})") from None
    client = dynamodb.client(max_attempts=5, timeout=30.0)
    try:
        exists = describe_table(client, options.table_name) is not None
    except ClientError as error:
        raise TargetError(f"DynamoDB at {options.where} refused DescribeTable ({_code(error)}): check your "
                          "credentials' permissions") from None
    if exists:
        raise ConfigError(f"table {options.table_name} exists at {options.where}: aws-check creates and deletes "
                          "its own table; give --table a name that does not exist")


def run_check(options: CheckOptions, *, cancel: threading.Event | None = None,
              progress: Callable[[str], None] | None = None,
              clock: Callable[[], float] = time.monotonic, now: Callable[[], float] = time.time) -> CheckResult:
    """The check, end to end (see the module's docstring); raises ``LabError`` only before anything was created."""
    cancel = cancel or threading.Event()
    dynamodb, s3_target = options.targets()
    s3 = s3_target.s3_client()
    preflight(options, dynamodb, s3)
    client = dynamodb.client(max_attempts=5, timeout=30.0)
    name = options.table_name
    books = list(generate_books(options.items))
    polls: list[Poll] = []
    sent = [0.0]
    seen: list[str] = []

    def watch(event: BulkProgress) -> None:
        if event.operation is None:  # the last upload ends just before StartBulkPutItems is sent
            sent[0] = clock()
            return
        operation = event.operation
        polls.append(Poll(clock() - sent[0], operation.processed_items, operation.processed_bytes,
                          operation.terminal))
        if progress is not None and (not seen or seen[-1] != operation.line):
            seen.append(operation.line)
            progress(operation.line)

    created = now()
    run: BulkRun | None = None
    status, error, verification = "not started", None, None
    try:
        try:
            create_table(client, name)
        except ClientError as failure:
            raise TargetError(f"DynamoDB at {options.where} refused CreateTable of {name} ({_code(failure)}): your "
                              "credentials need dynamodb:CreateTable and DeleteTable") from None
        if progress is not None:
            progress(f"table {name} ACTIVE; uploading {options.items:,} books to "
                     f"{options.location.url(options.run_id)}")
        run = run_bulk_put(books, dynamodb, s3_target, BulkOptions(
            options.location, tier=options.tier, local=False, emulated=options.emulated, items=options.items,
            poll_seconds=options.poll, timeout_seconds=options.timeout_seconds, cancel=cancel,
            run_id=options.run_id), progress=watch, table=name, clock=clock)
        operation = run.operation
        status = operation.status if operation is not None else status
        if operation is not None and not operation.terminal:
            status = _stop(dynamodb, operation.arn, options)
            error = (f"the bulk put {operation.arn} did not end within {options.timeout_seconds:,.0f} s (it is "
                     f"{status} now)")
        elif operation is not None and operation.status == "FAILED":
            error = (f"the bulk put FAILED ({operation.failure_code or 'no FailureCode'}: "
                     f"{logs.redact((operation.failure_message or 'no message').splitlines()[0][:300])})")
        elif operation is not None and operation.status != "COMPLETED" and not cancel.is_set():
            error = f"the bulk put ended {operation.status}: {'; '.join(run.report.failures[:3])}"
        if operation is not None and operation.terminal and not cancel.is_set():
            verification = verify(client, name, books, run.report)
            if operation.status == "COMPLETED" and (verification.found != options.items or verification.lost):
                error = (f"the table holds {verification.found:,} of the {options.items:,} books the bulk put "
                         f"COMPLETED ({verification.lost:,} lost, {verification.mismatched:,} changed)")
    except BulkCancelled:
        status = "not started"
    except (LabError, ClientError, BotoCoreError) as failure:
        error = _one_line(failure)
    finally:
        left = cleanup(options, client, s3)
    figures = None
    if run is not None and run.operation is not None and error is None and not cancel.is_set():
        figures = measure(polls, wru=sum(-(-book.size // KB) for book in books), created=created,
                          region=options.region, tier=options.tier, status=run.operation.status,
                          emulated=options.emulated, endpoint=options.endpoint_url)
        if figures is None:
            error = "the polls saw no item processed before the end: nothing to measure"
    return CheckResult(figures, status, verification, left, error, cancelled=cancel.is_set())


def _stop(dynamodb: Target, arn: str, options: CheckOptions, wait_s: float = 600.0) -> str:
    """Cancel a bulk put the check stopped waiting for and wait for its end; its last status."""
    bulk = BulkClient(dynamodb)
    with contextlib.suppress(BulkCallError):
        bulk.cancel(arn)
    deadline = time.monotonic() + wait_s
    status = "CANCELLING"
    while time.monotonic() < deadline:
        with contextlib.suppress(BulkCallError):
            described = bulk.describe(arn)
            status = described.status
            if described.terminal:
                break
        time.sleep(options.poll)
    return status


def cleanup(options: CheckOptions, client: object, s3: object) -> tuple[str, ...]:
    """Delete the check's table and every object under its folder and its report prefix; one line for each thing
    that could not be deleted, with the command that deletes it."""
    left = []
    for prefix in (options.location.folder(options.run_id), options.report_prefix):
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
                    Bucket=options.bucket, Prefix=prefix):
                batch = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
                if batch:
                    answer = s3.delete_objects(  # type: ignore[attr-defined]
                        Bucket=options.bucket, Delete={"Objects": batch, "Quiet": True})
                    if answer.get("Errors"):
                        raise TargetError(str(answer["Errors"][0].get("Code", "error")))
        except (ClientError, BotoCoreError, LabError) as error:
            left.append(f"the objects under s3://{options.bucket}/{prefix} ({_one_line(error)}): delete them with "
                        f"`aws s3 rm --recursive s3://{options.bucket}/{prefix}`")
    try:
        delete_table(client, options.table_name)  # type: ignore[arg-type]
    except (ClientError, BotoCoreError, LabError) as error:
        left.append(f"the table {options.table_name} ({_one_line(error)}): delete it with `aws dynamodb delete-table "
                    f"--table-name {options.table_name} --region {options.region}`")
    return tuple(left)


def _one_line(error: BaseException) -> str:
    if isinstance(error, ClientError):
        message = str(error.response.get("Error", {}).get("Message", "")).splitlines()
        return f"{_code(error)}: {message[0][:200] if message else 'no message'}"
    return logs.redact(str(error).splitlines()[0][:300]) if str(error) else type(error).__name__



def summary(result: CheckResult, options: CheckOptions) -> list[str]:
    """What the check found, in lines: the figures, the table read back, why it failed or that it was cancelled."""
    lines = []
    if result.figures is not None:
        lines.append(f"measured: {result.figures.line}")
    if result.verification is not None:
        check = result.verification
        lines.append(f"table {options.table_name}: {check.found:,} of the {options.items:,} books found, "
                     f"{check.lost:,} lost, {check.mismatched:,} changed")
    if result.cancelled:
        lines.append(f"cancelled: the bulk put ended {result.status}; nothing was measured")
    deleted = "the table and the objects were deleted" if not result.left else "the rest was deleted"
    lines.append(f"clean-up: {deleted}")
    return lines
