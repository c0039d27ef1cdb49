"""Validation before conditions: a write DynamoDB rejects whole is rejected whole, with DynamoDB's error and nothing
written, whatever fault or capacity model the proxy injects; on the embedded dynalite and through the conditions
proxy in front of another engine (dynalite, DynamoDB Local)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.domain.capacity import Capacity
from core.domain.plan import Conditions
from core.servers.dynamodb_local import DynamoDBLocal
from core.servers.emulator import Emulator

BOOKS, OTHER, MISSING = "ValidBooks", "ValidOther", "ValidMissing"
BIG = "x" * (400 * 1024)  # with its key and name, over DynamoDB's 400 KB item limit
VALIDATION = "ValidationException"

Body = dict[str, Any]


def table(name: str) -> Body:
    return {"TableName": name, "AttributeDefinitions": [{"AttributeName": "isbn", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "isbn", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}


def put(item: Body) -> Body:
    return {"PutRequest": {"Item": item}}


def puts(count: int, prefix: str = "") -> list[Body]:
    return [put({"isbn": {"S": f"{prefix}{i}"}}) for i in range(count)]


# name -> (operation, body, the error type DynamoDB answers, a pattern of its message)
CASES: dict[str, tuple[str, Body, str, str]] = {
    "26-item batch": ("BatchWriteItem", {"RequestItems": {BOOKS: puts(26)}}, VALIDATION,
                      "length less than or equal to 25|Too many items"),
    "26 items over two tables": ("BatchWriteItem", {"RequestItems": {BOOKS: puts(13), OTHER: puts(13)}},
                                 VALIDATION, "Too many items"),
    "duplicate keys": ("BatchWriteItem", {"RequestItems": {BOOKS: [*puts(3), *puts(1)]}}, VALIDATION, "duplicates"),
    "item without key": ("PutItem", {"TableName": BOOKS, "Item": {"title": {"S": "t"}}}, VALIDATION, "key"),
    "batch item without key": ("BatchWriteItem", {"RequestItems": {BOOKS: [*puts(3), put({"title": {"S": "t"}})]}},
                               VALIDATION, "key"),
    "wrong key type": ("PutItem", {"TableName": BOOKS, "Item": {"isbn": {"N": "1"}}}, VALIDATION, ""),
    "batch wrong key type": ("BatchWriteItem", {"RequestItems": {BOOKS: [*puts(3), put({"isbn": {"N": "1"}})]}},
                             VALIDATION, ""),
    "missing table": ("PutItem", {"TableName": MISSING, "Item": {"isbn": {"S": "1"}}},
                      "ResourceNotFoundException", ""),
    "batch for a missing table": ("BatchWriteItem", {"RequestItems": {BOOKS: puts(3), MISSING: puts(3)}},
                                  "ResourceNotFoundException", ""),
    "400 KB+ item": ("PutItem", {"TableName": BOOKS, "Item": {"isbn": {"S": "1"}, "blob": {"S": BIG}}},
                     VALIDATION, "size"),
    "400 KB+ batch item": ("BatchWriteItem", {"RequestItems": {BOOKS: [*puts(3), put({"isbn": {"S": "big"},
                                                                                          "blob": {"S": BIG}})]}},
                           VALIDATION, "size"),
}


@pytest.fixture(scope="module", params=["embedded", "proxy-dynalite", "proxy-dynamodb-local"])
def front(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """What the lab writes to: the embedded dynalite, or the conditions proxy in front of another engine."""
    if request.param == "embedded":
        with Emulator() as embedded:
            yield embedded
    elif request.param == "proxy-dynalite":
        with Emulator() as engine, Emulator(upstream=engine.endpoint_url) as proxy:
            yield proxy
    else:
        local: DynamoDBLocal = request.getfixturevalue("dynamodb_local")
        with Emulator(upstream=local.endpoint_url) as proxy:
            yield proxy


@pytest.fixture
def tables(front: Emulator) -> Iterator[Emulator]:
    for name in (BOOKS, OTHER):
        front.call("DeleteTable", {"TableName": name})
        status, answer = front.call("CreateTable", table(name))
        assert status == 200, answer
    deadline = time.monotonic() + 30
    while any(front.call("DescribeTable", {"TableName": name})[1]["Table"]["TableStatus"] != "ACTIVE"
              for name in (BOOKS, OTHER)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        yield front
    finally:
        front.set_conditions(Conditions())
        front.set_capacity(Capacity())
        for name in (BOOKS, OTHER):
            front.call("DeleteTable", {"TableName": name})


def count(front: Emulator, name: str) -> int:
    status, answer = front.call("Scan", {"TableName": name, "Select": "COUNT"})
    assert status == 200, answer
    return int(answer["Count"])


def exhausted_capacity(front: Emulator) -> None:
    """A provisioned table of 1 WCU whose 300 s of burst is spent: the model refuses any write of 50 KB."""
    front.set_capacity(Capacity("provisioned", wcu=1))
    for i in range(10):
        item = {"isbn": {"S": f"filler{i}"}, "blob": {"S": "x" * 100_000}}
        if front.call("PutItem", {"TableName": BOOKS, "Item": item})[0] != 200:
            break
    status, answer = front.call("PutItem", {"TableName": BOOKS, "Item": {"isbn": {"S": "probe"},
                                                                         "blob": {"S": "x" * 50_000}}})
    assert status == 400 and answer["__type"].endswith("ProvisionedThroughputExceededException"), answer


CONDITIONS: dict[str, Callable[[Emulator], None]] = {
    "throttle": lambda front: front.set_conditions(Conditions(throttle=1.0)),
    "error": lambda front: front.set_conditions(Conditions(error=1.0)),
    "reset": lambda front: front.set_conditions(Conditions(reset=1.0)),
    "capacity model": exhausted_capacity,
}


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_a_write_dynamodb_rejects_whole_gets_its_error_and_writes_nothing_whatever_is_injected(
        tables: Emulator, condition: str) -> None:
    front = tables
    CONDITIONS[condition](front)
    before = {name: count(front, name) for name in (BOOKS, OTHER)}
    wrong = []
    for case, (operation, body, error, message) in CASES.items():
        try:
            status, answer = front.call(operation, body)
        except OSError as cut:  # a reset fault drawn before validation
            wrong.append(f"{case}: the connection was cut ({cut})")
            continue
        text = str(answer.get("message", answer.get("Message", "")))  # DynamoDB Local spells it Message
        if not (status == 400 and str(answer.get("__type", "")).endswith(error) and re.search(message, text, re.I)):
            wrong.append(f"{case}: {status} {str(answer)[:160]}")
    after = {name: count(front, name) for name in (BOOKS, OTHER)}
    assert not wrong, f"under {condition}:\n" + "\n".join(wrong)
    assert after == before, f"under {condition}, requests DynamoDB rejects whole wrote items: {before} -> {after}"
    assert front.stats()["invalid"] >= len(CASES)


def test_a_partial_throttle_never_writes_part_of_a_batch_dynamodb_rejects(tables: Emulator) -> None:
    """The issue's reproduction: at throttle=0.5, a 26-item batch, a duplicate-key batch and a batch with an item
    without its key, 20 times each; every answer is the ValidationException and nothing is written."""
    front = tables
    front.set_conditions(Conditions(throttle=0.5))
    for case in ("26-item batch", "duplicate keys", "batch item without key"):
        operation, body, error, _ = CASES[case]
        answers = [front.call(operation, body) for _ in range(20)]
        assert all(status == 400 and answer["__type"].endswith(error) for status, answer in answers), case
    assert count(front, BOOKS) == 0


def test_valid_writes_still_meet_the_conditions(tables: Emulator) -> None:
    """Validation first changes nothing for a valid write: throttled at throttle=1.0, written without faults."""
    front = tables
    front.set_conditions(Conditions(throttle=1.0))
    status, answer = front.call("BatchWriteItem", {"RequestItems": {BOOKS: puts(25)}})
    assert status == 400 and answer["__type"].endswith("ProvisionedThroughputExceededException")
    front.set_conditions(Conditions(error=1.0))
    assert front.call("PutItem", {"TableName": BOOKS, "Item": {"isbn": {"S": "1"}}})[0] == 500
    front.set_conditions(Conditions())
    assert count(front, BOOKS) == 0
    assert front.call("BatchWriteItem", {"RequestItems": {BOOKS: puts(25)}})[0] == 200
    assert count(front, BOOKS) == 25
