"""The writers' logic, written once: units of work, the pure retry step, the retry loop, the tally, thin drivers.

``settle`` is pure. ``exchange`` is one work unit's retry loop as a generator doing no I/O: it yields ``Send(work)``
(send back the ``Outcome``) and ``Sleep(seconds)``, and records every settlement in the ``Tally``. The drivers
(``drive``, ``adrive``) carry out what it yields. Every item pulled from the stream ends ok, failed or unknown, so the
settled items are always the stream's first ``report.items`` books.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from core.domain.books import Book
from core.domain.results import RunReport
from core.wire.protocol import batches, oversized
from core.wire.ratecontrol import AdaptiveRate, Grant
from core.wire.retry import ASYNC_POLL, CircuitBreaker, Kind, RetryPolicy, classify, explain

ProgressCallback = Callable[[int], None]  # items settled so far; called from any thread
MAX_LATENCY_SAMPLES = 20_000
MAX_LISTED_ISBNS = 100_000
PROGRESS_INTERVAL = 0.05
STOPPED = "the run was stopped before these items were settled"
IN_DOUBT = "; an earlier attempt got no answer, so they may be written"


@dataclass(frozen=True, slots=True)
class Work:
    """One request's worth of books (one for PutItem, up to 25 for BatchWriteItem) and its attempts so far.

    ``in_doubt``: an attempt so far got no clear answer (timeout, reset, 5xx), so its books may be written. Sticky:
    a later refusal (throttle, refused connection, fatal error) does not undo an earlier attempt that may have
    written them, so books in doubt end ok or unknown, never failed."""

    books: tuple[Book, ...]
    batch: bool
    attempts: int = 0
    in_doubt: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call answered: ``code`` None means success (``unprocessed`` keys excepted)."""

    code: str | None = None
    message: str = ""
    unprocessed: frozenset[str] = frozenset()
    attempts: int = 1  # HTTP attempts behind this answer


@dataclass(frozen=True, slots=True)
class Step:
    """The settlement of one outcome: books done, books failed or unknown for good, and what to resend when."""

    done: tuple[Book, ...] = ()
    failed: tuple[Book, ...] = ()
    unknown: tuple[Book, ...] = ()
    retry: Work | None = None
    delay: float = 0.0
    reason: str = ""


def settle(work: Work, outcome: Outcome, policy: RetryPolicy, proven: bool = True) -> Step:
    """Pure: account one outcome of ``work`` and decide whether and when to resend (what). ``proven``: the run has
    had a success (else the policy probes with short delays)."""
    if outcome.code is None and not outcome.unprocessed:  # the common case, first: everything written
        return Step(done=work.books)
    attempts = work.attempts + outcome.attempts
    if outcome.code is None:
        done = tuple(b for b in work.books if b.isbn not in outcome.unprocessed)
        rest = tuple(b for b in work.books if b.isbn in outcome.unprocessed)
        if not rest:
            return Step(done=done)
        if attempts < policy.max_attempts:
            return Step(done=done, retry=Work(rest, work.batch, attempts, work.in_doubt),
                        delay=policy.delay(attempts, proven))
        reason = f"UnprocessedItems: still throttled after {attempts} attempts"
        if work.in_doubt:
            return Step(done=done, unknown=rest, reason=reason + IN_DOUBT)
        return Step(done=done, failed=rest, reason=reason)
    kind = classify(outcome.code)
    doubt = work.in_doubt or kind in (Kind.UNKNOWN, Kind.TRANSIENT)
    if policy.should_retry(outcome.code, attempts):
        # A refused connection says nothing about load (nothing listens): probe again soon, never back off 20 s.
        proven = proven and kind is not Kind.REFUSED
        return Step(retry=Work(work.books, work.batch, attempts, doubt), delay=policy.delay(attempts, proven))
    reason = explain(outcome.code, outcome.message)
    if kind in (Kind.UNKNOWN, Kind.TRANSIENT):
        return Step(unknown=work.books, reason=f"{reason} (after {attempts} attempts)")
    if doubt:  # refused now, but an earlier attempt may have written them
        return Step(unknown=work.books, reason=f"{reason} (after {attempts} attempts){IN_DOUBT}")
    suffix = f" (after {attempts} attempts)" if kind in (Kind.THROTTLE, Kind.REFUSED) else ""
    return Step(failed=work.books, reason=reason + suffix)


