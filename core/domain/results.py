"""Frozen results: ``RunReport``, ``Verification``, ``RunResult``, a plan's ``Report`` and the progress events of a run.

Immutable values, no I/O; safe to export (they never hold credentials).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.domain.capacity import CapacityUse
from core.domain.plan import Plan

SERVER_BOUND_CPU = 90.0  # % of one core: dynalite runs on a single Node thread
HOST_BOUND_CPU = 90.0  # % of the whole machine (every core)
CLIENT_BOUND_CPU = 0.9  # client CPU seconds per second of writing, per worker: one core busy (the GIL allows about one)
QUEUE_BOUND_FACTOR = 2.0  # a median latency this many times the injected one measured a queue, not the writer
PHASES = ("reset", "warmup", "write", "verify", "done")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> LatencySummary:
        values = sorted(samples_ms)
        return cls(len(values), percentile(values, 50), percentile(values, 95), percentile(values, 99),
                   values[-1] if values else 0.0)


@dataclass(frozen=True)
class RunReport:
    """One writer run. Items end in exactly one of: ok (acknowledged), failed (refused for good), unknown (an
    attempt got no answer: may or may not be written) or not sent (the run stopped before taking them from its
    stream: not written). ``items`` counts all four; the books taken (``taken``) are the stream's first ones."""

    approach: str
    table: str
    items: int
    seconds: float
    requests: int
    retries: int
    throttled: int
    errors: Mapping[str, int]
    items_ok: int
    items_failed: int
    items_unknown: int
    latencies_ms: tuple[float, ...] = field(repr=False)  # per request; a uniform sample when there are many
    client_cpu_seconds: float
    timeline: tuple[tuple[float, int], ...] = field(repr=False)  # (seconds since start, items done)
    failures: tuple[str, ...] = ()  # the first few distinct reasons, one line each
    failed_isbns: tuple[str, ...] = field(default=(), repr=False)  # at most a bounded number
    unknown_isbns: tuple[str, ...] = field(default=(), repr=False)
    halted: str | None = None  # why the circuit breaker gave up on the target, one line
    notes: tuple[str, ...] = ()  # facts about the run to show beside it (e.g. s3-import ran on moto), one line each
    items_not_sent: int = 0  # books of the plan never taken from the stream (the run stopped first)
    ended: str | None = None  # an as-shipped library raised and ended the run (one line): the rest was never sent,
    # as in the user's program; the run is over, not interrupted

    @property
    def taken(self) -> int:
        """The books the writer took from its stream: the stream's first ``taken`` books, the ones verified."""
        return self.items - self.items_not_sent

    def planned(self, count: int) -> RunReport:
        """This report accounting for a plan of ``count`` books: those never taken are counted not sent."""
        if count <= self.items:
            return self
        return replace(self, items=count, items_not_sent=self.items_not_sent + count - self.items)

    @property
    def items_per_second(self) -> float:
        return self.items_ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def latency(self) -> LatencySummary:
        return LatencySummary.of(self.latencies_ms)

    @property
    def complete(self) -> bool:
        return self.items_ok == self.items and not self.items_failed and not self.items_unknown


@dataclass(frozen=True)
class Verification:
    """A table read back and compared with the regenerated books.

    expected: books the run was given; found: of those, present with exactly the attributes written;
    mismatched: present with other attributes; lost: acknowledged but absent; missing: absent and reported failed or
    unknown (not lost, but not written); unexpected: present but never given; recovered: reported failed or unknown,
    yet present. ``checked`` False: the table could not be read back (the reason is the report's error), so
    nothing above was counted. ``unchecked``: books not read back because the verification was cut short (a cancel):
    whether they are on the table is unknown; ``unexpected`` was then not counted.
    """

    expected: int
    found: int
    lost: int
    unexpected: int
    mismatched: int
    recovered: int
    missing: int = 0
    checked: bool = True
    unchecked: int = 0

    @classmethod
    def not_checked(cls, expected: int) -> Verification:
        return cls(expected, 0, 0, 0, 0, 0, 0, checked=False)

    @property
    def ok(self) -> bool:
        return self.checked and self.found == self.expected and not (self.lost or self.unexpected or self.mismatched)

    @property
    def cut_short(self) -> bool:
        """The read-back was stopped before every book was checked."""
        return self.unchecked > 0


