"""The writers' logic, written once: units of work, the pure retry step, the tally, and three thin drivers.

Contract: ``settle`` is pure (a work unit and one answer in, a ``Step`` out). A driver pulls work lazily from the
book stream (memory stays flat), sends it through a transport (``send(work) -> Outcome``), settles, sleeps and
resends as the policy says, and records everything in a thread-safe ``Tally`` that becomes the ``RunReport``.
Every item ends ok, failed or unknown; none is dropped.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from core.books import Book
from core.protocol import batches, oversized
from core.report import RunReport
from core.retry import Kind, RetryPolicy, classify, explain

ProgressCallback = Callable[[int], None]  # items settled so far; called from any thread
MAX_LATENCY_SAMPLES = 20_000
MAX_LISTED_ISBNS = 100_000
PROGRESS_INTERVAL = 0.05


class RunCancelled(Exception):
    """Raised inside a client's own retry loop to end it once the run is cancelled."""


@dataclass
class Work:
    """One request's worth of books (one for PutItem, up to 25 for BatchWriteItem) and its attempts so far."""

    books: list[Book]
    batch: bool
    attempts: int = 0


@dataclass(frozen=True)
class Outcome:
    """What one call answered: ``code`` None means success (``unprocessed`` keys excepted)."""

    code: str | None = None
    message: str = ""
    unprocessed: frozenset[str] = frozenset()
    attempts: int = 1  # HTTP attempts behind this answer (boto3 retries inside the call)


@dataclass(frozen=True)
class Step:
    """The settlement of one outcome: books done, books failed or unknown for good, and what to resend when."""

    done: tuple[Book, ...] = ()
    failed: tuple[Book, ...] = ()
    unknown: tuple[Book, ...] = ()
    retry: Work | None = None
    delay: float = 0.0
    reason: str = ""


def settle(work: Work, outcome: Outcome, policy: RetryPolicy) -> Step:
    """Pure: account one outcome of ``work`` and decide whether and when to resend (what)."""
    attempts = work.attempts + outcome.attempts
    if outcome.code is None:
        done = tuple(b for b in work.books if b.isbn not in outcome.unprocessed)
        rest = [b for b in work.books if b.isbn in outcome.unprocessed]
        if not rest:
            return Step(done=done)
        if attempts < policy.max_attempts:
            return Step(done=done, retry=Work(rest, work.batch, attempts), delay=policy.delay(attempts))
        return Step(done=done, failed=tuple(rest),
                    reason=f"UnprocessedItems: still throttled after {attempts} attempts")
    if policy.should_retry(outcome.code, attempts):
        return Step(retry=Work(work.books, work.batch, attempts), delay=policy.delay(attempts))
    reason = explain(outcome.code, outcome.message)
    if classify(outcome.code) in (Kind.UNKNOWN, Kind.TRANSIENT):
        return Step(unknown=tuple(work.books), reason=f"{reason} (after {attempts} attempts)")
    suffix = f" (after {attempts} attempts)" if classify(outcome.code) is Kind.THROTTLE else ""
    return Step(failed=tuple(work.books), reason=reason + suffix)


