"""The bulk-load planner: how to load N items of B bytes, with which approach and workers, in what time and cost.

Pure, no clock: a ``LoadSpec``, the stored reports and this machine's description in, a frozen ``LoadPlan`` out, one
row per writer approach (plus ``s3-import`` for a new table), each figure with its range and what it rests on. Rows
are ranked: those meeting the deadline (else within twice the fastest) cheapest first, then the rest fastest first;
the first is the recommendation. Closed form per ramp phase, so a billion items plan as fast as ten thousand.

Assumed: keys spread evenly; on-demand doubles its peak at most every 30 minutes on AWS (at once on the lab's proxy:
the range's optimistic end); an offer beyond capacity is partly lost (``GOODPUT``, measured); import throughput comes
from public user reports (``IMPORT_SOURCES``), AWS publishes none.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from core.domain.approaches import APPROACHES, LAB_WRITERS, approach, bulk_puts, imports
from core.domain.bulkmodel import BulkAssumptions, check_max_wru, check_tier
from core.domain.bulkwire import MAX_OBJECTS as BULK_MAX_OBJECTS
from core.domain.bulkwire import Tier
from core.domain.capacity import (
    BURST_SECONDS,
    MAX_UNITS,
    NEW_ON_DEMAND_UNITS,
    PARTITION_UNITS,
    Capacity,
    partitions,
)
from core.domain.endpoints import Kind, validate_kind
from core.domain.errors import ConfigError
from core.domain.limits import (
    LIMITS,
    MAX_ITEMS,
    MAX_WORKERS,
    default_threads,
)
from core.domain.plan import RETRY_MODES, Plan, RetryMode
from core.domain.pricing import (
    IMPORT_PRICE_NOTE,
    PRICE_NOTE,
    S3_STORAGE_USD_PER_GB_MONTH,
    WCU_HOUR_PRICE_USD,
    WCU_PRICE_NOTE,
    WRU_PRICE_USD,
    import_cost_of,
)
from core.domain.s3source import (
    GZIP_RATIO,
    LINE_OVERHEAD_BYTES,
    PREPARE_US,
    SEEDED_LINE_BYTES,
    objects_for,
    part_bytes_for,
)
from core.forecast.ceiling import CEILING, QUOTA_ITEMS_S, ClientCeiling, cores_for
from core.forecast.estimate import Calibration, calibrate, mean_delays, usable, write_seconds
from core.forecast.words import count_words, gigabytes, money, plural, short
from core.wire.retry import RetryPolicy

TableKind = Literal["new", "existing"]
TABLE_KINDS: tuple[TableKind, ...] = ("new", "existing")
Ramp = Literal["published", "immediate"]
IMPORT = next(name for name in APPROACHES if imports(name))  # the s3-import approach
BULK = next(name for name in APPROACHES if bulk_puts(name))  # the bulk-put approach
BULK_SOURCES = (
    "published: StartBulkPutItems loads S3 objects (DynamoDB JSON or Ion, GZIP/ZSTD/NONE) into an existing table; "
    "MaxWriteRequestUnits >= 1,024 caps only the operation; STANDARD and ACCELERATED tiers; at most 50,000 objects "
    "of 5 GB each (botocore 1.44.18's service model, 2026-11-04; AWS developer guide)",
    "assumed (AWS publishes none yet): the tiers' rates, the start-up time, the price per GB of bulk put bytes, and "
    "that the operation draws on the table's capacity (core/domain/bulkmodel.py; --bulk-rate, --bulk-price-per-gb; "
    "`python -m core aws-check` measures them on your account)",
)
MAX_DEADLINE_S = 365 * 86_400
KB = 1024
GIB = 1024**3
DOUBLING_S = 30 * 60  # on-demand: "double your previous peak within 30 minutes"
BEST_WITHIN = 1.02  # the best worker count: the fewest within 2 % of the fastest the table allows
# More than one worker: a Dask cluster starts (about 3 s) and its shards start spread out (docs/scale-out.md:
# up to 4 s for 8 workers under load on this machine: 0.5 s a worker), so a small load is faster on few.
SCALE_OUT_S = 3.0
SCALE_OUT_PER_WORKER_S = 0.5
# Throttled, writers turn only part of the table's capacity into written items (fast, central, slow). Standard
# retries (full-jitter backoff): 0.33 (async-batch) to 0.93 (async) measured on this machine against provisioned=1000
# (docs/conditions.md, bench/planner.py). Adaptive (core/wire/ratecontrol.py; botocore's for the boto3 writers):
# 0.89 (threaded-batch, botocore's) to 1.04 (async-batch, the lab's) measured by ``python -m bench.capacity`` against
# provisioned=1000 and a fresh on-demand table, 0.91-1.05 over repeats (docs/conditions.md,
# "Measured"). The fast ends assume none is lost. The loss applies to what is offered beyond the capacity
# (``written``).
GOODPUT: dict[RetryMode, tuple[float, float, float]] = {"standard": (1.0, 0.7, 0.33), "adaptive": (1.0, 0.95, 0.89)}
GOODPUT_SOURCES: dict[RetryMode, str] = {
    "standard": "throttled writes with standard retries: 0.33-0.93 of the capacity written, measured on this machine "
                "at provisioned=1000 (docs/conditions.md, bench/planner.py)",
    "adaptive": "throttled writes with adaptive rate control: 0.89-1.04 of the capacity written, <= 5 % of requests "
                "wasted, measured on this machine by python -m bench.capacity (docs/conditions.md)",
}
DEFAULT_RETRY_MODE = cast(RetryMode, Plan.__dataclass_fields__["retry_mode"].default)  # a run's default
# ... and the last requests wait out their backoff: the standard policy's mean full-jitter delays of this many retries
# (core.wire.retry: 1 s base, doubling) end a throttled load: 0.5 s for one; 0.5 + 1 + 2 s for three. Short throttled
# loads vary that much: 2,000 books at provisioned=1000 took 1.3-3.5 s in three runs of bench/planner.py.
TAIL_RETRIES = (0, 1, 3)  # fast, central, slow

# s3-import: a line's DynamoDB JSON wrapping (LINE_OVERHEAD_BYTES), gzip's ratio and the CPU to prepare a line of
# SEEDED_LINE_BYTES are core.domain.s3source's measured figures (imported above); larger lines cost proportionally more.
PREPARE_SPREAD = (0.67, 1.5)
UPLOAD_MB_S = (25.0, 80.0, 250.0)  # assumed, not measured: an instance in the bucket's region (low, central, high)
MAX_IMPORT_BYTES = 15 * 10**12  # raw S3 object bytes per import in us-east-1, us-west-2, eu-west-1 (1 TB elsewhere)
# Import throughput is not published. Slow end: 10 GB "up to 2 hours" (terraform-provider-aws#27250, 2022-10);
# fast end: 10x that, an assumption with no public figure behind it; central: their geometric mean.
IMPORT_GB_PER_HOUR = (5.0, math.sqrt(5.0 * 50.0), 50.0)  # slow, central, fast
# Start-up of an import whatever its size: one CSV row took "~2 minutes" (http4k-connect#203, 2022-12); an acceptance
# test creating a table by import, and deleting it, 225 s (terraform-provider-aws#27253, 2022-10).
IMPORT_START_S = (120.0, 180.0, 240.0)  # fast, central, slow
IMPORT_SOURCES = (
    "AWS: import time depends on data size, format, compression, key distribution and object count; no throughput "
    "is published (docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataImport.HowItWorks.html)",
    "AWS best practices: at most 50,000 S3 objects per import, 15 TB per import in us-east-1 "
    "(S3DataImport.BestPractices.html); parts as the lab's s3-import makes them: 64 MiB of lines, gzipped",
    "user report: 10 GB takes 'up to 2 hours' (github.com/hashicorp/terraform-provider-aws/issues/27250, 2022-10): "
    "the slow end, 5 GB/h; the fast end (50 GB/h) is an assumption",
    "user reports of the fixed start-up: one CSV row ~2 min (github.com/http4k/http4k-connect/pull/203, 2022-12); "
    "225 s for a test table made by import (github.com/hashicorp/terraform-provider-aws/pull/27253, 2022-10)",
)
CAPACITY_SOURCES = (
    "1 WRU per started KB of each item written (DynamoDB developer guide, read/write capacity units)",
    "on-demand: a new table takes 4,000 WRU/s, then up to double its previous peak within 30 minutes; 1,000 WRU/s "
    "per partition; 40,000 WRU/s per table by default (AWS knowledge center, on-demand table throttling; developer "
    "guide, service quotas)",
    "provisioned: unused capacity kept as burst for up to 300 s (developer guide, burst capacity); a full burst is "
    "assumed at the start",
)


@dataclass(frozen=True)
class LoadSpec:
    """The question: N items of B bytes into a new or existing table of some capacity on a target."""

    items: int
    item_bytes: int
    table: TableKind = "new"
    capacity: Capacity = field(default_factory=lambda: Capacity(mode="on-demand"))
    target: Kind = "aws"
    endpoint_url: str | None = None
    deadline_s: float | None = None
    threads: int = field(default_factory=default_threads)
    concurrency: int = 100
    retry_mode: RetryMode = DEFAULT_RETRY_MODE  # the writers' throttled goodput (``GOODPUT``)
    bulk_tier: Tier = "STANDARD"  # bulk-put (existing tables): PerformanceTier
    bulk_max_wru: int | None = None  # bulk-put: MaxWriteRequestUnits
    bulk: BulkAssumptions = field(default_factory=BulkAssumptions)  # bulk-put's assumed (or measured) figures

    def __post_init__(self) -> None:
        object.__setattr__(self, "bulk_tier", check_tier(self.bulk_tier))
        check_max_wru(self.bulk_max_wru)
        for name, row, value in (("items", LIMITS["plan items"], self.items),
                                 ("item bytes", LIMITS["item bytes"], self.item_bytes),
                                 ("threads", LIMITS["threads"], self.threads),
                                 ("concurrency", LIMITS["concurrency"], self.concurrency)):
            if not isinstance(value, int) or not row.contains(value):
                raise ConfigError(f"{name} must be a whole number from {row.range_text}, got {value!r}")
        if self.table not in TABLE_KINDS:
            raise ConfigError(f"table must be new or existing, got {self.table!r}")
        if self.retry_mode not in RETRY_MODES:
            raise ConfigError(f"unknown retry mode {self.retry_mode!r}: choose one of {', '.join(RETRY_MODES)}")
        object.__setattr__(self, "target", validate_kind(self.target))
        if self.deadline_s is not None and not 0 < self.deadline_s <= MAX_DEADLINE_S:
            raise ConfigError(f"the deadline must be more than 0 s and at most 365 days, got {self.deadline_s!r} s")
        self.probe()  # the target and its URL, checked as a run's plan checks them

    @property
    def wru_per_item(self) -> int:
        return -(-self.item_bytes // KB)

    @property
    def total_wru(self) -> int:
        return self.items * self.wru_per_item

    @property
    def lab_proxy(self) -> bool:
        """The capacity is the lab's proxy model (a target on this machine), not the real service: the run's own
        decision (``Plan.off_machine``, core/domain/endpoints.py)."""
        return self.probe().off_machine is None

    def probe(self) -> Plan:
        """A run's plan on the same target and knobs, for the estimate (items capped: time per item is what counts)."""
        return Plan(target=self.target, endpoint_url=self.endpoint_url, approaches=("async",),
                    items=min(self.items, MAX_ITEMS), threads=self.threads, concurrency=self.concurrency,
                    retry_mode=self.retry_mode)