BOOK_PROBLEMS = ("lost", "failed", "unknown", "not sent", "unexpected", "mismatched", "missing", "unchecked",
                 "not verified")


@dataclass(frozen=True)
class Issue:
    """One problem of a run or of a plan: the one decision of what went wrong, which the CLI's table and exit code,
    the page's badges, headline and verification box and the verdict all read.

    ``kind``: one of ``BOOK_PROBLEMS`` (``count`` books: lost, failed, unknown, not sent, unexpected, mismatched,
    missing (absent though not reported failed or unknown), unchecked (the read-back was cut short), not verified
    (the table could not be read back)); "halted" (the
    circuit breaker gave up on the target: ``reason``); "interrupted" (the plan was cancelled); "stopped" (the plan
    ended early: ``reason``). Every issue makes a run or plan not clean.
    """

    kind: str
    count: int = 0
    reason: str | None = None

    @property
    def books(self) -> bool:
        """The issue counts books (one of ``BOOK_PROBLEMS``)."""
        return self.kind in BOOK_PROBLEMS

    @property
    def written_wrong(self) -> bool:
        """Books are missing, refused, in doubt or wrong on the table: more than a cut-short run or check leaves."""
        return self.kind in ("lost", "failed", "unknown", "unexpected", "mismatched", "missing")

    def __str__(self) -> str:
        """'8 failed', 'halted: <reason>', 'interrupted'."""
        if self.books:
            return f"{self.count:,} {self.kind}"
        return f"{self.kind}: {self.reason}" if self.reason else self.kind


def speedup(rates: Mapping[str, float], approach: str, baseline: str = "sequential") -> float | None:
    """Items/s of ``approach`` ÷ items/s of ``baseline`` (``rates``: each approach's median items/s; None without
    both, or for the baseline on its own): the one definition of "speed-up" the CLI, the verdict, the charts and the
    page use."""
    base, value = rates.get(baseline), rates.get(approach)
    if not base or value is None or len(rates) < 2:
        return None
    return value / base


def injected_ms(latency_ms: float, jitter_ms: float) -> float:
    """The mean latency the lab adds to a request: ``latency_ms`` plus a uniform jitter of up to ``jitter_ms``."""
    return latency_ms + jitter_ms / 2


def client_busy(cpu_seconds: float, seconds: float, workers: int = 1) -> float | None:
    """Client CPU seconds per second of writing, per worker process (1.0: one core busy all along); None without a
    duration."""
    return cpu_seconds / seconds / max(workers, 1) if seconds > 0 else None


