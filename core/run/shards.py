"""Scale-out's pure half: a plan cut into seeded shards, and the shards' reports merged into one run.

No I/O, no Dask; randomness and the clock are injected. ``plan_shards`` cuts ``items`` books into at most ``workers``
contiguous, non-empty shards that cover the range exactly once, so workers regenerate their books and no book list is
shipped. ``merge_reports`` folds ``ShardResult``s into one ``RunReport`` on one epoch clock (percentiles from a merged
uniform sample, never averaged). ``ProgressBoard`` turns shard reports into live items/s per worker and in total.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from core.domain.books import Book, generate_books, isbn_for
from core.domain.errors import ConfigError
from core.domain.results import RunReport

MAX_WORKERS = 256
MAX_MERGED_SAMPLES = 20_000  # as many latency samples as one writer keeps (core.writers.exchange)
MAX_MERGED_ISBNS = 100_000
MAX_FAILURE_LINES = 5


@dataclass(frozen=True)
class Shard:
    """Books ``start .. start+count-1`` of ``seed``, written with ``approach`` by one Dask task."""

    approach: str
    index: int
    start: int
    count: int
    seed: int

    def books(self) -> Iterator[Book]:
        return generate_books(self.count, self.seed, self.start)

    def isbns(self, first: int = 0, limit: int | None = None) -> list[str]:
        """ISBNs of this shard's books from offset ``first`` (cheap: no Faker), at most ``limit`` of them."""
        end = self.count if limit is None else min(self.count, first + limit)
        return [isbn_for(self.start + i, self.seed) for i in range(first, end)]


@dataclass(frozen=True)
class ShardResult:
    """What one shard did: the writer's report, stamped with the epoch time its writing started (any worker's
    ``time.time()``: one clock on one machine, NTP-close across machines) and where it ran."""

    shard: Shard
    report: RunReport
    started_at: float
    worker: str = ""

    @property
    def ended_at(self) -> float:
        return self.started_at + self.report.seconds


