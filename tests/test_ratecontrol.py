"""core.ratecontrol.AdaptiveRate: botocore's adaptive algorithm as a pure scheduler, driven by a fake clock."""

from __future__ import annotations

import pytest

from core.ratecontrol import MIN_RATE, AdaptiveRate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def steady(rate: AdaptiveRate, clock: Clock, per_second: float, seconds: float, throttled: bool = False) -> None:
    """Answers arriving evenly at ``per_second`` for ``seconds``."""
    for _ in range(int(per_second * seconds)):
        clock.now += 1 / per_second
        rate.record(throttled)


def test_off_until_the_first_throttle() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock)
    steady(rate, clock, 200, 5)
    assert not rate.enabled and [rate.reserve() for _ in range(1000)] == [0.0] * 1000


def test_a_throttle_cuts_the_rate_to_beta_times_the_measured_rate() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock)
    steady(rate, clock, 200, 10)
    assert rate.measured == pytest.approx(200, rel=0.05)
    rate.record(throttled=True)
    assert rate.enabled and rate.w_max == pytest.approx(200, rel=0.05)
    assert rate.rate == pytest.approx(0.7 * rate.w_max)


@pytest.mark.parametrize(("after", "expected"), [
    (0.0, 0.7),  # right after the throttle: beta x w_max
    (None, 1.0),  # after K seconds: back to w_max
])
def test_successes_grow_the_rate_along_the_cubic_curve(after: float | None, expected: float) -> None:
    clock = Clock()
    rate = AdaptiveRate(clock)
    rate.enabled, rate.w_max, rate.last_throttle, rate.measured = True, 100.0, clock.now, 1_000.0
    k = (100.0 * 0.3 / 0.4) ** (1 / 3)
    clock.now += k if after is None else after
    rate.record(throttled=False)
    assert rate.rate == pytest.approx(expected * 100.0, rel=1e-6)


def test_growth_never_exceeds_twice_the_measured_rate() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock)
    rate.enabled, rate.w_max, rate.last_throttle, rate.measured = True, 100.0, clock.now, 30.0
    clock.now += 60  # far along the curve
    rate.record(throttled=False)
    assert rate.rate == pytest.approx(60.0, rel=0.2)


@pytest.mark.parametrize("allowed", [0.1, 1.0, 10.0, 400.0])
def test_reservations_space_sends_at_the_allowed_rate_after_a_burst(allowed: float) -> None:
    clock = Clock()
    rate = AdaptiveRate(clock)
    rate.enabled, rate.rate = True, allowed
    clock.now += 60  # the bucket fills while idle (it starts empty, as botocore's does)
    effective = max(allowed, MIN_RATE)
    burst = max(1, int(effective))  # one second's worth goes at once
    waits = [rate.reserve() for _ in range(burst + 50)]
    assert waits[:burst] == pytest.approx([0.0] * burst, abs=1e-9)
    gaps = [b - a for a, b in zip(waits[burst:], waits[burst + 1:], strict=False)]
    assert all(gap == pytest.approx(1 / effective) for gap in gaps)


def test_time_passing_refills_the_burst_but_no_more() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock)
    rate.enabled, rate.rate = True, 10.0
    for _ in range(30):
        rate.reserve()
    clock.now += 100  # idle for long: only one second's worth (10 sends) may go at once
    waits = [rate.reserve() for _ in range(11)]
    assert waits[:10] == [0.0] * 10 and waits[10] == pytest.approx(0.1)


def test_a_throttle_storm_keeps_the_rate_at_the_floor_and_never_zero() -> None:
    clock = Clock()
    rate = AdaptiveRate(clock)
    steady(rate, clock, 50, 10, throttled=True)
    assert rate.rate == MIN_RATE
    assert rate.reserve() >= 0.0
