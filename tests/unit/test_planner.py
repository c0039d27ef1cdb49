"""The bulk-load planner (core/forecast/planner.py), pure and table-driven: the table's rate over time, the best and the
deadline's worker counts, new against existing tables, costs, the import's shape, ranking, calibration from stored
reports; and ``python -m core plan-load``: its table, its JSON and its one-line errors."""

from __future__ import annotations

import gzip
import json
import math
import re
import shlex
import statistics
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.app.cli import build_parser, main
from core.app.formatting import short
from core.app.history import History
from core.app.terminal import table_text
from core.domain.approaches import LAB_WRITERS
from core.domain.books import generate_books
from core.domain.capacity import Capacity, parse_capacity
from core.domain.errors import ConfigError
from core.domain.limits import MAX_WORKERS
from core.domain.plan import Plan
from core.domain.pricing import (
    IMPORT_PRICE_USD_PER_GB,
    S3_GET_PRICE_USD,
    S3_PUT_PRICE_USD,
    WCU_HOUR_PRICE_USD,
    WRU_PRICE_USD,
)
from core.domain.results import Report
from core.domain.s3source import GZIP_RATIO, LINE_OVERHEAD_BYTES, MAX_OBJECTS, PART_BYTES
from core.forecast.ceiling import CEILING
from core.forecast.estimate import Calibration
from core.forecast.planner import (
    BEST_WITHIN,
    DEFAULT_RETRY_MODE,
    GIB,
    GOODPUT,
    GOODPUT_SOURCES,
    IMPORT,
    SCALE_OUT_PER_WORKER_S,
    SCALE_OUT_S,
    LoadSpec,
    adoption,
    ceiling_seconds_per_item,
    command_lines,
    import_shape,
    next_step,
    parse_duration,
    plan_load,
    sustained,
    table_seconds,
    ties,
    worker_seconds_per_item,
    writer_estimate,
    written,
)
from core.run.environment import environment
from tests.unit.test_charts import result

ON_DEMAND = Capacity(mode="on-demand")


def row(plan: Any, name: str) -> Any:
    return next(r for r in plan.rows if r.approach == name)


# --- the table's rate over time -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("total", "client", "capacity", "ramp", "seconds"), [
    (1e6, 500.0, "off", "published", 2_000.0),  # no table limit: the clients' rate
    (1e6, 500.0, "provisioned=1000", "published", 2_000.0),  # clients slower than the WCU
    # one partition: its second of burst (1,000 WRU at the clients' rate), then never past 1,000 WRU/s
    (1e6, 5_000.0, "provisioned=1000", "published", 0.2 + 999_000 / 1_000),
    # two partitions: their second of burst, then 2,000 WRU/s while the table's burst lasts (900 s), then the WCU
    (1e6, 2_000.0, "provisioned=1500", "published", 1 + 998_000 / 2_000),
    (3e6, 2_000.0, "provisioned=1500", "published", 1 + 900 + (3e6 - 2_000 - 1.8e6) / 1_500),
    # on-demand: 4 partitions' burst, 30 min at 4,000, then 8,000
    (4_000 * 1_800 + 5_000, 10_000.0, "on-demand", "published", 0.4 + 1_800 + 1_000 / 8_000),
    # the lab's proxy: 4k, 8k, 16k, 32k a second, then 40k
    (1e6, 40_000.0, "on-demand", "immediate", 0.1 + 4 + (1e6 - 4_000 - 60_000) / 40_000),
    (1e6, 3_000.0, "on-demand", "published", 1e6 / 3_000),  # below the first allowance: no ramp, no throttle
    (1e6, 5_000.0, "on-demand:max=1000", "published", 0.2 + 999_000 / 1_000),  # the on-demand maximum
    (1e6, 8_000.0, "on-demand:warm=10000", "published", 125.0),  # warm throughput above the clients
    (1e9, 1e6, "on-demand", "immediate", 0.004 + 4 + (1e9 - 64_000) / 40_000),  # the 40,000 WRU/s table quota
])
def test_table_seconds(total: float, client: float, capacity: str, ramp: Any, seconds: float) -> None:
    assert table_seconds(total, client, parse_capacity(capacity), ramp) == pytest.approx(seconds)


def test_the_published_ramp_is_never_faster_than_the_lab_proxy() -> None:
    for total in (1e4, 1e6, 1e8, 1e10):
        for client in (1e3, 5e3, 2e4, 1e5):
            assert table_seconds(total, client, ON_DEMAND, "published") >= table_seconds(total, client, ON_DEMAND,
                                                                                          "immediate")


# --- writers: best workers, bounds, deadline --------------------------------------------------------------------------