@dataclass
class Tally:
    """Thread-safe counters of one run; ``report`` freezes them into a ``RunReport``.

    ``stop`` is the run's stop signal: set by the caller (cancel, a dead server) or by the circuit breaker, which
    sees every attempt (``request``). After a stop no more work is pulled; what is pending is settled at once."""

    approach: str
    table: str
    progress: ProgressCallback | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    rate: AdaptiveRate | None = None  # adaptive retry mode: client-side rate control, fed by ``exchange``
    clock: Callable[[], float] = time.perf_counter
    started: float = 0.0
    units: int = 0
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
    def stopping(self) -> bool:
        return self.stop.is_set()

    @property
    def halted(self) -> str | None:
        """Why the circuit breaker stopped the run, or None."""
        return self.breaker.reason

    def abandon(self, work: Work) -> None:
        """A stopped run does not resend: pending books end unknown (they may be written) or, when the breaker
        stopped the run and their last answer was a refusal, failed. Never dropped."""
        if self.halted and not work.in_doubt:
            self.record(Step(failed=work.books, reason=self.halted))
        else:
            self.record(Step(unknown=work.books, reason=STOPPED if not self.halted else self.halted))

    def not_sent(self, books: tuple[Book, ...]) -> None:
        """Books taken from the stream but never sent (the run stopped first): not written, so failed."""
        self.record(Step(failed=books, reason=f"not sent: {self.halted or 'the run was stopped'}"))

    def start(self) -> None:
        self.started = self.clock()
        self.timeline.append((0.0, 0))

    def request(self, seconds: float, code: str | None, partially_throttled: bool = False) -> None:
        """One HTTP attempt: its latency and its error code (None when it succeeded)."""
        with self._lock:
            self.requests += 1
            if code is not None:
                self.errors[code] += 1
                if partially_throttled or classify(code) is Kind.THROTTLE:
                    self.throttled += 1
            elif partially_throttled:
                self.throttled += 1
            self.latency_count += 1  # reservoir sampling keeps a uniform sample in bounded memory
            if self.latency_count <= MAX_LATENCY_SAMPLES:
                self.latencies_ms.append(seconds * 1000)
            else:
                slot = self._sampler.randrange(self.latency_count)
                if slot < MAX_LATENCY_SAMPLES:
                    self.latencies_ms[slot] = seconds * 1000
        if self.breaker.attempt(code):
            self.stop.set()

    def begin(self) -> None:
        """One more work unit taken from the stream (only the stream counts them, and a generator runs on one thread at
        a time)."""
        self.units += 1
        self.breaker.send()

    def written(self, items: int) -> None:
        """``items`` written by one answer: ``record`` of a ``Step`` with only ``done`` books, without building it."""
        with self._lock:
            self.ok += items
            due = self._due()
        if due is not None and self.progress is not None:
            self.progress(due)

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
            due = self._due()
        if due is not None and self.progress is not None:
            self.progress(due)

    def _due(self) -> int | None:
        """Under the lock: the items settled so far when a progress report is due (one per ``PROGRESS_INTERVAL``, also
        a point of the timeline), else None."""
        now = self.clock()
        if now - self._last_progress < PROGRESS_INTERVAL:
            return None
        self._last_progress = now
        self.timeline.append((now - self.started, self.ok))
        return self.ok + self.failed + self.unknown

    def report(self, seconds: float, cpu_seconds: float) -> RunReport:
        with self._lock:
            self.timeline.append((seconds, self.ok))
            settled = self.ok + self.failed + self.unknown
        if self.progress is not None:
            self.progress(settled)
        return RunReport(
            approach=self.approach, table=self.table, items=settled, seconds=seconds,
            requests=self.requests, retries=max(0, self.requests - self.units), throttled=self.throttled,
            errors=dict(self.errors), items_ok=self.ok, items_failed=self.failed, items_unknown=self.unknown,
            latencies_ms=tuple(self.latencies_ms), client_cpu_seconds=cpu_seconds, timeline=tuple(self.timeline),
            failures=tuple(self.failures), failed_isbns=tuple(self.failed_isbns),
            unknown_isbns=tuple(self.unknown_isbns), halted=self.halted,
        )

    def sleep(self, seconds: float) -> None:
        """A backoff wait that ends early when the run stops."""
        self.stop.wait(seconds)

    async def async_sleep(self, seconds: float) -> None:
        """The event-loop backoff wait, ending within ``ASYNC_POLL`` of the run stopping."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, ASYNC_POLL))


def works(books: Iterable[Book], batch: bool, tally: Tally) -> Iterator[Work]:
    """Lazily cut the book stream into work units until the run stops; oversized items fail here. Once the circuit
    breaker has stopped the run, the rest of the stream is reported failed (not sent) without sending anything."""

    stop = tally.stop

    def sendable() -> Iterator[Book]:
        iterator = iter(books)
        while not stop.is_set() or tally.halted:  # a cancelled run reads no further
            book = next(iterator, None)
            if book is None:
                return
            if tally.halted:  # the breaker gave up: the rest of the stream is reported, never sent
                tally.not_sent((book,))
            elif oversized(book):
                tally.record(Step(failed=(book,), reason=explain("ItemTooLarge", f"isbn {book.isbn}")))
            else:
                yield book

    groups = map(tuple, batches(sendable())) if batch else ((book,) for book in sendable())
    for group in groups:
        if stop.is_set():  # e.g. the books a batcher had gathered when the run stopped
            tally.not_sent(group)
            continue
        tally.begin()
        yield Work(group, batch)


@dataclass(frozen=True, slots=True)
class Send:
    """Send this work unit once and pass back its ``Outcome``."""

    work: Work


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this long (or until the run stops), then pass back None."""

    seconds: float


