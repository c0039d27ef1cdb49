"""The experiment: a ``Plan`` run approach by approach on freshly reset tables, verified, into a ``Report``.

Contract: ``Plan`` validates user input (``ConfigError``, nothing written). ``run`` gives every approach the same
seeded books on a reset table, verifies each run, samples the embedded server's CPU so a saturated server is
flagged ``server_bound``, reports progress as events (from worker threads: the caller decides how to show them)
and returns a frozen ``Report``. ``estimate`` predicts the duration from a latency model before anything runs.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import psutil

from core.books import ISBN_BODIES, generate_books
from core.emulator import REPO_ROOT, Conditions, Emulator
from core.errors import ConfigError
from core.report import RunReport, Verification
from core.retry import RetryPolicy
from core.sigv4 import Credentials
from core.tables import check_schema, reset_table
from core.targets import KINDS, Target, check_reachable, make_target, validate_endpoint_url, validate_region
from core.verify import verify
from core.writers import APPROACHES, STUDY_APPROACHES, WriterOptions, default_threads, write

MAX_ITEMS = 10_000_000
SERVER_BOUND_CPU = 90.0  # % of one core: dynalite runs on a single Node thread
# The 2022 study on real AWS, 10,000 books: the reference row of every chart.
STUDY_2022_SECONDS = {"sequential": 832.65, "threaded": 71.23, "async": 11.06}
STUDY_2022_ITEMS = 10_000
WRU_PRICE_USD = 0.625 / 1_000_000  # on-demand write request unit, us-east-1, since November 2024


@dataclass(frozen=True)
class Plan:
    """What to run; every field is checked when the plan is built."""

    target: str = "embedded"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    profile: str | None = None
    approaches: tuple[str, ...] = STUDY_APPROACHES
    items: int = 1_000
    seed: int = 0
    repeats: int = 1
    warmup: int = 0
    threads: int = field(default_factory=default_threads)
    concurrency: int = 100
    conditions: Conditions = field(default_factory=Conditions)
    max_attempts: int = 10
    request_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.target not in KINDS:
            raise ConfigError(f"unknown target {self.target!r}: choose one of {', '.join(KINDS)}")
        validate_region(self.region)
        if self.endpoint_url is not None:
            object.__setattr__(self, "endpoint_url", validate_endpoint_url(self.endpoint_url))
        elif self.target == "custom":
            raise ConfigError("the custom target needs --endpoint-url, e.g. http://127.0.0.1:5000 for a moto server")
        if not self.approaches:
            raise ConfigError(f"no approach chosen: pick one or more of {', '.join(APPROACHES)}")
        for name in self.approaches:
            if name not in APPROACHES:
                raise ConfigError(f"unknown approach {name!r}: choose from {', '.join(APPROACHES)}")
        repeated = sorted({a for a in self.approaches if self.approaches.count(a) > 1})
        if repeated:
            raise ConfigError(f"approach {repeated[0]!r} is listed twice: name each approach once")
        if not 1 <= self.items <= MAX_ITEMS:
            raise ConfigError(f"items must be between 1 and {MAX_ITEMS:,}, got {self.items}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be a whole number from 0 to 2**63-1, got {self.seed}")
        if not 1 <= self.repeats <= 50:
            raise ConfigError(f"repeats must be between 1 and 50, got {self.repeats}")
        if not 0 <= self.warmup <= 100_000 or self.items + self.warmup > ISBN_BODIES:
            raise ConfigError(f"warm-up must be between 0 and 100,000 items, got {self.warmup}")
        if self.conditions != Conditions() and self.target != "embedded":
            raise ConfigError("network conditions and faults are injected by the embedded emulator: "
                              "use --target embedded, or drop --network/--latency-ms/--faults")
        WriterOptions(threads=self.threads, concurrency=self.concurrency, request_timeout=self.request_timeout)
        if not 1 <= self.max_attempts <= 100:
            raise ConfigError(f"max attempts must be between 1 and 100, got {self.max_attempts}")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["approaches"] = list(self.approaches)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        data = dict(data)
        data["approaches"] = tuple(data["approaches"])
        data["conditions"] = Conditions(**data["conditions"])
        return cls(**data)


@dataclass(frozen=True)
class RunResult:
    """One measured run of one approach: the writer's report, the read-back check and the server's load."""

    repeat: int
    report: RunReport
    verification: Verification
    server_cpu_percent: float | None = None  # mean over the run, % of one core; None off the embedded target

    @property
    def approach(self) -> str:
        return self.report.approach

    @property
    def server_bound(self) -> bool:
        return self.server_cpu_percent is not None and self.server_cpu_percent >= SERVER_BOUND_CPU

    @property
    def clean(self) -> bool:
        """Every item written and verified: nothing lost, failed or unknown."""
        return self.verification.ok and self.report.complete


@dataclass(frozen=True)
class Summary:
    approach: str
    runs: int
    seconds_min: float
    seconds_median: float
    seconds_max: float
    items_per_second_median: float


@dataclass(frozen=True)
class Report:
    plan: Plan
    environment: dict[str, Any]
    runs: tuple[RunResult, ...]
    created: float = field(default_factory=time.time)
    cancelled: bool = False
    error: str | None = None  # why the plan stopped early (e.g. the emulator died), one line

    @property
    def clean(self) -> bool:
        return bool(self.runs) and all(run.clean for run in self.runs) and not self.cancelled and not self.error

    def summaries(self) -> list[Summary]:
        out = []
        for name in self.plan.approaches:
            runs = [r for r in self.runs if r.approach == name]
            if not runs:
                continue
            seconds = [r.report.seconds for r in runs]
            out.append(Summary(name, len(runs), min(seconds), statistics.median(seconds), max(seconds),
                               statistics.median(r.report.items_per_second for r in runs)))
        return out

    def speedup(self, approach: str, baseline: str = "sequential") -> float | None:
        table = {s.approach: s.seconds_median for s in self.summaries()}
        if baseline not in table or approach not in table or table[approach] <= 0:
            return None
        return table[baseline] / table[approach]


@dataclass(frozen=True)
class ProgressEvent:
    approach: str
    repeat: int
    phase: str  # "reset" | "warmup" | "write" | "verify" | "done"
    done: int
    total: int
    elapsed: float

    @property
    def items_per_second(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in ("boto3", "botocore", "aiohttp", "aiobotocore", "Faker", "streamlit", "plotly"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        versions["dynalite"] = json.loads((REPO_ROOT / "node_modules/dynalite/package.json").read_text())["version"]
    except OSError:
        versions["dynalite"] = None
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "packages": versions}


# --- the latency model -----------------------------------------------------------------------------------------

# Client time per request (ms, this kind of machine) and what the embedded server sustains (items/s).
_CLIENT_MS = {"boto3": 0.9, "aiohttp": 0.25, "aiobotocore": 0.7}
_SERVER_ITEMS_PER_S = {False: 3_000.0, True: 9_000.0}
_NOMINAL_LATENCY_MS = {"embedded": 0.0, "localstack": 3.0, "aws": 8.0, "custom": 2.0}


def estimate_seconds(plan: Plan, approach: str) -> float:
    """Predicted wall time of one run: requests x (latency + client time) / parallelism, bounded by the server."""
    chosen = APPROACHES[approach]
    requests = -(-plan.items // 25) if chosen.batch else plan.items
    latency = _NOMINAL_LATENCY_MS[plan.target] + plan.conditions.latency_ms + plan.conditions.jitter_ms / 2
    parallel = {"sequential": 1, "threaded": plan.threads, "async": plan.concurrency}[chosen.driver]
    client_ms = _CLIENT_MS[chosen.client] * (3 if chosen.batch else 1)
    network_bound = requests * latency / 1000 / parallel
    client_bound = requests * client_ms / 1000
    server_bound = plan.items / _SERVER_ITEMS_PER_S[chosen.batch] if plan.target == "embedded" else 0.0
    faults = 1 + 2 * (plan.conditions.throttle + plan.conditions.error + plan.conditions.reset)
    return max(network_bound + client_bound / (1 if chosen.driver != "threaded" else 2), server_bound) * faults


def estimate(plan: Plan) -> float:
    """Predicted wall time of the whole plan (writes, warm-ups and verification), seconds."""
    per_repeat = sum(estimate_seconds(plan, a) for a in plan.approaches)
    verify_each = plan.items / 5_000 + -(-plan.items // 100) * plan.conditions.latency_ms / 1000
    warmups = sum(estimate_seconds(replace(plan, items=max(plan.warmup, 1)), a) for a in plan.approaches) \
        if plan.warmup else 0.0
    return per_repeat * plan.repeats + verify_each * len(plan.approaches) * plan.repeats + warmups


def estimated_cost_usd(plan: Plan) -> float:
    """On-demand write cost of the plan on AWS: one WRU per put of up to 1 KB (every seeded book is under 1 KB)."""
    return (plan.items * plan.repeats + plan.warmup) * len(plan.approaches) * WRU_PRICE_USD


# --- running ---------------------------------------------------------------------------------------------------

@contextmanager
def cpu_sampler(pid: int | None, interval: float = 0.2) -> Iterator[list[float]]:
    """Samples a process's CPU (% of one core) in the background while the block runs."""
    samples: list[float] = []
    if pid is None:
        yield samples
        return
    process = psutil.Process(pid)
    stop = threading.Event()
    process.cpu_percent(None)

    def sample() -> None:
        while not stop.wait(interval):
            try:
                samples.append(process.cpu_percent(None))
            except psutil.Error:
                return

    thread = threading.Thread(target=sample, daemon=True, name="lab-cpu-sampler")
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        with contextlib.suppress(psutil.Error):
            samples.append(process.cpu_percent(None))  # the tail since the last sample (all of a short run)