@pytest.mark.parametrize(("capacity", "items", "name", "bound"), [
    ("off", 1_000_000, "async", "client (no table limit modelled)"),
    ("on-demand", 1_000_000_000, "async-batch", "table (40,000 WRU/s)"),
    ("on-demand", 1_000_000_000, "sequential", "client (256 workers, the lab's most, offer less than the table "
                                               "takes)"),
    ("provisioned=5000", 100_000_000, "async", "table (5,000 WCU)"),
    ("on-demand:warm=40000", 5_000, "sequential-batch", "client (one worker is enough)"),
    ("on-demand:warm=40000", 50_000, "sequential-batch", "client (more workers save under 2 %)"),
])
def test_what_bounds_each_writer(capacity: str, items: int, name: str, bound: str) -> None:
    plan = plan_load(LoadSpec(items, 100, "existing", parse_capacity(capacity)), approaches=(name,))
    assert row(plan, name).bound == bound


def held_per_item(spec: LoadSpec, name: str) -> float:
    """One worker's seconds per item as the planner takes it: the model's, never faster than the client's ceiling."""
    return max(worker_seconds_per_item(spec, name, Calibration.none()), ceiling_seconds_per_item(name, CEILING) or 0.0)


def test_capacity_bound_writers_get_just_enough_workers_to_fill_the_table() -> None:
    spec = LoadSpec(1_000_000_000, 100, "existing", ON_DEMAND)
    plan = plan_load(spec)
    for name in ("async", "async-batch", "threaded", "aiobotocore"):  # each worker held to its client ceiling
        per_item = held_per_item(spec, name)
        workers = row(plan, name).workers
        assert workers <= math.ceil(40_000 * per_item)  # no worker past what fills the table's 40,000 WRU/s
        assert (workers - 1) / per_item < 40_000  # and none fewer would fill it
    # batched async is the cheapest in CPU: the fewest workers for the same table
    assert row(plan, "async-batch").workers < row(plan, "async").workers < row(plan, "sequential").workers


def test_a_one_worker_load_without_a_table_limit_skips_the_scale_out() -> None:
    spec = LoadSpec(1_000, 100, "existing", Capacity())
    only = row(plan_load(spec, approaches=("async",)), "async")
    assert only.workers == 1
    assert only.seconds == pytest.approx(1_000 * held_per_item(spec, "async"))


@pytest.mark.parametrize(("items", "name", "several"), [
    (10_000, "async-batch", False),  # the scale-out start-up costs more than it saves
    (1_000_000, "async", True),
    (1_000_000, "sequential", True),
    (1_000_000_000, "async-batch", True),
    (1_000_000_000, "sequential", True),  # up to the lab's most
])
def test_capacity_off_adds_workers_up_to_the_labs_most(items: int, name: str, several: bool) -> None:
    # capacity off is no table limit: the best worker count is the fewest within 2 % of the fastest of 1..256
    spec = LoadSpec(items, 100, "existing", Capacity())
    per_item = held_per_item(spec, name)

    def seconds(w: int) -> float:
        return (SCALE_OUT_S + SCALE_OUT_PER_WORKER_S * w if w > 1 else 0.0) + items * per_item / w

    fastest = min(seconds(w) for w in range(1, MAX_WORKERS + 1))
    expected = next(w for w in range(1, MAX_WORKERS + 1) if seconds(w) <= fastest * 1.02)
    got = row(plan_load(spec, approaches=(name,)), name)
    assert got.workers == expected and (expected > 1) == several
    assert got.seconds == pytest.approx(seconds(expected))


@pytest.mark.parametrize("deadline", [60.0, 600.0, 3_600.0])
def test_the_deadline_gives_the_fewest_workers_that_finish_by_it(deadline: float) -> None:
    spec = LoadSpec(1_000_000, 100, "existing", Capacity(), deadline_s=deadline)
    per_item = held_per_item(spec, "async")
    work = 1_000_000 * per_item
    expected = 1 if work <= deadline else next(
        w for w in range(2, 257) if SCALE_OUT_S + SCALE_OUT_PER_WORKER_S * w + work / w <= deadline)
    got = row(plan_load(spec, approaches=("async",)), "async")
    assert got.deadline_workers == expected
    assert got.deadline_note == f"{expected} worker{'s' if expected > 1 else ''}"


@pytest.mark.parametrize(("capacity", "best"), [
    ("on-demand:max=1000", 1e7 / 1_000),  # 10,000,000 WRU at 1,000/s, the writer held to it
    ("provisioned=1000", 1e7 / 1_000),  # one partition: no burst past it
    ("provisioned=1500", 1e7 / 1_500),  # held to the WCU beats 900 s of burst at 2,000/s, then throttled
])
def test_a_deadline_the_table_cannot_meet_says_so(capacity: str, best: float) -> None:
    spec = LoadSpec(10_000_000, 1_000, "existing", parse_capacity(capacity), deadline_s=3_600)
    got = row(plan_load(spec, approaches=("async-batch",)), "async-batch")
    assert got.deadline_workers is None
    assert got.deadline_note == f"cannot: the table's capacity allows at best {short(best)}"


