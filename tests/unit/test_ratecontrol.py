"""core.wire.ratecontrol.AdaptiveRate: the rules one by one with a fake clock, then the whole retry loop against a
simulated table (a discrete-event simulation: no sleeps, no server, deterministic)."""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Iterator

import pytest

from core.domain.books import generate_books
from core.wire.ratecontrol import MIN_RATE, AdaptiveRate, Grant
from core.wire.retry import RetryPolicy
from core.writers.exchange import Exchange, Outcome, Sleep, Tally, exchange, works


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answers(rate: AdaptiveRate, clock: Clock, per_second: float, seconds: float, units: int = 25,
            refused: int = 0) -> None:
    """Answers arriving evenly, ``per_second`` units a second for ``seconds``, each of ``units`` units."""
    for _ in range(int(per_second * seconds / units)):
        clock.now += units / per_second
        rate.record(Grant(0.0, rate.epoch), units - refused, refused)


def enabled(clock: Clock, allowed: float, **options: float) -> AdaptiveRate:
    rate = AdaptiveRate(clock, **options)  # type: ignore[arg-type]
    rate.enabled, rate.rate, rate.w_max, rate.last_cut = True, allowed, allowed / rate.beta, clock.now
    return rate


@pytest.mark.parametrize(("start", "asks", "granted"), [
    (100, [25, 25, 25, 25, 25], [True, True, True, True, False]),
    (100, [1] * 101, [True] * 100 + [False]),
    (10, [25, 1], [True, False]),  # one send always goes, however big
])
def test_slow_start_bounds_the_units_in_flight(start: int, asks: list[int], granted: list[bool]) -> None:
    rate = AdaptiveRate(Clock(), start=start)
    grants = [rate.acquire(units) for units in asks]
    assert [g.granted for g in grants] == granted
    assert all(g.wait == 0 for g in grants if g.granted) and all(g.wait > 0 for g in grants if not g.granted)


def test_slow_start_grows_with_what_the_table_accepts_and_never_limits_the_rate() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock, start=100, growth=0.25)
    for _ in range(30):  # 30 round trips of everything the limit allows, all accepted
        grants = []
        while (grant := rate.acquire(25)).granted:
            grants.append(grant)
        clock.now += 0.01
        for grant in grants:
            rate.record(grant, 25, 0)
    assert not rate.enabled and rate.in_flight == 0
    assert 100 * 1.2 ** 30 < rate.in_flight_limit <= 100 * 1.25 ** 30  # x1.25 a round trip, less 25-unit rounding


def test_the_first_refusal_sets_the_rate_from_the_goodput_over_a_whole_window() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock, start=10**9)
    answers(rate, clock, 4000, 0.25)  # a young run: 1,000 units accepted in 0.25 s (a table's burst, say)
    rate.record(Grant(0.0, 0), 10, 15)
    assert rate.enabled and rate.epoch == 1
    assert rate.w_max == pytest.approx(1010)  # 1,010 units in the last second, not 4,000/s
    assert rate.rate == pytest.approx(0.8 * 1010)


@pytest.mark.parametrize(("granted_in", "after", "cuts"), [
    (0, 0.3, 1),  # granted before the cut: the old rate's refusal
    (1, 0.01, 1),  # granted after it but within the cooldown: the table is still refilling
    (1, 0.3, 2),  # granted after the cut, answered after the cooldown: the new rate is still too high
])
def test_one_cut_per_round_trip_and_cooldown(granted_in: int, after: float, cuts: int) -> None:
    clock = Clock()
    rate = AdaptiveRate(clock, start=10**9, cooldown=0.2)
    answers(rate, clock, 1000, 2)
    rate.record(Grant(0.0, 0), 0, 25)  # the first cut: epoch 1
    allowed = rate.rate
    clock.now += after
    rate.record(Grant(0.0, granted_in), 0, 25)
    assert rate.epoch == cuts
    assert (rate.rate < allowed) is (cuts == 2)


def test_a_partial_refusal_is_a_refusal() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock, start=10**9)
    answers(rate, clock, 1000, 2)
    rate.record(Grant(0.0, 0), 24, 1)  # one item of a batch in UnprocessedItems
    assert rate.enabled and rate.rate == pytest.approx(0.8 * 1000, rel=0.05)


def test_other_errors_neither_cut_nor_count_as_accepted() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock, start=10**9)
    answers(rate, clock, 1000, 2)
    for _ in range(100):
        rate.record(Grant(0.0, 0), 0, 0)  # 5xx, timeouts
    assert not rate.enabled and rate.goodput() == pytest.approx(1000, rel=0.05)


