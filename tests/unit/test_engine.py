"""core.writers.exchange: the pure settle step, the tally, the work stream, the retry loop and the drivers with fake
transports (no network, no real sleeps: the drivers are given a sleep that only records)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Literal

import pytest

from core.domain.books import Book, generate_books
from core.wire.retry import HINTS, Kind, RetryPolicy, classify
from core.writers import exchange as engine
from core.writers.exchange import (
    MAX_LATENCY_SAMPLES,
    Outcome,
    Send,
    Sleep,
    Step,
    Tally,
    Work,
    adrive,
    drive,
    exchange,
    run_async,
    run_sequential,
    run_threaded,
    settle,
    works,
)

BOOKS = tuple(generate_books(5, seed=1))
ISBN = [b.isbn for b in BOOKS]
THROTTLE = "ProvisionedThroughputExceededException"


def fast_policy(attempts: int = 4) -> RetryPolicy:
    """base 0.01, cap 0.1, draws 0.5: delays 0.005, 0.01, 0.02, 0.04, 0.05, ..."""
    return RetryPolicy(max_attempts=attempts, base=0.01, cap=0.1, probe_cap=0.1, random=lambda: 0.5)


class Sleeps(list[float]):
    """A sleep for the drivers that only records: call it (blocking drivers) or await ``later`` (async ones)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def later(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)  # yields to the loop like a real sleep would, without waiting


def delay(attempt: int) -> float:
    return 0.5 * min(0.01 * 2.0 ** (attempt - 1), 0.1)


def pick(*indexes: int) -> tuple[Book, ...]:
    return tuple(BOOKS[i] for i in indexes)


def unprocessed(*indexes: int) -> frozenset[str]:
    return frozenset(ISBN[i] for i in indexes)


ALL = (0, 1, 2, 3, 4)
NONE: tuple[int, ...] = ()


