"""The concurrency sweep: items/s against concurrency for the threaded and async approaches, beside Little's law.

``parse_sweep`` and ``plan_sweep`` are pure (one-line ``ConfigError``); ``run_sweep`` runs the steps one after another
through ``core.run.runner.run`` and returns a frozen ``SweepResult``, keeping what was measured when cancelled or when a
step fails. The result derives the chart: round trip L at the lowest concurrency, the ideal C ÷ L, the highest
throughput, and each approach's knee (the last concurrency within ``KNEE_FRACTION`` of the ideal).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from core.domain.approaches import APPROACHES
from core.domain.errors import ConfigError
from core.domain.limits import MAX_CONCURRENCY, MAX_THREADS
from core.domain.numbers import whole
from core.domain.plan import Plan
from core.domain.results import ProgressEvent
from core.wire.sigv4 import Credentials

if TYPE_CHECKING:
    from core.run.runner import Server

DEFAULT_LEVELS = (1, 4, 16, 64, 256)
SWEEP_APPROACHES = ("threaded", "async")
KNEE_FRACTION = 0.7  # a point below 70 % of C ÷ L has stopped scaling
MAX_LEVELS = 12


CLI_EXAMPLE = "concurrency=1,4,16,64,256"  # how --sweep is typed; the page's field takes just the levels


def parse_sweep(text: str, example: str = CLI_EXAMPLE) -> tuple[int, ...]:
    """``concurrency=1,4,16,64,256`` (or just ``1,4,16``) -> (1, 4, 16, 64, 256): whole numbers, each once.
    ``example``: what an error suggests typing where the text came from (the page's field: ``1, 4, 16``)."""
    name, sep, values = text.partition("=")
    if sep and name.strip() != "concurrency":
        raise ConfigError(f"bad sweep {text!r}: only concurrency can be swept, e.g. {example}")
    raw = values if sep else text
    levels = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            levels.append(whole(part))
        except ValueError:
            raise ConfigError(f"bad sweep level {part!r}: use whole numbers (digits 0-9), e.g. {example}") from None
    return validate_levels(levels, example)


def validate_levels(levels: Sequence[int], example: str = CLI_EXAMPLE) -> tuple[int, ...]:
    if not levels:
        raise ConfigError(f"the sweep needs concurrency levels, e.g. {example}")
    if len(set(levels)) != len(levels):
        raise ConfigError("a sweep level is listed twice: give each concurrency once")
    if len(levels) > MAX_LEVELS:
        raise ConfigError(f"at most {MAX_LEVELS} sweep levels, got {len(levels)}")
    top = min(MAX_THREADS, MAX_CONCURRENCY)
    for level in levels:
        if not 1 <= level <= top:
            raise ConfigError(f"sweep concurrency must be between 1 and {top} (the threads' limit), got {level}")
    return tuple(sorted(levels))


@dataclass(frozen=True)
class SweepPlan:
    """The sweep's steps: one ``Plan`` per concurrency level (both approaches, threads = concurrency = C)."""

    base: Plan
    levels: tuple[int, ...]
    approaches: tuple[str, ...]
    steps: tuple[Plan, ...]

    @property
    def lanes(self) -> tuple[str, ...]:
        """One progress lane per point: 'threaded @ 16'."""
        return tuple(lane(name, step.concurrency) for step in self.steps for name in self.approaches)


def lane(approach: str, concurrency: int) -> str:
    return f"{approach} @ {concurrency}"


def items_for(level: int, most: int, rounds: int = 20, least: int = 50) -> int:
    """Books written at concurrency ``level``: ``rounds`` of C requests (at least ``least``, at most ``most``)."""
    return max(1, min(max(least, rounds * level), most))


def plan_sweep(base: Plan, levels: Sequence[int] = DEFAULT_LEVELS, approaches: Sequence[str] = SWEEP_APPROACHES,
               most_items: int | None = None, rounds: int = 20) -> SweepPlan:
    """The steps of a sweep under ``base`` (target, conditions, seed); ``most_items`` caps each point's books
    (default: the base plan's). A sweep writes many small runs, so it runs on targets on this machine only:
    ``ConfigError`` for any other, whatever the caller confirmed."""
    where = base.off_machine
    if where is not None:
        raise ConfigError(f"the sweep runs on targets on this machine only, not {where}: choose the embedded "
                          "target, DynamoDB Local, LocalStack or a URL on this machine")
    chosen = tuple(approaches)
    for name in chosen:
        if name not in APPROACHES or APPROACHES[name].driver in ("sequential", "import", "bulk"):
            raise ConfigError(f"the sweep varies concurrency: choose threaded or async approaches, not {name!r}")
    ordered = validate_levels(list(levels))
    most = most_items or base.items
    steps = tuple(replace(base, approaches=chosen, threads=level, concurrency=level, repeats=1, warmup=0,
                          items=items_for(level, most, rounds)) for level in ordered)
    return SweepPlan(base, ordered, chosen, steps)


@dataclass(frozen=True)
class SweepPoint:
    approach: str
    concurrency: int
    items: int
    seconds: float
    items_per_second: float
    server_cpu_percent: float | None
    server_bound: bool
    clean: bool

    @property
    def request_seconds(self) -> float:
        """Mean wall time per request in flight: C x seconds ÷ requests (one request per item or per batch)."""
        per = 25 if APPROACHES[self.approach].batch else 1
        return self.concurrency * self.seconds / max(-(-self.items // per), 1)


@dataclass(frozen=True)
class SweepResult:
    plan: SweepPlan
    points: tuple[SweepPoint, ...]
    cancelled: bool = False
    error: str | None = None

    def of(self, approach: str) -> tuple[SweepPoint, ...]:
        return tuple(p for p in self.points if p.approach == approach)

    @property
    def round_trip_s(self) -> float | None:
        """L: the shortest mean request time measured at the lowest concurrency (what one request costs alone)."""
        lowest = [p for p in self.points if p.concurrency == self.plan.levels[0] and p.seconds > 0]
        return min((p.request_seconds for p in lowest), default=None)

    def ideal(self, concurrency: int) -> float | None:
        """Little's law: C ÷ L items/s (requests/s times items per request for batch approaches is not drawn)."""
        trip = self.round_trip_s
        return concurrency / trip if trip else None

    @property
    def capacity(self) -> float | None:
        """The highest items/s measured at any point."""
        return max((p.items_per_second for p in self.points), default=None)

    @property
    def server_saturated(self) -> bool:
        """Some point saturated the embedded server's CPU: the capacity is the server's, not the client's."""
        return any(p.server_bound for p in self.points)

    @property
    def ideal_knee(self) -> float | None:
        """Where C ÷ L meets the capacity: C = capacity x L."""
        trip, top = self.round_trip_s, self.capacity
        return top * trip if trip and top else None

    def knee(self, approach: str) -> SweepPoint | None:
        """The last point of ``approach`` within ``KNEE_FRACTION`` of C ÷ L, when a higher level falls below it."""
        points = self.of(approach)
        last_good = None
        for point in points:
            ideal = self.ideal(point.concurrency)
            if ideal is None:
                return None
            if point.items_per_second >= KNEE_FRACTION * ideal:
                last_good = point
            elif last_good is not None:
                return last_good
        return None

    def table(self) -> str:
        """A plain-text table for a terminal: one row per concurrency C (requests in flight), items/s per approach
        beside the ideal C ÷ L; the header names the unit of every column."""
        names = [f"{name} items/s" for name in self.plan.approaches]
        widths = [max(14, len(name)) for name in names]
        ideal_head = "ideal C ÷ L items/s"
        head = f"{'C':>6} " + " ".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True)) + f" {ideal_head}"
        rows = [head, "-" * len(head)]
        for level in self.plan.levels:
            rates = {p.approach: p for p in self.points if p.concurrency == level}
            if not rates:
                continue
            cells = [f"{rates[n].items_per_second:>{w},.0f}" if n in rates else f"{'–':>{w}}"
                     for n, w in zip(self.plan.approaches, widths, strict=True)]
            ideal = self.ideal(level)
            width = len(ideal_head)
            rows.append(f"{level:>6} " + " ".join(cells) + (f" {ideal:>{width},.0f}" if ideal else f" {'–':>{width}}"))
        return "\n".join(rows)

    def summary(self) -> str:
        """One line per approach: where it stopped scaling and the best throughput."""
        trip = self.round_trip_s
        if trip is None:
            return "no point was measured"
        lines = [f"L = {trip * 1000:,.1f} ms per request at concurrency {self.plan.levels[0]}"]
        for name in self.plan.approaches:
            points = self.of(name)
            if not points:
                continue
            best = max(points, key=lambda p: p.items_per_second)
            knee = self.knee(name)
            where = (f"scales to C = {knee.concurrency} ({knee.items_per_second:,.0f} items/s), then falls behind "
                     f"C ÷ L" if knee else "keeps up with C ÷ L at every level measured" if all(
                         p.items_per_second >= KNEE_FRACTION * (self.ideal(p.concurrency) or 0) for p in points)
                     else "falls behind C ÷ L from the start")
            lines.append(f"{name}: {where}; best {best.items_per_second:,.0f} items/s at C = {best.concurrency}")
        top = self.capacity or 0.0
        lines.append(f"highest measured: {top:,.0f} items/s" + (
            " (the server's CPU was saturated: that is the server's capacity)" if self.server_saturated
            else " (the server was not saturated: the client or the latency set the limit)"))
        return "\n".join(lines)


def run_sweep(sweep: SweepPlan, *, emulator: Server | None = None, credentials: Credentials | None = None,
              progress: Callable[[ProgressEvent], None] | None = None,
              cancel: threading.Event | None = None) -> SweepResult:
    """Run every step; progress events are renamed to their lane ('async @ 64')."""
    from core.run.runner import run  # the runner imports boto3: keep this module light for the CLI's parser

    points: list[SweepPoint] = []
    for step in sweep.steps:
        if cancel is not None and cancel.is_set():
            return SweepResult(sweep, tuple(points), cancelled=True)

        def relay(event: ProgressEvent, level: int = step.concurrency) -> None:
            if progress is not None:
                progress(replace(event, approach=lane(event.approach, level)))

        report = run(step, emulator=emulator, credentials=credentials, progress=relay, cancel=cancel)
        for result in report.runs:
            points.append(SweepPoint(result.approach, step.concurrency, result.report.taken, result.report.seconds,
                                     result.report.items_per_second, result.server_cpu_percent, result.server_bound,
                                     result.clean))
        if report.error or report.cancelled:
            return SweepResult(sweep, tuple(points), cancelled=report.cancelled, error=report.error)
    return SweepResult(sweep, tuple(points))
