"""streamlit_app.py through Streamlit's AppTest: targets, validation, a real small run, history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LAB_HISTORY_PATH", str(tmp_path / "history.sqlite3"))
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:9")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return AppTest.from_file(APP, default_timeout=180).run()


def texts(elements: object) -> str:
    return "\n".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def test_the_embedded_target_comes_up_by_itself(app: AppTest) -> None:
    assert not app.exception
    assert "Running at http://127.0.0.1:" in texts(app.sidebar.success)
    assert app.multiselect(key="approaches").value == ["sequential", "threaded", "async"]
    assert "Estimated duration" in texts(app.caption)


def test_switching_targets_needs_no_restart(app: AppTest) -> None:
    app.sidebar.radio(key="target_kind").set_value("localstack").run()
    assert not app.exception
    assert app.sidebar.text_input(key="localstack_url").value == "http://127.0.0.1:9"
    assert "run `docker compose up -d`" in texts(app.sidebar.error)
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("localhost:8000").run()
    assert "invalid endpoint URL 'localhost:8000'" in texts(app.error)
    app.sidebar.radio(key="target_kind").set_value("aws").run()
    assert not app.exception
    assert app.sidebar.selectbox(key="profile").value == "(default chain)"
    assert "Estimated cost" in texts(app.caption)
    run_button = next(b for b in app.button if b.label == "Run")
    assert run_button.disabled  # every AWS run needs the confirmation box
    app.sidebar.radio(key="target_kind").set_value("embedded").run()
    assert "Running at" in texts(app.sidebar.success)


def test_validation_messages_are_one_line(app: AppTest) -> None:
    app.multiselect(key="approaches").set_value([]).run()
    assert not app.exception
    assert "no approach chosen" in texts(app.error)
    app.multiselect(key="approaches").set_value(["async"]).run()
    app.sidebar.text_input(key="region").set_value("mars").run()
    assert "invalid region 'mars'" in texts(app.error)


def test_a_small_run_charts_one_bar_per_approach_and_lands_in_history(app: AppTest) -> None:
    app.number_input(key="items").set_value(40).run()
    next(b for b in app.button if b.label == "Run").click().run()
    assert not app.exception, app.exception
    assert "Verified: every run wrote all 40 books" in texts(app.success)
    charts = {c.proto.id: json.loads(c.proto.spec) for c in app.get("plotly_chart")}
    seconds = next(spec for spec in charts.values() if "Seconds" in json.dumps(spec["layout"]["title"]))
    ours = next(trace for trace in seconds["data"] if trace["name"].startswith("this lab"))
    assert ours["x"] == ["sequential", "threaded", "async"]
    assert any(trace["name"].startswith("2022 study") for trace in seconds["data"])
    assert len(app.get("plotly_chart")) == 4
    history = app.multiselect(key="compare")
    assert len(history.options) == 1 and "40 books" in history.options[0]


def test_typed_keys_are_never_shown_again(app: AppTest) -> None:
    app.sidebar.radio(key="target_kind").set_value("aws").run()
    inputs = {i.label: i for i in app.sidebar.text_input}
    inputs["Access key ID"].set_value("AKIDCANARYPAGE0000000")
    inputs["Secret access key"].set_value("page-canary-secret-0123456789")
    inputs["Session token (optional)"].set_value("page-canary-token-0123456789")
    next(b for b in app.sidebar.button if b.label == "Use these keys").click().run()
    assert not app.exception
    assert "Using typed keys AKID…" in texts(app.sidebar.caption)
    app.run()
    kinds = ("title", "subheader", "markdown", "caption", "success", "info", "warning", "error", "metric", "code")
    shown = "\n".join(str(getattr(e, "value", "")) for kind in kinds for e in app.get(kind))
    assert "AKID" in shown  # the masked key id is shown...
    assert "page-canary-secret" not in shown and "page-canary-token" not in shown  # ...the secrets never
    assert "page-canary-secret" not in repr(app.session_state["aws_keys"])
