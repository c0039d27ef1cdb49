"""core.writers.engine: the pure settle step, the tally, and the drivers with fake transports (no network, no
real sleeps)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from core.books import Book, generate_books
from core.retry import RetryPolicy
from core.writers.engine import (
    MAX_LATENCY_SAMPLES,
    Outcome,
    Step,
    Tally,
    Work,
    aprocess,
    process,
    run_async,
    run_sequential,
    run_threaded,
    settle,
    works,
)

BOOKS = list(generate_books(5, seed=1))


def policy(sleeps: list[float] | None = None, attempts: int = 4) -> RetryPolicy:
    async def no_sleep(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)

    return RetryPolicy(max_attempts=attempts, base=0.01, cap=0.1, random=lambda: 0.5,
                       sleep=(sleeps.append if sleeps is not None else lambda s: None), async_sleep=no_sleep)


@pytest.mark.parametrize(("outcome", "prior", "done", "failed", "unknown", "retried"), [
    (Outcome(), 0, 5, 0, 0, 0),
    (Outcome(unprocessed=frozenset({BOOKS[1].isbn, BOOKS[3].isbn})), 0, 3, 0, 0, 2),
    (Outcome(unprocessed=frozenset({BOOKS[1].isbn})), 3, 4, 1, 0, 0),
    (Outcome(code="ProvisionedThroughputExceededException"), 0, 0, 0, 0, 5),
    (Outcome(code="ProvisionedThroughputExceededException"), 3, 0, 5, 0, 0),
    (Outcome(code="Timeout"), 3, 0, 0, 5, 0),
    (Outcome(code="ConnectionError"), 1, 0, 0, 0, 5),
    (Outcome(code="InternalServerError"), 3, 0, 0, 5, 0),
    (Outcome(code="ValidationException"), 0, 0, 5, 0, 0),
    (Outcome(code="ThrottlingException", attempts=4), 0, 0, 5, 0, 0),  # boto3 spent the budget inside the call
])
def test_settle(outcome: Outcome, prior: int, done: int, failed: int, unknown: int, retried: int) -> None:
    step = settle(Work(list(BOOKS), batch=True, attempts=prior), outcome, policy())
    assert (len(step.done), len(step.failed), len(step.unknown)) == (done, failed, unknown)
    assert (len(step.retry.books) if step.retry else 0) == retried
    if step.retry:
        assert step.retry.attempts == prior + outcome.attempts
        assert step.delay == pytest.approx(0.5 * min(0.01 * 2 ** (step.retry.attempts - 1), 0.1))
    if failed or unknown:
        assert step.reason


def test_a_fatal_error_fails_at_once_with_its_reason() -> None:
    step = settle(Work([BOOKS[0]], batch=False), Outcome(code="ValidationException", message="bad item"), policy())
    assert step.failed == (BOOKS[0],) and step.retry is None and "bad item" in step.reason
    step = settle(Work([BOOKS[0]], False, 3), Outcome(code="ThrottlingException"), policy())
    assert "after 4 attempts" in step.reason


def test_tally_counts_from_many_threads() -> None:
    tally = Tally("async", "T")
    tally.start()

    def hammer() -> None:
        for _ in range(1000):
            tally.request(0.001, None)
            tally.record(Step(done=(BOOKS[0],)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = tally.report(1.0, 0.5)
    assert report.requests == 8000 and report.items_ok == 8000 and report.items == 8000


def test_tally_reservoir_retries_throttles_failures_and_progress() -> None:
    seen: list[int] = []
    tally = Tally("async", "T", progress=seen.append)
    tally.start()
    for _ in range(MAX_LATENCY_SAMPLES + 500):
        tally.request(0.002, None)
    tally.request(0.002, "ThrottlingException")
    tally.request(0.002, None, partially_throttled=True)
    tally.begin(Work([BOOKS[0]], False))
    for index in range(7):
        tally.record(Step(failed=(BOOKS[index % 5],), reason=f"reason {index}"))
    report = tally.report(1.0, 0.1)
    assert len(report.latencies_ms) == MAX_LATENCY_SAMPLES
    assert report.retries == report.requests - 1 and report.throttled == 2
    assert report.failures == tuple(f"reason {i}" for i in range(5))
    assert seen[-1] == 7 and report.items_failed == 7 and report.errors == {"ThrottlingException": 1}


def test_works_refuses_oversized_items_and_stops_when_cancelled() -> None:
    huge = Book("9780000000002", "x" * 500_000, "A", BOOKS[0].published)
    tally = Tally("async", "T")
    units = list(works([BOOKS[0], huge, BOOKS[1]], batch=True, tally=tally))
    assert [[b.isbn for b in w.books] for w in units] == [[BOOKS[0].isbn, BOOKS[1].isbn]]
    assert tally.failed == 1 and "ItemTooLarge" in tally.failures[0]
    stop = threading.Event()
    tally = Tally("async", "T", cancel=stop)
    stream = works(generate_books(100, seed=1), batch=False, tally=tally)
    next(stream)
    stop.set()
    assert list(stream) == []


class FlakySend:
    """A fake transport: throttles the first ``failures`` attempts of each key, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures, self.sends = failures, Counter[str]()

    def __call__(self, work: Work) -> Outcome:
        key = work.books[0].isbn
        self.sends[key] += 1
        return Outcome(code="ThrottlingException") if self.sends[key] <= self.failures else Outcome()


