"""The bulk put emulation (core/servers/emulator/bulkput.js) pinned to DynamoDB's documented behaviour, over HTTP with
the lab's own client (core.targets.bulkclient), reading its objects from a real moto S3; and its node unit tests."""

from __future__ import annotations

import gzip
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from core.domain.books import generate_books
from core.domain.bulkmodel import BulkAssumptions
from core.domain.bulkwire import (
    InputS3Configuration,
    ListBulkOperations,
    OutputS3Configuration,
    StartBulkPutItems,
    report_line,
)
from core.domain.s3source import item_line
from core.paths import REPO_ROOT
from core.servers.emulator import Emulator, node_executable
from core.targets.bulkclient import BulkCallError, BulkClient
from core.targets.tables import count_items, create_table, delete_table
from core.targets.target import LOCAL_CREDENTIALS, Target, make_target

BUCKET = "bulk-conformance"
TABLE = "BulkConformance"


def reset_table(client: Any, name: str) -> None:
    delete_table(client, name)
    create_table(client, name)


def test_node_unit_tests_pass() -> None:
    result = subprocess.run([node_executable(), "--test", "tests/js/bulkput.test.js"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def s3_settings(moto_url: str) -> dict[str, Any]:
    return {"endpoint": moto_url, "region": "us-east-1", "access_key": LOCAL_CREDENTIALS.access_key,
            "secret_key": LOCAL_CREDENTIALS.secret_key}


@pytest.fixture()
def bulk_target(emulator: Emulator, embedded_target: Target, moto_url: str) -> Iterator[Target]:
    emulator.set_bulk({**BulkAssumptions().proxy_settings(startup_s=0), "s3": s3_settings(moto_url)})
    yield embedded_target
    emulator.set_bulk({**BulkAssumptions().proxy_settings(), "s3": None})


@pytest.fixture()
def s3(moto_target: Target) -> Any:
    client = moto_target.s3_client()
    client.create_bucket(Bucket=BUCKET)
    return client


def upload(s3: Any, prefix: str, lines: list[bytes], parts: int = 2) -> None:
    size = -(-len(lines) // parts)
    for index in range(parts):
        body = gzip.compress(b"".join(lines[index * size:(index + 1) * size]))
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}part-{index:05d}.json.gz", Body=body)


def request(prefix: str, **extra: Any) -> StartBulkPutItems:
    return StartBulkPutItems(TABLE, InputS3Configuration(BUCKET, f"{prefix}in/"),
                             OutputS3Configuration(BUCKET, f"{prefix}out/"), **extra)


def wait(client: BulkClient, arn: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        described = client.describe(arn)
        if described.terminal or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


def test_three_malformed_lines_among_2000_end_completed_with_errors(bulk_target: Target, s3: Any) -> None:
    client = bulk_target.client(max_attempts=3)
    reset_table(client, TABLE)
    books = list(generate_books(2000, seed=5))
    lines = [item_line(book) for book in books]
    broken = {17: lines[17][:-9] + b"\n", 1001: b'{"Item":{"title":{"S":"no key"}}}\n',
              1999: lines[1999].replace(b'{"S":"978', b'{"N":"978')}
    for index, line in broken.items():
        lines[index] = line
    upload(s3, "three/in/", lines)
    bulk = BulkClient(bulk_target)
    started = bulk.start(request("three/", client_token="three-malformed"))
    assert started.status == "IN_PROGRESS" and started.end_time is None
    done = wait(bulk, started.arn)
    assert (done.status, done.processed_items, done.failed_items) == ("COMPLETED_WITH_ERRORS", 2000, 3)
    assert done.total_bytes is not None and done.processed_bytes == done.total_bytes and done.end_time
    assert count_items(client, TABLE) == 1997 == done.written
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="three/out/")["Contents"]]
    assert len(keys) == 1 and keys[0].endswith("/ERROR/part-00000.jsonl")
    reported = [report_line(raw) for raw in s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read().splitlines()]
    assert [(r.object_key[-18:], r.line_number, r.code) for r in reported if r and r.object_key] == [
        ("part-00000.json.gz", 18, "ParseError"), ("part-00001.json.gz", 2, "ValidationError"),
        ("part-00001.json.gz", 1000, "ValidationError")]  # line numbers count from 1 in each object
    assert {r.isbn for r in reported if r} == {books[17].isbn, None, books[1999].isbn}


def test_the_same_client_token_twice_is_one_operation(bulk_target: Target, s3: Any) -> None:
    reset_table(bulk_target.client(max_attempts=3), TABLE)
    upload(s3, "token/in/", [item_line(book) for book in generate_books(50, seed=6)], parts=1)
    bulk = BulkClient(bulk_target)
    first = bulk.start(request("token/", client_token="same-token"))
    second = bulk.start(request("token/", client_token="same-token"))
    assert second.arn == first.arn and second.client_token == "same-token"
    with pytest.raises(BulkCallError) as refused:
        bulk.start(request("token/", client_token="same-token", max_wru=4096))
    assert refused.value.code == "IdempotentParameterMismatchException"
    listed = [op.arn for op in bulk.list(ListBulkOperations(max_results=25)).operations]
    assert listed.count(first.arn) == 1
    assert wait(bulk, first.arn).status == "COMPLETED"


def test_cancel_mid_operation_ends_cancelled_and_keeps_what_was_written(
        emulator: Emulator, bulk_target: Target, s3: Any, moto_url: str) -> None:
    client = bulk_target.client(max_attempts=3)
    reset_table(client, TABLE)
    emulator.set_bulk({"rates": {"STANDARD": 1500, "ACCELERATED": 1500}, "startup_s": 0})
    upload(s3, "cancel/in/", [item_line(book) for book in generate_books(20_000, seed=7)])
    bulk = BulkClient(bulk_target)
    started = bulk.start(request("cancel/", client_token="cancel-me"))
    deadline = time.monotonic() + 30
    while bulk.describe(started.arn).processed_items < 1000 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert bulk.cancel(started.arn) == "CANCELLING"
    done = wait(bulk, started.arn)
    assert done.status == "CANCELLED" and done.failure_code and done.end_time
    assert 1000 <= done.processed_items < 20_000
    assert count_items(client, TABLE) == done.processed_items
    with pytest.raises(BulkCallError):
        bulk.cancel(started.arn)  # already over


@pytest.mark.parametrize(("operation", "body", "code"), [
    ("DescribeBulkOperation", {"BulkOperationArn": "arn:aws:dynamodb:us-east-1:000000000000:table/X/bulk-operation/0"},
     "ResourceNotFoundException"),
    ("CancelBulkOperation", {"BulkOperationArn": "arn:aws:dynamodb:us-east-1:000000000000:table/X/bulk-operation/0"},
     "ResourceNotFoundException"),
    ("StartBulkPutItems", {**request("x/").body(), "MaxWriteRequestUnits": 1000}, "ValidationException"),
    ("StartBulkPutItems", {**request("x/").body(), "TableName": "NoSuchTable"}, "ResourceNotFoundException"),
    ("ListBulkOperations", {"MaxResults": 0}, "ValidationException"),
])
def test_refusals(bulk_target: Target, operation: str, body: dict[str, Any], code: str) -> None:
    with pytest.raises(BulkCallError) as refused:
        BulkClient(bulk_target, attempts=1).call(operation, body)
    assert refused.value.code == code


def test_in_front_of_dynamodb_local(dynamodb_local: Any, moto_url: str, s3: Any) -> None:
    """The same emulation in front of another engine (the conditions proxy upstream of DynamoDB Local)."""
    with Emulator(upstream=dynamodb_local.endpoint_url) as proxy:
        proxy.set_bulk({**BulkAssumptions().proxy_settings(startup_s=0), "s3": s3_settings(moto_url)})
        target = make_target("custom", endpoint_url=proxy.endpoint_url, credentials=LOCAL_CREDENTIALS)
        client = target.client(max_attempts=3)
        reset_table(client, TABLE)
        upload(s3, "ddblocal/in/", [item_line(book) for book in generate_books(300, seed=8)] + [b"{not json\n"])
        bulk = BulkClient(target)
        done = wait(bulk, bulk.start(request("ddblocal/")).arn)
        assert (done.status, done.processed_items, done.failed_items) == ("COMPLETED_WITH_ERRORS", 301, 1)
        assert count_items(client, TABLE) == 300
        assert orjson.loads(orjson.dumps(proxy.stats()))["requests"] > 0