# --- settle -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("outcome", "prior", "done", "failed", "unknown", "retry", "reason"), [
    # success
    (Outcome(), 0, ALL, NONE, NONE, NONE, ""),
    (Outcome(), 3, ALL, NONE, NONE, NONE, ""),  # success on the last attempt is still success
    (Outcome(unprocessed=frozenset({"not-in-this-work"})), 0, ALL, NONE, NONE, NONE, ""),
    # partial success: the rest is resent, until the budget runs out
    (Outcome(unprocessed=unprocessed(1, 3)), 0, (0, 2, 4), NONE, NONE, (1, 3), ""),
    (Outcome(unprocessed=unprocessed(*ALL)), 0, NONE, NONE, NONE, ALL, ""),
    (Outcome(unprocessed=unprocessed(1, 3)), 2, (0, 2, 4), NONE, NONE, (1, 3), ""),
    (Outcome(unprocessed=unprocessed(1)), 3, (0, 2, 3, 4), (1,), NONE, NONE,
     "UnprocessedItems: still throttled after 4 attempts"),
    (Outcome(unprocessed=unprocessed(1), attempts=3), 1, (0, 2, 3, 4), (1,), NONE, NONE, "after 4 attempts"),
    # throttled: the same books again, then failed (DynamoDB refused them: they were not written)
    (Outcome(code=THROTTLE), 0, NONE, NONE, NONE, ALL, ""),
    (Outcome(code=THROTTLE), 2, NONE, NONE, NONE, ALL, ""),
    (Outcome(code=THROTTLE), 3, NONE, ALL, NONE, NONE, f"{THROTTLE} (after 4 attempts)"),
    (Outcome(code="ThrottlingException", message="Rate exceeded"), 3, NONE, ALL, NONE, NONE,
     "ThrottlingException; Rate exceeded (after 4 attempts)"),
    (Outcome(code="RequestLimitExceeded"), 3, NONE, ALL, NONE, NONE, "after 4 attempts"),
    # no answer, or a 5xx: retried, then unknown (the write may have happened)
    (Outcome(code="Timeout"), 0, NONE, NONE, NONE, ALL, ""),
    (Outcome(code="Timeout"), 3, NONE, NONE, ALL, NONE, "Timeout (after 4 attempts)"),
    (Outcome(code="ConnectionError"), 1, NONE, NONE, NONE, ALL, ""),
    (Outcome(code="ConnectionError"), 3, NONE, NONE, ALL, NONE, "ConnectionError (after 4 attempts)"),
    (Outcome(code="InternalServerError"), 3, NONE, NONE, ALL, NONE, "InternalServerError (after 4 attempts)"),
    (Outcome(code="HTTP500"), 3, NONE, NONE, ALL, NONE, "HTTP500 (after 4 attempts)"),
    (Outcome(code="HTTP503"), 0, NONE, NONE, NONE, ALL, ""),
    (Outcome(code="ConnectionRefused"), 0, NONE, NONE, NONE, ALL, ""),  # nothing was sent: retried...
    (Outcome(code="ConnectionRefused"), 3, NONE, ALL, NONE, NONE, "(after 4 attempts)"),  # ... and failed, not unknown
    # fatal: failed at once, whatever the budget left
    (Outcome(code="ValidationException", message="bad item"), 0, NONE, ALL, NONE, NONE,
     "ValidationException: DynamoDB rejected the request as invalid; bad item"),
    (Outcome(code="ExpiredTokenException"), 0, NONE, ALL, NONE, NONE, "refresh your credentials"),
    (Outcome(code="AccessDeniedException"), 1, NONE, ALL, NONE, NONE, "access denied"),
    # boto3 retried inside the call: those HTTP attempts count toward the budget
    (Outcome(code="ThrottlingException", attempts=4), 0, NONE, ALL, NONE, NONE, "after 4 attempts"),
    (Outcome(code="ThrottlingException", attempts=3), 1, NONE, ALL, NONE, NONE, "after 4 attempts"),
    (Outcome(code="ThrottlingException", attempts=2), 0, NONE, NONE, NONE, ALL, ""),
    (Outcome(code="Timeout", attempts=4), 0, NONE, NONE, ALL, NONE, "after 4 attempts"),
    (Outcome(unprocessed=unprocessed(4), attempts=4), 0, (0, 1, 2, 3), (4,), NONE, NONE, "after 4 attempts"),
    (Outcome(unprocessed=unprocessed(4), attempts=2), 0, (0, 1, 2, 3), NONE, NONE, (4,), ""),
])
def test_settle(outcome: Outcome, prior: int, done: tuple[int, ...], failed: tuple[int, ...],
                unknown: tuple[int, ...], retry: tuple[int, ...], reason: str) -> None:
    work = Work(tuple(BOOKS), batch=True, attempts=prior)
    step = settle(work, outcome, fast_policy())
    assert (step.done, step.failed, step.unknown) == (pick(*done), pick(*failed), pick(*unknown))
    if retry:
        assert step.retry is not None
        doubt = outcome.code is not None and classify(outcome.code) in (Kind.UNKNOWN, Kind.TRANSIENT)
        assert step.retry == Work(pick(*retry), batch=True, attempts=prior + outcome.attempts, in_doubt=doubt)
        assert step.delay == pytest.approx(delay(prior + outcome.attempts))
    else:
        assert step.retry is None and step.delay == 0
    assert (reason in step.reason) if reason else step.reason == ""
    assert work == Work(tuple(BOOKS), batch=True, attempts=prior)  # pure: the work unit is not touched


def test_settle_accounts_every_book_exactly_once() -> None:
    policy = fast_policy()
    outcomes = [Outcome(), Outcome(unprocessed=unprocessed(0, 4)), Outcome(code=THROTTLE), Outcome(code="Timeout"),
                Outcome(code="ValidationException")]
    for outcome, prior in itertools.product(outcomes, range(4)):
        step = settle(Work(tuple(BOOKS), True, prior), outcome, policy)
        settled = [*step.done, *step.failed, *step.unknown, *(step.retry.books if step.retry else [])]
        assert sorted(b.isbn for b in settled) == sorted(ISBN), (outcome, prior)


def test_a_single_put_keeps_its_kind() -> None:
    step = settle(Work((BOOKS[0],), batch=False), Outcome(code="Timeout"), fast_policy())
    assert step.retry == Work((BOOKS[0],), batch=False, attempts=1, in_doubt=True)


# --- Tally --------------------------------------------------------------------------------------------------------

def test_tally_counts_exactly_from_many_threads() -> None:
    tally = Tally("threaded", "T")
    tally.start()
    threads, rounds = 8, 1000  # 16,000 requests: under MAX_LATENCY_SAMPLES, so every latency is kept

    def hammer() -> None:
        for i in range(rounds):
            tally.begin()
            tally.request(0.001, THROTTLE if i % 4 == 0 else None)
            tally.request(0.001, None)
            if i % 10 == 0:
                tally.record(Step(failed=(BOOKS[1],), reason="fatal"))
            else:
                tally.record(Step(done=(BOOKS[0],)))

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    report = tally.report(1.0, 0.5)
    assert report.requests == 2 * threads * rounds and len(report.latencies_ms) == 2 * threads * rounds
    assert report.retries == threads * rounds  # requests - works
    assert report.throttled == threads * rounds // 4 == report.errors[THROTTLE]
    assert report.items_ok == threads * rounds * 9 // 10 and report.items_failed == threads * rounds // 10
    assert report.items == threads * rounds and len(report.failed_isbns) == threads * rounds // 10
    assert report.failures == ("fatal",)