def test_throttled_writers_turn_part_of_the_capacity_into_writes() -> None:
    provisioned = parse_capacity("provisioned=1000")
    assert table_seconds(1e6, 900.0, provisioned, goodput=0.5) == pytest.approx(1e6 / 900)  # never throttled
    assert table_seconds(1e6, 5_000.0, provisioned, goodput=0.5) == pytest.approx(0.2 + 999_000 / 500)
    # so the best worker count is the fewest that fill the table, held to its rate
    spec = LoadSpec(100_000_000, 100, "existing", parse_capacity("provisioned=5000"))
    per_item = held_per_item(spec, "async")
    best = row(plan_load(spec, approaches=("async",)), "async")
    assert (best.workers - 1) / per_item < 5_000 <= best.workers / per_item
    assert "5,000 WRU/s offered (held to the table's rate" in best.basis


def test_too_few_workers_for_the_deadline_says_the_labs_most() -> None:
    spec = LoadSpec(10_000_000, 100, "existing", Capacity(), deadline_s=60)
    got = row(plan_load(spec, approaches=("sequential",)), "sequential")
    assert got.deadline_workers is None and got.deadline_note is not None
    assert got.deadline_note.startswith(f"cannot: {MAX_WORKERS} workers (the lab's most) take at best")


# --- throttling: the loss past the capacity, holding to it, the retry mode -----------------------------------------

@pytest.mark.parametrize(("offered", "allowed", "goodput", "expected"), [
    (500.0, 1_000.0, 0.7, 500.0),  # under the capacity: all of it
    (1_000.0, 1_000.0, 0.7, 1_000.0),
    (1_010.0, 1_000.0, 0.7, 997.0),  # 1 % over: 0.3 % lost, not 30 %
    (1_500.0, 1_000.0, 0.7, 850.0),
    (2_000.0, 1_000.0, 0.7, 700.0),  # far past it: the measured goodput
    (50_000.0, 1_000.0, 0.7, 700.0),
    (1_010.0, 1_000.0, 0.95, 999.5),
    (50_000.0, 4_000.0, 0.95, 3_800.0),
])
def test_the_loss_applies_only_to_what_is_offered_beyond_the_capacity(offered: float, allowed: float, goodput: float,
                                                                      expected: float) -> None:
    assert written(offered, allowed, goodput) == pytest.approx(expected)
    assert written(offered + 1, allowed, goodput) <= written(offered, allowed, goodput) + 1  # continuous


@pytest.mark.parametrize(("capacity", "items", "item_bytes"), [
    ("provisioned=40000", 10**12, 409_600),  # was: sequential x 1 ahead of every batch writer (all 0.7x)
    ("provisioned=1000", 3_600_000, 100),
    ("provisioned=5000", 100_000_000, 100),
    ("on-demand:warm=40000", 10**9, 1_000),
])
def test_no_writer_is_slower_than_offering_exactly_the_capacity(capacity: str, items: int, item_bytes: int) -> None:
    spec = LoadSpec(items, item_bytes, "existing", parse_capacity(capacity))
    exactly = spec.total_wru / sustained(spec.capacity)
    plan = plan_load(spec, approaches=tuple(LAB_WRITERS))
    for r in plan.rows:  # those that can fill the table (sequential's 256 workers cannot reach 40,000 WRU/s)
        start = SCALE_OUT_S + SCALE_OUT_PER_WORKER_S * r.workers if r.workers > 1 else 0.0
        assert r.seconds <= (exactly + start) * BEST_WITHIN or r.bound.startswith("client"), r
    if items == 10**12:  # every writer fills it: a tie at the capacity, no writer ahead for being slower
        assert all(r.seconds == pytest.approx(exactly, rel=1e-9) for r in plan.rows)


@pytest.mark.parametrize(("capacity", "faster"), [
    ("on-demand", True),  # a capacity that grows: adaptive control follows it (0.95 of it against 0.7)
    ("on-demand:max=1000", False),  # a fixed capacity: a standard writer held to it loses nothing either
    ("provisioned=1000", False),
    ("off", False),  # nothing throttles
])
def test_adaptive_retries_write_more_of_a_growing_capacity(capacity: str, faster: bool) -> None:
    standard = LoadSpec(100_000_000, 100, "existing", parse_capacity(capacity))
    adaptive = LoadSpec(100_000_000, 100, "existing", parse_capacity(capacity), retry_mode="adaptive")
    assert standard.retry_mode == DEFAULT_RETRY_MODE == Plan(approaches=("async",)).retry_mode  # a run's default
    one, other = (row(plan_load(s, approaches=("async-batch",)), "async-batch") for s in (standard, adaptive))
    assert (other.seconds < one.seconds) is faster, (one, other)
    assert other.seconds <= one.seconds and other.high <= one.high
    assert "adaptive retries" in other.basis and "standard retries" in one.basis
    assert GOODPUT_SOURCES["adaptive"] in plan_load(adaptive, approaches=("async-batch",)).sources
    assert GOODPUT["adaptive"][2] > GOODPUT["standard"][2]