@dataclass(frozen=True)
class LoadRow:
    """One way to load: its best worker count, time (range), cost (range), what bounds it and what it rests on."""

    approach: str
    workers: int
    seconds: float
    low: float
    high: float
    cost_usd: float
    cost_low: float
    cost_high: float
    bound: str  # what limits it, in a few words
    basis: str  # what the figures rest on, one line
    deadline_workers: int | None = None  # workers to finish by the deadline (None: no deadline, or it cannot)
    deadline_note: str | None = None  # "3 workers", or "cannot: ..."
    possible: bool = True  # False: the row cannot load these items at all (e.g. over the import limit)

    @property
    def label(self) -> str:
        return self.approach if self.approach in (IMPORT, BULK) else f"{self.approach} x {self.workers}"

    def meets(self, seconds: float) -> bool:
        return self.possible and self.seconds <= seconds


@dataclass(frozen=True)
class LoadPlan:
    """The rows, ranked (the first is the recommendation), and the sources every figure rests on."""

    spec: LoadSpec
    rows: tuple[LoadRow, ...]
    recommendation: str
    notes: tuple[str, ...]
    sources: tuple[str, ...]
    calibrated_runs: int
    history: str  # which measured runs the writers' figures rest on

    @property
    def best(self) -> LoadRow:
        return self.rows[0]

    def as_dict(self) -> dict[str, Any]:
        spec = asdict(self.spec)
        spec["capacity"] = str(self.spec.capacity)
        return {"spec": spec, "wru_per_item": self.spec.wru_per_item, "recommendation": self.recommendation,
                "rows": [{**asdict(row), "label": row.label} for row in self.rows],
                "ties": [row.approach for row in self.rows[1:] if tied(row, self.best)], "notes": list(self.notes),
                "sources": list(self.sources), "calibrated_runs": self.calibrated_runs, "history": self.history}