def test_latency_reservoir_is_bounded_and_keeps_sampling() -> None:
    tally = Tally("async", "T")
    for _ in range(MAX_LATENCY_SAMPLES):
        tally.request(0.001, None)
    for _ in range(2_000):
        tally.request(0.002, None)
    report = tally.report(1.0, 0.1)
    assert report.requests == tally.latency_count == MAX_LATENCY_SAMPLES + 2_000
    assert len(report.latencies_ms) == MAX_LATENCY_SAMPLES
    late = sum(1 for ms in report.latencies_ms if ms == pytest.approx(2.0))
    assert 0 < late < 2_000  # later requests replace some samples, not all of them


@pytest.mark.parametrize(("requests", "begun", "retries"), [(0, 0, 0), (10, 10, 0), (17, 10, 7), (3, 5, 0)])
def test_retries_are_requests_beyond_one_per_work(requests: int, begun: int, retries: int) -> None:
    tally = Tally("async", "T")
    for _ in range(begun):
        tally.begin()
    for _ in range(requests):
        tally.request(0.001, None)
    report = tally.report(1.0, 0.1)
    assert (report.requests, report.retries) == (requests, retries)


@pytest.mark.parametrize(("code", "partial", "throttled", "errors"), [
    (None, False, 0, {}),
    (None, True, 1, {}),  # a BatchWriteItem answered 200 with UnprocessedItems
    (THROTTLE, False, 1, {THROTTLE: 1}),
    ("ThrottlingException", False, 1, {"ThrottlingException": 1}),
    ("RequestLimitExceeded", False, 1, {"RequestLimitExceeded": 1}),
    ("HTTP500", False, 0, {"HTTP500": 1}),
    ("ValidationException", False, 0, {"ValidationException": 1}),
    ("Timeout", False, 0, {"Timeout": 1}),
])
def test_throttled_counts_full_and_partial_throttles(code: str | None, partial: bool, throttled: int,
                                                     errors: dict[str, int]) -> None:
    tally = Tally("async", "T")
    tally.request(0.001, code, partially_throttled=partial)
    report = tally.report(1.0, 0.1)
    assert (report.throttled, dict(report.errors)) == (throttled, errors)


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_progress_without_time_passing_gets_only_the_final_count() -> None:
    seen: list[int] = []
    tally = Tally("async", "T", progress=seen.append, clock=lambda: 0.0)
    tally.start()
    for book in BOOKS:
        tally.record(Step(done=(book,)))
    tally.record(Step(failed=(BOOKS[0],), unknown=(BOOKS[1],), reason="r"))
    tally.report(1.0, 0.1)
    assert seen == [7]


def test_progress_is_throttled_in_time_and_ends_with_the_settled_count() -> None:
    seen: list[int] = []
    tally = Tally("async", "T", progress=seen.append, clock=FakeClock(step=0.02))  # 0.02 s per record
    tally.start()
    for _ in range(100):
        tally.record(Step(done=(BOOKS[0],)))
    report = tally.report(2.0, 0.1)
    assert 30 <= len(seen) <= 40  # about one call per 0.05 s, not one per record
    assert seen == sorted(seen) and seen[-1] == 100 == report.items
    assert report.timeline[0] == (0.0, 0) and report.timeline[-1] == (2.0, 100)


def test_failures_keep_at_most_five_distinct_reasons_in_order() -> None:
    tally = Tally("async", "T")
    for reason in ["a", "b", "a", "c", "b", "d", "e", "f", "g", "a"]:
        tally.record(Step(failed=(BOOKS[0],), reason=reason))
    report = tally.report(1.0, 0.1)
    assert report.failures == ("a", "b", "c", "d", "e") and report.items_failed == 10


def test_listed_isbns_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_LISTED_ISBNS", 3)
    tally = Tally("async", "T")
    tally.record(Step(failed=pick(0, 1), unknown=pick(0,), reason="x"))
    tally.record(Step(failed=pick(2, 3, 4), unknown=pick(1, 2, 3, 4), reason="x"))
    report = tally.report(1.0, 0.1)
    assert report.failed_isbns == tuple(ISBN[:3]) and report.unknown_isbns == tuple(ISBN[:3])
    assert (report.items_failed, report.items_unknown) == (5, 5)  # the counts stay exact