@pytest.mark.parametrize(("after", "expected"), [
    (0.0, 0.8),  # right after the cut: beta x w_max
    (None, 1.0),  # after K seconds: back to w_max
    ("probe", 2.0),  # K + cbrt(1 / scale) seconds: twice w_max (the table may have grown)
])
def test_successes_grow_the_rate_along_a_curve_relative_to_w_max(after: float | str | None, expected: float) -> None:
    for w_max in (10.0, 1000.0, 40_000.0):  # the same shape whatever the table's size
        clock = Clock()
        rate = enabled(clock, 0.8 * w_max)
        answers(rate, clock, 4 * w_max, 1.0, units=max(1, int(w_max / 100)))  # the writer could send far more
        seconds = rate.k if after is None else rate.k + (1 / rate.scale) ** (1 / 3) if after == "probe" else after
        assert isinstance(seconds, float)
        rate.w_max, rate.last_cut = w_max, clock.now - seconds
        rate.record(Grant(0.0, rate.epoch), 1, 0)
        assert rate.rate == pytest.approx(expected * w_max, rel=0.02)


def test_growth_never_exceeds_twice_the_units_sent() -> None:
    clock = Clock()
    rate = enabled(clock, 100.0)
    answers(rate, clock, 30, 2, units=1)  # the writer only has 30 units a second to send
    rate.last_cut -= 60  # far along the curve
    rate.record(Grant(0.0, rate.epoch), 1, 0)
    assert rate.rate == pytest.approx(62.0, rel=0.05)


@pytest.mark.parametrize(("goodput", "w_max", "expected"), [
    (1000, 1000, 1500),  # probing past w_max: at most 1.5 x what the table accepts (an on-demand table doubles)
    (1000, 1800, 1800),  # back up to w_max is never held back by it
    (400, 1000, 800),  # and twice the units sent still bounds both
])
def test_probing_beyond_w_max_grows_by_less_than_an_on_demand_table_does(goodput: float, w_max: float,
                                                                         expected: float) -> None:
    clock = Clock()
    rate = enabled(clock, 0.8 * w_max)
    answers(rate, clock, goodput, 1.0, units=5)  # everything sent was accepted
    rate.w_max, rate.last_cut = w_max, clock.now - 60  # far along the curve
    rate.record(Grant(0.0, rate.epoch), 1, 0)
    assert rate.rate == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("allowed", [10.0, 400.0, 1000.0, 20_000.0])
def test_grants_are_spaced_at_the_allowed_rate_and_never_more_than_the_horizon_ahead(allowed: float) -> None:
    clock = Clock()
    rate = enabled(clock, allowed, horizon=0.05)
    grants = [rate.acquire(25) for _ in range(200)]  # 200 workers ask at the same instant
    given = [g for g in grants if g.granted]
    assert given and all(g.wait <= max(0.05, 25 / allowed) + 1e-9 for g in given)
    gaps = [b.wait - a.wait for a, b in itertools.pairwise(given) if a.wait > 0]
    assert all(gap == pytest.approx(25 / allowed) for gap in gaps)
    refused = [g for g in grants if not g.granted]
    assert all(g.wait > 0 for g in refused)
    clock.now += refused[0].wait if refused else 0  # coming back when told, one more goes
    assert not refused or rate.acquire(25).granted


def test_a_cut_takes_effect_within_the_horizon_however_many_wait() -> None:
    clock = Clock()
    rate = enabled(clock, 10_000.0, horizon=0.05)
    rate.last_cut -= 1  # long after the last cut
    for _ in range(64):
        rate.acquire(25)
    rate.record(Grant(0.0, rate.epoch), 0, 25)  # cut to 0.8 x the (empty) goodput's fallback: the allowed rate
    assert rate.rate == pytest.approx(8000)
    # The grants given before the cut owe at most the horizon's worth at the old rate (500 units), not the 1,600 units
    # all 64 waiters would have reserved from a plain token bucket: the next send waits for that debt only.
    assert rate.acquire(25).wait <= (0.05 * 10_000 + 2 * 25) / 8000 < 64 * 25 / 8000


def test_time_passing_refills_a_small_burst_but_no_more() -> None:
    clock = Clock()
    rate = enabled(clock, 1000.0, burst=0.1)
    clock.now += 100  # idle for long: only 0.1 s worth (100 units) may go at once
    waits = [rate.acquire(10).wait for _ in range(11)]
    assert waits[:10] == [0.0] * 10 and waits[10] == pytest.approx(0.01)


