"""core.wire.protocol: item sizes, request bodies, batching rules, UnprocessedItems and error codes."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.books import Book, generate_books
from core.wire.protocol import (
    MAX_BATCH_ITEMS,
    MAX_ITEM_BYTES,
    MAX_REQUEST_BYTES,
    batch_write_body,
    batches,
    error_code,
    item_size,
    oversized,
    put_item_body,
    target_header,
    unprocessed_isbns,
)

NAMES_AND_DATE = len("isbn") + len("title") + len("author") + len("published") + len("2001-02-03")  # 34


def book(isbn: str, title: str = "T", author: str = "A") -> Book:
    return Book(isbn, title, author, dt.date(2001, 2, 3))


def keys(groups: Iterator[list[Book]] | list[list[Book]]) -> list[list[str]]:
    return [[b.isbn for b in group] for group in groups]


def test_limits_are_dynamodbs() -> None:
    assert (MAX_BATCH_ITEMS, MAX_ITEM_BYTES, MAX_REQUEST_BYTES) == (25, 409_600, 16_777_216)
    assert target_header("BatchWriteItem") == "DynamoDB_20120810.BatchWriteItem"


@pytest.mark.parametrize(("title", "author", "text_bytes"), [
    ("T", "A", 2),
    ("", "", 0),
    ("Plain ASCII title", "Ann Author", 17 + 10),
    ("ünï", "A", 5 + 1),  # ü and ï are 2 bytes each
    ("☃", "A", 3 + 1),  # 3 bytes
    ("😀", "Zoë", 4 + 4),  # 4 bytes (one code point, two UTF-16 units); ë is 2
    ("日本語の本", "著者", 15 + 6),
])
def test_item_size_counts_utf8_bytes(title: str, author: str, text_bytes: int) -> None:
    item = book("978", title, author)
    expected = NAMES_AND_DATE + 3 + text_bytes
    assert item_size(item.to_item()) == expected == item.size


@pytest.mark.parametrize(("item", "size"), [
    ({}, 0),
    ({"k": {"S": ""}}, 1),
    ({"k": {"S": "é"}}, 1 + 2),
    ({"clé": {"S": "v"}}, 4 + 1),  # attribute names count in UTF-8 bytes too
])
def test_item_size_of_raw_items(item: dict[str, dict[str, str]], size: int) -> None:
    assert item_size(item) == size


@pytest.mark.parametrize("pad", ["x", "é", "☃"])
def test_oversized_at_the_limit(pad: str) -> None:
    width = len(pad.encode())
    fixed = book("978", "", "").size
    filler = MAX_ITEM_BYTES - fixed
    author = "a" * (filler % width)  # make up the bytes the multi-byte padding cannot
    at_limit = book("978", pad * (filler // width), author)
    assert at_limit.size == MAX_ITEM_BYTES and not oversized(at_limit)
    one_more = book("978", at_limit.title, author + "a")
    assert one_more.size == MAX_ITEM_BYTES + 1 and oversized(one_more)


def test_put_item_body_is_dynamodb_json() -> None:
    item = book("9780306406157", "Ünïcode ☃ title", "Zoë")
    body = put_item_body("AsyncBooks", item)
    assert json.loads(body) == {"TableName": "AsyncBooks", "Item": {
        "isbn": {"S": "9780306406157"}, "title": {"S": "Ünïcode ☃ title"}, "author": {"S": "Zoë"},
        "published": {"S": "2001-02-03"}}}
    assert "Ünïcode ☃ title".encode() in body and b"\\u" not in body  # raw UTF-8, not escapes


@pytest.mark.parametrize(("title", "published"), [
    ('say "hi"\\ \t\n', dt.date(1900, 1, 1)), ("\x00\x1f\u2028 ☃ 😀", dt.date(2022, 3, 28)),
    ("", dt.date(999, 12, 31))])
def test_the_bodies_hold_exactly_to_item(title: str, published: dt.date) -> None:
    item = Book("9780306406157", title, "Zoë", published)
    assert json.loads(put_item_body("T", item))["Item"] == item.to_item()
    assert json.loads(batch_write_body("T", [item]))["RequestItems"]["T"] == [{"PutRequest": {"Item": item.to_item()}}]


def test_batch_write_body_is_dynamodb_json() -> None:
    first, second = book("9780306406157", "Ünïcode"), book("1")
    body = batch_write_body("AsyncBatchBooks", iter([first, second]))  # any iterable, consumed once
    assert json.loads(body) == {"RequestItems": {"AsyncBatchBooks": [{"PutRequest": {"Item": first.to_item()}},
                                                                     {"PutRequest": {"Item": second.to_item()}}]}}
    assert "Ünïcode".encode() in body


def test_batch_body_round_trips_a_full_batch() -> None:
    group = next(batches(generate_books(30, seed=4)))
    puts = json.loads(batch_write_body("T", group))["RequestItems"]["T"]
    assert len(puts) == 25 and [Book.from_item(p["PutRequest"]["Item"]) for p in puts] == group


@pytest.mark.parametrize(("count", "sizes"), [(0, []), (1, [1]), (24, [24]), (25, [25]), (26, [25, 1]),
                                              (50, [25, 25]), (51, [25, 25, 1])])
def test_at_most_25_per_batch(count: int, sizes: list[int]) -> None:
    books = list(generate_books(count, seed=1))
    groups = list(batches(books))
    assert [len(b) for b in groups] == sizes
    assert list(itertools.chain.from_iterable(groups)) == books


@pytest.mark.parametrize(("isbns", "expected"), [
    ("abac", [["a", "b"], ["a", "c"]]),
    ("aaa", [["a"], ["a"], ["a"]]),
    ("abcb", [["a", "b", "c"], ["b"]]),
    ("abab", [["a", "b"], ["a", "b"]]),
    ("aab", [["a"], ["a", "b"]]),
    ("abcd", [["a", "b", "c", "d"]]),
])
def test_duplicate_keys_never_share_a_batch(isbns: str, expected: list[list[str]]) -> None:
    assert keys(batches(book(k) for k in isbns)) == expected


def test_the_later_write_of_a_key_comes_later() -> None:
    first, second = book("a", "old title"), book("a", "new title")
    assert list(batches([first, book("b"), second])) == [[first, book("b")], [second]]


@given(st.lists(st.sampled_from("abcdefg"), max_size=60), st.integers(1, 6))
def test_batches_are_greedy_ordered_and_duplicate_free(isbns: list[str], max_items: int) -> None:
    groups = list(batches((book(k) for k in isbns), max_items=max_items))
    assert [b.isbn for g in groups for b in g] == isbns  # nothing lost, nothing reordered
    for group in groups:
        assert 1 <= len(group) <= max_items
        assert len({b.isbn for b in group}) == len(group)
    for before, after in itertools.pairwise(groups):  # a batch closes only when it must
        assert len(before) == max_items or after[0].isbn in {b.isbn for b in before}


@pytest.mark.parametrize(("title_bytes", "count", "max_bytes", "sizes"), [
    (300_000, 10, 1_000_000, [3, 3, 3, 1]),
    (300_000, 4, 600_000, [1, 1, 1, 1]),  # two items plus their overhead are just over the limit
    (100_000, 25, 1_000_000, [9, 9, 7]),
    (2_000_000, 3, 1_000_000, [1, 1, 1]),  # an item bigger than the limit still goes, alone (oversized() guards it)
])
def test_byte_limit_is_honoured(title_bytes: int, count: int, max_bytes: int, sizes: list[int]) -> None:
    title = "x" * title_bytes
    big = [book(str(i), title) for i in range(count)]
    groups = list(batches(big, max_bytes=max_bytes))
    assert [len(g) for g in groups] == sizes
    assert [b for g in groups for b in g] == big
    assert all(len(g) == 1 or sum(b.size + 64 for b in g) <= max_bytes for g in groups)


def test_item_count_binds_before_the_16_mb_limit_for_items_under_400_kb() -> None:
    title = "x" * (MAX_ITEM_BYTES - 100)  # shared by all books: no 20 MB allocation
    groups = list(batches(book(f"{i:03}", title) for i in range(60)))
    assert [len(g) for g in groups] == [25, 25, 10]
    assert all(sum(b.size + 64 for b in g) <= MAX_REQUEST_BYTES for g in groups)


def test_batches_are_lazy() -> None:
    pulled = 0

    def endless() -> Iterator[Book]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield book(str(i))

    assert [len(b) for b in itertools.islice(batches(endless()), 3)] == [25, 25, 25]
    assert pulled <= 3 * 25 + 1  # at most one book read ahead


def put(isbn: str) -> dict[str, Any]:
    return {"PutRequest": {"Item": book(isbn).to_item()}}


@pytest.mark.parametrize(("answer", "expected"), [
    ({"UnprocessedItems": {"T": [put("1"), put("2")]}}, {"1", "2"}),
    ({"UnprocessedItems": {"T": [put("1")], "Other": [put("9")]}}, {"1"}),
    ({"UnprocessedItems": {"Other": [put("9")]}}, set()),
    ({"UnprocessedItems": {"T": []}}, set()),
    ({"UnprocessedItems": {}}, set()),
    ({"UnprocessedItems": None}, set()),
    ({}, set()),
    ({"ConsumedCapacity": []}, set()),
])
def test_unprocessed_isbns(answer: dict[str, Any], expected: set[str]) -> None:
    assert unprocessed_isbns(answer, "T") == expected


@pytest.mark.parametrize(("status", "body", "code", "message"), [
    (400, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
          b'"message":"The level of configured provisioned throughput for the table was exceeded"}',
     "ProvisionedThroughputExceededException",
     "The level of configured provisioned throughput for the table was exceeded"),
    (400, b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}',
     "ThrottlingException", "Rate exceeded"),
    (400, b'{"__type":"com.amazon.coral.service#UnrecognizedClientException",'
          b'"message":"The security token included in the request is invalid."}',
     "UnrecognizedClientException", "The security token included in the request is invalid."),
    (400, b'{"__type":"com.amazon.coral.validate#ValidationException","Message":"bad"}',
     "ValidationException", "bad"),  # DynamoDB spells it Message here
    (400, b'{"__type":"ValidationException"}', "ValidationException", ""),  # no '#'
    (400, b'{"code":"ThrottlingException","message":"slow down"}', "ThrottlingException", "slow down"),
    (403, b"<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
          b"<Message>The request signature we calculated does not match</Message></Error></ErrorResponse>",
     "SignatureDoesNotMatch", ""),
    (503, b"", "HTTP503", ""),
    (500, b"   \n", "HTTP500", ""),
    (502, b"<html><body>Bad gateway</body></html>", "HTTP502", "<html><body>Bad gateway</body></html>"),
    (504, b"upstream request timeout", "HTTP504", "upstream request timeout"),
    (400, b'{"message":"no type"}', "HTTP400", '{"message":"no type"}'),
    (500, b"null", "HTTP500", "null"),
    (500, b"[1, 2]", "HTTP500", "[1, 2]"),
    (500, b'{"__type":', "HTTP500", '{"__type":'),  # truncated JSON
    (400, b"\xff\xfe\x00garbage", "HTTP400", "\ufffd\ufffd\x00garbage"),  # not UTF-8 at all
])
def test_error_codes(status: int, body: bytes, code: str, message: str) -> None:
    assert error_code(status, body) == (code, message)


def test_error_message_of_a_long_unknown_body_is_cut() -> None:
    code, message = error_code(502, b"x" * 10_000)
    assert code == "HTTP502" and message == "x" * 200


@pytest.mark.parametrize("body", [
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException:'
    b'http://internal.amazon.com/coral/com.amazon.coral.availability/"}',
    b'{"__type":"ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"}',
], ids=["namespace-and-uri", "uri-only"])
def test_error_type_with_a_uri_suffix(body: bytes) -> None:
    assert error_code(400, body)[0] == "ThrottlingException"


def test_deeply_nested_garbage_is_still_an_http_code() -> None:
    assert error_code(502, b"[" * 100_000) == ("HTTP502", "[" * 200)