class _EmulatorDied(Exception):
    def __init__(self, message: str, result: RunResult) -> None:
        super().__init__(message)
        self.result = result


@contextmanager
def _watch(emulator: Emulator | None, cancel: threading.Event | None, stop: threading.Event) -> Iterator[None]:
    """Sets ``stop`` when the user cancels or the embedded emulator dies, while the block runs."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if (cancel is not None and cancel.is_set()) or (emulator is not None and not emulator.running):
                stop.set()
                return

    thread = threading.Thread(target=watch, daemon=True, name="lab-watchdog")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def resolve_target(plan: Plan, emulator: Emulator | None, credentials: Credentials | None = None) -> Target:
    return make_target(plan.target, endpoint_url=plan.endpoint_url, region=plan.region, profile=plan.profile,
                       credentials=credentials, embedded_url=emulator.endpoint_url if emulator else None)


def run(plan: Plan, *, emulator: Emulator | None = None, credentials: Credentials | None = None,
        progress: Callable[[ProgressEvent], None] | None = None, cancel: threading.Event | None = None) -> Report:
    """Run the plan. On the embedded target, ``emulator`` is used (or one is started and stopped here)."""
    own = None
    if plan.target == "embedded" and emulator is None:
        emulator = own = Emulator(conditions=plan.conditions).start()
    try:
        target = resolve_target(plan, emulator, credentials)
        check_reachable(target)
        client = target.client(max_attempts=plan.max_attempts)
        for name in plan.approaches:
            check_schema(client, APPROACHES[name].table)  # before anything is written anywhere
        if emulator is not None:
            emulator.set_conditions(plan.conditions)
        options = WriterOptions(threads=plan.threads, concurrency=plan.concurrency, cancel=cancel,
                                policy=RetryPolicy(max_attempts=plan.max_attempts),
                                request_timeout=plan.request_timeout)
        runs: list[RunResult] = []
        for repeat in range(plan.repeats):
            for name in plan.approaches:
                if cancel is not None and cancel.is_set():
                    return Report(plan, environment(), tuple(runs), cancelled=True)
                try:
                    runs.append(_run_one(plan, name, repeat, target, client, options, emulator, progress))
                except _EmulatorDied as died:
                    runs.append(died.result)
                    return Report(plan, environment(), tuple(runs), error=str(died))
        cancelled = cancel is not None and cancel.is_set()
        return Report(plan, environment(), tuple(runs), cancelled=cancelled)
    finally:
        if own is not None:
            own.stop()
        elif emulator is not None and emulator.running and plan.conditions != Conditions():
            emulator.set_conditions(Conditions())


def _run_one(plan: Plan, name: str, repeat: int, target: Target, client: Any, options: WriterOptions,
             emulator: Emulator | None, progress: Callable[[ProgressEvent], None] | None) -> RunResult:
    table = APPROACHES[name].table

    def tell(phase: str, done: int, total: int, started: float) -> None:
        if progress is not None:
            progress(ProgressEvent(name, repeat, phase, done, total, time.perf_counter() - started))

    started = time.perf_counter()
    tell("reset", 0, plan.items, started)
    if plan.warmup and repeat == 0:
        reset_table(client, table)
        tell("warmup", 0, plan.warmup, started)
        write(name, generate_books(plan.warmup, plan.seed, start=plan.items), target, options)
    reset_table(client, table)
    started = time.perf_counter()
    stop = threading.Event()
    with cpu_sampler(emulator.pid if emulator else None) as samples, _watch(emulator, options.cancel, stop):
        report = write(name, generate_books(plan.items, plan.seed), target, replace(options, cancel=stop),
                       progress=lambda done: tell("write", done, plan.items, started))
    if emulator is not None and not emulator.running:
        failed = RunResult(repeat, report, Verification(plan.items, 0, 0, 0, 0, 0, plan.items), None)
        raise _EmulatorDied(f"the embedded emulator stopped during the {name} run ({report.items_ok:,} of "
                            f"{plan.items:,} items acknowledged): the run is marked failed; run the plan again",
                            failed)
    tell("verify", report.items, plan.items, started)
    check = verify(client, table, generate_books(report.items, plan.seed), report)
    tell("done", report.items, plan.items, started)
    cpu = statistics.mean(samples) if samples else (0.0 if emulator else None)
    return RunResult(repeat, report, check, cpu)