def test_abandon_reports_the_pending_books_unknown() -> None:
    tally = Tally("async", "T")
    tally.abandon(Work(tuple(BOOKS[:2]), True, 2))
    report = tally.report(1.0, 0.1)
    assert report.items_unknown == 2 and report.unknown_isbns == tuple(ISBN[:2])
    assert "stopped" in report.failures[0]


# --- works --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "batch", "sizes"), [
    (0, False, []), (3, False, [1, 1, 1]), (0, True, []), (26, True, [25, 1]), (60, True, [25, 25, 10]),
])
def test_works_cut_the_stream(count: int, batch: bool, sizes: list[int]) -> None:
    books = list(generate_books(count, seed=3))
    tally = Tally("async", "T")
    units = list(works(books, batch, tally))
    assert [len(w.books) for w in units] == sizes
    assert all(w.batch is batch and w.attempts == 0 for w in units)
    assert [b for w in units for b in w.books] == books and tally.units == len(sizes)


@pytest.mark.parametrize("batch", [False, True])
def test_works_refuses_oversized_items(batch: bool) -> None:
    huge = Book("9780000000002", "x" * 409_600, "A", BOOKS[0].published)
    tally = Tally("async", "T")
    units = list(works([BOOKS[0], huge, BOOKS[1]], batch, tally))
    assert [b.isbn for w in units for b in w.books] == [ISBN[0], ISBN[1]]
    assert tally.units == len(units) and tally.failed == 1 and tally.failed_isbns == [huge.isbn]
    assert tally.failures[0].startswith("ItemTooLarge: the item is over DynamoDB's 400 KB limit")
    assert huge.isbn in tally.failures[0]


@pytest.mark.parametrize("batch", [False, True])
def test_works_are_lazy(batch: bool) -> None:
    endless = (Book(str(i), "T", "A", BOOKS[0].published) for i in itertools.count())
    units = list(itertools.islice(works(endless, batch, Tally("async", "T")), 3))
    assert [len(w.books) for w in units] == ([25] * 3 if batch else [1] * 3)


@pytest.mark.parametrize("batch", [False, True])
def test_a_cancelled_run_pulls_nothing(batch: bool) -> None:
    stop = threading.Event()
    stop.set()
    tally = Tally("async", "T", stop=stop)
    assert list(works(generate_books(100, seed=1), batch, tally)) == [] and tally.units == 0


def test_cancel_stops_the_stream_of_single_puts() -> None:
    stop = threading.Event()
    tally = Tally("async", "T", stop=stop)
    stream = works(generate_books(100, seed=1), batch=False, tally=tally)
    next(stream)
    stop.set()
    assert list(stream) == [] and tally.units == 1


def test_cancel_stops_the_stream_of_batches() -> None:
    stop = threading.Event()
    tally = Tally("async", "T", stop=stop)
    stream = works(generate_books(100, seed=1), batch=True, tally=tally)
    assert len(next(stream).books) == 25
    stop.set()
    assert [len(w.books) for w in stream] == []
    assert tally.failed == 1 and tally.failures == ["not sent: the run was stopped"]  # the book read ahead


# --- process / aprocess -------------------------------------------------------------------------------------------

class FakeSend:
    """A thread-safe fake transport. A work is throttled (or answered ``code``) while its first book has been sent at
    most ``throttle_first`` times; a batch's first unthrottled answer hands its last ``unprocessed_last`` books back
    as unprocessed. It counts sends and acknowledged writes per isbn, and the peak of requests in flight."""

    def __init__(self, throttle_first: int = 0, code: str = THROTTLE, unprocessed_last: int = 0,
                 barrier: threading.Barrier | None = None) -> None:
        self.throttle_first, self.code = throttle_first, code
        self.unprocessed_last, self.barrier = unprocessed_last, barrier
        self.lock = threading.Lock()
        self.calls: list[list[str]] = []
        self.sends: Counter[str] = Counter()  # per isbn: how often it was sent
        self.acked: Counter[str] = Counter()  # per isbn: how often a write of it was acknowledged
        self.held_back: set[str] = set()
        self.in_flight = self.peak = self.entered = 0

    def answer(self, work: Work) -> Outcome:
        isbns = [b.isbn for b in work.books]
        with self.lock:
            self.calls.append(isbns)
            self.sends.update(isbns)
            if self.sends[isbns[0]] <= self.throttle_first:
                return Outcome(code=self.code)
            tail = isbns[-self.unprocessed_last:] if self.unprocessed_last else []
            left = frozenset(tail) - self.held_back
            self.held_back |= left
            self.acked.update(i for i in isbns if i not in left)
            return Outcome(unprocessed=left)

    def enter(self) -> int:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.entered += 1
            return self.entered

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def __call__(self, work: Work) -> Outcome:
        call = self.enter()
        try:
            if self.barrier is not None and call <= self.barrier.parties:
                self.barrier.wait(timeout=5)  # the first round of sends must all be in flight together
            return self.answer(work)
        finally:
            self.leave()

    async def send_async(self, work: Work) -> Outcome:
        self.enter()
        try:
            await asyncio.sleep(0)  # let the other coroutines in while this request is "in flight"
            return self.answer(work)
        finally:
            self.leave()