def test_a_refusal_storm_keeps_the_rate_at_the_floor_and_never_zero() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock, start=10**9)
    for _ in range(500):
        clock.now += 0.3
        rate.record(Grant(0.0, rate.epoch), 0, 25)  # every refusal fresh, nothing ever accepted
    assert rate.rate == MIN_RATE
    assert rate.acquire(1).granted


def test_concurrent_workers_share_one_object() -> None:
    alone = enabled(Clock(), 1000.0)  # the clock stands still: only the horizon's worth can be granted
    expected = sum(1 for _ in range(4000) if alone.acquire(1).granted)
    rate = enabled(Clock(), 1000.0)
    granted: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        granted.append(sum(1 for _ in range(500) if rate.acquire(1).granted))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == expected == round(1000 * rate.horizon)  # the horizon's worth, none granted twice
    assert rate.tokens == pytest.approx(alone.tokens)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="0 < beta < 1"):
        AdaptiveRate(beta=1.0)


# --- the whole retry loop against a simulated table --------------------------------------------------------------


def simulate(capacity: float, items: int, latency: float, adaptive: bool, seed: int = 1,
             workers: int = 64) -> tuple[Tally, float]:
    """The lab's async-batch writer (``works`` + ``exchange`` with the run's policy, ``workers`` in flight) against a
    table that takes ``capacity`` units a second with one second of burst, as a partition of the capacity model does:
    a batch gets what fits and the rest back in ``UnprocessedItems``, a throttle when nothing fits. Returns the tally
    and the simulated seconds the run took."""
    clock = Clock()
    jitter = random.Random(seed)
    tally = Tally("async-batch", "T", rate=AdaptiveRate(clock) if adaptive else None)
    policy = RetryPolicy(max_attempts=30, random=jitter.random)
    units: Iterator[object] = works(generate_books(items, seed=3), True, tally)
    tokens, refilled = capacity, clock.now
    queue: list[tuple[float, int, Exchange, object]] = []
    order = itertools.count()

    def start(at: float) -> None:
        work = next(units, None)
        if work is not None:
            heapq.heappush(queue, (at, next(order), exchange(work, policy, tally), None))  # type: ignore[arg-type]

    for _ in range(workers):
        start(clock.now)
    began = clock.now
    while queue:
        at, _, loop, reply = heapq.heappop(queue)
        clock.now = at
        try:
            command = loop.send(reply)
        except StopIteration:
            start(at)
            continue
        if isinstance(command, Sleep):
            heapq.heappush(queue, (at + command.seconds, next(order), loop, None))
            continue
        seconds = latency * (0.5 + jitter.random())
        arrival = at + seconds / 2
        tokens, refilled = min(capacity, tokens + (arrival - refilled) * capacity), arrival
        books = command.work.books
        fits = min(len(books), int(tokens))
        tokens -= fits
        if fits:
            outcome = Outcome(unprocessed=frozenset(book.isbn for book in books[fits:]))
            tally.request(seconds, None, partially_throttled=fits < len(books))
        else:
            outcome = Outcome(code="ProvisionedThroughputExceededException")
            tally.request(seconds, outcome.code)
        heapq.heappush(queue, (at + seconds, next(order), loop, outcome))
    return tally, clock.now - began


@pytest.mark.parametrize(("capacity", "latency", "most_wasted"), [
    (1000, 0.02, 0.05),  # issue 12's benchmark: provisioned=1000, 20,000 books
    (1000, 0.1, 0.06),  # 100 ms round trips: every overload finds 4 batches in flight
    (4000, 0.02, 0.05),
    (300, 0.02, 0.10),  # a small table: the start (a few batches at once against 300 units of burst) weighs more
])
def test_simulated_table_adaptive_meets_the_targets_where_standard_wastes(capacity: float, latency: float,
                                                                          most_wasted: float) -> None:
    adaptive, seconds = simulate(capacity, 20_000, latency, adaptive=True)
    assert adaptive.ok == 20_000 and adaptive.failed == adaptive.unknown == 0
    assert adaptive.ok / seconds >= 0.9 * capacity
    assert adaptive.throttled / adaptive.requests <= most_wasted
    standard, _ = simulate(capacity, 20_000, latency, adaptive=False)
    assert standard.ok == 20_000
    assert standard.throttled / standard.requests > 3 * adaptive.throttled / adaptive.requests
