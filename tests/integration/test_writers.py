"""core.writers against real servers: every approach writes and verifies; faults, limits and cancellation."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest

from core.domain.books import Book, generate_books
from core.domain.plan import Conditions
from core.servers.emulator import Emulator
from core.targets.tables import count_items, create_table, reset_table
from core.targets.target import Target, make_target
from core.targets.verify import verify
from core.wire.retry import RetryPolicy
from core.wire.sigv4 import Credentials
from core.writers import APPROACHES, STUDY_APPROACHES, WRITERS, WriterOptions, write, write_async

FAST = RetryPolicy(max_attempts=16, base=0.005, cap=0.05)  # 0.37 ** 16 x 400 items: no loss in 10**5 runs


def fresh(target: Target, approach: str) -> str:
    table = APPROACHES[approach].table
    reset_table(target.client(), table)
    return table


@pytest.mark.parametrize("approach", WRITERS)
def test_every_approach_writes_and_verifies(embedded_target: Target, approach: str) -> None:
    if (reason := APPROACHES[approach].unavailable) is not None:
        pytest.skip(reason)
    table = fresh(embedded_target, approach)
    seen: list[int] = []
    report = write(approach, generate_books(300, seed=11), embedded_target,
                   WriterOptions(threads=8, concurrency=16), progress=seen.append)
    assert (report.items, report.items_ok, report.items_failed, report.items_unknown) == (300, 300, 0, 0)
    if APPROACHES[approach].shipped:  # the library flushes its own way: one partial batch per thread, a DescribeTable
        assert report.requests >= 12 and report.retries == 0
    else:
        assert report.requests == (12 if APPROACHES[approach].batch else 300) and report.retries == 0
    assert report.latency.count == report.requests and report.latency.p50 > 0
    assert report.timeline[-1][1] == 300 and seen[-1] == 300
    assert report.client_cpu_seconds > 0 and report.seconds > 0
    check = verify(embedded_target.client(), table, generate_books(300, seed=11), report)
    assert (check.expected, check.found, check.lost, check.unexpected, check.mismatched) == (300, 300, 0, 0, 0)


def test_the_study_approaches_are_the_default_three() -> None:
    assert STUDY_APPROACHES == ("sequential", "threaded", "async")
    assert [APPROACHES[a].table for a in STUDY_APPROACHES] == ["SyncBooks", "ThreadedBooks", "AsyncBooks"]


def test_memory_is_not_materialised(embedded_target: Target) -> None:
    """The writer pulls books lazily: a stream that is never exhausted up front still writes in order."""
    fresh(embedded_target, "async-batch")
    pulled: list[int] = []

    def stream() -> Iterator[Book]:
        for index, book in enumerate(generate_books(200, seed=2)):
            pulled.append(index)
            yield book

    report = write("async-batch", stream(), embedded_target, WriterOptions(concurrency=2))
    assert report.items_ok == 200 and pulled == list(range(200))


@pytest.mark.parametrize("approach", ["sequential-batch", "async-batch", "aiobotocore-batch"])
def test_duplicate_keys_never_share_a_batch(embedded_target: Target, approach: str) -> None:
    table = fresh(embedded_target, approach)
    books = list(generate_books(30, seed=4))
    later = Book(books[3].isbn, "A later edition", "Ann Other", dt.date(2020, 1, 1))
    report = write(approach, [*books[:10], later, *books[10:]], embedded_target, WriterOptions(concurrency=1))
    assert report.items_ok == 31 and not report.errors
    assert count_items(embedded_target.client(), table) == 30
    item = embedded_target.client().get_item(TableName=table, Key={"isbn": {"S": later.isbn}})["Item"]
    assert Book.from_item(item) == later  # the later write wins, as with PutItem


@pytest.mark.parametrize("approach", ["sequential", "async", "async-batch", "threaded-batch"])
def test_oversized_item_is_refused_before_any_request(embedded_target: Target, approach: str) -> None:
    table = fresh(embedded_target, approach)
    books = list(generate_books(10, seed=5))
    huge = Book("9780000000002", "x" * (400 * 1024), "Big Author", dt.date(2000, 1, 1))
    report = write(approach, [*books[:5], huge, *books[5:]], embedded_target)
    assert (report.items, report.items_ok, report.items_failed) == (11, 10, 1)
    assert report.failed_isbns == (huge.isbn,)
    assert any("ItemTooLarge" in reason and "400 KB" in reason for reason in report.failures)
    assert report.requests == (1 if APPROACHES[approach].batch else 10)
    assert count_items(embedded_target.client(), table) == 10


_FAULTY: dict[str, Emulator] = {}


@pytest.fixture(scope="module")
def faulty() -> Iterator[Target]:
    """An emulator of its own, so injected faults never reach other tests."""
    with Emulator() as server:
        _FAULTY["server"] = server
        yield make_target("embedded", server_url=server.endpoint_url)


def set_faults(target: Target, conditions: Conditions) -> None:
    _FAULTY["server"].set_conditions(conditions)


@pytest.mark.parametrize("approach", ["async", "async-batch", "aiobotocore-batch", "threaded-batch"])
def test_throttling_and_errors_lose_nothing(faulty: Target, approach: str) -> None:
    table = fresh(faulty, approach)
    set_faults(faulty, Conditions(throttle=0.3, error=0.05, reset=0.02))
    try:
        report = write(approach, generate_books(400, seed=6), faulty,
                       WriterOptions(threads=8, concurrency=16, policy=FAST, request_timeout=5))
    finally:
        set_faults(faulty, Conditions())
    assert report.retries > 0 and report.throttled > 0
    check = verify(faulty.client(), table, generate_books(400, seed=6), report)
    assert check.found == 400 and check.lost == 0 and check.unexpected == 0
    assert report.items_ok + report.items_unknown + report.items_failed == 400


@pytest.mark.parametrize("approach", ["sequential", "threaded", "async", "async-batch", "aiobotocore"])
def test_a_server_that_always_throttles_ends_with_items_failed(faulty: Target, approach: str) -> None:
    table = fresh(faulty, approach)
    policy = RetryPolicy(max_attempts=3, base=0.01, cap=0.02)
    set_faults(faulty, Conditions(throttle=1.0))
    started = time.monotonic()
    try:
        report = write(approach, generate_books(6, seed=7), faulty, WriterOptions(policy=policy, concurrency=6))
    finally:
        set_faults(faulty, Conditions())
    assert time.monotonic() - started < 30  # bounded by the retry budget (boto3: botocore's own backoff)
    assert (report.items_ok, report.items_failed) == (0, 6)
    assert report.throttled == report.requests and report.requests <= 3 * 6
    assert any("ProvisionedThroughputExceededException" in reason for reason in report.failures)
    assert count_items(faulty.client(), table) == 0


@pytest.mark.parametrize("approach", ["sequential-batch", "async-batch"])
def test_batches_throttled_for_ever_report_exactly_what_was_written(faulty: Target, approach: str) -> None:
    """A throttled batch writes a random part and hands back the rest: whatever ends failed is really absent."""
    table = fresh(faulty, approach)
    set_faults(faulty, Conditions(throttle=0.6))
    try:
        report = write(approach, generate_books(50, seed=7), faulty,
                       WriterOptions(policy=RetryPolicy(max_attempts=2, base=0.01, cap=0.02)))
    finally:
        set_faults(faulty, Conditions())
    assert report.items_failed > 0 and report.items_ok + report.items_failed == 50
    check = verify(faulty.client(), table, generate_books(50, seed=7), report)
    assert check.found == report.items_ok and check.lost == 0 and check.recovered == 0


def tasks_left_after_cancel(approach: str, target: Target, seed: int, concurrency: int) -> set[asyncio.Task[object]]:
    """Start writing 10,000 books, cancel the task after 0.5 s: the tasks still there once it has ended."""
    async def scenario() -> set[asyncio.Task[object]]:
        task = asyncio.create_task(write_async(approach, generate_books(10_000, seed=seed), target,
                                               WriterOptions(concurrency=concurrency)))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.all_tasks() - {asyncio.current_task()}

    return asyncio.run(scenario())


def test_cancelling_leaves_no_task_behind(faulty: Target) -> None:
    fresh(faulty, "async")
    set_faults(faulty, Conditions(latency_ms=50))
    try:
        assert tasks_left_after_cancel("async", faulty, seed=8, concurrency=20) == set()
    finally:
        set_faults(faulty, Conditions())


def test_cancel_event_stops_a_run_cleanly(embedded_target: Target) -> None:
    fresh(embedded_target, "threaded")
    stop = threading.Event()

    def progress(done: int) -> None:
        if done >= 100:
            stop.set()

    report = write("threaded", generate_books(5_000, seed=9), embedded_target,
                   WriterOptions(threads=4, cancel=stop), progress=progress)
    # Work in flight when the event is set ends unknown (never dropped); nothing new is started.
    assert 100 <= report.items < 5_000 and report.items == report.items_ok + report.items_unknown
    assert report.items_unknown <= 4 and report.items_failed == 0


def test_timeouts_are_retried_and_unknown_outcomes_reported(faulty: Target) -> None:
    table = fresh(faulty, "async")
    set_faults(faulty, Conditions(latency_ms=400))
    try:
        report = write("async", generate_books(5, seed=10), faulty,
                       WriterOptions(request_timeout=0.2, policy=RetryPolicy(max_attempts=2, base=0.01, cap=0.01)))
    finally:
        set_faults(faulty, Conditions())
    assert report.items_unknown == 5 and report.errors == {"Timeout": 10}
    deadline = time.monotonic() + 30  # the server still finishes the writes it was given, 0.4 s after each request
    while count_items(faulty.client(), table) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    check = verify(faulty.client(), table, generate_books(5, seed=10), report)
    assert check.recovered == 5 and check.lost == 0


# --- signatures checked for real: moto with IAM auth recomputes every SigV4 signature --------------------------

@pytest.mark.parametrize("approach", ["async", "async-batch"])
def test_hand_signed_writers_pass_a_real_signature_check(moto_iam_target: Target, approach: str) -> None:
    table = APPROACHES[approach].table
    create_table(moto_iam_target.client(), table)
    report = write(approach, generate_books(60, seed=12), moto_iam_target, WriterOptions(concurrency=8))
    assert report.items_ok == 60 and not report.errors
    assert verify(moto_iam_target.client(), table, generate_books(60, seed=12), report).found == 60


def test_a_wrong_secret_fails_fast_without_a_retry_storm(moto_iam_target: Target) -> None:
    create_table(moto_iam_target.client(), "AsyncBooks")
    creds = moto_iam_target.credentials()
    wrong = make_target("custom", endpoint_url=moto_iam_target.endpoint_url,
                        credentials=Credentials(creds.access_key, "not-the-secret"))
    report = write("async", generate_books(20, seed=13), wrong, WriterOptions(concurrency=4))
    assert report.items_failed == 20 and report.retries == 0
    assert 8 <= report.requests < 20 and report.halted  # the breaker stopped sending after the first refusals
    assert any("signature was rejected" in reason for reason in report.failures)


@pytest.mark.parametrize("approach", ["async-batch", "threaded"])
def test_adaptive_retry_mode_writes_everything_under_throttling(faulty: Target, approach: str) -> None:
    """The lab's rate control (async-batch) and botocore's adaptive mode (threaded) both end with every item written.
    (Random throttles are not what adaptive control is for: each one cuts the rate by 30 %, whatever the load; the
    capacity benchmark measures it against a table that throttles by its capacity. Here a few are enough.)"""
    for _ in range(3):  # a run that drew no throttle at all (0.95**80: 1.7 % of runs) proves nothing: draw again
        table = fresh(faulty, approach)
        set_faults(faulty, Conditions(throttle=0.05))
        try:
            report = write(approach, generate_books(80, seed=21), faulty,
                           WriterOptions(threads=4, concurrency=16, retry_mode="adaptive",
                                         policy=RetryPolicy(max_attempts=16, base=0.01, cap=0.1)))
        finally:
            set_faults(faulty, Conditions())
        assert report.complete
        assert verify(faulty.client(), table, generate_books(80, seed=21), report).ok
        if report.throttled:
            return
    pytest.fail("three runs at throttle=0.05 drew no throttle: the emulator's faults are not applied")