@dataclass
class Tally:
    """Thread-safe counters of one run; ``report`` freezes them into a ``RunReport``."""

    approach: str
    table: str
    progress: ProgressCallback | None = None
    cancel: threading.Event | None = None  # set: stop pulling work and stop retrying (in-flight ends unknown)
    clock: Callable[[], float] = time.perf_counter
    started: float = 0.0
    works: int = 0
    requests: int = 0
    throttled: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    ok: int = 0
    failed: int = 0
    unknown: int = 0
    latency_count: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    timeline: list[tuple[float, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    failed_isbns: list[str] = field(default_factory=list)
    unknown_isbns: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sampler: random.Random = field(default_factory=lambda: random.Random(0))
    _last_progress: float = 0.0

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def abandon(self, work: Work) -> None:
        """A cancelled run stops retrying: what was still pending is reported unknown, never dropped."""
        self.record(Step(unknown=tuple(work.books), reason="the run was stopped before these items were settled"))

    def start(self) -> None:
        self.started = self.clock()
        self.timeline.append((0.0, 0))

    def request(self, seconds: float, code: str | None, partially_throttled: bool = False) -> None:
        """One HTTP attempt: its latency and its error code (None when it succeeded)."""
        with self._lock:
            self.requests += 1
            if code is not None:
                self.errors[code] += 1
            if partially_throttled or (code is not None and classify(code) is Kind.THROTTLE):
                self.throttled += 1
            self.latency_count += 1  # reservoir sampling keeps a uniform sample in bounded memory
            if len(self.latencies_ms) < MAX_LATENCY_SAMPLES:
                self.latencies_ms.append(seconds * 1000)
            else:
                slot = self._sampler.randrange(self.latency_count)
                if slot < MAX_LATENCY_SAMPLES:
                    self.latencies_ms[slot] = seconds * 1000

    def begin(self, work: Work) -> None:
        with self._lock:
            self.works += 1

    def record(self, step: Step) -> None:
        with self._lock:
            self.ok += len(step.done)
            if step.failed or step.unknown:
                self.failed += len(step.failed)
                self.unknown += len(step.unknown)
                for isbns, books in ((self.failed_isbns, step.failed), (self.unknown_isbns, step.unknown)):
                    isbns.extend(b.isbn for b in books[: max(0, MAX_LISTED_ISBNS - len(isbns))])
                if step.reason not in self.failures and len(self.failures) < 5:
                    self.failures.append(step.reason)
            settled = self.ok + self.failed + self.unknown
            now = self.clock()
            due = now - self._last_progress >= PROGRESS_INTERVAL
            if due:
                self._last_progress = now
                self.timeline.append((now - self.started, self.ok))
        if due and self.progress is not None:
            self.progress(settled)

    def report(self, seconds: float, cpu_seconds: float) -> RunReport:
        with self._lock:
            self.timeline.append((seconds, self.ok))
            settled = self.ok + self.failed + self.unknown
        if self.progress is not None:
            self.progress(settled)
        return RunReport(
            approach=self.approach, table=self.table, items=settled, seconds=seconds,
            requests=self.requests, retries=max(0, self.requests - self.works), throttled=self.throttled,
            errors=dict(self.errors), items_ok=self.ok, items_failed=self.failed, items_unknown=self.unknown,
            latencies_ms=tuple(self.latencies_ms), client_cpu_seconds=cpu_seconds, timeline=tuple(self.timeline),
            failures=tuple(self.failures), failed_isbns=tuple(self.failed_isbns),
            unknown_isbns=tuple(self.unknown_isbns),
        )


def works(books: Iterable[Book], batch: bool, tally: Tally) -> Iterator[Work]:
    """Lazily cut the book stream into work units (until the run is cancelled); oversized items fail here."""

    def sendable() -> Iterator[Book]:
        for book in books:
            if tally.cancelled:
                return
            if oversized(book):
                tally.record(Step(failed=(book,), reason=explain("ItemTooLarge", f"isbn {book.isbn}")))
                continue
            yield book

    groups: Iterable[list[Book]] = batches(sendable()) if batch else ([book] for book in sendable())
    for group in groups:
        work = Work(group, batch)
        tally.begin(work)
        yield work


Send = Callable[[Work], Outcome]
AsyncSend = Callable[[Work], Awaitable[Outcome]]


def process(work: Work, send: Send, policy: RetryPolicy, tally: Tally) -> None:
    """Sync driver of one work unit: send, settle, sleep, resend until it is settled."""
    current: Work | None = work
    while current is not None:
        step = settle(current, send(current), policy)
        tally.record(step)
        current = step.retry
        if current is not None and tally.cancelled:
            tally.abandon(current)
            return
        if current is not None:
            policy.sleep(step.delay)


async def aprocess(work: Work, send: AsyncSend, policy: RetryPolicy, tally: Tally) -> None:
    """Async driver of one work unit: the same loop as ``process``, awaiting instead of blocking."""
    current: Work | None = work
    while current is not None:
        step = settle(current, await send(current), policy)
        tally.record(step)
        current = step.retry
        if current is not None and tally.cancelled:
            tally.abandon(current)
            return
        if current is not None:
            await policy.async_sleep(step.delay)


def run_sequential(units: Iterator[Work], send: Send, policy: RetryPolicy, tally: Tally) -> None:
    for work in units:
        process(work, send, policy, tally)


async def run_threaded(units: Iterator[Work], send: Send, policy: RetryPolicy, tally: Tally, workers: int) -> None:
    """The study's threaded approach: blocking sends through ``loop.run_in_executor``, ``workers`` in flight."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lab-writer") as pool:

        async def worker() -> None:
            for work in units:  # one shared lazy iterator, advanced only on the event loop's thread
                await loop.run_in_executor(pool, process, work, send, policy, tally)

        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())


async def run_async(units: Iterator[Work], send: AsyncSend, policy: RetryPolicy, tally: Tally,
                    concurrency: int) -> None:
    """Genuine async: ``concurrency`` coroutines share the lazy work stream; cancelling cancels them all."""

    async def worker() -> None:
        for work in units:
            await aprocess(work, send, policy, tally)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