# --- the table ----------------------------------------------------------------------------------------------------

def ceiling(capacity: Capacity) -> float | None:
    """The highest rate (WRU/s) the table ever accepts: None without a capacity model."""
    if capacity.mode == "provisioned":
        assert capacity.wcu is not None
        return float(partitions(capacity.wcu) * PARTITION_UNITS)  # its burst, through its partitions
    if capacity.mode == "on-demand":
        return float(min(capacity.max or MAX_UNITS, MAX_UNITS))
    return None


def sustained(capacity: Capacity) -> float:
    """The rate (WRU/s) the table keeps up for good (inf without a capacity model)."""
    if capacity.mode == "provisioned":
        assert capacity.wcu is not None
        return float(capacity.wcu)
    top = ceiling(capacity)
    return math.inf if top is None else top


def table_seconds(total_wru: float, client_wru_s: float, capacity: Capacity, ramp: Ramp = "published",
                  goodput: float = 1.0) -> float:
    """Seconds to write ``total_wru`` when the clients offer ``client_wru_s`` WRU/s and the table takes what its
    capacity allows; while it throttles, the clients' retries and backoff lose what ``written`` says."""
    if total_wru <= 0:
        return 0.0

    def through(allowed: float) -> float:
        return written(client_wru_s, allowed, goodput)

    if capacity.mode == "off":
        return total_wru / client_wru_s
    first = sustained(capacity) if capacity.mode == "provisioned" else \
        float(min(capacity.warm or NEW_ON_DEMAND_UNITS, ceiling(capacity) or MAX_UNITS))
    burst = 0.0
    if client_wru_s > first:  # each partition also holds one second of burst, spent first at the clients' rate
        burst = min(total_wru, partitions(first) * PARTITION_UNITS)
    return burst / client_wru_s + _table_seconds(total_wru - burst, client_wru_s, capacity, ramp, through)


def written(offered: float, allowed: float, goodput: float) -> float:
    """WRU/s written when clients offer ``offered`` and the table allows ``allowed``: all of it up to the capacity;
    past it, each WRU/s offered beyond costs ``1 - goodput`` of the capacity (retries, backoff), down to ``goodput``
    x the capacity (measured with clients offering several times the capacity). Continuous: offering a little more
    than the capacity writes a little less than it, never a step down."""
    if offered <= allowed:
        return offered
    return max(goodput * allowed, allowed - (1.0 - goodput) * (offered - allowed))


def _table_seconds(total_wru: float, client_wru_s: float, capacity: Capacity, ramp: Ramp,
                   through: Callable[[float], float]) -> float:
    if total_wru <= 0:
        return 0.0
    if capacity.mode == "provisioned":
        wcu = sustained(capacity)
        rate = through(ceiling(capacity) or wcu)
        if rate <= wcu:
            return total_wru / rate
        drained = BURST_SECONDS * wcu / (rate - wcu)  # the burst lasts this long at ``rate``
        if total_wru <= rate * drained:
            return total_wru / rate
        return drained + (total_wru - rate * drained) / through(wcu)
    top = ceiling(capacity) or float(MAX_UNITS)
    allowance = float(min(capacity.warm or NEW_ON_DEMAND_UNITS, top))
    period = DOUBLING_S if ramp == "published" else 1.0
    elapsed, done = 0.0, 0.0
    while True:
        rate = through(allowance)
        if client_wru_s <= allowance or allowance >= top:  # the clients are slower, or the table is at its cap
            return elapsed + (total_wru - done) / rate
        if done + rate * period >= total_wru:
            return elapsed + (total_wru - done) / rate
        elapsed, done, allowance = elapsed + period, done + rate * period, min(2 * allowance, top)


def _smallest(limit: int, ok: Callable[[int], bool]) -> int | None:
    """The smallest worker count in 1..limit for which ``ok`` holds, None if none (a scan: time is not monotone in
    workers, since one worker skips the scale-out start-up and too many are throttled; limit <= MAX_WORKERS)."""
    return next((workers for workers in range(1, limit + 1) if ok(workers)), None)


