"""core.forecast.estimate: the roofline model, backoff from the retry policy's real delays, calibration from stored
reports of the same machine and target, the range and what it is based on (pure: no I/O, no timing)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from core.app.export import to_dict
from core.domain.approaches import APPROACHES
from core.domain.endpoints import Kind
from core.domain.plan import NETWORK_PRESETS, Conditions, Plan
from core.domain.results import Report
from core.forecast import estimate as est
from core.forecast.estimate import (
    ENGINE_COLD_S,
    ENGINE_FLOOR_MS,
    SCALE_OUT_PER_WORKER_S,
    SCALE_OUT_S,
    forecast,
    scale_out,
)
from core.wire.retry import RetryPolicy
from tests.unit.test_charts import result

MACHINE = {"platform": "Linux-test", "cpu_count": 2}


def stored(plan: Plan, seconds: dict[str, float], machine: dict[str, Any] = MACHINE) -> dict[str, Any]:
    runs = tuple(result(name, value, items=plan.items) for name, value in seconds.items())
    stored: dict[str, Any] = json.loads(json.dumps(to_dict(Report(plan, dict(machine), runs))))
    return stored


def test_backoff_per_request_is_the_policys_mean_full_jitter_delay() -> None:
    plan = Plan(items=100, conditions=Conditions(throttle=0.2))
    retries, pause, tail = est.backoff(plan, APPROACHES["sequential"], RetryPolicy())
    expected = sum(0.2 ** k * 0.5 * min(2.0 ** (k - 1), 20.0) for k in range(1, 10))
    assert pause == pytest.approx(expected)  # about 0.166 s per put: 1,000 puts wait about 166 s
    assert retries == pytest.approx(sum(0.2 ** k for k in range(1, 10)))
    assert 3 < tail < 8  # the longest of 100 retry chains


def test_a_batch_is_resent_while_any_of_its_25_items_is_held_back() -> None:
    plan = Plan(items=100, conditions=Conditions(throttle=0.2))
    odds = est.retry_odds(plan, APPROACHES["sequential-batch"])
    assert odds[0] == pytest.approx(1 - 0.8 ** 25) and odds[1] == pytest.approx(1 - (1 - 0.04) ** 25)


@pytest.mark.parametrize(("approach", "throttle", "gives_up"), [
    ("sequential", 0.0, False), ("sequential", 0.5, False), ("sequential", 0.95, True), ("sequential", 1.0, True),
    ("async", 0.95, False),  # 100 in flight: the breaker waits for 64 failures in a row, 0.95**64 = 4 %
    ("async", 1.0, True)])
def test_the_circuit_breaker_is_expected_to_stop_a_hopeless_run(approach: str, throttle: float,
                                                                 gives_up: bool) -> None:
    plan = Plan(items=100, approaches=(approach,), conditions=Conditions(throttle=throttle))
    assert est.gives_up(plan, APPROACHES[approach]) is gives_up
    estimate = est.forecast(plan)
    assert (estimate.warning is not None and "circuit breaker" in estimate.warning) is gives_up
    if gives_up:
        assert estimate.seconds < 60  # it stops within seconds, not after minutes of backoff


def test_latency_bound_runs_follow_littles_law() -> None:
    slow = Plan(items=1_000, concurrency=50, threads=10, conditions=Conditions(latency_ms=100))

    def round_trip(name: str) -> float:
        return 0.1 + APPROACHES[name].round_trip_ms / 1000

    assert est.write_seconds(slow, "sequential") == pytest.approx(1_000 * round_trip("sequential"), rel=0.01)
    assert est.write_seconds(slow, "threaded") == pytest.approx(1_000 * round_trip("threaded") / 10, rel=0.01)
    assert est.write_seconds(slow, "async") == pytest.approx(1_000 * round_trip("async") / 50, rel=0.01)


def test_calibration_takes_the_floor_from_runs_of_this_machine_and_target_only() -> None:
    plan = Plan(items=1_000)
    prior = est.forecast(plan, (), MACHINE)
    slow_here = stored(plan, {"sequential": 7.0, "threaded": 4.6, "async": 2.2})  # slower than the built-in figures
    elsewhere = stored(plan, {"sequential": 70.0}, machine={"platform": "other", "cpu_count": 64})
    faulty = stored(Plan(items=1_000, conditions=Conditions(throttle=0.3)), {"sequential": 700.0})
    calibrated = est.forecast(plan, [slow_here, elsewhere, faulty], MACHINE)
    assert calibrated.calibrated_runs == 3
    # one run weighs as much as the built-in figures: halfway between them, in log space
    assert calibrated.per_run == pytest.approx({name: (seconds * prior.per_run[name]) ** 0.5 for name, seconds
                                                in {"sequential": 7.0, "threaded": 4.6, "async": 2.2}.items()})
    assert calibrated.seconds > prior.seconds + 2.5
    many = est.forecast(plan, [slow_here] * 9, MACHINE)  # nine runs: 90 % measured
    assert many.per_run["sequential"] == pytest.approx(7.0 ** 0.9 * prior.per_run["sequential"] ** 0.1)
    assert calibrated.low < calibrated.seconds < calibrated.high
    assert calibrated.basis.startswith("calibrated from 3 earlier fault-free runs on this machine and embedded")
    assert prior.basis.startswith("not calibrated yet")


def test_an_approach_never_run_here_borrows_the_machines_factor() -> None:
    plan = Plan(items=1_000, approaches=("sequential", "async-batch"))
    history = [stored(Plan(items=1_000, approaches=("sequential",)), {"sequential": 7.0})]
    calibrated = est.forecast(plan, history, MACHINE)
    factor = calibrated.per_run["sequential"] / est.write_seconds(plan, "sequential")  # sqrt(2): one run
    assert calibrated.per_run["async-batch"] == pytest.approx(factor * est.write_seconds(plan, "async-batch"))


def test_latency_bound_history_scales_the_latency_term() -> None:
    plan = Plan(items=200, approaches=("sequential",), conditions=NETWORK_PRESETS["nearby-region"])
    modelled = est.write_seconds(plan, "sequential")
    history = [stored(plan, {"sequential": modelled * 1.44})] * 3
    assert est.forecast(plan, history, MACHINE).per_run["sequential"] == pytest.approx(modelled * 1.44 ** 0.75)


def test_faults_widen_the_range_and_say_so() -> None:
    clean, faulty = est.forecast(Plan(items=100)), est.forecast(Plan(items=100, conditions=Conditions(error=0.1)))
    assert faulty.high / faulty.seconds > clean.high / clean.seconds
    assert "retries and backoff modelled" in faulty.basis


def test_a_plan_of_hours_warns() -> None:
    estimate = est.forecast(Plan(items=1_000, conditions=Conditions(latency_ms=60_000)))
    assert estimate.warning is not None and estimate.warning.startswith("this plan may take up to")


def test_ratio_is_estimate_over_actual() -> None:
    assert est.Estimate(10.0, 5.0, 20.0, {}, "", 0).ratio(5.0) == 2.0


def test_workers_divide_the_latency_term_and_pay_the_clusters_start() -> None:
    """Point 2 of issue 24: 1, 2 and 8 workers all got the same estimate (500 books, nearby-region: 1 worker took
    15.1 s, 2 workers 7.4 s)."""
    machine = {"platform": "p", "cpu_count": 2}
    base = Plan(approaches=("sequential",), items=500, conditions=NETWORK_PRESETS["nearby-region"])
    one, two, four = (forecast(replace(base, workers=w), (), machine).seconds for w in (1, 2, 4))
    assert two < one * 0.8 and four < two
    assert scale_out(replace(base, workers=4), 2) == (2, SCALE_OUT_S + 4 * SCALE_OUT_PER_WORKER_S)
    assert "4 Dask workers" in forecast(replace(base, workers=4), (), machine).basis


@pytest.mark.parametrize("target", ["localstack", "dynamodb-local"])
def test_the_engines_own_pace_and_its_cold_start(target: Kind) -> None:
    """Each engine is itself the limit of the most parallel writers (LocalStack about 230 PutItem a second, DynamoDB
    Local about 1,400, however many are in flight), where dynalite lets async go faster; an engine's first run after
    it starts is slower still: the range reaches further, and says so."""
    embedded = forecast(Plan(approaches=("async", "async-batch"), items=1_000))
    there = forecast(Plan(target=target, approaches=("async", "async-batch"), items=1_000))
    assert there.per_run["async"] == pytest.approx(1_000 * ENGINE_FLOOR_MS[target][0] / 1000)
    assert there.seconds > 2 * embedded.seconds
    assert there.high >= there.seconds * 2 + ENGINE_COLD_S[target] - 1e-9
    assert "when the engine has just started" in there.basis
