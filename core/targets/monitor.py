"""Watching a run from the side: a server's CPU, and the signals that stop a run early.

Each helper runs one daemon thread for the span of a ``with`` block and joins it on exit; none touches the writers.
``cpu_sampler`` reports % of one core; ``watch`` sets a stop event when the user cancels or the server process dies.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil


@contextmanager
def every(interval: float, tick: Callable[[], bool | None], name: str) -> Iterator[None]:
    """Call ``tick`` every ``interval`` seconds in a daemon thread while the block runs (until it returns False);
    the thread is joined when the block ends."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(interval):
            if tick() is False:
                return

    thread = threading.Thread(target=loop, daemon=True, name=name)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@contextmanager
def cpu_sampler(pid: int | None, interval: float = 0.2) -> Iterator[list[float]]:
    """Samples a process's CPU (% of one core) in the background while the block runs."""
    samples: list[float] = []
    try:
        process = psutil.Process(pid) if pid is not None else None
        if process is not None:
            process.cpu_percent(None)
    except psutil.Error:
        process = None
    if process is None:
        yield samples
        return

    def sample() -> bool:
        try:
            samples.append(process.cpu_percent(None))
        except psutil.Error:
            return False
        return True

    with every(interval, sample, "lab-cpu-sampler"):
        yield samples
    with contextlib.suppress(psutil.Error):
        samples.append(process.cpu_percent(None))  # the tail since the last sample (all of a short run)


@contextmanager
def host_cpu() -> Iterator[list[float]]:
    """The machine's CPU over the block, % of every core: one value, appended when the block ends (from two readings
    of the kernel's counters, so other callers of ``psutil.cpu_percent`` do not shorten it)."""
    readings: list[float] = []
    before = psutil.cpu_times()
    yield readings
    after = psutil.cpu_times()
    total = sum(after) - sum(before)
    idle = sum(getattr(after, name, 0.0) - getattr(before, name, 0.0) for name in ("idle", "iowait"))
    if total > 0:
        readings.append(max(0.0, min(100.0, 100 * (total - idle) / total)))


@contextmanager
def watch(cancel: threading.Event | None, alive: Callable[[], bool], stop: threading.Event,
          interval: float = 0.1) -> Iterator[None]:
    """Sets ``stop`` when ``cancel`` is set or ``alive()`` turns False, while the block runs (checked on entry too:
    a block entered after a cancel starts stopped)."""

    def check() -> bool:
        if (cancel is not None and cancel.is_set()) or not alive():
            stop.set()
            return False
        return True

    if not check():
        yield
        return
    with every(interval, check, "lab-watchdog"):
        yield
