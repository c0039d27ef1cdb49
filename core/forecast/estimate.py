"""How long a plan will take, before anything runs: a roofline model of each approach, calibrated from the history.

Pure: a ``Plan``, the stored reports and this machine's description in, an ``Estimate`` out. A run of ``n`` requests
takes ``n x max(floor, (latency + round trip) / parallelism)`` seconds plus the retry policy's backoff under faults;
earlier fault-free runs on the same machine and target calibrate it. ``basis`` says what the estimate rests on.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.domain.approaches import APPROACHES, Approach, parallelism
from core.domain.endpoints import Kind
from core.domain.plan import FAULTS, Plan
from core.forecast.words import short
from core.wire.retry import ASYNC_POLL, RetryPolicy, first_wave

BATCH = 25
# The network every request crosses before the lab adds any latency (ms): LocalStack's own answer takes this long
# beyond the priors' round trip (python -m bench.priors --engines).
NOMINAL_LATENCY_MS: dict[Kind, float] = {"embedded": 0.0, "dynamodb-local": 0.0, "localstack": 4.5, "aws": 8.0,
                                         "custom": 2.0}
# The engines against the priors (dynalite's), measured with python -m bench.priors --engines on the quiet 2-core
# machine (2026-12-06): DynamoDB Local (Java) takes about 1.2 x the priors' time for what the client bounds, and is
# itself the limit of the most parallel writers, at a pace that varies from run to run (0.4-1.0 ms per PutItem and
# 2.8-11 ms per BatchWriteItem in two runs: the middle is taken, the range covers the rest); LocalStack (Python) at
# about 4.4 ms and 7 ms, however many are in flight.
ENGINE_PACE: dict[Kind, float] = {"dynamodb-local": 1.2}
ENGINE_FLOOR_MS: dict[Kind, tuple[float, float]] = {"localstack": (4.4, 7.0),
                                                    "dynamodb-local": (0.7, 4.0)}  # (PutItem, BatchWriteItem)
# Fixed costs the estimate cannot know in advance, added to the range's high end only: DynamoDB Local's first run
# after it starts (the JVM compiles its code paths: its table calls take seconds), a LocalStack table's creation.
ENGINE_COLD_S: dict[Kind, float] = {"dynamodb-local": 4.0, "localstack": 2.0}
# Scale-out: a LocalCluster's start (and its workers' imports), then each worker writes its shard (bench.priors).
SCALE_OUT_S = 0.1
SCALE_OUT_PER_WORKER_S = 0.55
# Per run of an approach: its table reset (delete, create, wait: about 8 calls) and the read-back (BatchGetItem of
# 100 keys, then a Scan count); measured on the embedded engine with python -m bench.priors (2026-12-06, quiet).
RESET_CALLS, ADMIN_CALL_S = 8, 0.002
VERIFY_KEYS, VERIFY_CALL_S = 100, 0.007
RUN_SETUP_S = 0.06  # per run: its client, thread pool or event loop
PLAN_SETUP_S = 0.07  # per plan: reachability and schema checks
_PRIOR_RUNS = 1  # the built-in figures weigh as much as this many measured runs
_LEAST_SPREAD = (0.67, 1.5)  # fixed costs and a noisy machine: no range is narrower than this
# Spread of the estimate when nothing was measured on this machine and target yet.
_UNCALIBRATED = (0.5, 2.0)
_BACKOFF_SPREAD = (0.75, 1.4)  # full-jitter delays: the sum over a run wanders this much either way
TOO_LONG_S = 15 * 60


@dataclass(frozen=True)
class Estimate:
    """Predicted wall time of a whole plan (writes, resets, verification, warm-ups), seconds."""

    seconds: float
    low: float
    high: float
    per_run: Mapping[str, float]  # one run's writes, per approach
    basis: str  # what the figures rest on, one line
    calibrated_runs: int
    warning: str | None = None  # e.g. the plan takes very long, or the circuit breaker will stop it

    def ratio(self, actual: float) -> float:
        """Estimate ÷ actual (1.0: spot on)."""
        return self.seconds / actual if actual > 0 else math.inf


@dataclass(frozen=True)
class Calibration:
    """What earlier runs on this machine and target say about each approach."""

    floor_s: Mapping[str, float]  # measured seconds per request, floor-bound runs
    latency_factor: Mapping[str, float]  # measured ÷ modelled, latency-bound runs
    spread: tuple[float, float]  # lowest and highest measured ÷ calibrated over all runs used
    runs: int

    @classmethod
    def none(cls) -> Calibration:
        return cls({}, {}, _UNCALIBRATED, 0)


def requests(chosen: Approach, items: int) -> int:
    return -(-items // BATCH) if chosen.batch else items


def prior_floor_s(chosen: Approach, target: Kind = "embedded") -> float:
    """The built-in floor per request on ``target``: the approach's (measured on dynalite) at the engine's pace, never
    below what the engine itself serves."""
    engine = ENGINE_FLOOR_MS.get(target, (0.0, 0.0))[chosen.batch] / 1000
    return max(chosen.floor_ms / 1000 * ENGINE_PACE.get(target, 1.0), engine)


def round_trip_s(chosen: Approach, target: Kind = "embedded") -> float:
    return chosen.round_trip_ms / 1000 * ENGINE_PACE.get(target, 1.0)


def scale_out(plan: Plan, cores: int | None = None) -> tuple[int, float]:
    """How many shards write at once (the workers, at most this machine's cores for the client's share on a local
    cluster) and the cluster's start-up, seconds; (1, 0) for a plan that is not scaled out."""
    if not plan.scaled_out:
        return 1, 0.0
    workers = plan.workers
    start = SCALE_OUT_S + SCALE_OUT_PER_WORKER_S * workers if plan.scheduler is None else 1.0
    return max(1, min(workers, cores or workers)), start


