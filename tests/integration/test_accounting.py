"""Every item of a plan accounted for, truthfully, against real servers that die: an item an attempt may have
written is never reported failed (issue 22, point 2), and the items a dying run never sent are counted as such
(point 21). The pure rules are in tests/unit/test_engine.py."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.app import wording
from core.app.export import to_csv, to_dict, to_json
from core.app.history import History
from core.app.terminal import results_table
from core.domain.approaches import APPROACHES
from core.domain.plan import Conditions, Plan
from core.domain.results import ProgressEvent
from core.run.runner import run
from core.servers.emulator import Emulator
from core.targets.target import make_target
from core.targets.verify import fetch

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


def test_every_item_of_the_plan_is_accounted_for_when_the_embedded_server_dies(tmp_path: Path) -> None:
    """Killed after 30 of 200 books: the books never sent are counted as such in the report, the results table, the
    exports and the history (which still loads rows stored before the count existed)."""
    with Emulator(conditions=Conditions(latency_ms=5)) as server:
        report = run(Plan(approaches=("sequential",), items=200), emulator=server,
                     progress=kill_during_write(server, after=30))
    (result,) = report.runs
    counts = result.report
    assert report.error is not None and "stopped during the sequential run" in report.error
    assert counts.items == 200 and 0 < counts.items_not_sent < 200 - 30
    assert counts.items_ok + counts.items_failed + counts.items_unknown + counts.items_not_sent == 200
    assert counts.taken == 200 - counts.items_not_sent and not result.clean
    table = results_table(report)
    (row,) = [line.split() for line in table.splitlines() if "INTERRUPTED" in line and "sequential" in line
              and "books" not in line]
    assert row[-2] == f"{counts.items_not_sent:,}" and "sent" in table  # the column before server CPU
    assert f"{counts.items_not_sent:,} not sent" in wording.verdict(result)
    (shown,) = wording.verification_rows(report)
    assert shown["not sent"] == f":red[**{counts.items_not_sent:,}**]"
    assert json.loads(to_json(report))["runs"][0]["not_sent_items"] == counts.items_not_sent
    (csv_row,) = csv.DictReader(io.StringIO(to_csv(report)))
    assert csv_row["not_sent_items"] == str(counts.items_not_sent)
    history = History(tmp_path / "history.sqlite3")
    history.append(report)
    old = to_dict(report)
    del old["runs"][0]["not_sent_items"]  # a row stored before the count existed
    with sqlite3.connect(history.path) as db:
        db.execute("INSERT INTO reports (created, target, items, approaches, clean, report) VALUES (?, ?, ?, ?, ?, ?)",
                   (report.created, "embedded", 200, "sequential", 0, json.dumps(old)))
    new_entry, old_entry = (entry.id for entry in history.entries()[::-1])
    assert wording.summary_rows(history.load(new_entry))[0]["not sent"] == f"{counts.items_not_sent:,}"
    assert wording.summary_rows(history.load(old_entry))[0]["not sent"] == "0"