Driver = Literal["drive", "adrive"]


def run_one(driver: Driver, work: Work, send: FakeSend, policy: RetryPolicy, tally: Tally,
            sleeps: Sleeps | None = None) -> None:
    sleeps = Sleeps() if sleeps is None else sleeps
    if driver == "drive":
        drive(work, send, policy, tally, sleeps)
    else:
        asyncio.run(adrive(work, send.send_async, policy, tally, sleeps.later))


@pytest.mark.parametrize("driver", ["drive", "adrive"])
@pytest.mark.parametrize("throttled", [0, 1, 2, 3])
def test_a_throttled_put_is_retried_until_done(driver: Driver, throttled: int) -> None:
    sleeps = Sleeps()
    send, tally = FakeSend(throttle_first=throttled), Tally(driver, "T")
    run_one(driver, Work((BOOKS[0],), False), send, fast_policy(), tally, sleeps)
    assert (tally.ok, tally.failed, tally.unknown) == (1, 0, 0)
    assert send.sends[ISBN[0]] == throttled + 1
    assert sleeps == [delay(a) for a in range(1, throttled + 1)]


@pytest.mark.parametrize("driver", ["drive", "adrive"])
@pytest.mark.parametrize(("code", "failed", "unknown", "reason"), [
    (THROTTLE, 1, 0, f"{THROTTLE} (after 4 attempts)"),
    ("Timeout", 0, 1, "Timeout (after 4 attempts)"),
    ("HTTP503", 0, 1, f"HTTP503: {HINTS['HTTP503']} (after 4 attempts)"),  # a bare 503: something in between
])
def test_a_hopeless_put_ends_after_exactly_the_budget(driver: Driver, code: str, failed: int, unknown: int,
                                                      reason: str) -> None:
    sleeps = Sleeps()
    send, tally = FakeSend(throttle_first=99, code=code), Tally(driver, "T")
    run_one(driver, Work((BOOKS[0],), False), send, fast_policy(attempts=4), tally, sleeps)
    assert (tally.ok, tally.failed, tally.unknown) == (0, failed, unknown)
    assert send.sends[ISBN[0]] == 4 and sleeps == [delay(1), delay(2), delay(3)]
    assert tally.failures == [reason]


@pytest.mark.parametrize("driver", ["drive", "adrive"])
def test_a_fatal_error_is_not_retried(driver: Driver) -> None:
    sleeps = Sleeps()
    send, tally = FakeSend(throttle_first=99, code="ValidationException"), Tally(driver, "T")
    run_one(driver, Work(tuple(BOOKS), True), send, fast_policy(), tally, sleeps)
    assert tally.failed == 5 and len(send.calls) == 1 and sleeps == []


@pytest.mark.parametrize("driver", ["drive", "adrive"])
def test_only_unprocessed_items_are_resent(driver: Driver) -> None:
    sleeps = Sleeps()
    send, tally = FakeSend(unprocessed_last=2), Tally(driver, "T")
    run_one(driver, Work(tuple(BOOKS), True), send, fast_policy(), tally, sleeps)
    assert send.calls == [ISBN, ISBN[3:]] and sleeps == [delay(1)]
    assert tally.ok == 5 and set(send.acked.values()) == {1}


