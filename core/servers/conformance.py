"""The engine conformance cases: one table of raw DynamoDB requests, and what an engine did with each.

``CASES`` is the one list; each states what real DynamoDB answers and the AWS page that says so. ``run_case`` sends
one case, hand-signed, to an engine and returns an ``Observation``; ``differences`` compares it with DynamoDB's
documented answer, ``breaches`` with what the lab's retry and accounting rely on (asserted on every engine by
tests/integration/test_conformance.py). ``python -m bench.conformance`` writes docs/engines.md from them.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3

from core.domain.endpoints import DEFAULT_REGION
from core.targets.tables import count_items, create_table
from core.targets.target import LOCAL_CREDENTIALS
from core.wire.protocol import (
    CONTENT_TYPE,
    MAX_BATCH_ITEMS,
    MAX_ITEM_BYTES,
    MAX_REQUEST_BYTES,
    error_code,
    target_header,
)
from core.wire.retry import Kind, classify
from core.wire.sigv4 import sign

TABLE = "lab_conformance"
MISSING_TABLE = "lab_conformance_missing"  # never created
CHUNK = 64 * 1024
REQUEST_TIMEOUT = 120.0  # a 16 MB body through LocalStack's Python gateway on a loaded 2-core machine
ENGINES = ("dynalite", "dynamodb-local", "localstack", "moto")

DOC_PUT = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html"
DOC_BATCH = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html"
DOC_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
DOC_TYPES = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"
DOC_ERRORS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html"

Item = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Expected:
    """Real DynamoDB's answer as its documentation states it; ``None``: the documentation does not say."""

    status: int | None
    code: str | None  # the ``__type`` suffix; "" for a success
    written: int  # items the request adds to the table
    source: str  # the documentation page (and what it says)

    @property
    def refused(self) -> bool:
        return self.status != 200


@dataclass(frozen=True)
class Case:
    name: str
    operation: str  # PutItem or BatchWriteItem (the X-Amz-Target)
    what: str  # one line for the table
    build: Callable[[str], bytes]  # the body, given the table name
    expected: Expected
    table: str = TABLE  # the table the body names (MISSING_TABLE for the missing-table cases)

    def body(self) -> bytes:
        return self.build(self.table)


@dataclass(frozen=True)
class Observation:
    """What one engine answered to one case."""

    status: int
    code: str  # error_code's reading of the body; "" on a 200
    message: str  # the engine's message, shortened
    written: int  # items the request added to the table
    unprocessed: str | None  # a 200 BatchWriteItem's ``UnprocessedItems`` as sent ("absent" when missing)

    def cell(self) -> str:
        answer = f"{self.status}" + (f" {self.code}" if self.code else "")
        unprocessed = f", UnprocessedItems {self.unprocessed}" if self.unprocessed is not None else ""
        return f"{answer}, {self.written} written{unprocessed}"


# -- bodies --------------------------------------------------------------------------------------------------------
def _key(case: str, index: int = 0) -> str:
    return f"conformance-{case}-{index:02d}"


def _item(key: str, **attributes: dict[str, str]) -> Item:
    return {"isbn": {"S": key}, "title": {"S": "Conformance"}, **attributes}


def _sized(key: str, size: int) -> Item:
    """An item of exactly ``size`` bytes by DynamoDB's sizing (UTF-8 bytes of every attribute name and value)."""
    fixed = len("isbn") + len(key.encode()) + len("blob")
    return {"isbn": {"S": key}, "blob": {"S": "x" * (size - fixed)}}


def _put(item: Item) -> Callable[[str], bytes]:
    return lambda table: json.dumps({"TableName": table, "Item": item}).encode()


def _batch(items: Sequence[Item], pad_to: int = 0) -> Callable[[str], bytes]:
    """A BatchWriteItem body of one put per item; ``pad_to``: JSON whitespace added until the body has that size."""

    def build(table: str) -> bytes:
        body = json.dumps({"RequestItems": {table: [{"PutRequest": {"Item": item}} for item in items]}}).encode()
        return body[:-1] + b" " * max(0, pad_to - len(body)) + body[-1:]

    return build


def _good(case: str, count: int) -> list[Item]:
    return [_item(_key(case, index)) for index in range(count)]


def _invalid(status: int | None, code: str | None, source: str) -> Expected:
    return Expected(status, code, 0, source)