def added_latency_s(target: Kind, latency_ms: float, jitter_ms: float) -> float:
    return (NOMINAL_LATENCY_MS[target] + latency_ms + jitter_ms / 2) / 1000


# --- backoff ------------------------------------------------------------------------------------------------------

def retry_odds(plan: Plan, chosen: Approach) -> list[float]:
    """``odds[k-1]``: the chance that one request needs at least ``k`` retries (k = 1 .. max_attempts - 1).

    PutItem fails whole with throttle + error + reset; a batch is resent while any of its 25 items is held back by
    the throttle (each independently), or whole on an error or reset."""
    faults = plan.conditions
    whole = faults.error + faults.reset + (0.0 if chosen.batch else faults.throttle)
    odds = []
    for k in range(1, plan.max_attempts):
        held = 1 - (1 - faults.throttle ** k) ** BATCH if chosen.batch else 0.0
        odds.append(min(1.0, 1 - (1 - whole ** k) * (1 - held)))
    return odds


def mean_delays(policy: RetryPolicy, count: int) -> list[float]:
    """The mean full-jitter delay before retry k (1-based), k = 1 .. count."""
    return [0.5 * min(policy.base * 2.0 ** (k - 1), policy.cap) for k in range(1, count + 1)]


def backoff(plan: Plan, chosen: Approach, policy: RetryPolicy) -> tuple[float, float, float]:
    """(retries per request, backoff seconds per request, the longest chain's backoff over the run), expected."""
    odds = retry_odds(plan, chosen)
    delays = mean_delays(policy, len(odds))
    n = requests(chosen, plan.items)
    per_request = sum(q * d for q, d in zip(odds, delays, strict=True))
    tail = sum((1 - (1 - q) ** n) * d for q, d in zip(odds, delays, strict=True))
    return sum(odds), per_request, tail


def refused(plan: Plan, chosen: Approach) -> float:
    """The chance that one attempt fails outright (what the circuit breaker counts): a batch with items held back
    is an answered attempt, refused only when every item is held."""
    faults = plan.conditions
    return faults.error + faults.reset + (faults.throttle ** BATCH if chosen.batch else faults.throttle)


def gives_up(plan: Plan, chosen: Approach) -> bool:
    """True when the circuit breaker will most likely stop the run: its first attempts almost all fail."""
    opens = first_wave(plan.parallelism(chosen.name), requests(chosen, plan.items))
    return refused(plan, chosen) ** opens > 0.5


# --- the model -------------------------------------------------------------------------------------------------

