"""Bounds are never hidden: the one rule (table-driven), reports kept before it (old history rows), and a real
study-2022 async-batch run on the embedded engine that measured a queue, flagged with its reason in every view."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core.app import charts, wording
from core.app.export import to_csv, to_dict
from core.app.history import History
from core.app.terminal import chart, results_table, text
from core.domain.plan import NETWORK_PRESETS, Conditions, Plan
from core.domain.results import Report, RunReport, RunResult, Verification, bounds, stored_bounds
from core.run.runner import run
from core.servers.emulator import Emulator

SERVER = "server-bound: the engine used 95% of its core"
QUEUE = "queue-bound: p50 191 ms against 80 ms injected"


@pytest.mark.parametrize(("server", "host", "busy", "p50", "injected", "reasons"), [
    (None, None, None, None, 0.0, ()),  # nothing measured: nothing flagged
    (50.0, 40.0, 0.3, 1.0, 0.0, ()),
    (89.9, None, None, None, 0.0, ()),
    (95.0, None, None, None, 0.0, (SERVER,)),
    (86.0, None, None, 191.0, 80.0, (QUEUE,)),  # the quiet-machine run: 86 % server CPU, p50 191 ms
    (38.0, None, None, 904.0, 80.0, ("queue-bound: p50 904 ms against 80 ms injected",)),  # its loaded machine
    (50.0, None, None, 160.0, 80.0, ()),  # exactly twice the injected latency: not yet a queue
    (50.0, None, None, 500.0, 0.0, ()),  # no latency injected: a slow engine is not a queue by this rule
    (40.0, 97.0, 0.2, 85.0, 80.0, ("machine-bound: the machine's CPU was 97% busy while the server used 40% of "
                                   "its core",)),
    (None, 97.0, None, None, 80.0, ("machine-bound: the machine's CPU was 97% busy",)),
    (95.0, 97.0, None, None, 80.0, (SERVER,)),  # the server's own saturation explains the machine's
    (20.0, 50.0, 0.95, 85.0, 80.0, ("client-bound: the writer kept 95% of a core busy",)),
    # without latency the client's CPU is what a run measures: a busy client or machine is no hidden bound
    (40.0, 97.0, 0.99, 1.0, 0.0, ()),
    (95.0, 99.0, 0.99, 400.0, 80.0, (SERVER, "queue-bound: p50 400 ms against 80 ms injected",
                                     "client-bound: the writer kept 99% of a core busy")),
])
def test_the_bounds_rule(server: float | None, host: float | None, busy: float | None, p50: float | None,
                         injected: float, reasons: tuple[str, ...]) -> None:
    assert bounds(server_cpu=server, host_cpu=host, client_busy=busy, p50_ms=p50, injected_ms=injected) == reasons


def _result(p50_ms: float, server_cpu: float | None = 50.0, client_cpu: float = 0.1, seconds: float = 2.0,
            host: float | None = None) -> RunResult:
    report = RunReport("async-batch", "books", 100, seconds, 4, 0, 0, {}, 100, 0, 0, (p50_ms,) * 4, client_cpu,
                       ((0.0, 0), (seconds, 100)))
    return RunResult(0, report, Verification(100, 100, 0, 0, 0, 0), server_cpu, host_cpu_percent=host)


@pytest.mark.parametrize(("conditions", "workers", "client_cpu", "reasons"), [
    (NETWORK_PRESETS["study-2022"], 1, 0.1, ("queue-bound: p50 300 ms against 80 ms injected",)),
    (Conditions(), 1, 0.1, ()),
    (Conditions(), 1, 1.9, ()),  # no latency injected: the client's CPU is what the run measures
    (Conditions(latency_ms=200.0), 1, 1.9, ("client-bound: the writer kept 95% of a core busy",)),
    (Conditions(latency_ms=200.0), 2, 1.9, ()),  # two worker processes share that CPU: half a core each
])
def test_a_run_flags_by_its_plans_conditions_and_workers(conditions: Conditions, workers: int, client_cpu: float,
                                                         reasons: tuple[str, ...]) -> None:
    plan = Plan(items=100, approaches=("async-batch",), conditions=conditions, workers=workers)
    assert _result(300.0, client_cpu=client_cpu).bounds(plan) == reasons


def test_a_report_kept_before_the_rule_flags_on_what_it_has(tmp_path: Path) -> None:
    plan = Plan(items=100, approaches=("async-batch",), conditions=NETWORK_PRESETS["study-2022"])
    data = to_dict(Report(plan, {}, (_result(300.0, server_cpu=95.0),), created=1_700_000_000.0))
    for old in data["runs"]:  # as the lab exported before: no host CPU, no bounds
        del old["host_cpu_percent"], old["bounds"]
    assert stored_bounds(data["runs"][0], data["plan"]) == (
        "server-bound: the engine used 95% of its core", "queue-bound: p50 300 ms against 80 ms injected")
    history = History(tmp_path / "history.sqlite")
    with sqlite3.connect(history.path) as db:  # an old row, written as the lab wrote it then
        db.execute("INSERT INTO reports (created, target, items, approaches, clean, report) VALUES (?, ?, ?, ?, ?, ?)",
                   (data["created"], "embedded", 100, "async-batch", 1, json.dumps(data)))
    entry = history.entries()[0]
    rows = wording.summary_rows(history.load(entry.id))
    assert rows[0]["bound"] == "server-bound: the engine used 95% of its core; queue-bound: p50 300 ms against " \
                               "80 ms injected"
    assert not history.skipped_lines()


@pytest.mark.timeout(300)
def test_a_queue_bound_study_run_is_flagged_with_its_reason_in_every_view(emulator: Emulator,
                                                                          tmp_path: Path) -> None:
    # 400 batches of 25 in flight at once: the one-threaded engine queues them, so the median request waits far
    # longer than the 80 ms the study-2022 preset injects (the measured 191-904 ms)
    plan = Plan(items=10_000, approaches=("async-batch",), conditions=NETWORK_PRESETS["study-2022"],
                concurrency=400)
    report = run(plan, emulator=emulator)
    result = report.runs[0]
    assert result.clean and result.host_cpu_percent is not None
    reasons = result.bounds(plan)
    queue = next(reason for reason in reasons if reason.startswith("queue-bound: p50 "))
    assert queue.endswith(" ms against 80 ms injected") and result.report.latency.p50 > 160

    assert queue in " ".join(results_table(report, width=400).split())  # the CLI's table
    assert "left out, flagged: async-batch #1 (" in text(chart(report), width=400)  # its bars beside the study's
    exported = to_dict(report)
    assert queue in exported["runs"][0]["bounds"]  # JSON export
    row = next(csv.DictReader(io.StringIO(to_csv(report))))
    assert queue in row["bounds"]  # CSV export
    assert f":orange-badge[{queue}]" in wording.verification_rows(report)[0]["bound"]  # the page's table
    top = wording.headline(report)
    assert top is not None and top.flagged == 1  # the page's metrics
    subtitle = charts.speedup_bar(report).layout.title.subtitle.text
    assert "left out, every run flagged by a bound: async-batch" in subtitle  # the study comparison leaves it out
    history = History(tmp_path / "history.sqlite")
    history.append(report)
    kept = history.load(history.entries()[0].id)
    assert queue in wording.summary_rows(kept)[0]["bound"]  # the history's view
    assert "queue-bound" in charts.throughput_bar(kept).data[0].text[0]  # the charts' labels


def test_the_study_comparison_counts_only_unflagged_runs() -> None:
    plan = Plan(items=100, approaches=("sequential", "threaded", "async", "async-batch"),
                conditions=NETWORK_PRESETS["study-2022"])

    def timed(approach: str, seconds: float, p50: float) -> RunResult:
        report = RunReport(approach, "books", 100, seconds, 100, 0, 0, {}, 100, 0, 0, (p50,) * 10, 0.001,
                           ((0.0, 0), (seconds, 100)))
        return RunResult(0, report, Verification(100, 100, 0, 0, 0, 0), 30.0)

    report = Report(plan, {}, (timed("sequential", 8.0, 80.0), timed("threaded", 1.0, 300.0),
                               timed("async", 0.1, 85.0), timed("async-batch", 0.01, 400.0)))
    rows: dict[str, Any] = {row["approach"]: row for row in wording.study_rows(report)}
    assert rows["async"]["this lab: speed-up"] == "80.0×" and rows["threaded"]["this lab: speed-up"] == "–"
    figure = charts.speedup_bar(report)
    assert list(figure.data[0].x) == ["sequential", "async"]
    assert "left out, every run flagged by a bound: async-batch, threaded" in figure.layout.title.subtitle.text
    assert report.flagged_text() == ("left out, flagged: threaded #1 (queue-bound: p50 300 ms against 80 ms "
                                     "injected), async-batch #1 (queue-bound: p50 400 ms against 80 ms injected)")
