"""What the page needs besides widgets: a benchmark running in a background thread, polled from the page.

Contract: no Streamlit here. ``BackgroundRun`` runs ``benchmark.run`` in a worker thread; the worker only stores
progress events under a lock, and the page's script thread reads ``snapshot()`` and renders. Errors become one
readable line (``error``); nothing raised in the worker escapes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from core import logs
from core.benchmark import Plan, ProgressEvent, Report, run
from core.emulator import Emulator
from core.errors import LabError
from core.sigv4 import Credentials


@dataclass(frozen=True)
class Snapshot:
    events: dict[str, ProgressEvent]  # latest per approach
    running: bool
    report: Report | None
    error: str | None
    elapsed: float


class BackgroundRun:
    def __init__(self, plan: Plan, emulator: Emulator | None, credentials: Credentials | None = None) -> None:
        self.plan = plan
        self.cancel_event = threading.Event()
        self._lock = threading.Lock()
        self._events: dict[str, ProgressEvent] = {}
        self._report: Report | None = None
        self._error: str | None = None
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._work, args=(emulator, credentials), daemon=True,
                                        name="lab-benchmark")
        self._thread.start()

    def _progress(self, event: ProgressEvent) -> None:
        with self._lock:
            self._events[event.approach] = event

    def _work(self, emulator: Emulator | None, credentials: Credentials | None) -> None:
        try:
            report = run(self.plan, emulator=emulator, credentials=credentials, progress=self._progress,
                         cancel=self.cancel_event)
            with self._lock:
                self._report = report
        except LabError as error:
            with self._lock:
                self._error = str(error)
        except Exception as error:
            with self._lock:
                self._error = logs.redact(f"the run failed: {type(error).__name__}: {error}")

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the run has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(dict(self._events), self._thread.is_alive(), self._report, self._error,
                            time.monotonic() - self._started)
