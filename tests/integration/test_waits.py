"""Waits that end when they should, against real servers (issue 22, points 5, 6, 13 and 16): a cancel stops a
table that stays CREATING or DELETING (dynalite told to take ten minutes), a reset under latency and a long
read-back; admin calls wait as long as the plan's latency needs. Bounds are generous and only catch a wait that
ignores the cancel (they were 300 s, or a whole read-back)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from core.domain.approaches import APPROACHES
from core.domain.errors import Cancelled
from core.domain.plan import Conditions, Plan
from core.domain.results import ProgressEvent
from core.paths import REPO_ROOT
from core.run import runner as benchmark
from core.run.runner import admin_timeout, run
from core.servers.emulator import Emulator, node_executable
from core.targets.tables import (
    LEASE_TABLE,
    count_items,
    create_table,
    delete_table,
    describe_table,
    reset_table,
)
from core.targets.target import make_target
from tests.servers import free_port

PROMPT = 5.0  # seconds from the cancel to the return: the rule is 2 s; the margin is for a loaded machine
SLOW_DYNALITE = """
const port = Number(process.argv[1])
require('dynalite')({ createTableMs: 600000, deleteTableMs: 600000 }).listen(port, '127.0.0.1', () =>
  console.log('ready'))
"""


@pytest.fixture
def slow_tables() -> Iterator[str]:
    """A dynalite whose tables stay CREATING (and DELETING) for ten minutes; its URL."""
    port = free_port()
    process = subprocess.Popen([node_executable(), "-e", SLOW_DYNALITE, str(port)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def cancelled_after(seconds: float) -> tuple[threading.Event, list[float]]:
    """An event set ``seconds`` from now, and the moment it was set (filled in then)."""
    cancel, when = threading.Event(), []

    def fire() -> None:
        when.append(time.monotonic())
        cancel.set()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return cancel, when


@pytest.mark.parametrize("wait", ["create", "delete", "reset"])
def test_a_table_wait_stops_soon_after_a_cancel(slow_tables: str, wait: str) -> None:
    client = make_target("custom", endpoint_url=slow_tables).client()
    if wait == "delete":
        with pytest.raises(Cancelled):  # created, but CREATING for ten minutes
            create_table(client, "SyncBooks", cancel=cancelled_after(0.2)[0])
    action: dict[str, Callable[[threading.Event], None]] = {
        "create": lambda cancel: create_table(client, "SyncBooks", cancel=cancel),
        "delete": lambda cancel: delete_table(client, "SyncBooks", cancel=cancel),
        "reset": lambda cancel: reset_table(client, "SyncBooks", cancel=cancel),
    }
    cancel, when = cancelled_after(0.5)
    with pytest.raises(Cancelled, match="cancelled while waiting for table SyncBooks"):
        action[wait](cancel)
    assert time.monotonic() - when[0] < PROMPT


def test_a_run_cancelled_while_its_lease_table_is_creating_returns_at_once(slow_tables: str) -> None:
    """The CLI's Ctrl-C sets this event: the run returns cancelled, having written nothing (it waited 300 s)."""
    cancel, when = cancelled_after(1.0)
    report = run(Plan(target="custom", endpoint_url=slow_tables, approaches=("sequential",), items=5), cancel=cancel)
    assert time.monotonic() - when[0] < PROMPT
    assert report.cancelled and report.runs == () and report.error is None
    info = describe_table(make_target("custom", endpoint_url=slow_tables).client(), LEASE_TABLE)
    assert info is not None and info.status == "CREATING"  # the wait it stopped was real


@pytest.mark.parametrize("name", ["async-batch", "threaded-batch"])
@pytest.mark.parametrize("delay", [0.3, 1.2])
def test_a_run_cancelled_during_its_reset_writes_nothing(emulator: Emulator, name: str, delay: float) -> None:
    """Cancelled 0.3 s into the reset (during its waits) or at its very end: the write never starts."""
    table = APPROACHES[name].table
    cancel = threading.Event()
    timers: list[threading.Timer] = []

    def on_reset(event: ProgressEvent) -> None:
        if event.phase == "reset" and not timers:
            timers.append(threading.Timer(delay, cancel.set))
            timers[0].start()

    plan = Plan(approaches=(name,), items=2_000, threads=4, concurrency=8, conditions=Conditions(latency_ms=250))
    try:
        report = run(plan, emulator=emulator, progress=on_reset, cancel=cancel)
    finally:
        for timer in timers:
            timer.cancel()
        emulator.set_conditions(Conditions())
    assert cancel.is_set() and report.cancelled and report.runs == () and report.error is None
    client = make_target("embedded", server_url=emulator.endpoint_url).client()
    assert describe_table(client, table) is None or count_items(client, table) == 0


def test_a_cancel_during_verification_cuts_it_short_and_says_so(emulator: Emulator) -> None:
    """3,000 books read back at 400 ms a request take 12 s: a cancel 1 s into it returns within seconds, the books
    not read back counted as not checked (unknown), never as found or lost."""
    cancel = threading.Event()
    when: list[float] = []

    def on_verify(event: ProgressEvent) -> None:
        if event.phase == "verify" and not when:
            when.append(time.monotonic() + 1.0)
            threading.Timer(1.0, cancel.set).start()

    plan = Plan(approaches=("async-batch",), items=3_000, concurrency=16)
    emulator.set_conditions(Conditions(latency_ms=400))
    try:
        report = run(replace(plan, conditions=Conditions(latency_ms=400)), emulator=emulator, progress=on_verify,
                     cancel=cancel)
    finally:
        emulator.set_conditions(Conditions())
    assert time.monotonic() - when[0] < PROMPT
    (result,) = report.runs
    check = result.verification
    assert report.cancelled and result.report.items_ok == 3_000
    assert check.cut_short and 0 < check.unchecked < 3_000 and check.lost == 0
    assert check.found + check.unchecked == check.expected == 3_000
    assert not check.ok and not result.clean


# Admin calls (reset, describe, delete, verification, leases) allow for the plan's added latency (point 13).

@pytest.mark.parametrize(("latency_ms", "jitter_ms", "base", "seconds"), [
    (0, 0, 10.0, 10.0), (20_000, 0, 10.0, 30.0), (20_000, 5_000, 10.0, 35.0), (60_000, 0, 10.0, 70.0),
    (60_000, 60_000, 3.0, 123.0), (75, 10, 10.0, 10.085),
])
def test_admin_timeouts_allow_for_the_added_latency_and_jitter(latency_ms: float, jitter_ms: float, base: float,
                                                               seconds: float) -> None:
    assert admin_timeout(Conditions(latency_ms=latency_ms, jitter_ms=jitter_ms), base) == pytest.approx(seconds)


def test_a_latency_longer_than_the_admin_timeout_still_resets_writes_and_verifies(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule at a small scale (a 20,000 ms latency against a 10 s timeout takes minutes): 1 s admin timeouts, a
    1,500 ms latency. With a fixed timeout every reset call timed out."""
    monkeypatch.setattr(benchmark, "ADMIN_TIMEOUT", 1.0)
    monkeypatch.setattr(benchmark, "LEASE_TIMEOUT", 1.0)
    plan = Plan(approaches=("sequential-batch",), items=3, request_timeout=5.0,
                conditions=Conditions(latency_ms=1_500))
    report = run(plan, emulator=emulator)
    assert report.error is None, report.error
    (result,) = report.runs
    assert result.clean and result.verification.found == 3