_VALIDATION = (400, "ValidationException")
CASES: tuple[Case, ...] = (
    Case("put-ok", "PutItem", "PutItem of a well-formed item", _put(_item(_key("put-ok"))),
         Expected(200, "", 1, DOC_PUT)),
    Case("batch-25", "BatchWriteItem", "25 well-formed puts", _batch(_good("batch-25", MAX_BATCH_ITEMS)),
         Expected(200, "", 25, f"{DOC_BATCH} (UnprocessedItems: an empty map when every put was processed)")),
    Case("put-empty-key", "PutItem", "partition key is the empty string", _put(_item("")),
         _invalid(*_VALIDATION, f"{DOC_TYPES} (an empty String is not allowed for a key attribute)")),
    Case("batch-empty-key", "BatchWriteItem", "one good put and one with an empty-string key",
         _batch([_item(_key("batch-empty-key")), _item("")]),
         _invalid(*_VALIDATION, f"{DOC_TYPES}; {DOC_BATCH} (the whole batch is rejected)")),
    Case("put-wrong-key-type", "PutItem", "partition key sent as N, the table's is S",
         _put({"isbn": {"N": "42"}, "title": {"S": "Conformance"}}),
         _invalid(*_VALIDATION, f"{DOC_PUT} (key attributes must match the table's key schema, type included)")),
    Case("batch-wrong-key-type", "BatchWriteItem", "one good put and one with an N key",
         _batch([_item(_key("batch-wrong-key-type")), {"isbn": {"N": "42"}}]),
         _invalid(*_VALIDATION, f"{DOC_BATCH} (a key that does not match the key schema rejects the whole batch)")),
    Case("put-missing-key", "PutItem", "item without its partition key", _put({"title": {"S": "no key"}}),
         _invalid(*_VALIDATION, f"{DOC_PUT} (you must provide all of the primary key attributes)")),
    Case("put-key-over-2048", "PutItem", "partition key of 2,049 bytes", _put(_item("k" * 2049)),
         _invalid(*_VALIDATION, f"{DOC_QUOTAS} (partition key value: at most 2048 bytes)")),
    Case("put-400kb", "PutItem", "item of exactly 400 KB (409,600 bytes)",
         _put(_sized(_key("put-400kb"), MAX_ITEM_BYTES)),
         Expected(200, "", 1, f"{DOC_QUOTAS} (item size: at most 400 KB, names and values included)")),
    Case("put-over-400kb", "PutItem", "item of 400 KB + 1 byte",
         _put(_sized(_key("put-over-400kb"), MAX_ITEM_BYTES + 1)),
         _invalid(*_VALIDATION, f"{DOC_QUOTAS} (item size: at most 400 KB)")),
    Case("batch-over-400kb", "BatchWriteItem", "one good put and one item of 400 KB + 1 byte",
         _batch([_item(_key("batch-over-400kb")), _sized(_key("batch-over-400kb", 1), MAX_ITEM_BYTES + 1)]),
         _invalid(*_VALIDATION, f"{DOC_BATCH} (any item over 400 KB rejects the whole batch)")),
    Case("batch-26", "BatchWriteItem", "26 well-formed puts", _batch(_good("batch-26", MAX_BATCH_ITEMS + 1)),
         _invalid(*_VALIDATION, f"{DOC_BATCH} (more than 25 requests reject the whole batch)")),
    Case("batch-duplicate-keys", "BatchWriteItem", "three puts, two of them with one key",
         _batch([*_good("batch-duplicate-keys", 2), _item(_key("batch-duplicate-keys"))]),
         _invalid(*_VALIDATION, f"{DOC_BATCH} (two items with identical keys reject the whole batch)")),
    Case("batch-10mb", "BatchWriteItem", "25 items of 399 KB (about 10 MB, the most 25 legal items can be)",
         _batch([_sized(_key("batch-10mb", index), MAX_ITEM_BYTES - 1024) for index in range(MAX_BATCH_ITEMS)]),
         Expected(200, "", 25, f"{DOC_BATCH} (up to 16 MB and 25 puts; items up to 400 KB)")),
    Case("batch-over-16mb", "BatchWriteItem", "25 small puts, body padded with JSON whitespace to 16 MB + 1 byte "
         "(25 legal items cannot reach 16 MB)", _batch(_good("batch-over-16mb", 25), pad_to=MAX_REQUEST_BYTES + 1),
         _invalid(None, None, f"{DOC_BATCH} (a request over 16 MB rejects the whole batch; no status or code "
                              "documented)")),
    Case("batch-empty", "BatchWriteItem", "RequestItems is an empty map",
         lambda table: b'{"RequestItems": {}}',
         _invalid(*_VALIDATION, f"{DOC_BATCH} (RequestItems: at least 1 entry)")),
    Case("put-missing-table", "PutItem", "PutItem to a table that does not exist",
         _put(_item(_key("put-missing-table"))),
         _invalid(400, "ResourceNotFoundException", DOC_PUT), table=MISSING_TABLE),
    Case("batch-missing-table", "BatchWriteItem", "BatchWriteItem to a table that does not exist",
         _batch(_good("batch-missing-table", 2)),
         _invalid(400, "ResourceNotFoundException", f"{DOC_BATCH} (a table that does not exist rejects the batch)"),
         table=MISSING_TABLE),
    Case("put-malformed-json", "PutItem", "body is truncated JSON", lambda table: b'{"TableName": "' + table.encode(),
         _invalid(400, None, f"{DOC_ERRORS} (a 400 client error; the code for unparseable JSON is not documented)")),
)


