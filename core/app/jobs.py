"""The page's background job: a benchmark or a sweep in a worker thread, watched and cancelled from any session.

No Streamlit here. The worker stores only the latest progress event per lane, under a lock; the caller reads
``snapshot()``. ``RUNS`` holds the process's one job, so any session (a reload, another tab) reattaches to it.
Errors become one readable line (``error``); nothing raised in the worker escapes.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.app.wording import describe_plan, plan_where, plural
from core.domain.errors import ConfigError, LabError
from core.domain.plan import Plan
from core.domain.results import ProgressEvent, Report
from core.forecast.estimate import Estimate
from core.run.runner import Server, run
from core.run.sweep import SweepPlan, SweepResult, run_sweep
from core.wire import logs
from core.wire.sigv4 import Credentials

Work = Callable[[Callable[[ProgressEvent], None], threading.Event], "Report | SweepResult"]
_IDS = itertools.count(1)


@dataclass(frozen=True)
class Snapshot:
    events: dict[str, ProgressEvent]  # the latest per lane (approach, or 'async @ 64' in a sweep)
    running: bool
    report: Report | None
    sweep: SweepResult | None
    error: str | None  # the run could not be made (one line)
    notice: str | None  # the run was made but could not be recorded in the history (one line)
    elapsed: float  # seconds since it started (until it ended, once it has)


class BackgroundRun:
    """``work`` (``benchmark.run`` or ``sweep.run_sweep``) in a daemon thread, started by ``Runs.start``;
    ``record`` (e.g. ``History.append``) gets a plan's report there too, so a run is kept even when nobody watches
    the page any more. ``lanes``: one progress bar each; ``estimate``: what the page predicted, to compare."""

    def __init__(self, plan: Plan, work: Work, *, lanes: tuple[str, ...], repeats: int = 1,
                 record: Callable[[Report], object] | None = None, estimate: Estimate | None = None,
                 what: str = "run", title: str | None = None) -> None:
        self.id = next(_IDS)
        self.plan, self.lanes, self.repeats, self.estimate, self.what = plan, lanes, repeats, estimate, what
        self.title = title or describe_plan(plan)  # one line: what is running
        self.cancel_event = threading.Event()
        self._lock = threading.Lock()
        self._events: dict[str, ProgressEvent] = {}
        self._result: Report | SweepResult | None = None
        self._error: str | None = None
        self._notice: str | None = None
        self._started = time.monotonic()
        self._ended: float | None = None
        self._thread = threading.Thread(target=self._work, args=(work, record), daemon=True, name="lab-benchmark")

    def start(self) -> BackgroundRun:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def _progress(self, event: ProgressEvent) -> None:
        with self._lock:
            self._events[event.approach] = event

    def _work(self, work: Work, record: Callable[[Report], object] | None) -> None:
        try:
            result = work(self._progress, self.cancel_event)
        except LabError as error:
            self._end(error=str(error))
            return
        except Exception as error:
            self._end(error=logs.redact(f"the run failed: {type(error).__name__}: {error}"))
            return
        notice = None
        if record is not None and isinstance(result, Report):
            try:
                record(result)
            except Exception as error:
                notice = logs.redact(f"the run was not added to the history: {error}")
        self._end(result=result, notice=notice)

    def _end(self, result: Report | SweepResult | None = None, error: str | None = None,
             notice: str | None = None) -> None:
        with self._lock:
            self._result, self._error, self._notice = result, error, notice
            self._ended = time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the run has finished."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        with self._lock:
            result = self._result
            ended = self._ended if self._ended is not None else time.monotonic()
            return Snapshot(dict(self._events), self._thread.is_alive(),
                            result if isinstance(result, Report) else None,
                            result if isinstance(result, SweepResult) else None,
                            self._error, self._notice, ended - self._started)


class Runs:
    """The process's one benchmark at a time (the approaches' tables are shared), visible to every session of the
    page: a reloaded or second tab finds the running job here, shows its progress and can cancel it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: BackgroundRun | None = None

    @property
    def current(self) -> BackgroundRun | None:
        """The running job, or the last one (finished)."""
        with self._lock:
            return self._current

    @property
    def running(self) -> BackgroundRun | None:
        job = self.current
        return job if job is not None and job.running else None

    def start(self, job: BackgroundRun) -> BackgroundRun:
        """Start ``job`` unless another is running (``ConfigError`` naming it: reattach to it instead)."""
        with self._lock:
            if self._current is not None and self._current.running:
                raise ConfigError(f"another {self._current.what} is in progress ({self._current.title}): "
                                  "wait for it or cancel it")
            self._current = job
            return job.start()


RUNS = Runs()  # one per process: every session of the page (and every tab) sees the same


def plan_job(plan: Plan, emulator: Server | None, credentials: Credentials | None = None,
             record: Callable[[Report], object] | None = None, estimate: Estimate | None = None) -> BackgroundRun:
    """A background job running ``plan`` (not started: ``RUNS.start`` it)."""
    def work(progress: Callable[[ProgressEvent], None], cancel: threading.Event) -> Report:
        return run(plan, emulator=emulator, credentials=credentials, progress=progress, cancel=cancel)
    return BackgroundRun(plan, work, lanes=plan.approaches, repeats=plan.repeats, record=record, estimate=estimate)


def sweep_job(sweep: SweepPlan, emulator: Server | None, credentials: Credentials | None = None) -> BackgroundRun:
    """A background job running a concurrency sweep (not started: ``RUNS.start`` it)."""
    def work(progress: Callable[[ProgressEvent], None], cancel: threading.Event) -> SweepResult:
        return run_sweep(sweep, emulator=emulator, credentials=credentials, progress=progress, cancel=cancel)
    title = (f"concurrency {', '.join(map(str, sweep.levels))} × {', '.join(sweep.approaches)} on "
             f"{plan_where(sweep.base)}, "
             f"up to {plural(max(step.items for step in sweep.steps), 'book')} per level")
    return BackgroundRun(sweep.base, work, lanes=sweep.lanes, what="sweep", title=title)