def test_an_unknown_retry_mode_is_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown retry mode 'gentle': choose one of standard, adaptive"):
        LoadSpec(10, 100, retry_mode="gentle")  # type: ignore[arg-type]


# --- a target on this machine: the lab's proxy rules ----------------------------------------------------------------

@pytest.mark.parametrize(("target", "url", "proxy"), [
    ("embedded", None, True),
    ("dynamodb-local", None, True),  # was: AWS's 30-minute ramp (the lab starts it on loopback)
    ("localstack", None, True),  # was too: LocalStack's resolved endpoint, localhost:4566
    ("localstack", "http://127.0.0.1:4566", True),
    ("custom", "http://127.0.0.1:5000", True),
    ("custom", "https://dynamodb.example.com", False),
    ("aws", None, False),
])
def test_the_lab_proxy_is_a_target_on_this_machine(target: str, url: str | None, proxy: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("LOCALSTACK_HOST", raising=False)
    spec = LoadSpec(10_000_000, 100, "existing", ON_DEMAND, target=target, endpoint_url=url)  # type: ignore[arg-type]
    assert spec.lab_proxy is proxy and (spec.probe().off_machine is None) is proxy
    plan = plan_load(spec, (), {"platform": "p", "cpu_count": 2}, approaches=("async-batch",))
    assert any("the lab's proxy doubles an on-demand allowance at once" in n for n in plan.notes) is proxy
    on_aws = row(plan_load(LoadSpec(10_000_000, 100, "existing", ON_DEMAND), approaches=("async-batch",)),
                 "async-batch")
    if target not in ("localstack", "dynamodb-local"):  # the engine's own pace (about 150 and 90 batch requests a
        # second) bounds it before its table
        assert (row(plan, "async-batch").seconds < on_aws.seconds / 2) is proxy  # doubling at once, not every 30 min


# --- nothing to plan ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "approaches", "message"), [
    ("existing", ("s3-import",), "no approach to plan: s3-import loads only a new table; give --table new"),
    ("new", (), "no approach to plan: choose one or more of sequential"),
    ("existing", (), "no approach to plan: choose one or more of sequential"),
])
def test_nothing_to_plan_is_one_line(table: Any, approaches: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        plan_load(LoadSpec(10_000, 100, table), approaches=approaches)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


# --- costs --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("items", "item_bytes", "wru"), [
    (10_000, 100, 1), (10_000, 1_024, 1), (10_000, 1_025, 2), (1_000_000_000, 4_000, 4), (7, 409_600, 400),
])
def test_on_demand_costs_one_wru_per_started_kb(items: int, item_bytes: int, wru: int) -> None:
    plan = plan_load(LoadSpec(items, item_bytes, "existing", ON_DEMAND), approaches=LAB_WRITERS)
    assert plan.spec.wru_per_item == wru
    for r in plan.rows:
        assert r.cost_usd == r.cost_low == r.cost_high == pytest.approx(items * wru * WRU_PRICE_USD)


def test_provisioned_costs_its_wcu_hours_for_the_loads_duration() -> None:
    spec = LoadSpec(3_600_000, 100, "existing", parse_capacity("provisioned=1000"))
    got = row(plan_load(spec, approaches=("async-batch",)), "async-batch")
    # 1 partition: 1,000 WRU/s at most, burst or not; one worker offers more, so it holds to 1,000: an hour
    per_item = held_per_item(spec, "async-batch")
    assert got.workers == 1 and 1 / per_item > 1_000
    assert got.seconds == pytest.approx(3_600)
    assert "held to the table's rate" in got.basis
    assert got.cost_usd == pytest.approx(1_000 * WCU_HOUR_PRICE_USD * got.seconds / 3_600)
    assert got.cost_low <= got.cost_usd <= got.cost_high


