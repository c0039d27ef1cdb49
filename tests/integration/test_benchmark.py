"""core.run.runner: plan validation, the estimate, and a real run on the embedded emulator."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core.domain.capacity import Capacity
from core.domain.errors import ConfigError, TargetError
from core.domain.plan import NETWORK_PRESETS, Conditions, Plan
from core.domain.results import ProgressEvent
from core.forecast.estimate import estimate, estimate_seconds
from core.run.runner import run
from core.servers.emulator import Emulator
from core.targets.tables import delete_table
from core.targets.target import LOCAL_CREDENTIALS, Target


@pytest.mark.parametrize(("fields", "message"), [
    ({"items": 0}, "items must be between 1 and"),
    ({"items": -5}, "items must be between 1 and"),
    ({"items": 10_000_001}, "items must be between 1 and"),
    ({"approaches": ()}, "no approach chosen"),
    ({"approaches": ("sequential", "bogus")}, "unknown approach 'bogus'"),
    ({"approaches": ("async", "async")}, "approach 'async' is listed twice"),
    ({"repeats": 0}, "repeats must be between 1 and 50"),
    ({"threads": 0}, "threads must be between 1 and 512"),
    ({"threads": 100_000}, "threads must be between 1 and 512"),
    ({"concurrency": 0}, "concurrency must be between 1 and 4,096"),
    ({"warmup": -1}, "warm-up must be between"),
    ({"target": "moon"}, "unknown target 'moon'"),
    ({"target": "custom", "endpoint_url": "http://dynamodb.example.com:8000", "conditions": Conditions(latency_ms=5)},
     "in front of a local engine only"),
    ({"target": "aws", "capacity": Capacity("provisioned", wcu=100)}, "in front of a local engine only"),
    ({"workers": 0}, "workers must be between 1 and"),
    ({"scheduler": "http://127.0.0.1:8786"}, "invalid scheduler address"),
    ({"retry_mode": "eager"}, "unknown retry mode 'eager'"),
    ({"seed": -1}, r"seed must be between 0 and 2\*\*63-1"),
])
def test_bad_plans_are_one_line_config_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Plan(**fields)
    assert "\n" not in str(caught.value)


def test_plan_round_trips_through_a_dict() -> None:
    plan = Plan(items=50, approaches=("async", "sequential-batch"), conditions=Conditions(latency_ms=5, throttle=0.1))
    assert Plan.from_dict(plan.as_dict()) == plan


def test_estimate_follows_the_latency_model() -> None:
    slow = Plan(items=10_000, threads=32, conditions=NETWORK_PRESETS["study-2022"])
    # Sequential pays every round trip; threads and coroutines overlap them; batches send 25 items per trip.
    assert estimate_seconds(slow, "sequential") > 10 * estimate_seconds(slow, "threaded")
    assert estimate_seconds(slow, "threaded") > estimate_seconds(slow, "async")
    assert estimate_seconds(slow, "sequential") > 20 * estimate_seconds(slow, "sequential-batch")
    assert 700 < estimate_seconds(slow, "sequential") < 1000  # ~80 ms x 10,000, the study's 832 s
    assert estimate(Plan(items=2_000, repeats=2)) > estimate(Plan(items=2_000, repeats=1))


def test_cost_is_one_wru_per_item_at_the_dated_price() -> None:
    plan = Plan(target="aws", items=10_000, approaches=("sequential", "threaded", "async"))
    assert plan.cost_usd == pytest.approx(30_000 * 0.625 / 1_000_000)


def test_a_real_run_verifies_every_approach(emulator: Emulator) -> None:
    events: list[ProgressEvent] = []
    plan = Plan(items=120, approaches=("sequential", "async", "threaded-batch"), repeats=2, warmup=10, seed=3,
                threads=4, concurrency=8)
    report = run(plan, emulator=emulator, progress=events.append)
    assert report.clean and len(report.runs) == 6
    assert [r.approach for r in report.runs] == ["sequential", "async", "threaded-batch"] * 2
    for result in report.runs:
        assert result.verification.found == 120 and result.verification.lost == 0
        assert result.server_cpu_percent is not None
    summaries = {s.approach: s for s in report.summaries()}
    assert set(summaries) == {"sequential", "async", "threaded-batch"} and summaries["async"].runs == 2
    assert summaries["async"].seconds_min <= summaries["async"].seconds_median <= summaries["async"].seconds_max
    assert report.speedup("sequential") == pytest.approx(1.0)
    phases = {e.phase for e in events}
    assert {"reset", "warmup", "write", "verify", "done"} <= phases
    assert report.environment["packages"]["dynalite"] == "4.0.0"


def test_network_conditions_are_applied_then_cleared(emulator: Emulator) -> None:
    plan = Plan(items=20, approaches=("async",), conditions=Conditions(latency_ms=30))
    report = run(plan, emulator=emulator)
    assert report.runs[0].report.latency.p50 >= 30
    assert emulator.conditions == Conditions()


def test_a_wrong_table_schema_stops_the_plan_before_writing(emulator: Emulator, embedded_target: Target) -> None:
    client = embedded_target.client()
    delete_table(client, "AsyncBooks")
    client.create_table(TableName="AsyncBooks", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    try:
        with pytest.raises(TargetError, match="AsyncBooks exists with another key schema"):
            run(Plan(items=10, approaches=("sequential", "async")), emulator=emulator)
    finally:
        delete_table(client, "AsyncBooks")


def test_cancel_returns_a_partial_report(emulator: Emulator) -> None:
    stop = threading.Event()

    def progress(event: ProgressEvent) -> None:
        if event.phase == "write" and event.done >= 50:
            stop.set()

    report = run(Plan(items=5_000, approaches=("sequential", "async")), emulator=emulator, progress=progress,
                 cancel=stop)
    assert report.cancelled and not report.clean and len(report.runs) == 1


def test_a_cancelled_run_ends_its_progress_at_the_books_it_took_not_the_plan(emulator: Emulator) -> None:
    """The progress line a user watches ends at what the run settled: a stopped run never shows 5,000/5,000."""
    stop = threading.Event()
    events: list[ProgressEvent] = []

    def progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.phase == "write" and event.done >= 50:
            stop.set()

    report = run(Plan(items=5_000, approaches=("sequential",)), emulator=emulator, progress=progress, cancel=stop)
    counts = report.runs[0].report
    assert counts.items_not_sent > 0
    ends = [event for event in events if event.phase in ("verify", "done")]
    assert ends and all(event.done == counts.taken < 5_000 for event in ends)


def test_a_run_against_a_provisioned_table_reports_its_capacity_use(emulator: Emulator) -> None:
    """provisioned=1: 300 WRU of burst, then 1 WRU/s; 310 books of one WRU each run into the table's limit."""
    plan = Plan(items=310, approaches=("async-batch", "sequential"), capacity=Capacity("provisioned", wcu=1),
                threads=4, concurrency=8, max_attempts=3, seed=5)
    report = run(plan, emulator=emulator)
    assert [r.approach for r in report.runs] == ["async-batch", "sequential"]
    for result in report.runs:
        use = result.capacity_use
        assert use is not None and use.setting == "provisioned=1" and use.complete
        assert use.consumed_wru == result.verification.found  # every book is one WRU: the model's count is the table's
        assert 300 <= use.consumed_wru <= 310 and use.burst_wru == 300 and use.capacity == 1.0
        assert set(use.throttles) == {"TableWriteProvisionedThroughputExceeded"}
        assert use.refused >= 1 and use.requests > use.refused and use.waste == use.refused / use.requests
        assert use.goodput_ratio is not None and 0.5 < use.goodput_ratio <= 1.1
        # the proxy counts whole seconds: the first is the one the first write landed in, within a second of the start
        assert sum(wru for _, wru in use.series) == use.consumed_wru and 0.0 <= use.series[0][0] < 1.0
    batched, single = (r.capacity_use.requests for r in report.runs if r.capacity_use is not None)
    assert batched < single  # 25 books a request
    off = run(Plan(items=20, approaches=("async",), seed=5), emulator=emulator)
    assert off.clean and off.runs[0].capacity_use is None


def test_the_proxy_in_front_of_another_engine_reports_capacity_use(moto_url: str) -> None:
    """A custom target on this machine (moto) with a capacity model: the lab's conditions proxy applies it, and
    reports each table's use; on-demand with a maximum throttles with that reason."""
    plan = Plan(target="custom", endpoint_url=moto_url, items=40, approaches=("async-batch",), seed=9,
                capacity=Capacity("on-demand", max=10), concurrency=4)
    report = run(plan, credentials=LOCAL_CREDENTIALS)
    [result] = report.runs
    use = result.capacity_use
    assert use is not None and use.setting == "on-demand:max=10"
    assert use.consumed_wru == result.verification.found == 40
    assert set(use.throttles) == {"TableWriteMaxOnDemandThroughputExceeded"} and use.partial >= 1
    assert use.capacity_line == ((0.0, 10.0),) and use.goodput_ratio is not None and 0 < use.goodput_ratio <= 1.1