# s3-import (not a writer): the client's CPU per book (the approach's floor prior), one S3 PUT per part (its round
# trip prior) and the import's own time, which only the moto server here was measured for: 20,000 books in 7.1 s
# end to end on this 2-core machine, tests running beside it (2026-11-29), so about 3,000 books/s. AWS's import time
# is not estimated (it depends on the data's size and key distribution, minutes even for a small table): the basis
# says so.
_MOTO_IMPORT_ITEMS_PER_S = 3_000.0
_IMPORT_POLL_S = 0.2


def import_seconds(plan: Plan, name: str) -> float:
    """Expected seconds of one s3-import run up to the end of the import (moto's; AWS's import time excluded)."""
    from core.domain.s3source import SEEDED_LINE_BYTES, objects_for, part_bytes_for

    chosen, source = APPROACHES[name], plan.items * SEEDED_LINE_BYTES
    parts = objects_for(source, part_bytes_for(source))
    upload = plan.items * prior_floor_s(chosen) + parts * round_trip_s(chosen)
    return upload + plan.items / _MOTO_IMPORT_ITEMS_PER_S + _IMPORT_POLL_S


def bulk_seconds(plan: Plan, name: str) -> float:
    """Expected seconds of one bulk-put run: the upload as s3-import's, then the operation at the tier's assumed rate
    (the emulation's on this machine, the middle of the assumed range on AWS) after its assumed start-up."""
    from core.domain.bulkmodel import EMULATED_STARTUP_S, BulkAssumptions

    assumed = BulkAssumptions()
    low, high = assumed.rate(plan.bulk_tier, plan.bulk_max_wru)
    if plan.off_machine is None:
        return import_seconds(plan, name) - plan.items / _MOTO_IMPORT_ITEMS_PER_S + EMULATED_STARTUP_S \
            + plan.items / high
    return import_seconds(plan, name) - plan.items / _MOTO_IMPORT_ITEMS_PER_S + sum(assumed.startup_s) / 2 \
        + plan.items / ((low + high) / 2)


