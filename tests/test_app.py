"""streamlit_app.py through Streamlit's AppTest (the script runs in-process, its benchmark in a background thread):
targets, validation, a real small run, history; and core.ui's background run, cancelled."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.emulator import Emulator
from core.history import History
from core.model import Plan, Report
from core.ui import BackgroundRun
from tests.test_charts import REPORT

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


@pytest.fixture
def history_path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def app(history_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LAB_HISTORY_PATH", str(history_path))
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    return AppTest.from_file(APP, default_timeout=120).run()


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def button(app: AppTest, label: str) -> Any:
    return next(b for b in app.button if b.label == label)


def test_the_embedded_target_comes_up_by_itself(app: AppTest) -> None:
    assert not app.exception
    assert "Running at http://127.0.0.1:" in texts(app.sidebar.success)
    assert app.multiselect(key="approaches").value == ["sequential", "threaded", "async"]
    assert "Estimated duration" in texts(app.caption)
    assert not app.error and not button(app, "Run").disabled
    assert app.number_input(key="items").min == 1  # 0 books cannot be typed in


def test_switching_targets_needs_no_restart(app: AppTest) -> None:
    app.sidebar.radio(key="target_kind").set_value("localstack").run()
    assert not app.exception
    assert app.sidebar.text_input(key="localstack_url").value == "http://127.0.0.1:9"
    assert "not reachable at http://127.0.0.1:9: run `docker compose up -d`" in texts(app.sidebar.error)
    assert "docker compose up -d" in texts(app.sidebar.code)
    assert "Conditions" not in texts(app.sidebar.header)  # injected by the embedded server only

    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("localhost:8000").run()
    assert [e.value for e in app.error] == ["invalid endpoint URL 'localhost:8000': expected http(s)://host[:port], "
                                            "e.g. http://localhost:4566"]
    assert button(app, "Run").disabled

    app.sidebar.radio(key="target_kind").set_value("aws").run()
    assert not app.exception
    assert app.sidebar.selectbox(key="profile").value == "(default credential chain)"
    assert [i.label for i in app.sidebar.text_input if i.proto.type == i.proto.PASSWORD] == [
        "Access key ID", "Secret access key", "Session token (optional)"]
    assert "Check credentials" in [b.label for b in app.sidebar.button]
    assert "0.625 USD per million WRU, us-east-1, since Nov 2024" in texts(app.warning)
    assert button(app, "Run").disabled  # every AWS run needs the confirmation box
    app.checkbox(key="confirm").check().run()
    assert not button(app, "Run").disabled

    app.sidebar.radio(key="target_kind").set_value("embedded").run()
    assert "Running at" in texts(app.sidebar.success)
    assert not app.warning and not button(app, "Run").disabled


def test_validation_messages_are_one_line(app: AppTest) -> None:
    app.multiselect(key="approaches").set_value([]).run()
    assert not app.exception
    assert texts(app.error) == "No approach chosen: pick one or more approaches above."
    assert button(app, "Run").disabled
    app.multiselect(key="approaches").set_value(["async"]).run()
    assert not app.error
    app.sidebar.radio(key="target_kind").set_value("localstack").run()
    app.sidebar.text_input(key="region").set_value("mars").run()
    assert texts(app.error) == "invalid region 'mars': expected a name like us-east-1 or eu-west-2"
    app.sidebar.radio(key="target_kind").set_value("embedded").run()
    for name in ("throttle", "error"):
        app.sidebar.slider(key=name).set_value(0.6).run()
    assert "must add up to at most 1" in texts(app.sidebar.error)
    assert button(app, "Run").disabled


def test_a_small_run_charts_one_bar_per_approach_and_lands_in_history(app: AppTest) -> None:
    app.number_input(key="items").set_value(40).run()
    button(app, "Run").click().run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    assert "Verified: every run wrote all 40 books, none lost." in texts(app.success)
    report: Report = app.session_state["report"]
    assert report.clean and [r.approach for r in report.runs] == ["sequential", "threaded", "async"]
    specs = {c.proto.id: json.loads(c.proto.spec) for c in app.get("plotly_chart")}
    assert len(specs) == 4  # seconds, items/s, latency, timeline
    seconds = next(s for s in specs.values() if s["layout"]["title"]["text"].startswith("Seconds"))
    ours, study = seconds["data"]
    assert ours["name"] == "this lab (40 books, embedded)" and ours["x"] == ["sequential", "threaded", "async"]
    assert len(ours["y"]) == 3 and study["name"] == "2022 study (AWS, 10,000 books)"
    latency = next(s for s in specs.values() if s["layout"]["title"]["text"].startswith("Latency"))
    assert [t["name"] for t in latency["data"]] == ["sequential", "threaded", "async"]
    assert "120/120" in texts(app.metric)
    app.toggle(key="log_scale").set_value(True).run()
    specs = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    assert specs[0]["layout"]["yaxis"]["type"] == "log"
    history = app.multiselect(key="compare")
    assert len(history.options) == 1 and "40 books" in history.options[0]


def test_history_lists_earlier_runs_and_compares_two(app: AppTest, history_path: Path) -> None:
    assert "No runs yet" in texts(app.caption)
    store = History(history_path)
    first, second = store.append(REPORT), store.append(REPORT)
    app.run()
    assert "2 runs kept in" in texts(app.caption)
    compare = app.multiselect(key="compare")
    assert len(compare.options) == 2 and compare.options[0].startswith(f"#{second} ·")
    compare.set_value([second, first]).run()
    assert not app.exception and not app.error
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in figure["data"]} == {f"#{first}", f"#{second}"}
    assert f"**Run #{first}**" in texts(app.markdown)


def test_a_remote_endpoint_asks_before_every_run(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the custom target signs with boto3's default chain
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("http://lab.invalid:8000").run()
    assert "is not on this machine" in texts(app.warning)
    assert not app.sidebar.error and not app.sidebar.success  # nothing sent there unasked
    assert button(app, "Run").disabled
    app.checkbox(key="confirm").check().run()
    button(app, "Run").click().run()
    assert not app.exception
    assert "custom target is not reachable at http://lab.invalid:8000" in texts(app.error)
    assert not app.checkbox(key="confirm").value and button(app, "Run").disabled  # asked again


def test_typed_keys_are_never_shown_again(app: AppTest) -> None:
    app.sidebar.radio(key="target_kind").set_value("aws").run()
    inputs = {i.label: i for i in app.sidebar.text_input}
    inputs["Access key ID"].set_value("AKIDCANARYPAGE0000000")
    inputs["Secret access key"].set_value("page-canary-secret-0123456789")
    inputs["Session token (optional)"].set_value("page-canary-token-0123456789")
    next(b for b in app.sidebar.button if b.label == "Use these keys").click().run()
    assert not app.exception
    assert "Using the keys you typed" in texts(app.sidebar.info)
    app.run()
    shown = "\n".join(str(getattr(e, "value", "")) for kind in ("title", "subheader", "markdown", "caption",
                      "success", "info", "warning", "error", "metric", "code", "text_input") for e in app.get(kind))
    assert "page-canary" not in shown and "AKIDCANARY" not in shown
    assert "page-canary-secret" not in repr(app.session_state["aws_keys"])
    next(b for b in app.sidebar.button if b.label == "Forget the typed keys").click().run()
    assert app.session_state["aws_keys"] is None


def test_a_background_run_is_alone_cancels_cleanly_and_records_its_report(emulator: Emulator) -> None:
    recorded: list[Report] = []
    started = threading.Event()
    job = BackgroundRun(Plan(approaches=("sequential", "async"), items=200_000), emulator, record=recorded.append)
    try:
        while not job.wait(0.05):
            event = job.snapshot().events.get("sequential")
            if event is not None and event.phase == "write" and event.done > 0 and not started.is_set():
                started.set()
                other = BackgroundRun(Plan(items=10), emulator)  # e.g. from another tab: the tables are shared
                assert other.wait(10)
                assert (other.snapshot().error or "").startswith("another run is in progress")
                job.cancel()
    finally:
        job.cancel()  # whatever happened above, leave no writer behind
        assert job.wait(60)
    snap = job.snapshot()
    assert started.is_set() and not snap.running and snap.error is None
    assert snap.report is not None and snap.report.cancelled and recorded == [snap.report]
    assert [r.approach for r in snap.report.runs] == ["sequential"]  # async never started
    assert snap.report.runs[0].report.items_ok < 200_000