def test_process_retries_until_done_with_injected_sleeps() -> None:
    sleeps: list[float] = []
    send, tally = FlakySend(failures=2), Tally("sequential", "T")
    process(Work([BOOKS[0]], False), send, policy(sleeps), tally)
    assert tally.ok == 1 and send.sends[BOOKS[0].isbn] == 3 and sleeps == [0.005, 0.01]


def test_process_gives_up_after_exactly_the_budget() -> None:
    send, tally = FlakySend(failures=99), Tally("sequential", "T")
    process(Work([BOOKS[0]], False), send, policy(attempts=4), tally)
    assert tally.failed == 1 and send.sends[BOOKS[0].isbn] == 4


def test_aprocess_is_the_same_loop() -> None:
    sleeps: list[float] = []
    send = FlakySend(failures=1)

    async def asend(work: Work) -> Outcome:
        return send(work)

    tally = Tally("async", "T")
    asyncio.run(aprocess(Work([BOOKS[0]], False), asend, policy(sleeps), tally))
    assert tally.ok == 1 and sleeps == [0.005]


def stream(count: int) -> Iterator[Work]:
    return (Work([b], False) for b in generate_books(count, seed=2))


def test_sequential_and_threaded_drivers_write_each_book_once() -> None:
    for driver in ("sequential", "threaded"):
        send, tally = FlakySend(failures=1), Tally(driver, "T")
        if driver == "sequential":
            run_sequential(stream(200), send, policy(), tally)
        else:
            asyncio.run(run_threaded(stream(200), send, policy(), tally, workers=8))
        assert tally.ok == 200 and set(send.sends.values()) == {2} and len(send.sends) == 200


def test_async_driver_respects_the_concurrency_bound() -> None:
    in_flight, peak = 0, 0

    async def send(work: Work) -> Outcome:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return Outcome()

    tally = Tally("async", "T")
    asyncio.run(run_async(stream(500), send, policy(), tally, concurrency=7))
    assert tally.ok == 500 and peak == 7


def test_cancelling_the_async_driver_leaves_no_task() -> None:
    async def slow(work: Work) -> Outcome:
        await asyncio.sleep(10)
        return Outcome()

    async def scenario() -> set[asyncio.Task[object]]:
        task = asyncio.create_task(run_async(stream(100), slow, policy(), Tally("async", "T"), concurrency=5))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    assert asyncio.run(scenario()) == set()