# --- writers ------------------------------------------------------------------------------------------------------

def worker_seconds_per_item(spec: LoadSpec, name: str, calibration: Calibration) -> float:
    """One worker's seconds per item with ``name`` on the spec's target (the estimate's model, calibrated)."""
    probe = spec.probe()
    return write_seconds(probe, name, calibration) / probe.items


def client_limit(spec: LoadSpec, machine: Mapping[str, Any] | None) -> tuple[int, str]:
    """The most workers that add up, and why: the lab's most (a Dask cluster), or for a target on this machine (its
    engine and a local cluster share the machine) this machine's cores when known."""
    cores = (machine or {}).get("cpu_count")
    if spec.lab_proxy and isinstance(cores, int) and 1 <= cores < MAX_WORKERS:
        return cores, f"this machine's {cores} cores"
    return MAX_WORKERS, "the lab's most"


def ceiling_seconds_per_item(name: str, client_ceiling: ClientCeiling | None) -> float | None:
    """The least CPU seconds one client core spends on an item with ``name`` (``bench.ceiling``'s measure against a
    server that answers at once), or None when not measured."""
    per_core = client_ceiling.of(name) if client_ceiling is not None else None
    return 1 / per_core if per_core else None


def writer_row(spec: LoadSpec, name: str, calibration: Calibration, basis: str, workers: int | None = None,
               client: tuple[int, str] = (MAX_WORKERS, "the lab's most"),
               client_ceiling: ClientCeiling | None = CEILING) -> LoadRow:
    """``name``'s row: at its best worker count (up to ``client``'s, see ``client_limit``), or at ``workers``. A
    worker (one core) never writes faster than the client's measured ceiling (``core.forecast.ceiling``)."""
    most, why = client
    per_item = worker_seconds_per_item(spec, name, calibration)
    least = ceiling_seconds_per_item(name, client_ceiling)
    if least is not None and least > per_item:
        per_item, basis = least, f"{basis}, held to the client's CPU ceiling of {1 / least:,.0f} items/s a core"
    wru, total = spec.wru_per_item, float(spec.total_wru)
    capacity = spec.capacity
    central: Ramp = "immediate" if spec.lab_proxy else "published"
    fast_factor, slow_factor = calibration.spread

    first = sustained(capacity)
    if capacity.mode == "on-demand":
        first = min(capacity.warm or NEW_ON_DEMAND_UNITS, ceiling(capacity) or MAX_UNITS)
    tails = [sum(mean_delays(RetryPolicy(), retries)) for retries in TAIL_RETRIES]
    goodput = GOODPUT[spec.retry_mode]
    top = ceiling(capacity)
    # The offer a writer may hold to (fewer threads or coroutines per worker): none, or one of the table's rates. A
    # run as configured (``workers`` given: what bench/planner.py compares) holds to none.
    holds = (math.inf, *sorted({first, sustained(capacity), top})) if top is not None and workers is None \
        else (math.inf,)

    def timed(workers: int, hold: float, factor: float = 1.0, ramp: Ramp = central, which: int = 1) -> float:
        start = SCALE_OUT_S + SCALE_OUT_PER_WORKER_S * workers if workers > 1 else 0.0
        offered = min(workers * wru / per_item, hold) / factor  # held by concurrency: it varies as the latency
        tail = tails[which] if offered > first else 0.0  # throttled: the last requests wait out their backoff
        return start + tail + table_seconds(total, offered, capacity, ramp, goodput[which])

    def hold_for(workers: int) -> float:
        return min(holds, key=lambda hold: timed(workers, hold))  # ties: no hold

    def seconds(workers: int) -> float:
        return timed(workers, hold_for(workers))

    limit = most if top is None else min(most, max(1, math.ceil(top * per_item / wru)))
    fastest = min(seconds(w) for w in range(1, limit + 1))
    best = workers or _smallest(limit, lambda w: seconds(w) <= fastest * BEST_WITHIN) or limit
    hold = hold_for(best)
    rate = wru / per_item  # WRU/s one worker offers
    offer = min(best * rate, hold)
    if top is None:
        bound = f"client ({most} workers, {why}; no table limit modelled)" \
            if best * BEST_WITHIN >= most * 0.9 else "client (no table limit modelled)"
    elif offer >= top / BEST_WITHIN:
        bound = f"table ({top:,.0f} WRU/s)" if capacity.mode == "on-demand" else f"table ({first:,.0f} WCU)"
    elif limit == most and most * rate < top and best * BEST_WITHIN >= most * 0.9:
        bound = f"client ({most} workers, {why}, offer less than the table takes)"
    elif hold < best * rate or (best + 1) * rate >= first:  # held, or one more worker and the table throttles
        bound = f"table ({first:,.0f} WCU)" if capacity.mode == "provisioned" else \
            f"table ({first:,.0f} WRU/s, then up to {top:,.0f})" if first < top else f"table ({top:,.0f} WRU/s)"
    else:
        bound = "client (one worker is enough)" if best == 1 else "client (more workers save under 2 %)"
    t = timed(best, hold)
    ramps: tuple[Ramp, ...] = ("immediate", "published") if capacity.mode == "on-demand" else (central,)
    spread = [timed(best, hold, factor, ramp, which) for factor in (fast_factor, 1.0, slow_factor) for ramp in ramps
              for which in range(len(goodput))]
    low, high = min(spread), max(spread)
    if capacity.mode == "provisioned":
        assert capacity.wcu is not None
        price = capacity.wcu * WCU_HOUR_PRICE_USD / 3600
        cost, cost_low, cost_high = t * price, low * price, high * price
    else:
        cost = cost_low = cost_high = total * WRU_PRICE_USD
    workers_needed, note = None, None
    if spec.deadline_s is not None:
        deadline = spec.deadline_s
        workers_needed = _smallest(limit, lambda w: seconds(w) <= deadline)
        if workers_needed is not None:
            note = plural(workers_needed, "worker")
        elif top is not None and limit < most:
            note = f"cannot: the table's capacity allows at best {short(fastest)}"
        else:
            note = f"cannot: {limit} workers ({why}) take at best {short(fastest)}"
    chosen = APPROACHES[name]
    extra = f"; {chosen.unavailable.split(':')[0]}" if chosen.unavailable else ""
    how = "by the rate control" if spec.retry_mode == "adaptive" else "with fewer threads or coroutines"
    held = f" (held to the table's rate {how}: {best * rate:,.0f} at full speed)" if hold < best * rate else ""
    return LoadRow(name, best, t, low, high, cost, cost_low, cost_high, bound,
                   f"{per_item * 1e6:,.0f} µs per item per worker ({basis}); {plural(best, 'worker')}: "
                   f"{offer:,.0f} WRU/s offered{held}, {spec.retry_mode} retries{extra}", workers_needed, note)