# -- running -------------------------------------------------------------------------------------------------------
def send(endpoint_url: str, operation: str, body: bytes, timeout: float = REQUEST_TIMEOUT) -> tuple[int, bytes]:
    """POST one raw DynamoDB request, signed with the lab's SigV4 signer; the status and body of the answer."""
    parts = urlsplit(endpoint_url)
    headers = sign("POST", endpoint_url.rstrip("/") + "/",
                   {"Content-Type": CONTENT_TYPE, "X-Amz-Target": target_header(operation)}, body,
                   credentials=LOCAL_CREDENTIALS, region=DEFAULT_REGION, service="dynamodb",
                   now=dt.datetime.now(dt.UTC))
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            for start in range(0, len(body), CHUNK):
                connection.send(body[start:start + CHUNK])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the engine answered before reading the whole body (an early 413): read that answer
        try:
            response = connection.getresponse()
            return response.status, response.read()
        except (ConnectionError, http.client.HTTPException) as error:
            return 0, f"no answer: the engine closed the connection ({type(error).__name__})".encode()
    finally:
        connection.close()


def _client(endpoint_url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=DEFAULT_REGION,
                        aws_access_key_id=LOCAL_CREDENTIALS.access_key,
                        aws_secret_access_key=LOCAL_CREDENTIALS.secret_key)


def prepare(endpoint_url: str) -> None:
    """Create the conformance table (kept if it exists) on an engine."""
    create_table(_client(endpoint_url), TABLE)


def run_case(endpoint_url: str, case: Case) -> Observation:
    """Send ``case`` to the engine at ``endpoint_url`` (``prepare`` it first) and observe what it did."""
    client = _client(endpoint_url)
    before = count_items(client, TABLE)
    status, payload = send(endpoint_url, case.operation, case.body())
    added = count_items(client, TABLE) - before
    code, message = ("", "") if status == 200 else error_code(status, payload)
    unprocessed = None
    if status == 200 and case.operation == "BatchWriteItem":
        answer = json.loads(payload)
        unprocessed = json.dumps(answer["UnprocessedItems"]) if "UnprocessedItems" in answer else "absent"
    return Observation(status, code, " ".join(message.split())[:160], added, unprocessed)


def differences(case: Case, seen: Observation) -> list[str]:
    """Where ``seen`` differs from DynamoDB's documented answer to ``case`` (empty: it answered as DynamoDB does)."""
    expected, found = case.expected, []
    if expected.status is None and seen.status == 200:
        found.append("accepted (200), DynamoDB refuses it")
    if expected.status is not None and seen.status != expected.status:
        found.append(f"status {seen.status}, DynamoDB {expected.status}")
    if expected.code and seen.code != expected.code:
        found.append(f"{seen.code or 'no error'}, DynamoDB {expected.code}")
    if seen.written != expected.written:
        found.append(f"{seen.written} written, DynamoDB {expected.written}")
    if seen.unprocessed not in (None, "{}"):
        found.append(f"UnprocessedItems {seen.unprocessed}, DynamoDB {{}}")
    return found


def acknowledged(case: Case) -> int:
    """The puts a 200 answer to ``case`` acknowledges (its body parses; no UnprocessedItems were handed back)."""
    body = json.loads(case.body())
    return 1 if case.operation == "PutItem" else sum(len(puts) for puts in body["RequestItems"].values())


def breaches(case: Case, seen: Observation) -> list[str]:
    """Where ``seen`` breaks the lab's contract (empty: the lab reads this answer correctly): a 200 wrote exactly
    the puts it acknowledged; anything else is a 4xx whose code ``classify`` calls fatal, and wrote nothing."""
    found = []
    if seen.status == 200:
        if seen.unprocessed not in (None, "{}", "absent"):
            found.append(f"UnprocessedItems {seen.unprocessed} on a request the engine could not throttle")
        if seen.written != acknowledged(case):
            found.append(f"200 acknowledged {acknowledged(case)} puts but {seen.written} were written")
        return found
    if not 400 <= seen.status < 500:
        found.append(f"status {seen.status}: not a client error, for a request that can never succeed")
    if not seen.code:
        found.append(f"status {seen.status} with no code")
    if classify(seen.code) is not Kind.FATAL:
        found.append(f"{seen.status} {seen.code} is classified {classify(seen.code).value}: the lab would retry it")
    if seen.written:
        found.append(f"refused ({seen.status} {seen.code}) yet {seen.written} written")
    return found
