"""A history row the lab cannot read (not JSON, null, a field of the wrong type or missing) breaks nothing: ``run``,
``plan-load`` and the page skip it with one line naming the row, and the file is left as it is."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.app.cli import main
from core.app.export import to_dict
from core.app.history import History, report_problem
from tests.e2e.test_app import APP
from tests.unit.test_charts import REPORT

GOOD = to_dict(REPORT)


def spoilt(change: Callable[[dict[str, Any]], object]) -> str:
    data = copy.deepcopy(GOOD)
    change(data)
    return json.dumps(data)


BAD_REPORTS: dict[str, str] = {
    "not json": "not json",
    "null": "null",
    "a list": "[1, 2]",
    "seconds fast": spoilt(lambda d: d["runs"][0].update(seconds="fast")),
    "seconds NaN": spoilt(lambda d: d["runs"][0].update(seconds=float("nan"))),
    "no latency": spoilt(lambda d: d["runs"][1].pop("latency_ms")),
    "p95 text": spoilt(lambda d: d["runs"][2]["latency_ms"].update(p95="slow")),
    "no verification": spoilt(lambda d: d["runs"][0].pop("verification")),
    "runs null": spoilt(lambda d: d.update(runs=None)),
    "run a string": spoilt(lambda d: d["runs"].append("run")),
    "no plan": spoilt(lambda d: d.pop("plan")),
    "plan items text": spoilt(lambda d: d["plan"].update(items="many")),
    "threads text": spoilt(lambda d: d["plan"].update(threads="eight")),
    "conditions text": spoilt(lambda d: d["plan"].update(conditions="calm")),
    "latency text": spoilt(lambda d: d["plan"]["conditions"].update(latency_ms="far")),
    "no created": spoilt(lambda d: d.pop("created")),
    "environment text": spoilt(lambda d: d.update(environment="laptop")),
    "cancelled text": spoilt(lambda d: d.update(cancelled="no")),
}


def test_what_the_lab_stores_passes_the_check_and_every_spoilt_report_does_not() -> None:
    assert report_problem(GOOD) is None
    old = copy.deepcopy(GOOD)  # stored before the optional fields existed
    for run in old["runs"]:
        del run["unknown_items"], run["capacity"]
    del old["cancelled"], old["plan"]["capacity"]
    assert report_problem(old) is None
    for name, text in BAD_REPORTS.items():
        if name != "not json":
            assert report_problem(json.loads(text)) is not None, name


@pytest.fixture
def spoilt_history(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """A history with a good report, then one row per spoilt report (and one with a spoilt column), then a good
    one; returns the path and the bad rows' ids with their names."""
    path = tmp_path / "history.sqlite3"
    store = History(path)
    store.append(REPORT)
    bad: dict[int, str] = {}
    with sqlite3.connect(path) as db:
        for name, text in BAD_REPORTS.items():
            cursor = db.execute("INSERT INTO reports (created, target, items, approaches, clean, report) "
                                "VALUES (1, 'embedded', 100, 'sequential', 1, ?)", (text,))
            bad[int(cursor.lastrowid or 0)] = name
        cursor = db.execute("INSERT INTO reports (created, target, items, approaches, clean, report) "
                            "VALUES ('yesterday', 'embedded', 'many', 7, 1, ?)", (json.dumps(GOOD),))
        bad[int(cursor.lastrowid or 0)] = "columns"
    db.close()
    store.append(REPORT)
    return path, bad


def warned_rows(err: str, path: Path) -> set[int]:
    lines = [line for line in err.splitlines() if line.startswith(f"warning: history file {path}: row ")]
    assert all("skipped (" in line and line.endswith("the file is left as it is") for line in lines)
    return {int(line.split(": row ", 1)[1].split()[0]) for line in lines}


def test_the_history_skips_bad_rows_and_names_them(spoilt_history: tuple[Path, dict[int, str]]) -> None:
    path, bad = spoilt_history
    reader = History(path)
    assert len(reader.reports()) == 3  # the row with spoilt columns holds a good report
    assert set(reader.skipped) == {row_id for row_id, name in bad.items() if name != "columns"}
    store = History(path)
    assert len(store.entries()) == 2 and set(store.skipped) == set(bad)
    assert "seconds is \"fast\"" in store.skipped[next(i for i, name in bad.items() if name == "seconds fast")]
    with pytest.raises(Exception, match="cannot be read"):
        store.load(next(iter(bad)))


def test_run_and_plan_load_skip_bad_rows_with_one_line_each_and_leave_the_file(
        spoilt_history: tuple[Path, dict[int, str]], capsys: pytest.CaptureFixture[str]) -> None:
    path, bad = spoilt_history
    before = path.read_bytes()
    assert main(["plan-load", "--items", "1000", "--item-bytes", "100", "--history", str(path)]) == 0
    err = capsys.readouterr().err
    assert warned_rows(err, path) == set(bad) - {max(bad)} and "Traceback" not in err
    assert path.read_bytes() == before
    assert main(["run", "--items", "5", "--approaches", "async", "--history", str(path)]) == 0
    err = capsys.readouterr().err
    assert warned_rows(err, path) == set(bad) - {max(bad)}  # the row with spoilt columns: a good report
    with sqlite3.connect(path) as db:  # the bad rows are still there, unchanged; the run was added
        kept = dict(db.execute("SELECT id, report FROM reports").fetchall())
    db.close()
    assert all(kept[row_id] == BAD_REPORTS[name] for row_id, name in bad.items() if name != "columns")
    assert len(kept) == len(bad) + 3


def test_the_page_shows_the_history_without_the_bad_rows(spoilt_history: tuple[Path, dict[int, str]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path, bad = spoilt_history
    monkeypatch.setenv("LAB_HISTORY_PATH", str(path))
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page("core/app/pages/history.py").run()
    assert not app.exception and not app.error
    assert len(app.selectbox(key="compare_first").options) == 2
    warnings = [str(w.value) for w in app.warning if ": row " in str(w.value)]
    assert {int(w.split(": row ", 1)[1].split()[0]) for w in warnings} == set(bad)
