"""core.protocol: item sizes, request bodies, batching rules and error codes."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest

from core.books import Book, generate_books
from core.protocol import (
    MAX_ITEM_BYTES,
    batch_write_body,
    batches,
    error_code,
    item_size,
    oversized,
    put_item_body,
    unprocessed_isbns,
)


def book(isbn: str, title: str = "T", author: str = "A") -> Book:
    return Book(isbn, title, author, dt.date(2001, 2, 3))


@pytest.mark.parametrize(("title", "size"), [("T", 24 + 10 + 3 + 1 + 1), ("ünï", 24 + 10 + 3 + 5 + 1),
                                             ("☃", 24 + 10 + 3 + 3 + 1)])
def test_item_size_counts_utf8_bytes(title: str, size: int) -> None:
    item = book("978", title)
    assert item_size(item.to_item()) == size == item.size


def test_oversized_at_the_limit() -> None:
    base = book("978", "", "").size
    assert not oversized(book("978", "x" * (MAX_ITEM_BYTES - base), ""))
    assert oversized(book("978", "x" * (MAX_ITEM_BYTES - base + 1), ""))


def test_bodies_are_dynamodb_json() -> None:
    item = book("9780306406157", "Ünïcode")
    assert json.loads(put_item_body("AsyncBooks", item)) == {"TableName": "AsyncBooks", "Item": item.to_item()}
    assert "Ünïcode".encode() in put_item_body("AsyncBooks", item)
    body = json.loads(batch_write_body("AsyncBatchBooks", [item, book("1")]))
    assert body == {"RequestItems": {"AsyncBatchBooks": [{"PutRequest": {"Item": item.to_item()}},
                                                         {"PutRequest": {"Item": book("1").to_item()}}]}}


@pytest.mark.parametrize(("count", "sizes"), [(0, []), (1, [1]), (25, [25]), (26, [25, 1]), (51, [25, 25, 1])])
def test_at_most_25_per_batch(count: int, sizes: list[int]) -> None:
    assert [len(b) for b in batches(generate_books(count, seed=1))] == sizes


@pytest.mark.parametrize(("keys", "expected"), [
    ("abac", [["a", "b"], ["a", "c"]]),
    ("aaa", [["a"], ["a"], ["a"]]),
    ("abcb", [["a", "b", "c"], ["b"]]),
])
def test_duplicate_keys_never_share_a_batch(keys: str, expected: list[list[str]]) -> None:
    assert [[b.isbn for b in group] for group in batches(book(k) for k in keys)] == expected


def test_byte_limit_is_honoured() -> None:
    big = [book(str(i), "x" * 300_000) for i in range(10)]
    groups = list(batches(big, max_bytes=1_000_000))
    assert [len(g) for g in groups] == [3, 3, 3, 1]
    assert all(sum(b.size for b in g) <= 1_000_000 for g in groups)


def test_batches_are_lazy() -> None:
    endless = (book(str(i)) for i in itertools.count())
    assert [len(b) for b in itertools.islice(batches(endless), 3)] == [25, 25, 25]


def test_unprocessed_isbns() -> None:
    answer = {"UnprocessedItems": {"T": [{"PutRequest": {"Item": book("1").to_item()}},
                                         {"PutRequest": {"Item": book("2").to_item()}}]}}
    assert unprocessed_isbns(answer, "T") == {"1", "2"}
    assert unprocessed_isbns({"UnprocessedItems": {}}, "T") == set() == unprocessed_isbns({}, "T")


@pytest.mark.parametrize(("status", "body", "code"), [
    (400, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"m"}',
     "ProvisionedThroughputExceededException"),
    (400, b'{"__type":"com.amazon.coral.service#UnrecognizedClientException"}', "UnrecognizedClientException"),
    (400, b'{"__type":"ValidationException","Message":"bad"}', "ValidationException"),
    (403, b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>", "SignatureDoesNotMatch"),
    (503, b"", "HTTP503"),
    (502, b"<html>Bad gateway</html>", "HTTP502"),
])
def test_error_codes(status: int, body: bytes, code: str) -> None:
    assert error_code(status, body)[0] == code


def test_error_messages_are_kept() -> None:
    assert error_code(400, b'{"__type":"x#ValidationException","message":"Item too big"}') == \
        ("ValidationException", "Item too big")