def write_seconds(plan: Plan, name: str, calibration: Calibration | None = None,
                  policy: RetryPolicy | None = None, cores: int | None = None) -> float:
    """Expected seconds of one run's writes (what ``RunReport.seconds`` measures). Scaled out, ``W`` shards write
    at once: the latency term divides by ``W``, the client's floor by the shards that get a core of their own
    (``cores``: this machine's), the engine's own floor not at all (one engine serves them all)."""
    chosen, calibration = APPROACHES[name], calibration or Calibration.none()
    if chosen.driver == "import":
        return import_seconds(plan, name)
    if chosen.driver == "bulk":
        return bulk_seconds(plan, name)
    policy = policy or RetryPolicy(max_attempts=plan.max_attempts)
    n = requests(chosen, plan.items)
    shards, _ = scale_out(plan, cores)
    p = min(plan.parallelism(name) * plan.workers, n)  # never more in flight than there are requests
    latency = added_latency_s(plan.target, plan.conditions.latency_ms, plan.conditions.jitter_ms)
    engine = ENGINE_FLOOR_MS.get(plan.target, (0.0, 0.0))[chosen.batch] / 1000
    floor = calibration.floor_s.get(name, prior_floor_s(chosen, plan.target) * _machine_factor(calibration,
                                                                                               plan.target))
    floor = max(floor / shards, engine) if plan.workers > 1 else floor
    per_attempt_round = (latency + round_trip_s(chosen, plan.target)) * calibration.latency_factor.get(name, 1.0)
    if gives_up(plan, chosen):
        # The breaker opens after its first failures; they come in rounds of p attempts, each round after the
        # probing delay (capped at 4 s until a first success).
        opens = first_wave(p, n)
        rounds = -(-opens // p)
        probes = sum(0.5 * min(policy.base * 2.0 ** (k - 1), policy.probe_cap) for k in range(1, rounds))
        noticed = ASYNC_POLL if chosen.driver == "async" else 0.0  # the backoff sleeps under way see the stop
        return rounds * per_attempt_round + probes + noticed
    retries, pause, tail = backoff(plan, chosen, policy)
    attempts = n * (1 + retries)
    work = attempts * max(floor, per_attempt_round / p)
    if p == 1:
        return work + n * pause
    return work + n * pause / p + tail


def run_seconds(plan: Plan, name: str, calibration: Calibration | None = None, cores: int | None = None) -> float:
    """One run's writes and, scaled out, its cluster's start-up (each run starts its own)."""
    return write_seconds(plan, name, calibration, cores=cores) + scale_out(plan, cores)[1]


def overhead_seconds(plan: Plan, name: str) -> float:
    """One run's table reset and read-back: administrative calls, each paying the added latency."""
    latency = added_latency_s(plan.target, plan.conditions.latency_ms, plan.conditions.jitter_ms)
    calls = -(-plan.items // VERIFY_KEYS)
    return RESET_CALLS * (latency + ADMIN_CALL_S) + calls * (latency + VERIFY_CALL_S) + RUN_SETUP_S


def _machine_factor(calibration: Calibration, target: Kind = "embedded") -> float:
    ratios = [seconds / prior_floor_s(APPROACHES[name], target) for name, seconds in calibration.floor_s.items()
              if name in APPROACHES]
    return statistics.median(ratios) if ratios else 1.0


# --- calibration -----------------------------------------------------------------------------------------------

def same_place(data: Mapping[str, Any], plan: Plan, machine: Mapping[str, Any] | None) -> bool:
    """A stored report ran on this machine (platform and cores) against this target (kind and URL)."""
    stored = data.get("plan", {})
    if stored.get("target") != plan.target or stored.get("endpoint_url") != plan.endpoint_url:
        return False
    if machine is None:
        return True
    env = data.get("environment", {})
    return bool(env.get("platform") == machine.get("platform") and env.get("cpu_count") == machine.get("cpu_count"))


def usable(data: Mapping[str, Any], plan: Plan, machine: Mapping[str, Any] | None) -> bool:
    """A stored report the calibration may learn from: same place, not cancelled, no faults (backoff is modelled,
    not fitted)."""
    conditions = data.get("plan", {}).get("conditions", {})
    return same_place(data, plan, machine) and not data.get("cancelled") and not any(
        conditions.get(name) for name in FAULTS)


def calibrate(plan: Plan, reports: Iterable[Mapping[str, Any]], machine: Mapping[str, Any] | None = None,
              per_approach: int = 20) -> Calibration:
    """Fit the floor and the latency factor per approach from earlier fault-free runs of the same place."""
    floors: dict[str, list[float]] = {}
    factors: dict[str, list[float]] = {}
    used = 0
    for data in reports:
        if not usable(data, plan, machine):
            continue
        stored = data["plan"]
        if int(stored.get("workers") or 1) > 1 or stored.get("scheduler"):
            continue  # a scaled-out run's seconds mix the shards: its figures are not one writer's
        conditions = stored.get("conditions", {})
        latency = added_latency_s(plan.target, conditions.get("latency_ms", 0.0), conditions.get("jitter_ms", 0.0))
        for run in data.get("runs", []):
            chosen = APPROACHES.get(run.get("approach", ""))
            if chosen is None or chosen.driver in ("import", "bulk") or run.get("failed_items") \
                    or run.get("unknown_items") or run.get("not_sent_items") or run.get("seconds", 0) <= 0:
                continue
            if len(floors.get(chosen.name, [])) + len(factors.get(chosen.name, [])) >= per_approach:
                continue
            p = parallelism(chosen, int(stored.get("threads", 1)), int(stored.get("concurrency", 1)))
            per_request = run["seconds"] / requests(chosen, int(run.get("items") or stored["items"]))
            modelled = (latency + round_trip_s(chosen, plan.target)) / p
            if modelled <= prior_floor_s(chosen, plan.target):
                floors.setdefault(chosen.name, []).append(per_request)
            else:
                factors.setdefault(chosen.name, []).append(per_request / modelled)
            used += 1
    floor = {name: _shrink(values, prior_floor_s(APPROACHES[name], plan.target)) for name, values in floors.items()}
    factor = {name: _shrink(values, 1.0) for name, values in factors.items()}
    spread = [v / floor[n] for n, vs in floors.items() for v in vs] + [v / factor[n] for n, vs in factors.items()
                                                                       for v in vs]
    if not spread:
        return Calibration.none()
    return Calibration(floor, factor, (min(_LEAST_SPREAD[0], min(spread) * 0.9),
                                       max(_LEAST_SPREAD[1], max(spread) * 1.1)), used)


def _shrink(values: Sequence[float], prior: float) -> float:
    """The measured median, pulled towards the prior in log space while there are few runs (one run: halfway;
    four: 80 % measured): one run on a busy machine does not set the estimate alone."""
    weight = len(values) / (len(values) + _PRIOR_RUNS)
    return math.exp(weight * math.log(statistics.median(values)) + (1 - weight) * math.log(prior))


# --- the plan ----------------------------------------------------------------------------------------------------

def forecast(plan: Plan, reports: Sequence[Mapping[str, Any]] = (), machine: Mapping[str, Any] | None = None
             ) -> Estimate:
    """The whole plan's wall time with a range, calibrated from ``reports`` (stored report dicts, newest first)
    that ran on ``machine`` (an ``environment()`` dict) against the plan's target."""
    calibration = calibrate(plan, reports, machine)
    cores = int(machine["cpu_count"]) if machine and machine.get("cpu_count") else None
    per_run = {name: run_seconds(plan, name, calibration, cores) for name in plan.approaches}
    faulty = any(plan.conditions.faults.values())
    writes = sum(per_run.values()) * plan.repeats
    overhead = sum(overhead_seconds(plan, name) for name in plan.approaches) * plan.repeats
    warmups = 0.0
    if plan.warmup:
        warm = Plan.from_dict({**plan.as_dict(), "items": plan.warmup, "warmup": 0})
        warmups = sum(write_seconds(warm, name, calibration) + overhead_seconds(warm, name) for name in plan.approaches)
    total = PLAN_SETUP_S + writes + overhead + warmups
    low_factor, high_factor = calibration.spread
    if faulty:
        low_factor, high_factor = low_factor * _BACKOFF_SPREAD[0], high_factor * _BACKOFF_SPREAD[1]
    stopped = [name for name in plan.approaches if gives_up(plan, APPROACHES[name])]
    warning = None
    if stopped:
        warning = (f"with these faults almost every attempt fails: the circuit breaker will likely stop "
                   f"{', '.join(stopped)} within seconds, with its items failed")
    elif total * high_factor > TOO_LONG_S:
        warning = (f"this plan may take up to {short(total * high_factor)}: fewer books, less latency or fewer "
                   "faults make it shorter")
    cold = ENGINE_COLD_S.get(plan.target, 0.0)
    return Estimate(total, total * low_factor, total * high_factor + cold, per_run, basis(plan, calibration),
                    calibration.runs, warning)


def estimate(plan: Plan) -> float:
    """The uncalibrated expected seconds of the whole plan (``forecast`` with no history)."""
    return forecast(plan).seconds


def estimate_seconds(plan: Plan, approach: str) -> float:
    """The uncalibrated expected seconds of one run's writes of ``approach``."""
    return write_seconds(plan, approach)


def basis(plan: Plan, calibration: Calibration) -> str:
    where = plan.target if plan.endpoint_url is None else f"{plan.target} at {plan.endpoint_url}"
    if calibration.runs:
        measured = sorted(set(calibration.floor_s) | set(calibration.latency_factor))
        text = (f"calibrated from {calibration.runs} earlier fault-free run{'s' if calibration.runs > 1 else ''} "
                f"on this machine and {where} ({', '.join(measured)})")
    else:
        text = f"not calibrated yet (no earlier run on this machine and {where}): built-in figures for a 2-core machine"
    if plan.target in ENGINE_PACE or plan.target in ENGINE_FLOOR_MS:
        text += f"; {plan.target}'s own pace modelled"
    if plan.target in ENGINE_COLD_S:
        text += (f"; up to {ENGINE_COLD_S[plan.target]:g} s more when the engine has just started (its first tables "
                 "are slow), so the range reaches further")
    if plan.scaled_out:
        text += f"; {plan.workers} Dask workers: the cluster's start-up, and the shards writing at once"
    if plan.conditions.faults:
        text += "; retries and backoff modelled for the faults (full jitter, 1 s base, 20 s cap)"
    if any(APPROACHES[name].driver == "import" for name in plan.approaches):
        text += ("; s3-import: upload from built-in figures, the import from moto's speed here"
                 + ("; AWS's import time is not estimated (minutes even for small data)" if plan.target == "aws"
                    or plan.off_machine else ""))
    if any(APPROACHES[name].driver == "bulk" for name in plan.approaches):
        text += "; bulk-put: upload from built-in figures, the operation from its assumed rate (AWS publishes none)"
    return text
