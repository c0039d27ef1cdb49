"""Watching a run from the side: a server's CPU, and the signals that stop a run early.

Contract: each helper runs one daemon thread for the duration of a ``with`` block and joins it on exit; none touches
the writers. ``cpu_sampler`` collects a process's CPU (% of one core); ``watch`` sets a stop event when the user
cancels or the server process dies.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil


@contextmanager
def cpu_sampler(pid: int | None, interval: float = 0.2) -> Iterator[list[float]]:
    """Samples a process's CPU (% of one core) in the background while the block runs."""
    samples: list[float] = []
    if pid is None:
        yield samples
        return
    try:
        process = psutil.Process(pid)
        process.cpu_percent(None)
    except psutil.Error:
        yield samples
        return
    stop = threading.Event()

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


@contextmanager
def watch(cancel: threading.Event | None, alive: Callable[[], bool], stop: threading.Event,
          interval: float = 0.1) -> Iterator[None]:
    """Sets ``stop`` when ``cancel`` is set or ``alive()`` turns False, while the block runs."""
    done = threading.Event()

    def check() -> None:
        while not done.wait(interval):
            if (cancel is not None and cancel.is_set()) or not alive():
                stop.set()
                return

    thread = threading.Thread(target=check, daemon=True, name="lab-watchdog")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