def bounds(*, server_cpu: float | None, host_cpu: float | None, client_busy: float | None, p50_ms: float | None,
           injected_ms: float) -> tuple[str, ...]:
    """Pure: why a run measured something other than the writer, one reason each (empty: not bounded). The one rule
    for every view (CLI, page, exports, history, the study comparison):

    - server-bound: the engine used ``SERVER_BOUND_CPU`` % of its core or more;
    - queue-bound: with latency injected, the median request took more than ``QUEUE_BOUND_FACTOR`` x the injected
      mean (requests waited in a queue: the server's, the proxy's or the machine's);
    - machine-bound: with latency injected, the machine's CPU was ``HOST_BOUND_CPU`` % busy or more while the server
      was not saturated;
    - client-bound: with latency injected, the writer's own process kept ``CLIENT_BOUND_CPU`` of a core busy or more.
    With latency injected a run measures how an approach hides it, so a saturated client or machine measured itself
    instead; without, the client's CPU is what the run measures (the verdict says so) and is not flagged. A measure
    that is None (not taken, or an old report without it) flags nothing."""
    reasons = []
    server_bound = server_cpu is not None and server_cpu >= SERVER_BOUND_CPU
    if server_bound:
        reasons.append(f"server-bound: the engine used {server_cpu:.0f}% of its core")
    if injected_ms > 0 and p50_ms is not None and p50_ms > QUEUE_BOUND_FACTOR * injected_ms:
        reasons.append(f"queue-bound: p50 {p50_ms:,.0f} ms against {injected_ms:,.0f} ms injected")
    if injected_ms > 0 and host_cpu is not None and host_cpu >= HOST_BOUND_CPU and not server_bound:
        server = "" if server_cpu is None else f" while the server used {server_cpu:.0f}% of its core"
        reasons.append(f"machine-bound: the machine's CPU was {host_cpu:.0f}% busy{server}")
    if injected_ms > 0 and client_busy is not None and client_busy >= CLIENT_BOUND_CPU:
        reasons.append(f"client-bound: the writer kept {client_busy:.0%} of a core busy")
    return tuple(reasons)


def stored_bounds(run: Mapping[str, Any], plan: Mapping[str, Any]) -> tuple[str, ...]:
    """``bounds`` of a run as exported and kept in the history (``core.app.export.run_dict``): reports stored before
    the host's CPU was measured flag on what they have."""
    conditions = plan.get("conditions") or {}
    latency = run.get("latency_ms") or {}
    cpu, seconds = run.get("client_cpu_seconds"), run.get("seconds")
    busy = client_busy(float(cpu), float(seconds), int(plan.get("workers") or 1)) \
        if isinstance(cpu, (int, float)) and isinstance(seconds, (int, float)) else None
    return bounds(server_cpu=run.get("server_cpu_percent"), host_cpu=run.get("host_cpu_percent"), client_busy=busy,
                  p50_ms=latency.get("p50"), injected_ms=injected_ms(float(conditions.get("latency_ms", 0.0)),
                                                      float(conditions.get("jitter_ms", 0.0))))