@pytest.mark.parametrize("driver", ["drive", "adrive"])
def test_a_cancelled_run_stops_retrying(driver: Driver) -> None:
    stop, sleeps = threading.Event(), Sleeps()
    send, tally = FakeSend(throttle_first=99), Tally(driver, "T", stop=stop)

    def send_then_stop(work: Work) -> Outcome:
        stop.set()  # the user presses stop while the request is in flight
        return send(work)

    async def send_then_stop_async(work: Work) -> Outcome:
        stop.set()
        return await send.send_async(work)

    if driver == "drive":
        drive(Work((BOOKS[0],), False), send_then_stop, fast_policy(), tally, sleeps)
    else:
        asyncio.run(adrive(Work((BOOKS[0],), False), send_then_stop_async, fast_policy(), tally, sleeps.later))
    assert len(send.calls) == 1 and sleeps == []
    assert (tally.ok, tally.failed, tally.unknown) == (0, 0, 1)
    assert tally.unknown_isbns == [ISBN[0]]


@pytest.mark.parametrize("driver", ["drive", "adrive"])
def test_a_run_cancelled_during_the_backoff_sends_nothing_more(driver: Driver) -> None:
    stop = threading.Event()
    send, tally = FakeSend(throttle_first=99), Tally(driver, "T", stop=stop)

    class StopWhileSleeping(Sleeps):
        def __call__(self, seconds: float) -> None:
            stop.set()

        async def later(self, seconds: float) -> None:
            stop.set()

    run_one(driver, Work((BOOKS[0],), False), send, fast_policy(), tally, StopWhileSleeping())
    assert tally.unknown == 1
    assert len(send.calls) == 1


def test_the_real_backoff_sleeps_end_when_the_run_stops() -> None:
    tally = Tally("async", "T")
    threading.Timer(0.05, tally.stop.set).start()
    tally.sleep(30)  # returns once the timer stops the run, not after 30 s
    assert tally.stopping
    asyncio.run(tally.async_sleep(30))  # already stopped: returns at once


def test_exchange_yields_send_and_sleep_and_records_the_settlement() -> None:
    tally = Tally("async", "T")
    loop = exchange(Work((BOOKS[0],), False), fast_policy(attempts=3), tally)
    assert next(loop) == Send(Work((BOOKS[0],), False))
    assert loop.send(Outcome(code=THROTTLE)) == Sleep(delay(1))
    assert loop.send(None) == Send(Work((BOOKS[0],), False, attempts=1))
    with pytest.raises(StopIteration):
        loop.send(Outcome())
    assert (tally.ok, tally.failed, tally.unknown) == (1, 0, 0)


def test_exchange_abandons_a_stopped_retry_without_asking_to_sleep() -> None:
    tally = Tally("async", "T")
    loop = exchange(Work((BOOKS[0],), False), fast_policy(), tally)
    next(loop)
    tally.stop.set()
    with pytest.raises(StopIteration):
        loop.send(Outcome(code="Timeout"))
    assert tally.unknown == 1 and tally.unknown_isbns == [ISBN[0]]


# --- in doubt: sticky through retries and batch splits ----------------------------------------------------------

CUT, REFUSED = Outcome(code="ConnectionError"), Outcome(code="ConnectionRefused")


@pytest.mark.parametrize(("answers", "ok", "failed", "unknown"), [
    # never in doubt: a refusal for good is failed
    ([Outcome(code=THROTTLE)] * 4, NONE, ALL, NONE),
    ([REFUSED] * 4, NONE, ALL, NONE),
    ([Outcome(code="ValidationException")], NONE, ALL, NONE),
    ([Outcome(unprocessed=unprocessed(1, 3))] + [Outcome(code=THROTTLE)] * 3, (0, 2, 4), (1, 3), NONE),
    ([Outcome(unprocessed=unprocessed(1, 3))] * 4, (0, 2, 4), (1, 3), NONE),
    # cut off once: in doubt for good, whatever later attempts answer (unless one succeeds)
    ([CUT, REFUSED, REFUSED, REFUSED], NONE, NONE, ALL),
    ([Outcome(code="Timeout")] + [Outcome(code=THROTTLE)] * 3, NONE, NONE, ALL),
    ([Outcome(code="HTTP500"), Outcome(code="ValidationException")], NONE, NONE, ALL),
    ([CUT, REFUSED, Outcome()], ALL, NONE, NONE),
    # ... through a batch split: the held-back books of an in-doubt batch stay in doubt
    ([CUT, Outcome(unprocessed=unprocessed(1, 3)), REFUSED, REFUSED], (0, 2, 4), NONE, (1, 3)),
    ([CUT, Outcome(unprocessed=unprocessed(1, 3)), *[Outcome(unprocessed=unprocessed(1))] * 2],
     (0, 2, 3, 4), NONE, (1,)),
    # ... and a split before the doubt puts only the held-back books in doubt
    ([Outcome(unprocessed=unprocessed(1, 3)), CUT, REFUSED, REFUSED], (0, 2, 4), NONE, (1, 3)),
])
@pytest.mark.parametrize("driver", ["drive", "adrive"])
def test_books_once_in_doubt_end_ok_or_unknown_never_failed(driver: Driver, answers: list[Outcome],
                                                            ok: tuple[int, ...], failed: tuple[int, ...],
                                                            unknown: tuple[int, ...]) -> None:
    script = iter(answers)
    tally = Tally(driver, "T")

    def send(work: Work) -> Outcome:
        return next(script)

    async def send_async(work: Work) -> Outcome:
        return next(script)

    if driver == "drive":
        drive(Work(tuple(BOOKS), True), send, fast_policy(attempts=4), tally, Sleeps())
    else:
        asyncio.run(adrive(Work(tuple(BOOKS), True), send_async, fast_policy(attempts=4), tally, Sleeps().later))
    assert next(script, None) is None  # every scripted answer was asked for
    assert (tally.ok, tally.failed, tally.unknown) == (len(ok), len(failed), len(unknown))
    assert sorted(tally.failed_isbns) == sorted(ISBN[i] for i in failed)
    assert sorted(tally.unknown_isbns) == sorted(ISBN[i] for i in unknown)


