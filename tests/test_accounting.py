"""Every item of a plan accounted for, truthfully, against real servers that die: an item an attempt may have
written is never reported failed (issue 22, point 2), and the items a dying run never sent are counted as such
(point 21). The pure rules are in tests/test_engine.py."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator

import pytest

from core.approaches import APPROACHES
from core.benchmark import run
from core.emulator import Emulator
from core.model import Conditions, Plan
from core.report import ProgressEvent
from core.targets import make_target
from core.verify import fetch

THREADS, CONCURRENCY = 4, 8


@pytest.fixture
def engine() -> Iterator[Emulator]:
    """An embedded engine of this test's own."""
    with Emulator() as emulator:
        yield emulator


def kill(emulator: Emulator) -> None:
    if emulator.pid is not None and emulator.running:
        os.kill(emulator.pid, signal.SIGKILL)
        assert emulator._process is not None
        emulator._process.wait(timeout=10)


def kill_during_write(emulator: Emulator, after: int) -> Callable[[ProgressEvent], None]:
    def progress(event: ProgressEvent) -> None:
        if event.phase == "write" and event.done >= after:
            kill(emulator)
    return progress


def present(engine: Emulator, table: str, isbns: tuple[str, ...]) -> set[str]:
    """The keys among ``isbns`` that ``engine`` holds, read from the engine itself."""
    client = make_target("custom", endpoint_url=engine.endpoint_url).client()
    found: set[str] = set()
    for start in range(0, len(isbns), 100):
        found |= set(fetch(client, table, list(isbns[start:start + 100])))
    return found


@pytest.mark.parametrize("name", ["threaded-batch", "async", "async-batch"])
def test_items_reported_failed_are_never_on_the_table_when_the_server_in_front_dies(engine: Emulator,
                                                                                     name: str) -> None:
    """A proxy in front of the engine is killed mid-write: requests it had forwarded may have been written, their
    retries are refused. The run cannot verify (its endpoint is gone), so the report alone must tell the truth:
    nothing it calls failed is on the engine's table."""
    with Emulator(upstream=engine.endpoint_url, conditions=Conditions(latency_ms=40)) as proxy:
        plan = Plan(target="custom", endpoint_url=proxy.endpoint_url, approaches=(name,), items=2_000,
                    threads=THREADS, concurrency=CONCURRENCY)
        report = run(plan, progress=kill_during_write(proxy, after=300))
    (result,) = report.runs
    written = present(engine, APPROACHES[name].table, result.report.failed_isbns)
    assert not result.verification.checked and report.error is not None
    assert result.report.items_unknown > 0, result.report  # requests were in flight when the proxy died
    assert written == set(), f"{len(written)} items reported failed are on the table"
