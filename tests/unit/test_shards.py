"""core.run.shards: shard planning, and merging shard reports into one run (pure, no Dask)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics

import pytest

from core.domain.books import generate_books
from core.domain.errors import ConfigError
from core.domain.results import RunReport
from core.run.shards import (
    MAX_MERGED_SAMPLES,
    ProgressBoard,
    Shard,
    ShardResult,
    merge_reports,
    merged_latencies,
    merged_timeline,
    plan_shards,
    settled_books,
    unsettled_report,
)


def report(*, items: int = 10, seconds: float = 1.0, requests: int | None = None, ok: int | None = None,
           failed: int = 0, unknown: int = 0, latencies: tuple[float, ...] = (), retries: int = 0,
           throttled: int = 0, errors: dict[str, int] | None = None, cpu: float = 0.5,
           timeline: tuple[tuple[float, int], ...] | None = None, failures: tuple[str, ...] = (),
           failed_isbns: tuple[str, ...] = (), unknown_isbns: tuple[str, ...] = ()) -> RunReport:
    ok = items - failed - unknown if ok is None else ok
    return RunReport("sequential", "SyncBooks", items, seconds, items if requests is None else requests, retries,
                     throttled, errors or {}, ok, failed, unknown, latencies, cpu,
                     timeline if timeline is not None else ((0.0, 0), (seconds, ok)), failures, failed_isbns,
                     unknown_isbns)


def result(index: int, started_at: float, rep: RunReport, start: int = 0) -> ShardResult:
    return ShardResult(Shard("sequential", index, start, rep.items, 1), rep, started_at)


@pytest.mark.parametrize(("items", "workers", "start", "sizes"), [
    (10, 1, 0, [10]),
    (10, 2, 0, [5, 5]),
    (10, 3, 0, [4, 3, 3]),
    (10, 4, 5, [3, 3, 2, 2]),
    (3, 8, 0, [1, 1, 1]),  # fewer books than workers: no empty shard
    (1, 1, 0, [1]),
    (1_000_003, 8, 0, [125_001, 125_001, 125_001, 125_000, 125_000, 125_000, 125_000, 125_000]),
])
def test_plan_shards_is_contiguous_and_covers_every_item_once(items: int, workers: int, start: int,
                                                                sizes: list[int]) -> None:
    shards = plan_shards("threaded", items, workers, seed=9, start=start)
    assert [s.count for s in shards] == sizes
    assert [s.index for s in shards] == list(range(len(sizes)))
    assert shards[0].start == start
    for before, after in itertools.pairwise(shards):
        assert after.start == before.start + before.count
    assert shards[-1].start + shards[-1].count == start + items
    assert {(s.approach, s.seed) for s in shards} == {("threaded", 9)}


def test_shard_books_are_the_plans_books() -> None:
    shards = plan_shards("sequential", 23, 4, seed=5)
    assert [b for s in shards for b in s.books()] == list(generate_books(23, seed=5))
    assert [i for s in shards for i in s.isbns()] == [b.isbn for b in generate_books(23, seed=5)]


@pytest.mark.parametrize(("items", "workers", "start", "message"), [
    (10, 0, 0, "workers must be between 1 and 256"),
    (10, 257, 0, "workers must be between 1 and 256"),
    (0, 2, 0, "items must be at least 1"),
    (10, 2, -1, "first book index"),
])
def test_plan_shards_rejects_bad_input(items: int, workers: int, start: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_shards("sequential", items, workers, 0, start)


def test_merge_sums_counts_and_measures_the_whole_wall_clock() -> None:
    a = report(items=10, seconds=2.0, requests=12, retries=2, throttled=1, errors={"Throttling": 1, "500": 1},
               cpu=0.4, failures=("x",))
    b = report(items=6, seconds=1.0, unknown=1, failed=1, errors={"500": 2}, cpu=0.1, failures=("x", "y"),
               failed_isbns=("f1",), unknown_isbns=("u1",))
    merged = merge_reports([result(1, 101.5, b, start=10), result(0, 100.0, a)])
    assert merged.seconds == pytest.approx(2.5)  # 100.0 .. max(102.0, 102.5)
    assert (merged.items, merged.items_ok, merged.items_failed, merged.items_unknown) == (16, 14, 1, 1)
    assert (merged.requests, merged.retries, merged.throttled) == (18, 2, 1)
    assert merged.errors == {"Throttling": 1, "500": 3}
    assert merged.client_cpu_seconds == pytest.approx(0.5)
    assert merged.failures == ("x", "y")
    assert (merged.failed_isbns, merged.unknown_isbns) == (("f1",), ("u1",))
    assert merged.items_per_second == pytest.approx(14 / 2.5)
    assert merged.halted is None


def test_merge_keeps_the_first_shard_that_halted() -> None:
    a = result(0, 0.0, report())
    b = result(1, 0.0, dataclasses.replace(report(), halted="the target refuses every write"))
    assert merge_reports([b, a]).halted == "shard 1: the target refuses every write"


def test_merge_refuses_nothing_and_mixed_approaches() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merge_reports([])
    other = ShardResult(Shard("async", 1, 10, 10, 1), RunReport(
        "async", "AsyncBooks", 10, 1.0, 10, 0, 0, {}, 10, 0, 0, (), 0.1, ()), 0.0)
    with pytest.raises(ValueError, match="one approach"):
        merge_reports([result(0, 0.0, report()), other])


@pytest.mark.parametrize(("lines", "starts", "expected"), [
    # one shard: its own line
    ([((0.0, 0), (1.0, 5), (2.0, 10))], [0.0], ((0.0, 0), (1.0, 5), (2.0, 10))),
    # two shards started together: summed at every point of either
    ([((0.0, 0), (1.0, 4)), ((0.0, 0), (0.5, 2), (1.0, 6))], [0.0, 0.0], ((0.0, 0), (0.5, 2), (1.0, 10))),
    # the second started 1 s later: shifted onto the first one's clock
    ([((0.0, 0), (2.0, 8)), ((0.0, 0), (1.0, 3))], [10.0, 11.0], ((0.0, 0), (1.0, 0), (2.0, 11))),
])
def test_timelines_are_summed_on_one_clock(lines: list[tuple[tuple[float, int], ...]], starts: list[float],
                                           expected: tuple[tuple[float, int], ...]) -> None:
    results = [result(i, s, report(items=line[-1][1], seconds=line[-1][0], timeline=line))
               for i, (line, s) in enumerate(zip(lines, starts, strict=True))]
    assert merged_timeline(results, min(starts)) == expected


def test_latencies_are_concatenated_when_every_request_was_kept() -> None:
    a = result(0, 0.0, report(items=3, latencies=(1.0, 2.0, 3.0)))
    b = result(1, 0.0, report(items=2, latencies=(10.0, 20.0)))
    assert sorted(merged_latencies([a, b], random.Random(1))) == [1.0, 2.0, 3.0, 10.0, 20.0]


def test_merged_sample_is_weighted_by_request_count_not_by_shard() -> None:
    # Shard a: 90,000 requests at ~10 ms, kept 20,000 samples; shard b: 10,000 requests at ~100 ms, kept 10,000.
    # The true median is ~10 ms and the true p95 ~100 ms; an equal-weight union would put b at a third.
    fast = tuple(10.0 + i % 7 * 0.1 for i in range(MAX_MERGED_SAMPLES))
    slow = tuple(100.0 + i % 5 for i in range(10_000))
    a = result(0, 0.0, report(items=90_000, requests=90_000, latencies=fast))
    b = result(1, 0.0, report(items=10_000, requests=10_000, latencies=slow))
    merged = merged_latencies([a, b], random.Random(2))
    assert len(merged) == MAX_MERGED_SAMPLES
    share_slow = sum(1 for v in merged if v >= 100) / len(merged)
    assert share_slow == pytest.approx(0.10, abs=0.001)
    assert statistics.median(merged) < 11
    summary = merge_reports([a, b], random.Random(2)).latency
    assert summary.p50 < 11 and summary.p95 >= 100  # never an average of the shards' percentiles


def test_a_shard_with_few_samples_bounds_the_merged_size() -> None:
    # b kept only 100 samples of 1,000 requests: to stay uniform, a may contribute only 9x as many.
    a = result(0, 0.0, report(items=9_000, requests=9_000, latencies=tuple([1.0] * 9_000)))
    b = result(1, 0.0, report(items=1_000, requests=1_000, latencies=tuple([5.0] * 100)))
    merged = merged_latencies([a, b], random.Random(3))
    assert len(merged) == 1_000 and merged.count(5.0) == 100


def test_merge_is_deterministic_for_an_injected_rng() -> None:
    a = result(0, 0.0, report(items=50_000, requests=50_000, latencies=tuple(float(i) for i in range(20_000))))
    b = result(1, 0.0, report(items=50_000, requests=50_000, latencies=tuple(float(-i) for i in range(20_000))))
    assert merged_latencies([a, b], random.Random(7)) == merged_latencies([a, b], random.Random(7))


def test_a_lost_shard_reports_every_item_unknown_and_does_not_move_the_clock() -> None:
    shard = Shard("sequential", 1, 10, 5, 3)
    lost = unsettled_report(shard, "worker died", table="SyncBooks")
    assert (lost.report.items, lost.report.items_unknown, lost.report.items_ok) == (5, 5, 0)
    assert lost.report.unknown_isbns == tuple(b.isbn for b in generate_books(5, 3, start=10))
    kept = result(0, 50.0, report(items=10, seconds=2.0))
    merged = merge_reports([kept, lost])
    assert merged.seconds == pytest.approx(2.0)
    assert (merged.items, merged.items_ok, merged.items_unknown) == (15, 10, 5)
    assert merged.failures == ("worker died",)


def test_settled_books_are_each_shards_settled_prefix() -> None:
    shards = plan_shards("sequential", 20, 2, seed=4)
    partial = [ShardResult(shards[0], report(items=3), 0.0), ShardResult(shards[1], report(items=10), 0.0)]
    books = list(generate_books(20, seed=4))
    assert list(settled_books(partial)) == books[:3] + books[10:20]


@pytest.mark.parametrize(("updates", "elapsed", "per_worker", "total_rate"), [
    ([], 2.0, [(0, 0.0), (0, 0.0)], 0.0),
    ([(0, 10, 50), (1, 30, 50)], 2.0, [(10, 5.0), (30, 15.0)], 20.0),
    ([(0, 10, 50), (0, 40, 50), (1, 50, 50)], 10.0, [(40, 4.0), (50, 5.0)], 9.0),
    ([(0, 40, 50), (0, 5, 50)], 1.0, [(5, 5.0), (0, 0.0)], 5.0),  # the shard was re-run after its worker died
    ([(0, 10, 50)], 0.0, [(10, 0.0), (0, 0.0)], 0.0),  # no time has passed: no rate yet
])
def test_progress_board_gives_items_per_second_per_worker_and_in_total(
        updates: list[tuple[int, int, int]], elapsed: float, per_worker: list[tuple[int, float]],
        total_rate: float) -> None:
    now = [100.0]
    board = ProgressBoard(plan_shards("async", 100, 2, 0), clock=lambda: now[0])
    for update in updates:
        board.update(*update)
    now[0] += elapsed
    snapshot = board.snapshot()
    assert [(w.done, w.items_per_second) for w in snapshot.workers] == per_worker
    assert snapshot.items_per_second == total_rate
    assert (snapshot.done, snapshot.total) == (sum(d for d, _ in per_worker), 100)