@pytest.mark.parametrize(("first", "second", "failed", "unknown"), [
    (REFUSED, REFUSED, 1, 0), (CUT, REFUSED, 0, 1), (REFUSED, CUT, 0, 1), (CUT, CUT, 0, 1),
])
def test_a_run_stopped_by_the_breaker_keeps_the_doubt_of_earlier_attempts(first: Outcome, second: Outcome,
                                                                           failed: int, unknown: int) -> None:
    """The breaker opens during a book's second attempt: it ends failed only if no attempt was ever cut off."""
    tally = Tally("threaded", "T")
    answers = iter([first, second])

    def send(work: Work) -> Outcome:
        if work.attempts:  # the second attempt: meanwhile the rest of the run opens the breaker
            for _ in range(8):
                tally.request(0.0, THROTTLE)
        return next(answers)

    drive(Work((BOOKS[0],), False), send, fast_policy(), tally, Sleeps())
    assert tally.halted is not None and next(answers, None) is None
    assert (tally.ok, tally.failed, tally.unknown) == (0, failed, unknown)


# --- drivers ------------------------------------------------------------------------------------------------------

def test_run_sequential_writes_each_book_once() -> None:
    sleeps = Sleeps()
    send, tally = FakeSend(throttle_first=1), Tally("sequential", "T")
    run_sequential(works(generate_books(100, seed=2), False, tally), send, fast_policy(), tally, sleeps)
    assert tally.ok == 100 and len(send.acked) == 100 and set(send.acked.values()) == {1}
    assert set(send.sends.values()) == {2} and sleeps == [delay(1)] * 100
    report = tally.report(1.0, 0.1)
    assert report.complete and report.retries == 0  # the fake transport records no HTTP attempts itself


@pytest.mark.parametrize(("batch", "workers"), [(False, 8), (True, 4), (False, 1)])
def test_run_threaded_writes_each_book_once_with_all_workers_busy(batch: bool, workers: int) -> None:
    send = FakeSend(throttle_first=1, unprocessed_last=3 if batch else 0, barrier=threading.Barrier(workers))
    tally = Tally("threaded", "T")
    books = list(generate_books(500, seed=2))
    asyncio.run(run_threaded(works(books, batch, tally), send, fast_policy(), tally, workers=workers))
    assert (tally.ok, tally.failed, tally.unknown) == (500, 0, 0)
    assert sorted(send.acked) == sorted(b.isbn for b in books) and set(send.acked.values()) == {1}
    assert send.peak == workers  # the barrier proves all were in flight together; the pool allows no more
    assert tally.units == (20 if batch else 500)


@pytest.mark.parametrize(("batch", "concurrency"), [(False, 7), (True, 5), (False, 1)])
def test_run_async_writes_each_book_once_within_the_concurrency_bound(batch: bool, concurrency: int) -> None:
    sleeps = Sleeps()
    send = FakeSend(throttle_first=1, unprocessed_last=3 if batch else 0)
    tally = Tally("async", "T")
    books = list(generate_books(500, seed=2))
    asyncio.run(run_async(works(books, batch, tally), send.send_async, fast_policy(), tally, concurrency,
                          sleeps.later))
    assert (tally.ok, tally.failed, tally.unknown) == (500, 0, 0)
    assert sorted(send.acked) == sorted(b.isbn for b in books) and set(send.acked.values()) == {1}
    assert send.peak == concurrency
    assert len(sleeps) == (40 if batch else 500)  # each work: one throttle; each batch also one partial answer


