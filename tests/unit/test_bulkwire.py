"""core.domain.bulkwire: the bulk put operations' request bodies, answers and ERROR report lines (pure,
table-driven)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from core.domain.bulkwire import (
    BulkOperationDescription,
    BulkOperationPage,
    InputS3Configuration,
    ListBulkOperations,
    OutputS3Configuration,
    StartBulkPutItems,
    arn_body,
    report_line,
)
from core.domain.errors import ConfigError

SOURCE = InputS3Configuration("lab-bucket", "in/run-1/")
OUTPUT = OutputS3Configuration("lab-bucket", "out/run-1/")
ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/Books/bulk-operation/0123456789abcdef"


def test_start_body_is_the_models_shape() -> None:
    body = StartBulkPutItems("Books", SOURCE, OUTPUT, max_wru=2048, tier="ACCELERATED", client_token="run-1").body()
    assert body == {
        "TableName": "Books",
        "InputS3Configuration": {"S3Bucket": "lab-bucket", "S3KeyPrefix": "in/run-1/", "InputFormat": "DYNAMODB_JSON",
                                 "InputCompressionType": "GZIP"},
        "OutputS3Configuration": {"S3Bucket": "lab-bucket", "S3KeyPrefix": "out/run-1/", "OutputType": ["ERROR"]},
        "PerformanceTier": "ACCELERATED", "MaxWriteRequestUnits": 2048, "ClientToken": "run-1"}


def test_start_body_leaves_out_what_is_not_set() -> None:
    body = StartBulkPutItems("Books", InputS3Configuration("b-1"), OutputS3Configuration("b-1")).body()
    assert "MaxWriteRequestUnits" not in body and "ClientToken" not in body
    assert "S3KeyPrefix" not in body["InputS3Configuration"] and body["PerformanceTier"] == "STANDARD"


@pytest.mark.parametrize(("build", "message"), [
    (lambda: StartBulkPutItems("Books", SOURCE, OUTPUT, max_wru=1023), "at least 1,024"),
    (lambda: StartBulkPutItems("Books", SOURCE, OUTPUT, max_wru=True), "MaxWriteRequestUnits"),
    (lambda: StartBulkPutItems("Books", SOURCE, OUTPUT, tier="TURBO"), "PerformanceTier"),  # type: ignore[arg-type]
    (lambda: StartBulkPutItems("", SOURCE, OUTPUT), "TableName"),
    (lambda: StartBulkPutItems("Books", SOURCE, OUTPUT, client_token="a$b"), "ClientToken"),
    (lambda: InputS3Configuration("-bad"), "invalid input S3 bucket"),
    (lambda: InputS3Configuration("ok-bucket", compression="BZIP2"), "InputCompressionType"),  # type: ignore[arg-type]
    (lambda: InputS3Configuration("ok-bucket", bucket_owner="12"), "12-digit"),
    (lambda: OutputS3Configuration("ok-bucket", output_types=()), "OutputType"),
    (lambda: OutputS3Configuration("ok-bucket", output_types=("ALL",)), "OutputType"),  # type: ignore[arg-type]
    (lambda: ListBulkOperations(max_results=26), "MaxResults"),
    (lambda: ListBulkOperations(next_token="xyz"), "NextToken"),
    (lambda: arn_body("short"), "37 to 1,024"),
])
def test_requests_refuse_what_the_model_refuses(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


def test_description_from_a_full_answer() -> None:
    answer = {
        "BulkOperationArn": ARN, "BulkOperationStatus": "COMPLETED_WITH_ERRORS",
        "TableDetails": [{"TableName": "Books", "TableId": "00000000-0000-0000-0000-000000000000"}],
        "ClientToken": "run-1", "InputS3Configuration": SOURCE.body(), "OutputS3Configuration": OUTPUT.body(),
        "StartTime": 1_780_000_000.5, "EndTime": 1_780_000_060.0, "ProcessedItemCount": 2000,
        "FailedItemCount": 3, "ProcessedInputBytes": 306_000, "TotalInputBytes": 306_000,
        "BulkOperationUsage": [{"TableName": "Books", "BulkPutBytes": 190_000, "Table": {"BulkPutBytes": 190_000}}],
        "MaxWriteRequestUnits": 1024, "PerformanceTier": "STANDARD", "SomethingNew": 1}
    described = BulkOperationDescription.from_json(answer)
    assert (described.status, described.table, described.processed_items, described.failed_items) == \
        ("COMPLETED_WITH_ERRORS", "Books", 2000, 3)
    assert described.written == 1997 and described.terminal and described.bulk_put_bytes == 190_000
    assert described.source == SOURCE and described.output == OUTPUT and described.end_time == 1_780_000_060.0
    assert "3 failed" in described.line and "of 0.3 MB" in described.line


@pytest.mark.parametrize(("answer", "total", "usage", "terminal"), [
    ({"BulkOperationStatus": "IN_PROGRESS"}, None, 0, False),  # not sized yet: TotalInputBytes absent
    ({"BulkOperationStatus": "CANCELLING", "TotalInputBytes": 0}, 0, 0, False),
    ({"BulkOperationStatus": "CANCELLED", "BulkOperationUsage": [
        {"Table": {"BulkPutBytes": 10}, "GlobalSecondaryIndexes": {"g": {"BulkPutBytes": 5}}}]}, None, 15, True),
    ({"BulkOperationStatus": "FAILED", "FailureCode": "S3AccessDenied"}, None, 0, True),
])
def test_description_partial_answers(answer: dict[str, Any], total: int | None, usage: int, terminal: bool) -> None:
    described = BulkOperationDescription.from_json({"BulkOperationArn": ARN, **answer})
    assert (described.total_bytes, described.bulk_put_bytes, described.terminal) == (total, usage, terminal)


def test_list_page() -> None:
    page = BulkOperationPage.from_json({"BulkOperationsSummaryList": [
        {"BulkOperationArn": ARN, "BulkOperationStatus": "COMPLETED", "StartTime": 1.0, "EndTime": 2.0}],
        "NextToken": "0123456789abcdef"})
    assert page.operations[0].status == "COMPLETED" and page.next_token == "0123456789abcdef"
    assert ListBulkOperations(5, "0123456789abcdef").body() == {"MaxResults": 5, "NextToken": "0123456789abcdef"}


@pytest.mark.parametrize(("line", "isbn", "code", "where"), [
    ({"ObjectKey": "in/part-00000.json.gz", "LineNumber": 7, "ErrorCode": "ParseError",
      "ErrorMessage": "Unexpected end of JSON", "Line": '{"Item":{"isbn":{"S":"9780000000017"},"title":'},
     "9780000000017", "ParseError", "in/part-00000.json.gz line 7"),
    ({"error_code": "ValidationError", "message": "missing key", "item": {"Item": {"title": {"S": "x"}}}},
     None, "ValidationError", ""),
    ({"code": "ItemTooLarge", "record": {"Item": {"isbn": {"S": "9781"}}}}, "9781", "ItemTooLarge", ""),
])
def test_report_lines(line: dict[str, Any], isbn: str | None, code: str, where: str) -> None:
    reported = report_line(orjson.dumps(line))
    assert reported is not None and (reported.isbn, reported.code) == (isbn, code)
    assert where in reported.reason


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
def test_report_lines_that_cannot_be_read(raw: bytes) -> None:
    assert report_line(raw) is None