@dataclass(frozen=True)
class RunResult:
    """One measured run of one approach: the writer's report, the read-back check and the server's load."""

    repeat: int
    report: RunReport
    verification: Verification
    server_cpu_percent: float | None = None  # mean over the run, % of one core; None off the embedded target
    capacity_use: CapacityUse | None = None  # the table's capacity use in the write phase; None when capacity is off
    host_cpu_percent: float | None = None  # the machine's CPU over the write phase, % of every core; None: not measured

    @property
    def approach(self) -> str:
        return self.report.approach

    @property
    def server_bound(self) -> bool:
        return self.server_cpu_percent is not None and self.server_cpu_percent >= SERVER_BOUND_CPU

    def bounds(self, plan: Plan) -> tuple[str, ...]:
        """Why this run's figure is not the writer's own (see ``bounds``); empty when nothing but the writer and the
        network bounded it."""
        report = self.report
        return bounds(server_cpu=self.server_cpu_percent, host_cpu=self.host_cpu_percent,
                      client_busy=client_busy(report.client_cpu_seconds, report.seconds, plan.workers),
                      p50_ms=report.latency.p50 if report.latencies_ms else None,
                      injected_ms=injected_ms(plan.conditions.latency_ms, plan.conditions.jitter_ms))

    def issues(self) -> tuple[Issue, ...]:
        """What went wrong in this run, in a fixed order (empty: every book written and verified)."""
        check, report = self.verification, self.report
        counts = (("lost", check.lost), ("failed", report.items_failed), ("unknown", report.items_unknown),
                  ("not sent", report.items_not_sent), ("unexpected", check.unexpected),
                  ("mismatched", check.mismatched), ("unchecked", check.unchecked),
                  ("not verified", 0 if check.checked else check.expected or report.taken or 1))
        found = [Issue(kind, count) for kind, count in counts if count > 0]
        absent = check.expected - check.found - check.unchecked - check.lost - check.mismatched
        if check.checked and absent > 0 and not (report.items_failed or report.items_unknown):
            found.append(Issue("missing", absent))  # absent, yet the writer reported no book failed or unknown
        if report.halted:
            found.append(Issue("halted", reason=report.halted))
        return tuple(found)

    @property
    def clean(self) -> bool:
        """Every item written and verified: no ``issues()``."""
        return not self.issues()


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
    environment: Mapping[str, Any]
    runs: tuple[RunResult, ...]
    created: float = field(default_factory=time.time)
    cancelled: bool = False
    error: str | None = None  # why the plan stopped early (e.g. the emulator died), one line

    def issues(self) -> tuple[Issue, ...]:
        """What went wrong in the plan: each book problem summed over the runs (``BOOK_PROBLEMS``' order), then
        "stopped" (with ``error``) and "interrupted". A run's "halted" is in ``error`` (the plan stops there)."""
        totals: dict[str, int] = {}
        for run in self.runs:
            for issue in run.issues():
                if issue.books:
                    totals[issue.kind] = totals.get(issue.kind, 0) + issue.count
        found = [Issue(kind, totals[kind]) for kind in BOOK_PROBLEMS if kind in totals]
        if self.error:
            found.append(Issue("stopped", reason=self.error))
        elif any(run.report.halted for run in self.runs):
            found.extend(issue for run in self.runs for issue in run.issues() if issue.kind == "halted")
        if self.cancelled:
            found.append(Issue("interrupted"))
        if not self.runs and not found:
            found.append(Issue("stopped", reason="no run was made"))
        return tuple(found)

    @property
    def clean(self) -> bool:
        """At least one run, and no ``issues()``."""
        return not self.issues()

    def unflagged(self) -> Report:
        """This report with only the runs no bound flags (``RunResult.bounds``): what a comparison with the 2022 study
        counts."""
        return replace(self, runs=tuple(run for run in self.runs if not run.bounds(self.plan)))

    def flagged_text(self) -> str | None:
        """'left out, flagged: async-batch #1 (queue-bound: ...)' for the runs ``unflagged`` drops; None when none."""
        flagged = [f"{run.approach} #{run.repeat + 1} ({'; '.join(reasons)})" for run in self.runs
                   if (reasons := run.bounds(self.plan))]
        return f"left out, flagged: {', '.join(flagged)}" if flagged else None

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

    def not_run(self) -> tuple[str, ...]:
        """Approaches of the plan that made no run (the plan was cancelled or stopped before them)."""
        made = {r.approach for r in self.runs}
        return tuple(name for name in self.plan.approaches if name not in made)

    def speedup(self, approach: str, baseline: str = "sequential") -> float | None:
        return speedup({s.approach: s.items_per_second_median for s in self.summaries()}, approach, baseline)


@dataclass(frozen=True)
class ProgressEvent:
    approach: str
    repeat: int
    phase: str  # one of PHASES
    done: int
    total: int
    elapsed: float
    per_worker: tuple[int, ...] = ()  # a scaled-out write: items settled by each Dask worker's shard
    dashboard: str | None = None  # a scaled-out plan's Dask dashboard (when bokeh is installed)
    detail: str | None = None  # one line on what the phase is doing (s3-import: uploading, importing)
    measured: float | None = None  # after the write: the run's items/s as its report (and the table) has it

    @property
    def items_per_second(self) -> float:
        """The measured rate once the write ended; before, items settled ÷ time since the write began."""
        if self.measured is not None:
            return self.measured
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def worker_rates(self) -> tuple[float, ...]:
        """Items/s of each worker's shard so far."""
        return tuple(done / self.elapsed if self.elapsed > 0 else 0.0 for done in self.per_worker)