def test_run_async_with_more_workers_than_work() -> None:
    send, tally = FakeSend(), Tally("async", "T")
    asyncio.run(run_async(works(BOOKS, False, tally), send.send_async, fast_policy(), tally, concurrency=50))
    assert tally.ok == 5 and send.peak <= 5


def test_run_async_stopped_by_the_cancel_event_settles_every_work_it_began() -> None:
    stop = threading.Event()
    send = FakeSend(throttle_first=99)
    tally = Tally("async", "T", stop=stop)

    async def send_and_maybe_stop(work: Work) -> Outcome:
        if len(send.calls) >= 15:  # during the second attempts
            stop.set()
        return await send.send_async(work)

    asyncio.run(run_async(works(generate_books(10_000, seed=2), False, tally), send_and_maybe_stop, fast_policy(),
                          tally, concurrency=10))
    assert stop.is_set() and tally.units < 100 and tally.ok == 0
    assert tally.ok + tally.failed + tally.unknown == tally.units  # none dropped
    assert tally.unknown > 0 and "the run was stopped before these items were settled" in tally.failures


def test_cancelling_run_async_cancels_every_worker_and_leaves_no_task() -> None:
    started, cancelled = 0, 0

    async def scenario() -> None:
        nonlocal started, cancelled
        reached = asyncio.Event()

        async def hang(work: Work) -> Outcome:
            nonlocal started, cancelled
            started += 1
            if started == 10:
                reached.set()
            try:
                await asyncio.Event().wait()  # an answer that never comes
            except asyncio.CancelledError:
                cancelled += 1
                raise
            return Outcome()

        tally = Tally("async", "T")
        task = asyncio.create_task(run_async(works(generate_books(1000, seed=2), False, tally), hang, fast_policy(),
                                             tally, concurrency=10))
        await reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert tally.units == 10

    asyncio.run(scenario())
    assert started == cancelled == 10


def stream(count: int) -> Iterator[Work]:
    return (Work((b,), False) for b in generate_books(count, seed=2))


def test_drivers_accept_any_iterator_of_work() -> None:
    send, tally = FakeSend(), Tally("async", "T")
    asyncio.run(run_async(stream(20), send.send_async, fast_policy(), tally, concurrency=3))
    assert tally.ok == 20 and len(send.calls) == 20


def test_adaptive_rate_control_paces_the_sends_it_is_given() -> None:
    from core.wire.ratecontrol import AdaptiveRate

    now = [0.0]
    rate = AdaptiveRate(clock=lambda: now[0], horizon=0.01, burst=0.01)
    rate.enabled, rate.rate, rate.tokens = True, 10.0, 1.0  # 10 units a second: a send every 0.1 s, one ready
    rate.w_max, rate.last_cut = 10.0 / rate.beta, 0.0  # just cut to 10/s: the curve grows slowly for a while

    def sleep(seconds: float) -> None:  # a fake clock that the drivers' sleeps move on
        sleeps.append(seconds)
        now[0] += seconds

    sleeps = Sleeps()
    send, tally = FakeSend(), Tally("async", "T", rate=rate)
    run_sequential(works(generate_books(5, seed=2), False, tally), send, fast_policy(), tally, sleep)
    assert tally.ok == 5 and sum(sleeps) == pytest.approx(0.4, rel=0.15)  # the first goes at once


@pytest.mark.parametrize(("outcome", "cut"), [
    (Outcome(), False),
    (Outcome(unprocessed=frozenset({"b"})), True),  # one held back: a (partial) refusal
    (Outcome(code=THROTTLE), True),
    (Outcome(code="InternalServerError"), False),  # not about capacity
])
def test_every_answer_feeds_the_rate_control(outcome: Outcome, cut: bool) -> None:
    from core.wire.ratecontrol import AdaptiveRate, Grant
    from core.writers.exchange import feed

    rate = AdaptiveRate()
    books = tuple(generate_books(3, seed=2))
    work = Work(books, True)
    if outcome.unprocessed:
        outcome = Outcome(unprocessed=frozenset({books[0].isbn}))
    feed(rate, Grant(0.0, 0, units=3), work, outcome)
    assert rate.enabled is cut