def plan_shards(approach: str, items: int, workers: int, seed: int, start: int = 0) -> tuple[Shard, ...]:
    """Contiguous shards of ``items`` books for ``workers`` workers (fewer shards when there are fewer books)."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
    if items < 1:
        raise ConfigError(f"items must be at least 1, got {items}")
    if start < 0:
        raise ConfigError(f"the first book index must be 0 or more, got {start}")
    count = min(workers, items)
    base, extra = divmod(items, count)
    shards, offset = [], start
    for index in range(count):
        size = base + (1 if index < extra else 0)
        shards.append(Shard(approach, index, offset, size, seed))
        offset += size
    return tuple(shards)


def unsettled_report(shard: Shard, reason: str, *, table: str, started_at: float = 0.0) -> ShardResult:
    """A shard whose task was lost for good (its worker died past Dask's retries): every item ends unknown
    (it may or may not be written; verification says which)."""
    report = RunReport(
        approach=shard.approach, table=table, items=shard.count, seconds=0.0, requests=0, retries=0, throttled=0,
        errors={}, items_ok=0, items_failed=0, items_unknown=shard.count, latencies_ms=(), client_cpu_seconds=0.0,
        timeline=((0.0, 0),), failures=(reason,), unknown_isbns=tuple(shard.isbns(limit=MAX_MERGED_ISBNS)))
    return ShardResult(shard, report, started_at)


def merged_latencies(results: Sequence[ShardResult], rng: random.Random,
                     limit: int = MAX_MERGED_SAMPLES) -> tuple[float, ...]:
    """A uniform sample of every request's latency across shards.

    Shard ``i`` made ``n_i`` requests and kept a uniform sample of ``s_i`` of them. Drawing ``k_i`` proportional
    to ``n_i`` from each keeps the union uniform over all requests; the merged size is the largest for which no
    shard is asked for more than it kept (and at most ``limit``).
    """
    parts = [(r.report.requests, r.report.latencies_ms) for r in results if r.report.latencies_ms]
    total = sum(n for n, _ in parts)
    if not parts or total <= 0:
        return ()
    size = min([limit] + [int(len(kept) * total / n) for n, kept in parts if n > 0])
    if size >= sum(len(kept) for _, kept in parts):
        return tuple(value for _, kept in parts for value in kept)
    quotas = [size * n / total for n, _ in parts]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(parts)), key=lambda i: quotas[i] - counts[i], reverse=True)
    for i in by_remainder[: size - sum(counts)]:  # largest remainders: the counts add up to ``size``
        counts[i] += 1
    merged: list[float] = []
    for (_, kept), k in zip(parts, counts, strict=True):
        merged.extend(rng.sample(list(kept), min(k, len(kept))))
    return tuple(merged)


def merged_timeline(results: Sequence[ShardResult], origin: float) -> tuple[tuple[float, int], ...]:
    """Items done over time, summed across shards on one clock (seconds since ``origin``)."""
    events: list[tuple[float, int, int]] = []  # (time, shard, items done by that shard at that time)
    for position, result in enumerate(results):
        shift = result.started_at - origin
        events.extend((shift + t, position, done) for t, done in result.report.timeline)
    events.sort()
    latest = [0] * len(results)
    total, line = 0, [(0.0, 0)]
    for t, position, done in events:
        total += done - latest[position]
        latest[position] = done
        if line and line[-1][0] == t:
            line[-1] = (t, total)
        else:
            line.append((t, total))
    return tuple(line)


def merge_reports(results: Sequence[ShardResult], rng: random.Random | None = None) -> RunReport:
    """One ``RunReport`` for the whole sharded run (see the module's contract)."""
    if not results:
        raise ValueError("merge_reports needs at least one shard result")
    approaches = {r.report.approach for r in results}
    if len(approaches) != 1:
        raise ValueError(f"shards of one run must share one approach, got {sorted(approaches)}")
    ordered = sorted(results, key=lambda r: r.shard.index)
    reports = [r.report for r in ordered]
    timed = [r for r in ordered if r.report.seconds > 0]  # a lost or never-started shard has no clock
    origin = min(r.started_at for r in timed) if timed else 0.0
    end = max(r.ended_at for r in timed) if timed else 0.0
    errors: Counter[str] = Counter()
    failures: list[str] = []
    for report in reports:
        errors.update(report.errors)
        failures.extend(f for f in report.failures if f not in failures)
    return RunReport(
        approach=reports[0].approach, table=reports[0].table, items=sum(r.items for r in reports),
        seconds=max(0.0, end - origin), requests=sum(r.requests for r in reports),
        retries=sum(r.retries for r in reports), throttled=sum(r.throttled for r in reports), errors=dict(errors),
        items_ok=sum(r.items_ok for r in reports), items_failed=sum(r.items_failed for r in reports),
        items_unknown=sum(r.items_unknown for r in reports), items_not_sent=sum(r.items_not_sent for r in reports),
        latencies_ms=merged_latencies(ordered, rng or random.Random(0)),
        client_cpu_seconds=sum(r.client_cpu_seconds for r in reports),
        timeline=merged_timeline(timed, origin),
        failures=tuple(failures[:MAX_FAILURE_LINES]),
        failed_isbns=tuple(i for r in reports for i in r.failed_isbns)[:MAX_MERGED_ISBNS],
        unknown_isbns=tuple(i for r in reports for i in r.unknown_isbns)[:MAX_MERGED_ISBNS],
        halted=next((f"shard {r.shard.index}: {r.report.halted}" for r in ordered if r.report.halted), None),
        ended=next((f"shard {r.shard.index}: {r.report.ended}" for r in ordered if r.report.ended), None),
    )


def settled_books(results: Sequence[ShardResult]) -> Iterator[Book]:
    """The books a sharded run settled, regenerated (for verification): each shard settles a prefix of its range
    (a cancelled shard stops pulling books; a lost one reports all of them unknown)."""
    for result in sorted(results, key=lambda r: r.shard.index):
        yield from generate_books(min(result.report.items, result.shard.count), result.shard.seed,
                                  result.shard.start)


@dataclass(frozen=True)
class WorkerProgress:
    index: int
    done: int
    total: int
    items_per_second: float  # since the board started


@dataclass(frozen=True)
class BoardSnapshot:
    workers: tuple[WorkerProgress, ...]
    done: int
    total: int
    items_per_second: float


class ProgressBoard:
    """Live progress of a sharded run: feed it ``update(index, done, total)`` from any thread (it is
    ``run_sharded``'s ``progress`` callback); ``snapshot()`` gives items/s per worker and in total."""

    def __init__(self, shards: Sequence[Shard], clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._done = {shard.index: 0 for shard in shards}
        self._totals = {shard.index: shard.count for shard in shards}
        self._lock = threading.Lock()

    def update(self, index: int, done: int, total: int) -> None:
        with self._lock:
            self._done[index] = max(done, 0)  # a re-run shard (its worker died) starts again from 0
            self._totals[index] = total

    def snapshot(self) -> BoardSnapshot:
        elapsed = self._clock() - self._started
        with self._lock:
            done, totals = dict(self._done), dict(self._totals)

        def rate(count: int) -> float:
            return count / elapsed if elapsed > 0 else 0.0

        workers = tuple(WorkerProgress(i, done[i], totals[i], rate(done[i])) for i in sorted(done))
        total_done = sum(done.values())
        return BoardSnapshot(workers, total_done, sum(totals.values()), rate(total_done))