def writer_estimate(spec: LoadSpec, name: str, workers: int = 1, reports: Sequence[Mapping[str, Any]] = (),
                    machine: Mapping[str, Any] | None = None,
                    client_ceiling: ClientCeiling | None = CEILING) -> LoadRow:
    """One writer's row at a given worker count, calibrated as ``plan_load`` calibrates (what bench/planner.py
    compares with real runs)."""
    uncapped = _uncapped(reports)
    calibration = calibrate(spec.probe(), uncapped, machine)
    return writer_row(spec, name, calibration, history_basis(spec, uncapped, machine, calibration), workers,
                      client_limit(spec, machine), client_ceiling)


def cores_note(names: Sequence[str], client_ceiling: ClientCeiling | None) -> str | None:
    """How many client cores each writer needs for ``QUOTA_ITEMS_S`` (the question for a table at the default
    quota), from the measured ceiling; None when nothing of ``names`` was measured."""
    if client_ceiling is None:
        return None
    cores = sorted((cores_for(QUOTA_ITEMS_S, per_core), name) for name in names
                   if (per_core := client_ceiling.of(name)) is not None)
    if not cores:
        return None
    return (f"client cores for {QUOTA_ITEMS_S:,} items/s (a table at the default account quota), at least, by the "
            "client's own CPU (bench.ceiling): " + ", ".join(f"{name} {count}" for count, name in cores))