def test_the_import_costs_its_uncompressed_gigabytes_and_its_puts() -> None:
    spec = LoadSpec(1_000_000_000, 100, "new", ON_DEMAND)
    shape = import_shape(spec)
    assert shape.source_bytes == 1_000_000_000 * (100 + LINE_OVERHEAD_BYTES)
    assert shape.parts == -(-shape.source_bytes // PART_BYTES)  # the s3-import approach's parts, one PUT each
    assert shape.put_requests == shape.parts
    got = row(plan_load(spec), IMPORT)
    floor = (shape.source_bytes / GIB * IMPORT_PRICE_USD_PER_GB
             + shape.parts * (S3_PUT_PRICE_USD + S3_GET_PRICE_USD))  # the import GETs each part once
    assert floor <= got.cost_usd <= floor * 1.01  # plus the parts' storage while they wait, cents
    assert got.cost_usd < 0.05 * 1_000_000_000 * WRU_PRICE_USD  # far cheaper than writing them


@pytest.mark.parametrize(("items", "item_bytes", "parts"), [
    (10_000, 100, 1), (10_000_000, 100, 24), (10_000_000, 2_048, 314), (10**12, 100, MAX_OBJECTS),
])
def test_import_parts_are_the_approachs_and_within_the_limit(items: int, item_bytes: int, parts: int) -> None:
    shape = import_shape(LoadSpec(items, item_bytes, "new", ON_DEMAND))
    assert shape.parts == parts and shape.parts * shape.items_per_part >= items


def test_an_import_over_the_size_limit_cannot_run() -> None:
    got = row(plan_load(LoadSpec(1_000_000_000, 409_600, "new", ON_DEMAND)), IMPORT)
    assert not got.possible and got.deadline_note is not None and "over the 15 TB" in got.deadline_note


def test_the_import_constants_match_the_labs_books() -> None:
    books = list(generate_books(5_000, seed=3))
    lines = [json.dumps({"Item": b.to_item()}, separators=(",", ":")) + "\n" for b in books]
    extra = statistics.mean(len(line.encode()) - b.size for line, b in zip(lines, books, strict=True))
    assert extra == pytest.approx(LINE_OVERHEAD_BYTES, abs=1)
    raw = "".join(lines).encode()
    assert len(gzip.compress(raw, 6)) / len(raw) == pytest.approx(GZIP_RATIO, abs=0.03)


# --- new against existing, ranking -------------------------------------------------------------------------------

def test_only_a_new_table_can_be_imported() -> None:
    new = plan_load(LoadSpec(10_000_000, 100, "new", ON_DEMAND))
    existing = plan_load(LoadSpec(10_000_000, 100, "existing", ON_DEMAND))
    assert IMPORT in {r.approach for r in new.rows}
    assert IMPORT not in {r.approach for r in existing.rows}
    assert any("imports only into a new table" in note for note in existing.notes)
    assert re.match(r"s3-import with \d+ workers?: new table, 10 million items, ~", new.recommendation)
    assert existing.recommendation.startswith(f"{existing.best.approach} with ")


@pytest.mark.parametrize(("items", "deadline", "best"), [
    (10_000, None, "writer"),  # the import's start-up alone takes minutes
    (10_000_000, None, IMPORT),  # faster than the on-demand ramp, and cents against dollars
    (1_000_000_000, None, IMPORT),  # within twice the writers' time, at a thirtieth of the cost
    (1_000_000_000, 7 * 3600.0, "writer"),  # the import will not make it: the cheapest writer that does
    (1_000_000_000, 3600.0, "writer"),  # nothing will: the fastest
])
def test_the_recommendation(items: int, deadline: float | None, best: str) -> None:
    plan = plan_load(LoadSpec(items, 100, "new", ON_DEMAND, deadline_s=deadline))
    assert (plan.best.approach == IMPORT) == (best == IMPORT), plan.recommendation
    if deadline is not None and plan.best.meets(deadline):
        assert all(r.cost_usd >= plan.best.cost_usd for r in plan.rows if r.meets(deadline))
    if deadline == 3600.0:
        assert "nothing finishes by the deadline" in plan.recommendation
        assert plan.best.seconds == min(r.seconds for r in plan.rows)


def test_every_row_has_a_range_around_its_figure_and_a_basis() -> None:
    for spec in (LoadSpec(10_000, 100), LoadSpec(10**9, 100, capacity=parse_capacity("provisioned=20000")),
                 LoadSpec(10**7, 3_000, "existing", parse_capacity("on-demand:warm=12000,max=30000"))):
        for r in plan_load(spec).rows:
            assert 0 < r.low <= r.seconds <= r.high and r.cost_low <= r.cost_usd <= r.cost_high, r
            assert r.basis and r.bound


def test_a_trillion_items_plan_in_closed_form() -> None:
    small = plan_load(LoadSpec(10**9, 100, "existing", Capacity()), approaches=("async",))
    huge = plan_load(LoadSpec(10**12, 100, "existing", Capacity()), approaches=("async",))

    def work(r: Any) -> float:  # worker-seconds of writing, the scale-out start-up left out
        return float((r.seconds - SCALE_OUT_S - SCALE_OUT_PER_WORKER_S * r.workers) * r.workers)

    assert row(huge, "async").workers > 200 and row(small, "async").workers > 200  # no table limit: many workers
    assert work(row(huge, "async")) == pytest.approx(1_000 * work(row(small, "async")))
    assert row(huge, "async").cost_usd == pytest.approx(10**12 * WRU_PRICE_USD)


# --- calibration from the history ---------------------------------------------------------------------------------

def stored(seconds: float, capacity: str = "off", created: float = 1_764_000_000.0) -> dict[str, Any]:
    plan = Plan(approaches=("async",), items=2_000, capacity=parse_capacity(capacity))
    return {"plan": plan.as_dict(), "environment": {"platform": "p", "cpu_count": 2}, "created": created,
            "cancelled": False, "runs": [{"approach": "async", "items": 2_000, "seconds": seconds,
                                          "failed_items": 0, "unknown_items": 0}]}


def test_measured_runs_on_the_target_calibrate_the_writers_and_are_named() -> None:
    spec = LoadSpec(1_000_000, 100, "existing", Capacity(), target="embedded")
    machine = {"platform": "p", "cpu_count": 2}
    bare = writer_estimate(spec, "async", 1, (), machine)
    reports = [stored(8.0, created=1_764_000_000.0), stored(8.0, created=1_764_400_000.0)]
    slow = plan_load(spec, reports, machine, approaches=("async",))
    assert row(slow, "async").workers == 2  # the target is on this machine: its 2 cores
    assert writer_estimate(spec, "async", 1, reports, machine).seconds > 2 * bare.seconds  # 4 ms against 1.1 ms
    assert slow.calibrated_runs == 2
    assert slow.history == "2 measured runs on this machine and embedded, 2025-11-24 to 2025-11-29"
    assert "fitted to measured runs" in row(slow, "async").basis
    # runs under the capacity model are throttled by it: they say nothing about the client
    throttled = plan_load(spec, [stored(80.0, "on-demand")], machine, approaches=("async",))
    assert throttled.calibrated_runs == 0
    assert writer_estimate(spec, "async", 1, [stored(80.0, "on-demand")], machine).seconds == bare.seconds


# --- input ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("45min", 2_700), ("2h", 7_200), ("1.5h", 5_400),
                                               ("3d", 259_200), (" 10 m ", 600)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2 weeks", "-1h", "0s", "400d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


# --- the CLI -------------------------------------------------------------------------------------------------------

def test_plan_load_prints_the_ranked_table_the_recommendation_and_the_sources(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-load", "--items", "10000000", "--item-bytes", "100", "--history", "off", "--explain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Load 10 million items of 100 bytes (1 WRU each, 10,000,000 WRU) into a new table")
    assert re.search(r"^Recommended: s3-import with \d+ workers: new table, 10 million items", out, re.M)
    for name in (*LAB_WRITERS, IMPORT):  # the as-shipped libraries are not planned (their own retries)
        assert f"  {name}: " in out  # every row's basis
    assert "note: bulk-put is offered for an existing table" in out
    assert "terraform-provider-aws/issues/27250" in out and "0.625 USD per million WRU" in out


def test_plan_load_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["plan-load", "--items", "1000000000", "--item-bytes", "100", "--table", "existing", "--capacity",
                 "provisioned=20000", "--deadline", "24h", "--json", "--history", str(tmp_path / "h.sqlite3")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spec"]["capacity"] == "provisioned=20000" and data["spec"]["deadline_s"] == 86_400
    assert len(data["rows"]) == len(LAB_WRITERS) + 1 and all(r["deadline_note"] for r in data["rows"])  # + bulk-put
    assert data["history"].startswith("built-in priors")
    assert not (tmp_path / "h.sqlite3").exists()  # planning creates no history file


def test_plan_load_calibrates_from_the_history_it_is_given(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # a report as the benchmark stores it: one clean async run of 2,000 books in 8 s, on this machine
    plan = Plan(approaches=("async",), items=2_000)
    History(tmp_path / "h.sqlite3").append(Report(plan, environment(), (result("async", 8.0, items=2_000),)))
    assert main(["plan-load", "--items", "1000000", "--item-bytes", "100", "--target", "embedded", "--capacity",
                 "off", "--history", str(tmp_path / "h.sqlite3")]) == 0
    assert "1 measured run on this machine and embedded" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--items", "0", "--item-bytes", "100"], "items must be a whole number from 1 to"),
    (["--items", "10", "--item-bytes", "500000"], "--item-bytes must be between 1 and 409,600, got 500,000"),
    (["--items", "10"], "the following arguments are required: --item-bytes"),
    (["--items", "10", "--item-bytes", "100", "--table", "old"], "argument --table: invalid choice"),
    (["--items", "10", "--item-bytes", "100", "--capacity", "fast"], "bad capacity 'fast'"),
    (["--items", "10", "--item-bytes", "100", "--deadline", "soon"], "bad deadline 'soon'"),
    (["--items", "10", "--item-bytes", "100", "--target", "custom"], "the custom target needs --endpoint-url"),
    (["--items", "10", "--item-bytes", "100", "--threads", "0"], "--threads must be between 1 and 512, got 0"),
    (["--items", "10", "--item-bytes", "100", "--retry-mode", "gentle"], "argument --retry-mode: invalid choice"),
    (["--items", "10", "--item-bytes", "100", "--table", "existing", "--approaches", "s3-import"], "unrecognized"),
])
def test_plan_load_bad_input_is_one_line_and_exit_2(args: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-load", "--history", "off", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("error: ")


def test_table_text_shows_the_deadline_column_only_with_a_deadline() -> None:
    without = table_text(plan_load(LoadSpec(10_000, 100)))
    with_deadline = table_text(plan_load(LoadSpec(10_000, 100, deadline_s=60)))
    def header(text: str) -> str:
        return text.split("\n#   approach")[1].split("\n--")[0]

    assert "deadline" not in header(without) and "deadline" in header(with_deadline)


@pytest.mark.parametrize(("args", "shown"), [
    ([], "standard retries"),  # a run's default
    (["--retry-mode", "adaptive"], "adaptive retries"),
])
def test_plan_load_retry_mode(args: list[str], shown: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-load", "--items", "10000000", "--item-bytes", "100", "--history", "off", "--explain",
                 *args]) == 0
    out = capsys.readouterr().out
    rows, sources = (" ".join(part.split()) for part in out.split("\nSources:"))  # unfolded
    assert rows.count(shown) == len(LAB_WRITERS) and shown.split()[0] + " r" in sources  # each row, and its source



def test_plan_load_offers_bulk_put_for_an_existing_table_with_its_assumptions_named(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-load", "--items", "10000000", "--item-bytes", "100", "--table", "existing",
                 "--history", "off", "--explain"]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.split()[1:2] == ["bulk-put"])
    assert "the STANDARD tier's" in row  # the bound, folded to fit
    out = " ".join(text.split())
    assert "bulk-put: 24 gzipped parts" in out and "1,000–4,000 WRU/s" in out and "assumed (AWS publishes no" in out
    assert "published: StartBulkPutItems" in out and "assumed (AWS publishes none yet)" in out
    assert "s3-import is not offered" in out


def test_plan_load_says_bulk_puts_figures_are_assumed_without_explain(capsys: pytest.CaptureFixture[str]) -> None:
    """The default answer shows bulk-put's time and cost; it must say there that they rest on assumptions."""
    assert main(["plan-load", "--items", "10M", "--item-bytes", "400", "--table", "existing",
                 "--history", "off"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "bulk-put's figures: assumed (AWS publishes no tier rate, start-up time or price yet)" in out
    assert main(["plan-load", "--items", "10M", "--item-bytes", "400", "--history", "off"]) == 0
    assert "bulk-put's figures" not in capsys.readouterr().out  # a new table: no bulk-put row


@pytest.mark.parametrize(("changes", "faster", "cheaper"), [
    ({"bulk_tier": "ACCELERATED"}, True, False),
    ({"bulk_max_wru": 1024}, False, None),
    ({"capacity": Capacity("provisioned", wcu=500)}, False, None),  # assumed: it shares the table's capacity
])
def test_bulk_row_moves_with_its_knobs(changes: dict[str, Any], faster: bool, cheaper: bool | None) -> None:
    from core.forecast.planner import bulk_row

    base = LoadSpec(items=10_000_000, item_bytes=100, table="existing")
    row, other = bulk_row(base), bulk_row(replace(base, **changes))
    assert (other.seconds < row.seconds) == faster
    if cheaper is not None:
        assert (other.cost_usd < row.cost_usd) == cheaper


def test_bulk_rate_and_price_override_the_assumptions() -> None:
    from core.forecast.planner import bulk_row

    spec = LoadSpec(items=1_000_000, item_bytes=1024, table="existing")
    given = replace(spec, bulk=spec.bulk.with_rate("STANDARD", 2000).with_price("STANDARD", 1.0))
    row = bulk_row(given)
    assert row.low < row.high and "2,000–2,000 WRU/s" in row.basis and "given (--bulk-rate)" in row.basis
    assert row.cost_usd == pytest.approx(1_000_000 * 1024 / 2**30 * 1.0, rel=0.01)


def test_bulk_put_alone_on_a_new_table_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="bulk-put loads an existing table"):
        plan_load(LoadSpec(items=10, item_bytes=10), approaches=("bulk-put",))


# --- the text: the answer first, within 100 columns ----------------------------------------------------------------

def test_the_text_leads_with_the_recommendation_names_ties_and_the_next_command() -> None:
    text = table_text(plan_load(LoadSpec(10_000, 100)))
    lines = text.splitlines()
    recommended = next(i for i, line in enumerate(lines) if line.startswith("Recommended: "))
    table = next(i for i, line in enumerate(lines) if line.startswith("#   approach"))
    assert recommended < table and text.endswith("Each row's basis, the notes and the sources: add --explain")
    flat = " ".join(text.split())
    assert "Recommended: async-batch " in flat
    assert "Tied with it (within 5% of its time and cost): threaded-batch, async, aiobotocore-batch, aws-sdk-batch, " \
           "aiodynamo, aiodynamo-batch" in flat  # seven rows at ~2 s and the same cost
    assert "Sources:" not in text and "Based on:" not in text


@pytest.mark.parametrize("spec", [
    LoadSpec(10_000, 100),  # five batch writers at ~2 s, the same cost
    LoadSpec(10**7, 500, "existing", parse_capacity("provisioned=1000")),  # every writer bound by the table
    LoadSpec(10**7, 500, "existing")])  # the on-demand ramp: the official async SDK a hair ahead
def test_a_tie_goes_to_the_labs_own_writers_simplest_first_and_the_others_are_named(spec: LoadSpec) -> None:
    plan = plan_load(spec, approaches=LAB_WRITERS)
    tied = [row.approach for row in ties(plan)]
    assert plan.best.approach == "async-batch" and tied[0] == "threaded-batch"
    assert "aws-sdk-batch" in tied and plan.as_dict()["ties"] == tied
    assert [adoption(name) for name in tied] == sorted(adoption(name) for name in tied)
    assert "the simplest to adopt" in plan.recommendation
    assert f"Tied with it (within 5% of its time and cost): {', '.join(tied)}" in " ".join(table_text(plan).split())


def test_no_tie_is_named_when_the_best_is_clearly_ahead() -> None:
    plan = plan_load(LoadSpec(10_000_000, 100))
    assert ties(plan) == () and "Tied with it" not in table_text(plan)


@pytest.mark.parametrize("spec", [
    LoadSpec(10**9, 100), LoadSpec(10**9, 100, deadline_s=7 * 3600.0),
    LoadSpec(10**12, 400_000, "existing", parse_capacity("provisioned=40000"), deadline_s=3600.0),
    LoadSpec(10**7, 100, capacity=parse_capacity("off"), target="embedded")])
@pytest.mark.parametrize("width", [100, 80])
def test_the_text_fits_its_width(spec: LoadSpec, width: int) -> None:
    for explain in (False, True):
        text = table_text(plan_load(spec), explain, width)
        longest = max(text.splitlines(), key=len)
        assert len(longest) <= width or len(longest.split()) == 1, longest  # a source's link is never cut


def test_the_next_command_for_a_writer_is_a_run_the_cli_accepts() -> None:
    plan = plan_load(LoadSpec(10_000_000, 100, "existing", target="embedded", capacity=parse_capacity("off")))
    doing, command = next_step(plan)
    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "core", "run"] and "calibrates" in doing
    args = build_parser().parse_args(words[3:])
    assert args.approaches == plan.best.approach and args.items == 100_000 and args.target == "embedded"
    assert args.workers == plan.best.workers
    aws = next_step(plan_load(LoadSpec(10_000, 100, "existing")))[1]
    assert aws.endswith(" --items 10000 --yes") and "--target aws" in aws


def test_the_next_command_for_s3_import_is_aws_s_import_and_pastes_as_one(tmp_path: Path) -> None:
    plan = plan_load(LoadSpec(10_000_000, 100, capacity=parse_capacity("provisioned=4000")))
    assert plan.best.approach == IMPORT
    _, command = next_step(plan)
    assert command.startswith("aws dynamodb import-table ") and "WriteCapacityUnits=4000" in command
    folded = command_lines(command, 80)
    assert len(folded) > 1 and max(len(line) for line in folded) <= 80
    script = tmp_path / "paste.sh"
    script.write_text("aws() { printf '%s\\n' \"$@\"; }\n" + "\n".join(folded) + "\n")
    pasted = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert pasted == shlex.split(command)[1:]  # the shell reads the folded lines as the one command


def test_the_next_command_for_bulk_put_is_the_aws_check() -> None:
    plan = plan_load(LoadSpec(10**9, 100, "existing", parse_capacity("provisioned=40000")), approaches=("bulk-put",))
    assert next_step(plan)[1] == "python -m core aws-check --s3-bucket YOUR_BUCKET --bulk-tier STANDARD"