Command = Send | Sleep
Exchange = Generator[Command, object, None]  # receives the Outcome of a Send; anything after a Sleep


NO_GRANT = Grant(0.0, 0)  # standard mode: no rate control to ask


def exchange(work: Work, policy: RetryPolicy, tally: Tally) -> Exchange:
    """The retry loop of one work unit, once for every driver: (wait for the rate control's grant,) send, (feed the
    rate control,) settle, record, stop check, back off."""
    current = work
    while True:
        grant = NO_GRANT
        while tally.rate is not None:  # adaptive mode: wait for a grant (it may take several asks)
            grant = tally.rate.acquire(len(current.books))
            if grant.wait > 0:
                yield Sleep(grant.wait)
                if tally.stopping:
                    if current.attempts:
                        tally.abandon(current)
                    else:
                        tally.not_sent(current.books)
                    return
            if grant.granted:
                break
        outcome = yield Send(current)
        assert isinstance(outcome, Outcome), "a Send is answered with its Outcome"
        if tally.rate is not None:
            feed(tally.rate, grant, current, outcome)
        if outcome.code is None and not outcome.unprocessed:  # settle's common case, without building a Step
            tally.written(len(current.books))
            return
        step = settle(current, outcome, policy, tally.breaker.proven)
        tally.record(step)
        if step.retry is None:
            return
        current = step.retry
        if not tally.stopping:
            yield Sleep(step.delay)
        if tally.stopping:
            tally.abandon(current)
            return


def feed(rate: AdaptiveRate, grant: Grant, work: Work, outcome: Outcome) -> None:
    """Tell the rate control what the table did with one send: units written and units refused for capacity (a
    throttle: all of them; ``UnprocessedItems``: those held back). Other errors only end the grant (nothing written,
    nothing refused: they say nothing about capacity)."""
    if outcome.code is None:
        refused = sum(1 for book in work.books if book.isbn in outcome.unprocessed)
        rate.record(grant, len(work.books) - refused, refused)
    else:
        rate.record(grant, 0, len(work.books) if classify(outcome.code) is Kind.THROTTLE else 0)


Transport = Callable[[Work], Outcome]
AsyncTransport = Callable[[Work], Awaitable[Outcome]]


def drive(work: Work, send: Transport, policy: RetryPolicy, tally: Tally,
          sleep: Callable[[float], object] | None = None) -> None:
    """Blocking driver of one work unit: carries out what ``exchange`` yields."""
    wait, loop = tally.sleep if sleep is None else sleep, exchange(work, policy, tally)
    reply: object = None  # sending None first starts the generator
    try:
        while True:
            command = loop.send(reply)
            reply = send(command.work) if isinstance(command, Send) else wait(command.seconds)
    except StopIteration:
        return


async def adrive(work: Work, send: AsyncTransport, policy: RetryPolicy, tally: Tally,
                 sleep: Callable[[float], Awaitable[object]] | None = None) -> None:
    """Event-loop driver of one work unit: the same loop as ``drive``, awaiting instead of blocking."""
    wait, loop = tally.async_sleep if sleep is None else sleep, exchange(work, policy, tally)
    reply: object = None
    try:
        while True:
            command = loop.send(reply)
            reply = await send(command.work) if isinstance(command, Send) else await wait(command.seconds)
    except StopIteration:
        return


def run_sequential(units: Iterator[Work], send: Transport, policy: RetryPolicy, tally: Tally,
                   sleep: Callable[[float], object] | None = None) -> None:
    for work in units:
        drive(work, send, policy, tally, sleep)


async def run_threaded(units: Iterator[Work], send: Transport, policy: RetryPolicy, tally: Tally, workers: int,
                       sleep: Callable[[float], object] | None = None) -> None:
    """The study's threaded approach: blocking sends through ``loop.run_in_executor``, ``workers`` in flight."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lab-writer") as pool:

        async def worker() -> None:
            for work in units:  # one shared lazy iterator, advanced only on the event loop's thread
                await loop.run_in_executor(pool, drive, work, send, policy, tally, sleep)

        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())


async def run_async(units: Iterator[Work], send: AsyncTransport, policy: RetryPolicy, tally: Tally,
                    concurrency: int, sleep: Callable[[float], Awaitable[object]] | None = None) -> None:
    """Genuine async: ``concurrency`` coroutines share the lazy work stream; cancelling cancels them all."""

    async def worker() -> None:
        for work in units:
            await adrive(work, send, policy, tally, sleep)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