def _uncapped(reports: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Reports without a capacity model: throttled runs say nothing about the client."""
    return [data for data in reports if (data.get("plan", {}).get("capacity") or {}).get("mode", "off") == "off"]


# --- s3-import ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportShape:
    """What an import of the spec's items stages in S3."""

    source_bytes: int  # uncompressed DynamoDB JSON: what the import bills
    compressed_bytes: int
    parts: int
    items_per_part: int
    put_requests: int

    @property
    def source_gib(self) -> float:
        return self.source_bytes / GIB


def import_shape(spec: LoadSpec) -> ImportShape:
    """What the lab's s3-import approach would stage (core/domain/s3source.py): parts of ``part_bytes_for`` the
    uncompressed DynamoDB JSON (larger than ``PART_BYTES`` when ``MAX_OBJECTS`` parts would not hold the items); one PUT
    per part."""
    line = spec.item_bytes + LINE_OVERHEAD_BYTES
    source = spec.items * line
    parts = objects_for(source, part_bytes_for(source))
    per_part = -(-spec.items // parts)
    return ImportShape(source, math.ceil(source * GZIP_RATIO), parts, per_part, parts)


def import_row(spec: LoadSpec) -> LoadRow:
    shape = import_shape(spec)
    line = spec.item_bytes + LINE_OVERHEAD_BYTES
    prepare_1 = spec.items * PREPARE_US * max(1.0, line / SEEDED_LINE_BYTES) / 1e6  # on one core
    gib = shape.source_gib

    def seconds(workers: int, which: int = 1) -> float:
        prepare = prepare_1 * (PREPARE_SPREAD[0], 1.0, PREPARE_SPREAD[1])[which] / workers
        upload = shape.compressed_bytes / (UPLOAD_MB_S[2 - which] * 1e6)
        import_s = IMPORT_START_S[which] + gib / IMPORT_GB_PER_HOUR[2 - which] * 3600
        return max(prepare, upload) + import_s  # parts are uploaded as they are made; the import starts after

    upload_central = shape.compressed_bytes / (UPLOAD_MB_S[1] * 1e6)
    fastest = min(seconds(w) for w in range(1, MAX_WORKERS + 1))
    best = _smallest(MAX_WORKERS, lambda w: seconds(w) <= fastest * BEST_WITHIN) or MAX_WORKERS
    t, low, high = seconds(best), seconds(best, 0), seconds(best, 2)

    def cost(total_s: float) -> float:
        storage = shape.compressed_bytes / GIB * S3_STORAGE_USD_PER_GB_MONTH * total_s / (730 * 3600)
        return import_cost_of(shape.source_bytes).usd + storage

    possible = shape.compressed_bytes <= MAX_IMPORT_BYTES
    workers_needed, note = None, None
    if not possible:
        note = (f"cannot: {shape.compressed_bytes / 1e12:,.1f} TB of gzipped parts is over the 15 TB an import "
                "takes (us-east-1): split the items over several tables")
    elif spec.deadline_s is not None:
        deadline = spec.deadline_s
        workers_needed = _smallest(MAX_WORKERS, lambda w: seconds(w) <= deadline)
        note = (f"{plural(workers_needed, 'worker')} preparing parts"
                if workers_needed is not None else
                f"cannot: the upload and AWS's import take at least {short(seconds(MAX_WORKERS))}; workers cannot "
                "shorten the import")
    basis = (f"{gigabytes(gib)} of DynamoDB JSON ({line} bytes a line), {plural(shape.parts, 'gzipped part')} of "
             f"{shape.items_per_part:,} items ({plural(shape.put_requests, 'S3 PUT')}); prepared at "
             f"{PREPARE_US:g} µs per "
             f"{SEEDED_LINE_BYTES}-byte line per core (measured here), uploaded at {UPLOAD_MB_S[0]:g}–"
             f"{UPLOAD_MB_S[2]:g} MB/s (assumed); import {IMPORT_GB_PER_HOUR[0]:g}–{IMPORT_GB_PER_HOUR[2]:g} GB/h "
             f"after {IMPORT_START_S[0] / 60:g}–{IMPORT_START_S[2] / 60:g} min (public reports, unpublished by AWS)")
    import_central = IMPORT_START_S[1] + gib / IMPORT_GB_PER_HOUR[1] * 3600
    staging = max(prepare_1 / best, upload_central)
    bound = "AWS's import" if import_central >= staging else \
        "preparing the parts" if prepare_1 / best > upload_central else "the upload"
    return LoadRow(IMPORT, best, t, low, high, cost(t), cost(low), cost(high),
                   bound if possible else "over the import size limit", basis, workers_needed, note, possible)


def bulk_row(spec: LoadSpec) -> LoadRow:
    """bulk-put into the existing table: the items staged as s3-import stages them, then the operation at the tier's
    rate (assumed unless measured: ``spec.bulk``), capped by MaxWriteRequestUnits and, as assumed, by a provisioned
    table's capacity, after its start-up."""
    shape, assumed, tier = import_shape(spec), spec.bulk, spec.bulk_tier
    line = spec.item_bytes + LINE_OVERHEAD_BYTES
    prepare_1 = spec.items * PREPARE_US * max(1.0, line / SEEDED_LINE_BYTES) / 1e6
    low_rate, high_rate = assumed.rate(tier, spec.bulk_max_wru)
    capped = assumed.shares_capacity and spec.capacity.mode == "provisioned" and spec.capacity.wcu is not None
    if capped:
        wcu = float(spec.capacity.wcu or 0)
        low_rate, high_rate = min(low_rate, wcu), min(high_rate, wcu)
    rates = (high_rate, math.sqrt(low_rate * high_rate), low_rate)  # fast, central, slow
    starts = (assumed.startup_s[0], sum(assumed.startup_s) / 2, assumed.startup_s[1])

    def seconds(workers: int, which: int = 1) -> float:
        prepare = prepare_1 * (PREPARE_SPREAD[0], 1.0, PREPARE_SPREAD[1])[which] / workers
        upload = shape.compressed_bytes / (UPLOAD_MB_S[2 - which] * 1e6)
        return max(prepare, upload) + starts[which] + spec.total_wru / rates[which]

    fastest = min(seconds(w) for w in range(1, MAX_WORKERS + 1))
    best = _smallest(MAX_WORKERS, lambda w: seconds(w) <= fastest * BEST_WITHIN) or MAX_WORKERS
    t, low, high = seconds(best), seconds(best, 0), seconds(best, 2)
    put_bytes = spec.items * spec.item_bytes  # assumed: the items' DynamoDB size, as the emulation counts them

    def cost(total_s: float) -> float:
        storage = shape.compressed_bytes / GIB * S3_STORAGE_USD_PER_GB_MONTH * total_s / (730 * 3600)
        return assumed.cost(put_bytes, tier) + import_cost_of(shape.source_bytes).requests_usd + storage

    possible = shape.parts <= BULK_MAX_OBJECTS
    workers_needed, note = None, None
    if spec.deadline_s is not None:
        deadline = spec.deadline_s
        workers_needed = _smallest(MAX_WORKERS, lambda w: seconds(w) <= deadline)
        note = (f"{plural(workers_needed, 'worker')} preparing parts"
                if workers_needed is not None else
                f"cannot: the operation takes at least {short(seconds(MAX_WORKERS))} at the {tier} rate; raise "
                "--bulk-max-wru or take ACCELERATED")
    cap = f", MaxWriteRequestUnits {spec.bulk_max_wru:,}" if spec.bulk_max_wru else ""
    held = f", held to the table's {spec.capacity.wcu:,} WCU (assumed: it shares the capacity)" if capped else ""
    basis = (f"{shape.parts:,} gzipped parts staged as s3-import's; {tier}{cap}: {low_rate:,.0f}–{high_rate:,.0f} "
             f"WRU/s{held} after {short(starts[0])}–{short(starts[2])}, "
             f"{assumed.price_per_gb[tier]:.2f} USD/GB of bulk put bytes: {assumed.source}")
    bound = "the operation's rate (MaxWriteRequestUnits)" if spec.bulk_max_wru and high_rate == spec.bulk_max_wru \
        else "the table's capacity" if capped else f"the {tier} tier's rate"
    return LoadRow(BULK, best, t, low, high, cost(t), cost(low), cost(high),
                   bound if possible else "over 50,000 S3 objects", basis, workers_needed, note, possible)


# --- the plan -----------------------------------------------------------------------------------------------------

def history_basis(spec: LoadSpec, reports: Sequence[Mapping[str, Any]], machine: Mapping[str, Any] | None,
                  calibration: Calibration) -> str:
    """Which measured runs the writers' client figures rest on: count and dates, or the built-in priors."""
    probe = spec.probe()
    where = spec.target if spec.endpoint_url is None else f"{spec.target} at {spec.endpoint_url}"
    if not calibration.runs:
        return f"built-in priors for a 2-core machine (no earlier fault-free run on this machine and {where})"
    days = [dt.datetime.fromtimestamp(float(data["created"]), dt.UTC).date() for data in reports
            if usable(data, probe, machine) and "created" in data]
    dates = f", {min(days)} to {max(days)}" if days else ""
    return f"{plural(calibration.runs, 'measured run')} on this machine and {where}{dates}"


TIE_WITHIN = 0.05  # rows within 5 % of the recommendation's time and cost are named as ties
# Among rows tied with the first, the simplest to adopt leads: the lab's own writers (batched first, the async one
# first of those), then the libraries in APPROACHES' order (the official async SDK, Python 3.12+ only, among them)
ADOPTION_ORDER: tuple[str, ...] = ("async-batch", "threaded-batch", "sequential-batch", "async", "threaded",
                                   "sequential")


def tied(row: LoadRow, best: LoadRow) -> bool:
    """``row`` is as good as ``best``: possible, and within ``TIE_WITHIN`` of its time and of its cost."""
    return (row.possible and abs(row.seconds - best.seconds) <= TIE_WITHIN * best.seconds
            and abs(row.cost_usd - best.cost_usd) <= TIE_WITHIN * max(best.cost_usd, 1e-9))


def adoption(name: str) -> int:
    """Where ``name`` comes in ``ADOPTION_ORDER``, the other approaches after it in ``APPROACHES``' order."""
    order = (*ADOPTION_ORDER, *(a for a in APPROACHES if a not in ADOPTION_ORDER))
    return order.index(name) if name in order else len(order)


def _lead_by_adoption(rows: list[LoadRow]) -> list[LoadRow]:
    """``rows`` (ranked) with those tied with the first reordered by ``adoption``, ahead of the others."""
    if not rows:
        return rows
    lead = [row for row in rows if row is rows[0] or tied(row, rows[0])]
    return sorted(lead, key=lambda r: adoption(r.approach)) + [row for row in rows if all(row is not r for r in lead)]


def rank(rows: Sequence[LoadRow], deadline: float | None) -> tuple[tuple[LoadRow, ...], float]:
    """Rows finishing by ``deadline`` (else within twice the fastest) cheapest first, then the rest fastest first;
    the rows tied with the first lead in ``ADOPTION_ORDER``."""
    fastest = min((row.seconds for row in rows if row.possible), default=math.inf)
    by = deadline if deadline is not None else 2 * fastest
    within = sorted((r for r in rows if r.meets(by)), key=lambda r: (round(r.cost_usd, 6), r.seconds, r.approach))
    rest = sorted((r for r in rows if not r.meets(by)), key=lambda r: (not r.possible, r.seconds, r.approach))
    return tuple(_lead_by_adoption(within) + rest if within else _lead_by_adoption(rest)), by


def plan_load(spec: LoadSpec, reports: Sequence[Mapping[str, Any]] = (), machine: Mapping[str, Any] | None = None,
              approaches: Sequence[str] | None = None, client_ceiling: ClientCeiling | None = CEILING) -> LoadPlan:
    """The ranked answer for ``spec``; writers calibrated from ``reports`` (stored report dicts) of ``machine``, and
    held to the client's measured ``client_ceiling``."""
    names = tuple(approaches) if approaches is not None else tuple(APPROACHES)
    for name in names:
        approach(name)  # ConfigError for an unknown name, with the closest one
    uncapped = _uncapped(reports)
    calibration = calibrate(spec.probe(), uncapped, machine)
    history = history_basis(spec, uncapped, machine, calibration)
    fitted = set(calibration.floor_s) | set(calibration.latency_factor)
    client = client_limit(spec, machine)
    rows = [writer_row(spec, name, calibration, "fitted to measured runs" if name in fitted else
                       "machine-scaled prior" if calibration.runs else "built-in prior", client=client,
                       client_ceiling=client_ceiling)
            for name in names if name in LAB_WRITERS]  # as-shipped libraries retry their own way: not modelled
    notes = []
    if IMPORT in names and spec.table == "new":
        rows.append(import_row(spec))
    elif IMPORT in names:
        notes.append("s3-import is not offered: DynamoDB imports only into a new table it creates")
    if BULK in names and spec.table == "existing":
        rows.append(bulk_row(spec))
    elif BULK in names:
        notes.append("bulk-put is offered for an existing table (--table existing); for a new one s3-import is the "
                     "answer (its throughput has public user reports, the bulk put's has none yet)")
    if spec.capacity.mode == "off":
        notes.append(f"capacity off: no table limit is modelled, so workers add up to {client[1]} ({client[0]}; "
                     "writes priced as on-demand); on AWS give on-demand or provisioned=WCU")
    elif spec.table == "existing" and spec.capacity.mode == "on-demand" and spec.capacity.warm is None:
        notes.append(f"existing on-demand table: its previous peak is unknown here, {NEW_ON_DEMAND_UNITS:,} WRU/s at "
                     "first is assumed (give on-demand:warm=N for its warm throughput)")
    if spec.lab_proxy:
        notes.append("a target on this machine: its engine's own limit (dynalite: one Node thread) is not modelled; "
                     "workers are this machine's processes, at most one a core when its core count is known")
    if spec.lab_proxy and spec.capacity.on:
        notes.append("a target on this machine: the lab's proxy doubles an on-demand allowance at once, AWS within 30 "
                     "minutes (the range's slow end)")
    notes.append("writers: workers are Dask processes with a core each (a cluster past this machine's cores); "
                 "time is the writes only (no table creation, no verification)")
    cores = cores_note([row.approach for row in rows if row.approach in LAB_WRITERS], client_ceiling)
    if cores is not None:
        notes.append(cores)
    if not rows and BULK in names:
        raise ConfigError("no approach to plan: bulk-put loads an existing table; give --table existing (the page: "
                          "Table existing) or add a writer approach")
    if not rows and IMPORT in names:
        raise ConfigError("no approach to plan: s3-import loads only a new table; give --table new (the page: Table "
                          "new) or add a writer approach")
    if not rows:
        raise ConfigError(f"no approach to plan: choose one or more of {', '.join(APPROACHES)}")
    ranked, by = rank(rows, spec.deadline_s)
    best = ranked[0]
    table = f"{spec.table} table"
    what = f"{best.approach} with {plural(best.workers, 'worker')}"
    of_ties = (f"; of the rows within {TIE_WITHIN:.0%} of its time and cost, the simplest to adopt"
               if any(tied(row, best) for row in ranked[1:]) else "")
    why = "by the deadline" if spec.deadline_s is not None else f"within twice the fastest ({short(by)})"
    recommendation = (f"{what}: {table}, {count_words(spec.items)} items, ~{short(best.seconds)}, "
                      f"{money(best.cost_usd)} (the cheapest that finishes {why}{of_ties})" if best.meets(by) else
                      f"{what}: {table}, {count_words(spec.items)} items, ~{short(best.seconds)}, "
                      f"{money(best.cost_usd)} (nothing finishes by the deadline: this is the fastest)")
    prices = (f"on-demand writes: {PRICE_NOTE}", f"provisioned: {WCU_PRICE_NOTE}", f"import: {IMPORT_PRICE_NOTE}",
              f"S3 storage {S3_STORAGE_USD_PER_GB_MONTH} USD per GB-month while the parts wait")
    measured = (f"client ceiling: {client_ceiling.source} ({client_ceiling.conditions})",) \
        if client_ceiling is not None else ()
    sources = (f"writers' client figures: {history}; the estimate's model (core/forecast/estimate.py)", *measured,
               *CAPACITY_SOURCES,
               GOODPUT_SOURCES[spec.retry_mode],
               *prices, *(IMPORT_SOURCES if spec.table == "new" else ()),
               *(BULK_SOURCES if spec.table == "existing" and BULK in names else ()))
    return LoadPlan(spec, ranked, recommendation, tuple(notes), sources, calibration.runs, history)


# --- text ---------------------------------------------------------------------------------------------------------

TRIAL_ITEMS = 100_000  # the books of the run the next command suggests: enough to calibrate the planner
TEXT_WIDTH = 100  # the plan's text fits this many columns


def ties(plan: LoadPlan) -> tuple[LoadRow, ...]:
    """The other rows as good as the recommendation: within ``TIE_WITHIN`` of its time and of its cost."""
    return tuple(row for row in plan.rows[1:] if tied(row, plan.best))


def next_step(plan: LoadPlan) -> tuple[str, str]:
    """What to do next for the recommendation, and the command line: AWS's import for s3-import, the lab's aws-check
    for bulk-put, else a lab run of the approach (its books, at most ``TRIAL_ITEMS``) that calibrates the plan."""
    spec, best = plan.spec, plan.best
    if best.approach == IMPORT:
        billing = ("BillingMode=PROVISIONED,ProvisionedThroughput={ReadCapacityUnits=1,WriteCapacityUnits="
                   f"{spec.capacity.wcu}}}" if spec.capacity.mode == "provisioned" else "BillingMode=PAY_PER_REQUEST")
        return ("put the items in S3 as gzipped DynamoDB JSON lines (one {\"Item\": ...} a line), then let "
                "DynamoDB import them into the new table",
                "aws dynamodb import-table --s3-bucket-source S3Bucket=YOUR_BUCKET,S3KeyPrefix=YOUR_PREFIX/ "
                "--input-format DYNAMODB_JSON --input-compression-type GZIP --table-creation-parameters "
                '"TableName=YOUR_TABLE,AttributeDefinitions=[{AttributeName=pk,AttributeType=S}],'
                f'KeySchema=[{{AttributeName=pk,KeyType=HASH}}],{billing}"')
    if best.approach == BULK:
        return ("time the bulk put on your account (a tiny one: plan-load then takes its start-up and rate)",
                f"python -m core aws-check --s3-bucket YOUR_BUCKET --bulk-tier {spec.bulk_tier}")
    items = min(spec.items, TRIAL_ITEMS)
    options = [f"--target {spec.target}", *([f"--endpoint-url {spec.endpoint_url}"] if spec.endpoint_url else []),
               f"--approaches {best.approach}", f"--items {items}",
               *([f"--workers {best.workers}"] if best.workers > 1 else []),
               *([f"--capacity {spec.capacity}"] if spec.lab_proxy and spec.capacity.on else []),
               *([f"--retry-mode {spec.retry_mode}"] if spec.retry_mode != DEFAULT_RETRY_MODE else []),
               *(["--yes"] if spec.target == "aws" else [])]
    size = "" if items == spec.items else f"{count_words(items)} of "
    return (f"measure it with {size}the lab's books on {spec.target} (plan-load calibrates from the run"
            + ("; it costs money" if spec.target == "aws" else "") + ")",
            f"python -m core run {' '.join(options)}")


def command_lines(command: str, width: int = TEXT_WIDTH, indent: str = "  ") -> list[str]:
    """A shell command folded with backslash continuations so that every line fits ``width`` and it pastes as one;
    a double-quoted word too long for a line is split after a comma, its continuation at the line's start (inside
    double quotes the shell drops a backslash and the newline, and nothing else)."""
    lines: list[str] = []
    line = indent
    for word in command.split(" "):
        if line.strip() and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = indent + "  "
        else:
            line += " " if line.strip() else ""
        quoted = word.startswith('"')
        while quoted and len(line) + len(word) + 2 > width and "," in word[:width - len(line) - 1]:
            cut = word.rindex(",", 0, width - len(line) - 1) + 1
            lines.append(line + word[:cut] + "\\")
            line, word = "", word[cut:]
        line += word
    return [*lines, line]


_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86_400, "day": 86_400, "days": 86_400}


def parse_duration(text: str) -> float:
    """'90s', '45min', '2h', '1.5h', '3d' -> seconds; ConfigError otherwise."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)\s*", text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ConfigError(f"bad deadline {text!r}: give a number and a unit, e.g. 90s, 45min, 2h or 3d")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= MAX_DEADLINE_S:
        raise ConfigError(f"the deadline must be more than 0 s and at most 365 days, got {text!r}")
    return seconds

