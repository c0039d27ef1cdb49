"""DynamoDB's JSON wire vocabulary for writes: request bodies, batching rules, responses and errors.

Pure. Batches hold at most 25 puts and 16 MB, never two items with one key; an item over 400 KB is refused before any
request; an error body becomes a short code (the ``__type`` suffix, or ``HTTPnnn``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from core.domain.books import Book

API_VERSION = "DynamoDB_20120810"
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_BATCH_ITEMS = 25
MAX_REQUEST_BYTES = 16 * 1024 * 1024
MAX_ITEM_BYTES = 400 * 1024

Item = dict[str, dict[str, str]]


def target_header(operation: str) -> str:
    return f"{API_VERSION}.{operation}"


def unsigned_headers(operation: str, access_key: str) -> dict[str, str]:
    """Headers of a well-formed call with a throwaway signature: for the health checks of local engines, which
    do not check signatures (``access_key`` still names the database of engines that keep one per key)."""
    return {"Content-Type": CONTENT_TYPE, "X-Amz-Target": target_header(operation), "X-Amz-Date": "20260101T000000Z",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host;x-amz-date, Signature=0"}


def item_size(item: Item) -> int:
    """DynamoDB's size of an item of string attributes: UTF-8 bytes of every name and value."""
    return sum(len(name.encode()) + len(next(iter(value.values())).encode()) for name, value in item.items())


def oversized(book: Book) -> bool:
    return book.size > MAX_ITEM_BYTES


def _item(book: Book) -> dict[str, dict[str, Any]]:
    """``Book.to_item`` for orjson, the date left a ``date``: orjson writes the same ISO 8601 string in less time
    than ``isoformat`` builds it (test_protocol holds the two equal)."""
    return {"isbn": {"S": book.isbn}, "title": {"S": book.title}, "author": {"S": book.author},
            "published": {"S": book.published}}


# orjson encodes a 25-item batch in about a quarter of the time of json.dumps (see docs/performance.md).
def put_item_body(table: str, book: Book) -> bytes:
    return orjson.dumps({"TableName": table, "Item": _item(book)})


def batch_write_body(table: str, books: Iterable[Book]) -> bytes:
    return orjson.dumps({"RequestItems": {table: [{"PutRequest": {"Item": _item(book)}} for book in books]}})


def batches(books: Iterable[Book], max_items: int = MAX_BATCH_ITEMS,
            max_bytes: int = MAX_REQUEST_BYTES) -> Iterator[list[Book]]:
    """Group books into BatchWriteItem-sized lists, lazily: ≤ max_items, ≤ max_bytes of items, no repeated key.

    A repeated key closes the current batch (DynamoDB rejects duplicates in one request); order is kept, so with a
    sequential writer the later write wins, as it would with PutItem (concurrent writers race, as they would).
    """
    batch: list[Book] = []
    keys: set[str] = set()
    size = 0
    for book in books:
        book_size = book.size + 64  # JSON punctuation and the PutRequest wrapper
        if batch and (len(batch) == max_items or size + book_size > max_bytes or book.isbn in keys):
            yield batch
            batch, keys, size = [], set(), 0
        batch.append(book)
        keys.add(book.isbn)
        size += book_size
    if batch:
        yield batch


def unprocessed_isbns(answer: dict[str, Any], table: str) -> set[str]:
    """Keys of the puts a BatchWriteItem answer hands back in ``UnprocessedItems``."""
    requests = (answer.get("UnprocessedItems") or {}).get(table) or []
    return {request["PutRequest"]["Item"]["isbn"]["S"] for request in requests}


_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")


def client_error(response: Mapping[str, Any]) -> tuple[str, str]:
    """``(code, message)`` of a botocore ``ClientError.response``; an answer botocore could not parse (HTML or XML
    from a proxy, say, which it reports as the bare HTTP status) is read from the raw body instead."""
    info = response.get("Error", {})
    code, message = str(info.get("Code", "Unknown")), str(info.get("Message", ""))
    if code.isdigit():
        code, message = error_code(int(code), message.encode())
        return code, " ".join(re.sub(r"<[^>]+>", " ", message).split())[:200]
    return code, message


def error_code(status: int, body: bytes) -> tuple[str, str]:
    """``(code, message)`` of an error answer: JSON ``__type``/``message``, an XML ``<Code>``, else ``HTTPnnn``."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        kind = str(data.get("__type") or data.get("code") or "")
        message = str(data.get("message") or data.get("Message") or "")
        if kind:  # the AWS JSON protocol: drop what follows the first ':', then keep what follows the '#'
            return kind.split(":", 1)[0].rsplit("#", 1)[-1], message
    match = _XML_CODE.search(body)
    if match:
        return match.group(1).decode(errors="replace"), ""
    return f"HTTP{status}", body[:200].decode(errors="replace").strip()
