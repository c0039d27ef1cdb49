"""DynamoDB's bulk put operations on the wire: the lab's own frozen types for their requests and answers.

Pure, no heavy imports; shaped as botocore 1.44.18's service model has them (the lab signs and sends them itself:
``core.targets.bulkclient``). Request types raise ``ConfigError`` naming the field the model constrains; answer types'
``from_json`` ignore unknown members. ``report_line`` returns ``None`` for an ERROR-report line it cannot read (the
report's layout is not published).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson

from core.domain.errors import ConfigError

Status = Literal["IN_PROGRESS", "COMPLETED", "COMPLETED_WITH_ERRORS", "CANCELLING", "CANCELLED", "FAILED"]
Tier = Literal["STANDARD", "ACCELERATED"]
InputFormat = Literal["DYNAMODB_JSON", "ION"]
Compression = Literal["GZIP", "ZSTD", "NONE"]
OutputType = Literal["ERROR", "CONDITION_CHECK_FAILURE"]
STATUSES: tuple[Status, ...] = get_args(Status)
TIERS: tuple[Tier, ...] = get_args(Tier)
TERMINAL: frozenset[str] = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "CANCELLED", "FAILED"})
OPERATIONS = ("StartBulkPutItems", "DescribeBulkOperation", "ListBulkOperations", "CancelBulkOperation")
MIN_MAX_WRU = 1_024  # MaxWriteRequestUnits' minimum in the service model
MAX_LIST_RESULTS = 25
DEFAULT_LIST_RESULTS = 10
MAX_OBJECTS = 50_000  # S3 objects per operation (AWS's developer guide)
MAX_OBJECT_BYTES = 5 * 10**9  # 5 GB per object
_S3_BUCKET = re.compile(r"^[a-z0-9A-Z]+[.\-\w]*[a-z0-9A-Z]+$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_NEXT_TOKEN = re.compile(r"^([0-9a-f]{16})+$")
_ISBN = re.compile(rb'"isbn"\s*:\s*\{\s*"[A-Z]{1,4}"\s*:\s*"([^"\\]{1,64})"')


def _choice(value: str, choices: tuple[str, ...], field: str) -> str:
    if value not in choices:
        raise ConfigError(f"{field} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class InputS3Configuration:
    """Where the bulk put reads its objects: every object under ``prefix`` in ``bucket``."""

    bucket: str
    prefix: str = ""
    input_format: InputFormat = "DYNAMODB_JSON"
    compression: Compression = "GZIP"
    bucket_owner: str | None = None  # a 12-digit account id, for a bucket of another account

    def __post_init__(self) -> None:
        _check_bucket(self.bucket, self.prefix, self.bucket_owner, "input")
        _choice(self.input_format, get_args(InputFormat), "InputFormat")
        _choice(self.compression, get_args(Compression), "InputCompressionType")

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"S3Bucket": self.bucket, "InputFormat": self.input_format,
                               "InputCompressionType": self.compression}
        if self.prefix:
            out["S3KeyPrefix"] = self.prefix
        if self.bucket_owner:
            out["S3BucketOwner"] = self.bucket_owner
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InputS3Configuration:
        return cls(str(data.get("S3Bucket", "")), str(data.get("S3KeyPrefix") or ""),
                   data.get("InputFormat", "DYNAMODB_JSON"), data.get("InputCompressionType") or "NONE",
                   data.get("S3BucketOwner"))


@dataclass(frozen=True)
class OutputS3Configuration:
    """Where the bulk put writes its reports (ERROR: the items it could not parse or validate)."""

    bucket: str
    prefix: str = ""
    output_types: tuple[OutputType, ...] = ("ERROR",)
    bucket_owner: str | None = None
    sse_algorithm: Literal["AES256", "KMS"] | None = None
    sse_kms_key_id: str | None = None

    def __post_init__(self) -> None:
        _check_bucket(self.bucket, self.prefix, self.bucket_owner, "output")
        if not self.output_types:
            raise ConfigError("OutputType must name at least one of ERROR, CONDITION_CHECK_FAILURE")
        for kind in self.output_types:
            _choice(kind, get_args(OutputType), "OutputType")
        if self.sse_algorithm is not None:
            _choice(self.sse_algorithm, ("AES256", "KMS"), "S3SseAlgorithm")

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"S3Bucket": self.bucket, "OutputType": list(self.output_types)}
        for name, value in (("S3KeyPrefix", self.prefix), ("S3BucketOwner", self.bucket_owner),
                            ("S3SseAlgorithm", self.sse_algorithm), ("S3SseKmsKeyId", self.sse_kms_key_id)):
            if value:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutputS3Configuration:
        return cls(str(data.get("S3Bucket", "")), str(data.get("S3KeyPrefix") or ""),
                   tuple(data.get("OutputType") or ("ERROR",)), data.get("S3BucketOwner"),
                   data.get("S3SseAlgorithm"), data.get("S3SseKmsKeyId"))


def _check_bucket(bucket: str, prefix: str, owner: str | None, which: str) -> None:
    if not isinstance(bucket, str) or len(bucket) > 255 or not _S3_BUCKET.match(bucket):
        raise ConfigError(f"invalid {which} S3 bucket {bucket!r}: letters, digits, '.', '-' and '_', starting and "
                          "ending with a letter or digit (--s3-bucket)")
    if not isinstance(prefix, str) or len(prefix) > 1024:
        raise ConfigError(f"the {which} S3 key prefix must be at most 1,024 characters (--s3-prefix)")
    if owner is not None and not _ACCOUNT.match(owner):
        raise ConfigError(f"the {which} S3 bucket owner must be a 12-digit account id, got {owner!r}")


@dataclass(frozen=True)
class StartBulkPutItems:
    """The request that starts a bulk put into the existing table ``table`` (a name or an ARN)."""

    table: str
    source: InputS3Configuration
    output: OutputS3Configuration
    max_wru: int | None = None  # MaxWriteRequestUnits: caps this operation only (None: DynamoDB's default rate)
    tier: Tier = "STANDARD"
    client_token: str | None = None  # same token and parameters within 8 hours: the same operation

    def __post_init__(self) -> None:
        if not isinstance(self.table, str) or not 1 <= len(self.table) <= 1024:
            raise ConfigError("TableName must be a table name or ARN of 1 to 1,024 characters")
        if self.max_wru is not None and (isinstance(self.max_wru, bool) or not isinstance(self.max_wru, int)
                                         or self.max_wru < MIN_MAX_WRU):
            raise ConfigError(f"MaxWriteRequestUnits must be a whole number of at least {MIN_MAX_WRU:,}, got "
                              f"{self.max_wru!r} (--bulk-max-wru)")
        _choice(self.tier, TIERS, "PerformanceTier (--bulk-tier)")
        if self.client_token is not None and (not self.client_token or "$" in self.client_token):
            raise ConfigError("ClientToken must be a non-empty string without '$'")

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"TableName": self.table, "InputS3Configuration": self.source.body(),
                               "OutputS3Configuration": self.output.body(), "PerformanceTier": self.tier}
        if self.max_wru is not None:
            out["MaxWriteRequestUnits"] = self.max_wru
        if self.client_token:
            out["ClientToken"] = self.client_token
        return out


@dataclass(frozen=True)
class BulkOperationDescription:
    """DynamoDB's description of one bulk operation (``BulkOperationDescription``): counts are 0 until reported,
    ``total_bytes`` None until the operation has sized its input, ``end_time`` None while it runs."""

    arn: str
    status: str
    table: str = ""
    client_token: str | None = None
    source: InputS3Configuration | None = None
    output: OutputS3Configuration | None = None
    start_time: float | None = None  # epoch seconds
    end_time: float | None = None
    processed_items: int = 0  # written, plus parse and validation failures, plus condition failures
    failed_items: int = 0  # parse and validation failures only (included in processed_items)
    processed_bytes: int = 0
    total_bytes: int | None = None
    bulk_put_bytes: int = 0  # what the operation bills: every table's and index's BulkPutBytes summed
    failure_code: str | None = None  # FAILED or CANCELLED only
    failure_message: str | None = None
    max_wru: int | None = None
    tier: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def written(self) -> int:
        """Items the operation counts as processed and not failed (condition failures are in here too)."""
        return max(0, self.processed_items - self.failed_items)

    @property
    def line(self) -> str:
        """The operation's progress in one line (items and bytes processed)."""
        total = f" of {self.total_bytes / 1e6:,.1f}" if self.total_bytes is not None else ""
        failed = f", {self.failed_items:,} failed" if self.failed_items else ""
        return (f"bulk put {self.status}: {self.processed_items:,} items processed{failed}, "
                f"{self.processed_bytes / 1e6:,.1f}{total} MB")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BulkOperationDescription:
        tables = data.get("TableDetails") or [{}]
        usage = data.get("BulkOperationUsage") or []
        source, output = data.get("InputS3Configuration"), data.get("OutputS3Configuration")
        return cls(
            arn=str(data.get("BulkOperationArn", "")), status=str(data.get("BulkOperationStatus", "")),
            table=str(tables[0].get("TableName", "")), client_token=data.get("ClientToken"),
            source=InputS3Configuration.from_json(source) if isinstance(source, Mapping) else None,
            output=OutputS3Configuration.from_json(output) if isinstance(output, Mapping) else None,
            start_time=_float(data.get("StartTime")), end_time=_float(data.get("EndTime")),
            processed_items=int(data.get("ProcessedItemCount") or 0),
            failed_items=int(data.get("FailedItemCount") or 0),
            processed_bytes=int(data.get("ProcessedInputBytes") or 0),
            total_bytes=None if data.get("TotalInputBytes") is None else int(data["TotalInputBytes"]),
            bulk_put_bytes=sum(_usage_bytes(entry) for entry in usage if isinstance(entry, Mapping)),
            failure_code=data.get("FailureCode"), failure_message=data.get("FailureMessage"),
            max_wru=None if data.get("MaxWriteRequestUnits") is None else int(data["MaxWriteRequestUnits"]),
            tier=data.get("PerformanceTier"))


