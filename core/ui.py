"""What the page needs besides widgets: a benchmark running in a background thread, and the page's words.

Contract: no Streamlit here. ``BackgroundRun`` runs ``benchmark.run`` in a worker thread; the worker only stores
the latest progress event per approach under a lock, and the page's script thread reads ``snapshot()`` and
renders. Errors become one readable line (``error``); nothing raised in the worker escapes. The other functions
turn reports, plans and history entries into the short texts and table rows the page shows.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core import logs
from core.benchmark import run
from core.emulator import Emulator
from core.errors import LabError
from core.history import Entry
from core.model import NETWORK_PRESETS, Conditions, Plan, ProgressEvent, Report, RunResult
from core.sigv4 import Credentials

_ONE_RUN = threading.Lock()  # one benchmark at a time in this process, whichever session started it


@dataclass(frozen=True)
class Snapshot:
    events: dict[str, ProgressEvent]  # the latest per approach
    running: bool
    report: Report | None
    error: str | None  # the run could not be made (one line)
    notice: str | None  # the run was made but could not be recorded in the history (one line)
    elapsed: float


class BackgroundRun:
    """``benchmark.run`` in a daemon thread; ``record`` (e.g. ``History.append``) gets the report there too, so a
    run is kept even when nobody watches the page any more."""

    def __init__(self, plan: Plan, emulator: Emulator | None, credentials: Credentials | None = None,
                 record: Callable[[Report], object] | None = None) -> None:
        self.plan = plan
        self.cancel_event = threading.Event()
        self._lock = threading.Lock()
        self._events: dict[str, ProgressEvent] = {}
        self._report: Report | None = None
        self._error: str | None = None
        self._notice: str | None = None
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._work, args=(emulator, credentials, record), daemon=True,
                                        name="lab-benchmark")
        self._thread.start()

    def _progress(self, event: ProgressEvent) -> None:
        with self._lock:
            self._events[event.approach] = event

    def _work(self, emulator: Emulator | None, credentials: Credentials | None,
              record: Callable[[Report], object] | None) -> None:
        if not _ONE_RUN.acquire(blocking=False):  # the approaches' tables are shared: two runs would collide
            with self._lock:
                self._error = "another run is in progress (in another tab?): wait for it to finish, or cancel it there"
            return
        try:
            self._run(emulator, credentials, record)
        finally:
            _ONE_RUN.release()

    def _run(self, emulator: Emulator | None, credentials: Credentials | None,
             record: Callable[[Report], object] | None) -> None:
        try:
            report = run(self.plan, emulator=emulator, credentials=credentials, progress=self._progress,
                         cancel=self.cancel_event)
        except LabError as error:
            with self._lock:
                self._error = str(error)
            return
        except Exception as error:
            with self._lock:
                self._error = logs.redact(f"the run failed: {type(error).__name__}: {error}")
            return
        notice = None
        if record is not None:
            try:
                record(report)
            except Exception as error:
                notice = logs.redact(f"the run was not added to the history: {error}")
        with self._lock:
            self._report, self._notice = report, notice

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the run has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(dict(self._events), self._thread.is_alive(), self._report, self._error, self._notice,
                            time.monotonic() - self._started)


# --- words ------------------------------------------------------------------------------------------------------

def network_label(conditions: Conditions) -> str:
    named = next((name for name, preset in NETWORK_PRESETS.items()
                  if (preset.latency_ms, preset.jitter_ms) == (conditions.latency_ms, conditions.jitter_ms)), None)
    text = "no added latency" if not conditions.latency_ms and not conditions.jitter_ms else (
        f"{named or 'custom'} network: {conditions.latency_ms:g} ms + up to {conditions.jitter_ms:g} ms")
    faults = [f"{name} {value:.0%}" for name, value in conditions.faults.items()]
    return text + (f", faults: {', '.join(faults)}" if faults else "")


def describe_plan(plan: Plan) -> str:
    """One line: books, approaches, target and conditions, repeats, seed."""
    where = f"{plan.target} ({network_label(plan.conditions)})" if plan.target == "embedded" else (
        f"{plan.target} ({plan.endpoint_url or plan.region})")
    repeats = f"{plan.repeats} repeat{'s' if plan.repeats > 1 else ''}"
    return f"{plan.items:,} books × {len(plan.approaches)} approaches on {where}, {repeats}, seed {plan.seed}"


def progress_text(event: ProgressEvent | None, approach: str, repeats: int) -> str:
    if event is None:
        return f"{approach}: waiting"
    repeat = f" (repeat {event.repeat + 1}/{repeats})" if repeats > 1 else ""
    phase = {"reset": "resetting its table", "warmup": "warming up", "write": "writing",
             "verify": "verifying", "done": "done"}.get(event.phase, event.phase)
    return (f"{approach}{repeat}: {phase} · {event.done:,}/{event.total:,} items · "
            f"{event.items_per_second:,.0f} items/s")


def progress_fraction(event: ProgressEvent | None, repeats: int = 1) -> float:
    """How far one approach is, over all its repeats (writing is most of it, verifying the rest)."""
    if event is None:
        return 0.0
    within = 1.0 if event.phase == "done" else min(event.done / max(event.total, 1), 1.0) * (
        0.95 if event.phase == "verify" else 0.9)
    return min((event.repeat + within) / max(repeats, 1), 1.0)


@dataclass(frozen=True)
class Headline:
    """The metrics row: the fastest approach, its speed-up vs sequential, items verified, runs server-bound."""

    fastest: str
    fastest_seconds: float
    speedup: float | None
    verified: int
    expected: int
    problems: int  # items lost, failed, unknown, unexpected or mismatched
    server_bound: int


def headline(report: Report) -> Headline | None:
    summaries = report.summaries()
    if not summaries:
        return None
    fastest = min(summaries, key=lambda s: s.seconds_median)
    problems = sum(r.verification.lost + r.verification.unexpected + r.verification.mismatched
                   + r.report.items_failed + r.report.items_unknown for r in report.runs)
    return Headline(fastest.approach, fastest.seconds_median, report.speedup(fastest.approach),
                    sum(r.verification.found for r in report.runs), sum(r.verification.expected for r in report.runs),
                    problems, sum(r.server_bound for r in report.runs))


def _bad(count: int) -> str:
    return f":red[**{count:,}**]" if count else "0"


def verdict(result: RunResult) -> str:
    """'verified' or what went wrong, as a green or red Markdown badge (st.table renders Markdown)."""
    if result.clean:
        return ":green-background[verified]"
    check, report = result.verification, result.report
    issues = [f"{count:,} {what}" for count, what in (
        (check.lost, "lost"), (report.items_failed, "failed"), (report.items_unknown, "unknown"),
        (check.unexpected, "unexpected"), (check.mismatched, "mismatched"),
        (check.missing, "missing")) if count > 0]
    return f":red-background[{', '.join(issues) or 'incomplete'}]"


def verification_rows(report: Report) -> list[dict[str, str]]:
    """One row per run for the verification table; problems in red, clean runs green."""
    return [{"approach": r.approach, "repeat": str(r.repeat + 1),
             "written": f"{r.verification.found:,}/{r.verification.expected:,}",
             "lost": _bad(r.verification.lost), "unexpected": _bad(r.verification.unexpected),
             "mismatched": _bad(r.verification.mismatched), "recovered": f"{r.verification.recovered:,}",
             "failed": _bad(r.report.items_failed), "unknown": _bad(r.report.items_unknown),
             "retries": f"{r.report.retries:,}", "throttled": f"{r.report.throttled:,}",
             "server CPU": "–" if r.server_cpu_percent is None else (
                 f"{r.server_cpu_percent:.0f}%" + (" :orange-badge[server-bound]" if r.server_bound else "")),
             "verdict": verdict(r)} for r in report.runs]


def history_label(entry: Entry) -> str:
    return (f"#{entry.id} · {dt.datetime.fromtimestamp(entry.created):%Y-%m-%d %H:%M} · {entry.target} · "
            f"{entry.items:,} books · {', '.join(entry.approaches)} · {'verified' if entry.clean else 'incomplete'}")


def history_rows(entries: list[Entry]) -> list[dict[str, str]]:
    return [{"run": f"#{e.id}", "when": f"{dt.datetime.fromtimestamp(e.created):%Y-%m-%d %H:%M:%S}",
             "target": e.target, "books": f"{e.items:,}", "approaches": ", ".join(e.approaches),
             "verified": ":green-background[verified]" if e.clean else ":red-background[incomplete]"}
            for e in entries]


def summary_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """A stored report's runs in short: approach, seconds, items/s, latency p50/p95, retries, verification."""
    rows = []
    for run_data in data["runs"]:
        check = run_data["verification"]
        rows.append({"approach": run_data["approach"], "repeat": str(run_data["repeat"] + 1),
                     "seconds": f"{run_data['seconds']:,.2f}", "items/s": f"{run_data['items_per_second']:,.0f}",
                     "p50 / p95 ms": f"{run_data['latency_ms']['p50']:,.1f} / {run_data['latency_ms']['p95']:,.1f}",
                     "retries": f"{run_data['retries']:,}", "written": f"{check['found']:,}/{check['expected']:,}"})
    return rows
