"""The background-job primitive the CLI and the page share: result or exception handed back, progress queued for the
caller's thread, cancel seen by the work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from core.app.cli import run_interruptibly
from core.app.jobs import BackgroundRun, Job
from core.domain.errors import ConfigError
from core.domain.plan import Plan
from core.domain.results import ProgressEvent, Report
from core.run.sweep import SweepResult

T = TypeVar("T")
E = TypeVar("E")
WAIT = 30.0  # a bound on a hung worker, never reached when the code works


def ended(job: Job[T, E]) -> Job[T, E]:
    assert job.wait(WAIT)
    return job


def test_the_result_comes_back_and_the_events_wait_in_order_for_the_caller() -> None:
    def work(cancel: threading.Event, progress: Callable[[int], None]) -> str:
        for n in range(5):
            progress(n)
        return "done"

    job = ended(Job(work).start())
    assert job.events() == [0, 1, 2, 3, 4] and job.events() == []  # taken once
    assert job.outcome() == "done" and not job.running and job.elapsed >= 0


def test_the_workers_exception_is_raised_in_the_callers_thread_with_its_type() -> None:
    def work(cancel: threading.Event, progress: Callable[[int], None]) -> str:
        raise ConfigError("--items: give a whole number")

    job = ended(Job(work).start())
    with pytest.raises(ConfigError, match="--items: give a whole number"):
        job.outcome()


def test_outcome_before_the_end_is_refused() -> None:
    release = threading.Event()
    job: Job[None, int] = Job(lambda cancel, progress: None)
    with pytest.raises(RuntimeError):
        job.outcome()  # never started
    blocked: Job[bool, int] = Job(lambda cancel, progress: release.wait(WAIT)).start()
    with pytest.raises(RuntimeError):
        blocked.outcome()
    release.set()
    assert ended(blocked).outcome() is True


def test_latest_by_keeps_only_the_latest_event_of_each_key() -> None:
    def work(cancel: threading.Event, progress: Callable[[tuple[str, int]], None]) -> None:
        for event in (("a", 1), ("b", 1), ("a", 2), ("a", 3)):
            progress(event)

    job = ended(Job(work, latest_by=lambda event: event[0]).start())
    assert job.events() == [("b", 1), ("a", 3)]


def test_cancel_reaches_the_work() -> None:
    started = threading.Event()

    def work(cancel: threading.Event, progress: Callable[[int], None]) -> bool:
        started.set()
        return cancel.wait(WAIT)

    job = Job(work).start()
    assert started.wait(WAIT)
    job.cancel()
    assert ended(job).outcome() is True and job.cancel_event.is_set()


def test_the_cli_hands_every_event_to_its_callback_in_its_own_thread_and_raises_the_config_error() -> None:
    seen: list[tuple[int, bool]] = []

    def work(cancel: threading.Event, progress: Callable[[int], None]) -> int:
        for n in range(100):
            progress(n)
        return 7

    assert run_interruptibly(work, lambda n: seen.append((n, threading.current_thread() is threading.main_thread())))
    assert seen == [(n, True) for n in range(100)]

    def bad(cancel: threading.Event, progress: Callable[[int], None]) -> int:
        raise ConfigError("one line")

    with pytest.raises(ConfigError, match="one line"):
        run_interruptibly(bad)


def failing(error: BaseException) -> Callable[[Callable[[ProgressEvent], None], threading.Event], Report | SweepResult]:
    def work(progress: Callable[[ProgressEvent], None], cancel: threading.Event) -> Report | SweepResult:
        progress(ProgressEvent("async", 0, "write", 5, 10, 1.0))
        progress(ProgressEvent("async", 0, "write", 8, 10, 1.5))
        raise error
    return work


@pytest.mark.parametrize(("error", "line"), [
    (ConfigError("the table is busy"), "the table is busy"),
    (RuntimeError("boom"), "the run failed: RuntimeError: boom"),
])
def test_the_pages_run_turns_a_failure_into_one_line_and_keeps_the_latest_event_per_lane(
        error: BaseException, line: str) -> None:
    job = BackgroundRun(Plan(items=10), failing(error), lanes=("async",)).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert not snap.running and snap.error == line and snap.report is None and snap.sweep is None
    assert snap.events == {"async": ProgressEvent("async", 0, "write", 8, 10, 1.5)}
    assert job.snapshot().events == snap.events  # kept for every session that looks later