def _usage_bytes(entry: Mapping[str, Any]) -> int:
    """One table's bulk put bytes: its ``BulkPutBytes`` total when given, else the table's and its indexes' summed."""
    if entry.get("BulkPutBytes") is not None:
        return int(entry["BulkPutBytes"])
    total = int((entry.get("Table") or {}).get("BulkPutBytes") or 0)
    for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        total += sum(int((index or {}).get("BulkPutBytes") or 0) for index in (entry.get(kind) or {}).values())
    return total


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class BulkOperationSummary:
    arn: str
    status: str
    start_time: float
    end_time: float | None = None


@dataclass(frozen=True)
class ListBulkOperations:
    """One page of the account's bulk operations of the past 90 days, newest first."""

    max_results: int = DEFAULT_LIST_RESULTS
    next_token: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_results <= MAX_LIST_RESULTS:
            raise ConfigError(f"MaxResults must be between 1 and {MAX_LIST_RESULTS}, got {self.max_results}")
        if self.next_token is not None and (len(self.next_token) > 1024 or not _NEXT_TOKEN.match(self.next_token)):
            raise ConfigError("NextToken must be the token a previous ListBulkOperations answer gave")

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"MaxResults": self.max_results}
        if self.next_token:
            out["NextToken"] = self.next_token
        return out


