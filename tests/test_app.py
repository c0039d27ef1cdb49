"""streamlit_app.py through Streamlit's AppTest: the embedded target comes up and lists its tables."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "streamlit_app.py"


def test_page_shows_the_embedded_target() -> None:
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    assert "embedded" in app.subheader[0].value
    assert app.success and "Reachable" in app.success[0].value


def test_bad_custom_url_is_one_readable_line() -> None:
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("localhost:8000").run()
    assert not app.exception
    assert app.error and "invalid endpoint URL 'localhost:8000'" in app.error[0].value
