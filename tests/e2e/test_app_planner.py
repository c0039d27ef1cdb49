"""The page's "Plan a bulk load" section through Streamlit's AppTest: the recommendation and the ranked table with
sources for the default question, a new against an existing table, a deadline, and bad input as one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.forecast.planner import IMPORT
from tests.e2e.test_app import APP


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LAB_HISTORY_PATH", str(tmp_path / "history.sqlite3"))
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page("core/app/pages/plan_load.py").run()
    return app.toggle(key="load_all").set_value(True).run()  # every row, with what it rests on


def planner_table(app: AppTest) -> Any:
    return next(t.value for t in app.table if "Based on" in t.value.columns)


def markdown(app: AppTest) -> str:
    return "\n".join(str(m.value) for m in (*app.success, *app.markdown))


def test_the_default_question_gets_a_recommendation_and_a_table_with_sources(page: AppTest) -> None:
    assert not page.exception
    table = planner_table(page)
    assert IMPORT in set(table["Approach"]) and len(table) >= 9
    assert table["Based on"].str.len().min() > 10 and "For the deadline" not in table.columns
    text = markdown(page)
    assert "**Recommended:** s3-import with " in text and ": new table, 10 million items" in text
    assert "terraform-provider-aws/issues/27250" in text and "USD per million WRU" in text


def test_the_pages_own_target_is_planned_with_the_labs_proxy_rules(page: AppTest) -> None:
    page.radio(key="load_target").set_value("embedded").run()
    assert "on this machine and embedded" in "\n".join(str(c.value) for c in page.caption)
    assert "the lab's proxy doubles an on-demand allowance at once" in "\n".join(str(c.value) for c in page.caption)


def test_an_existing_table_has_no_import_and_a_deadline_adds_the_workers_it_takes(page: AppTest) -> None:
    page.radio(key="load_table").set_value("existing")
    page.text_input(key="load_deadline").input("1h").run()
    table = planner_table(page)
    assert IMPORT not in set(table["Approach"]) and "bulk-put" in set(table["Approach"])
    writers = table[table["Approach"] != "bulk-put"]
    assert "For the deadline" in table.columns and writers["For the deadline"].str.match(r"\d+ workers?$").all()
    page.text_input(key="load_deadline").input("30min").run()  # the new table's 4,000 WRU/s for 30 min: 36 min
    assert planner_table(page)["For the deadline"].str.startswith("cannot: ").all()
    assert "imports only into a new table" in "\n".join(str(c.value) for c in page.caption)


def test_an_existing_table_offers_bulk_put_with_its_tier_and_max_wru(page: AppTest) -> None:
    page.radio(key="load_table").set_value("existing").run()
    slow = planner_table(page).set_index("Approach").loc["bulk-put"]
    assert "assumed" in slow["Based on"] and "STANDARD" in slow["Based on"]
    page.radio(key="load_bulk_tier").set_value("ACCELERATED").run()
    fast = planner_table(page).set_index("Approach").loc["bulk-put"]
    assert "ACCELERATED" in fast["Based on"] and fast["Time (range)"] != slow["Time (range)"]
    page.number_input(key="load_bulk_max_wru").set_value(2048).run()
    assert "MaxWriteRequestUnits 2,048" in planner_table(page).set_index("Approach").loc["bulk-put"]["Based on"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("load_items", "lots", "Items must be a whole number from 1 to"),
    ("load_bytes", "500000", "Item size (bytes) must be a whole number from 1 to 409,600"),
    ("load_capacity", "huge", "bad capacity 'huge'"),
    ("load_deadline", "tomorrow", "bad deadline 'tomorrow'"),
])
def test_bad_input_is_one_line_and_no_table(page: AppTest, key: str, value: str, message: str) -> None:
    page.text_input(key=key).input(value).run()
    errors = [str(e.value) for e in page.error]
    assert any(message in error and "\n" not in error for error in errors), errors
    assert not any("Based on" in t.value.columns for t in page.table)


@pytest.mark.parametrize(("mode", "source"), [
    ("standard", "with standard retries: 0.33-0.93"),  # the default: a run's
    ("adaptive", "with adaptive rate control: 0.89-1.04"),
])
def test_the_retry_mode_picks_the_throttled_goodput_and_its_source(page: AppTest, mode: str, source: str) -> None:
    assert page.radio(key="load_retry_mode").value == "standard"
    page.radio(key="load_retry_mode").set_value(mode).run()
    table = planner_table(page)
    writers = table[table["Approach"] != IMPORT]
    assert len(writers) >= 8 and writers["Based on"].str.contains(f"{mode} retries").all()
    assert source in markdown(page)