@dataclass(frozen=True)
class BulkOperationPage:
    operations: tuple[BulkOperationSummary, ...]
    next_token: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BulkOperationPage:
        return cls(tuple(BulkOperationSummary(str(s["BulkOperationArn"]), str(s["BulkOperationStatus"]),
                                              float(s["StartTime"]), _float(s.get("EndTime")))
                         for s in data.get("BulkOperationsSummaryList") or ()), data.get("NextToken"))


def arn_body(arn: str) -> dict[str, Any]:
    """The body of DescribeBulkOperation and CancelBulkOperation."""
    if not isinstance(arn, str) or not 37 <= len(arn) <= 1024:
        raise ConfigError(f"a bulk operation ARN is 37 to 1,024 characters, got {arn!r}")
    return {"BulkOperationArn": arn}


def encode(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body)


@dataclass(frozen=True)
class ReportedItem:
    """One line of the ERROR report: the item DynamoDB could not parse or validate, and why."""

    isbn: str | None  # the item's key when the line still shows it (a malformed line may not)
    code: str
    message: str
    object_key: str | None = None
    line_number: int | None = None

    @property
    def reason(self) -> str:
        where = f" ({self.object_key} line {self.line_number})" if self.object_key and self.line_number else ""
        return f"{self.code}: {self.message}{where}"


def report_line(raw: bytes) -> ReportedItem | None:
    """One ERROR report line as the lab reads it, or None when it is not a JSON object. The layout is not published:
    the fields are taken under the lab emulation's names (``ErrorCode``, ``ErrorMessage``, ``ObjectKey``,
    ``LineNumber``, ``Line``: the input line as read, at most 1 KB) or their obvious spellings, and the book's key is
    found in the line text when present."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower().replace("_", ""): v for k, v in data.items()}

    def pick(*names: str) -> Any:
        return next((lowered[n] for n in names if lowered.get(n) is not None), None)

    text = pick("line", "item", "input", "record")
    blob = text.encode() if isinstance(text, str) else orjson.dumps(text) if text is not None else b""
    found = _ISBN.search(blob)
    number = pick("linenumber", "line_number", "lineno")
    return ReportedItem(found.group(1).decode() if found else None, str(pick("errorcode", "code", "error") or "Error"),
                        str(pick("errormessage", "message", "reason") or "no message")[:300],
                        pick("objectkey", "key", "s3key"), int(number) if isinstance(number, int) else None)
