"""Background jobs: ``Job`` runs ``work(cancel, progress)`` in a worker thread for the CLI and the page alike;
``BackgroundRun`` is the page's benchmark or sweep on top of it, watched and cancelled from any session.

No Streamlit here, and the worker never draws: its progress events wait in a queue that the caller's thread drains
(``Job.events``). ``RUNS`` holds the process's one page job, so any session (a reload, another tab) reattaches to it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.app.formatting import plural
from core.app.wording import describe_plan, plan_where
from core.domain.errors import ConfigError, LabError
from core.domain.plan import Plan
from core.domain.results import ProgressEvent, Report
from core.forecast.estimate import Estimate
from core.run.runner import Server, run
from core.run.sweep import SweepPlan, SweepResult, run_sweep
from core.wire import logs
from core.wire.sigv4 import Credentials

T = TypeVar("T")
E = TypeVar("E")
Work = Callable[[Callable[[ProgressEvent], None], threading.Event], "Report | SweepResult"]
_IDS = itertools.count(1)


class Job(Generic[T, E]):
    """``work(cancel, progress)`` in a daemon thread: ``cancel`` is the event it polls to stop early, ``progress``
    queues an event for the caller's thread, which takes them with ``events()`` (in order). When the thread has
    ended, ``outcome()`` returns what ``work`` returned or raises what it raised, in the caller's thread. With
    ``latest_by`` only the latest queued event per key is kept (a watcher that looks now and then needs no backlog);
    without it every event is kept until taken. Records nothing: the caller stores the result where it belongs."""

    def __init__(self, work: Callable[[threading.Event, Callable[[E], None]], T], *,
                 latest_by: Callable[[E], Hashable] | None = None, name: str = "lab-job",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cancel_event = threading.Event()
        self._work, self._latest_by, self._clock = work, latest_by, clock
        self._lock = threading.Lock()
        self._queue: deque[E] = deque()
        self._latest: dict[Hashable, E] = {}
        self._value: T | None = None
        self._error: BaseException | None = None
        self.started = clock()
        self.ended: float | None = None
        self._thread = threading.Thread(target=self._target, daemon=True, name=name)

    def start(self) -> Job[T, E]:
        self.started = self._clock()
        self._thread.start()
        return self

    def _progress(self, event: E) -> None:
        with self._lock:
            if self._latest_by is None:
                self._queue.append(event)
            else:
                key = self._latest_by(event)
                self._latest.pop(key, None)  # re-inserted last: events stay in the order of their latest
                self._latest[key] = event

    def _target(self) -> None:
        try:
            value = self._work(self.cancel_event, self._progress)
        except BaseException as error:  # handed to the caller's thread by outcome()
            with self._lock:
                self._error, self.ended = error, self._clock()
            return
        with self._lock:
            self._value, self.ended = value, self._clock()

    def events(self) -> list[E]:
        """The progress events queued since the last call, oldest first."""
        with self._lock:
            taken = [*self._queue, *self._latest.values()]
            self._queue.clear()
            self._latest.clear()
            return taken

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def elapsed(self) -> float:
        """Seconds since it started, until it ended once it has."""
        with self._lock:
            ended = self.ended
        return (ended if ended is not None else self._clock()) - self.started

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the work has ended (a job never started counts as ended)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def outcome(self) -> T:
        """What ``work`` returned, or raises what it raised; only once it has ended (``RuntimeError`` before)."""
        if self._thread.ident is None or self._thread.is_alive():
            raise RuntimeError("the job has not ended")
        if self._error is not None:
            raise self._error
        value: T = self._value  # type: ignore[assignment]  # set by a work that returned
        return value


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
        self._lock = threading.Lock()
        self._events: dict[str, ProgressEvent] = {}

        def recorded(cancel: threading.Event, progress: Callable[[ProgressEvent], None]) \
                -> tuple[Report | SweepResult, str | None]:
            result = work(progress, cancel)
            if record is None or not isinstance(result, Report):
                return result, None
            try:
                record(result)
            except Exception as error:
                return result, logs.redact(f"the run was not added to the history: {error}")
            return result, None

        self._job: Job[tuple[Report | SweepResult, str | None], ProgressEvent] = \
            Job(recorded, latest_by=lambda event: event.approach, name="lab-benchmark")

    @property
    def cancel_event(self) -> threading.Event:
        return self._job.cancel_event

    def start(self) -> BackgroundRun:
        self._job.start()
        return self

    @property
    def running(self) -> bool:
        return self._job.running

    def cancel(self) -> None:
        self._job.cancel()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the run has finished."""
        return self._job.wait(timeout)

    def snapshot(self) -> Snapshot:
        """The latest event per lane and, once the run has ended, its result or its one-line error."""
        with self._lock:
            running = self._job.running  # read before the events: a run that has ended has queued its last
            self._events.update((event.approach, event) for event in self._job.events())
            events = dict(self._events)
        elapsed = self._job.elapsed
        result: Report | SweepResult | None = None
        error = notice = None
        if not running:
            try:
                result, notice = self._job.outcome()
            except LabError as failure:
                error = str(failure)
            except BaseException as failure:  # e.g. a SystemExit raised in the worker: still one line
                error = logs.redact(f"the run failed: {type(failure).__name__}: {failure}")
        return Snapshot(events, running, result if isinstance(result, Report) else None,
                        result if isinstance(result, SweepResult) else None, error, notice, elapsed)


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
