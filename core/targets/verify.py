"""Verification: read a table back and compare it with the books a run was given.

Streaming (memory stays flat); the books must have distinct keys. Given the run's report, items it called failed or
unknown that are present count as ``recovered``, acknowledged ones missing as ``lost``. A ``cancel`` stops between
two requests: the rest are counted ``unchecked`` and the ``Scan`` for unexpected items is skipped.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from core.domain.books import Book
from core.domain.errors import TargetError
from core.domain.results import RunReport, Verification
from core.targets.tables import count_items

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_KEYS = 100


def _chunks(books: Iterable[Book], size: int) -> Iterator[list[Book]]:
    iterator = iter(books)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def fetch(client: DynamoDBClient, table: str, isbns: list[str], attempts: int = 12,
          sleep: Callable[[float], object] = time.sleep) -> dict[str, dict[str, Any]]:
    """Items by key (at most 100 keys); retries unprocessed keys with backoff (``sleep``)."""
    found: dict[str, dict[str, Any]] = {}
    keys: list[dict[str, Any]] = [{"isbn": {"S": isbn}} for isbn in isbns]
    for attempt in range(attempts):
        answer: Any = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
        for item in answer["Responses"].get(table, []):
            found[item["isbn"]["S"]] = item
        keys = (answer.get("UnprocessedKeys") or {}).get(table, {}).get("Keys", [])
        if not keys:
            return found
        sleep(min(0.05 * 2**attempt, 2.0))
    raise TargetError(f"verification of {table} could not read {len(keys)} keys back: the target keeps throttling")


def verify(client: DynamoDBClient, table: str, books: Iterable[Book], report: RunReport | None = None,
           cancel: threading.Event | None = None) -> Verification:
    """Compare ``table`` with ``books`` (the books the run took from its stream: ``report.taken`` when a report is
    given); ``cancel`` cuts it short."""
    not_acknowledged = set(report.failed_isbns) | set(report.unknown_isbns) if report else set()
    expected = found = lost = mismatched = recovered = missing = 0
    stop = cancel or threading.Event()
    chunks = _chunks(books, BATCH_GET_KEYS)
    for chunk in chunks:
        if stop.is_set():
            unchecked = report.taken - expected if report else len(chunk) + sum(len(rest) for rest in chunks)
            return Verification(expected=expected + unchecked, found=found, lost=lost, unexpected=0,
                                mismatched=mismatched, recovered=recovered, missing=missing, unchecked=unchecked)
        present = fetch(client, table, [book.isbn for book in chunk], sleep=stop.wait)
        for book in chunk:
            expected += 1
            item = present.get(book.isbn)
            if item is None:
                if book.isbn in not_acknowledged:
                    missing += 1
                else:
                    lost += 1
                continue
            if book.isbn in not_acknowledged:
                recovered += 1
            if item == book.to_item():
                found += 1
            else:
                mismatched += 1
    unexpected = count_items(client, table) - found - mismatched
    return Verification(expected=expected, found=found, lost=lost, unexpected=max(0, unexpected),
                        mismatched=mismatched, recovered=recovered, missing=missing)
