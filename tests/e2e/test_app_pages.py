"""The multipage app through AppTest: every page draws; the sidebar shows what the run uses; Run says why it waits;
a session that finds a running job shows that job's plan; and the wording points of issue 24 (one test each)."""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.app import charts, jobs, wording
from core.app.export import to_csv, to_dict
from core.app.history import History
from core.domain.capacity import Capacity
from core.domain.plan import Conditions, Plan
from core.domain.results import Report
from core.paths import REPO_ROOT
from core.run.sweep import SweepResult, plan_sweep
from core.servers.emulator import Emulator
from tests.unit.test_charts import REPORT, capacity_report, point, report, result, use

APP = str(REPO_ROOT / "streamlit_app.py")
PAGES = tuple(f"core/app/pages/{name}.py" for name in ("compare", "sweep", "plan_load", "history", "engines"))


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LAB_HISTORY_PATH", str(tmp_path / "history.sqlite3"))
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    return AppTest.from_file(APP, default_timeout=120).run()


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.fixture(autouse=True)
def no_job_left_behind() -> Any:
    yield
    job = jobs.RUNS.running
    if job is not None:
        job.cancel()
        job.wait(30)


def test_every_page_draws_without_an_error_and_its_title_first(app: AppTest) -> None:
    titles = []
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception and not app.error, (page, texts(app.error))
        titles.append(app.title[0].value)
    assert titles == ["Compare the ways to write", "Concurrency sweep: why async wins", "Plan a bulk load", "History",
                      "Engines: where the lab writes"]


def test_the_sidebar_explains_every_target_before_it_is_chosen(app: AppTest) -> None:
    radio = app.sidebar.radio(key="target_kind")
    assert "Embedded" in radio.options[0] and "dynalite" in str(radio.help)
    app.switch_page("core/app/pages/engines.py").run()
    table = app.table[0].value
    assert len(table) == 5 and table["what it is"].str.contains("127.0.0.1").sum() >= 2
    assert "| `put-ok`" in texts(app.markdown)  # the conformance table


def test_the_aws_like_preset_shows_its_conditions_in_the_widgets_and_the_run_uses_them(app: AppTest) -> None:
    """Point 3: the sidebar said Network none and capacity off while the run used 22 ms + 6 ms and on-demand."""
    app.sidebar.selectbox(key="preset").set_value("aws-like").run()
    assert app.sidebar.selectbox(key="network").value == "nearby-region"
    assert app.sidebar.selectbox(key="capacity_mode").value == "on-demand"
    caption = texts(app.caption)
    assert "nearby-region network: 22 ms + up to 6 ms" in caption and "capacity on-demand" in caption
    assert "preset aws-like" in caption


def test_a_dress_rehearsal_report_confirms_https_and_signatures() -> None:
    plan = Plan(rehearsal=True, approaches=("async",), items=100)
    said = wording.rehearsal_summary(Report(plan, {}, (result("async", 1.0),)))
    assert "HTTPS" in said and "SigV4 signature" in said and "100 requests" in said and "none refused" in said


def test_a_cancelled_run_is_never_the_fastest_and_failed_runs_have_no_rate() -> None:
    """Point 5: "Fastest approach: sequential 14.77 s" after a cancel at 35 of 100 books; 0/200 written yet
    "fastest"."""
    partial = (result("sequential", 14.77, items=35),)
    cancelled = Report(Plan(approaches=("sequential", "async"), items=100), {}, partial, cancelled=True)
    top = wording.headline(cancelled)
    assert top is not None and top.fastest == "none finished" and top.speedup is None
    failed = replace(result("sequential", 9.78, items=200), report=replace(result("sequential", 9.78, items=200).report,
                                                                           items_ok=0, items_failed=200))
    top = wording.headline(Report(Plan(approaches=("sequential", "async"), items=200), {}, (failed,)))
    assert top is not None and top.fastest == "none finished"


def test_a_cancelled_run_compares_no_estimate_with_its_partial_time(app: AppTest) -> None:
    """Point 5: "estimate ÷ actual = 3.39" compared the whole plan with a cancelled run."""
    partial = (result("sequential", 14.77, items=35),)
    cancelled = Report(Plan(approaches=("sequential", "async"), items=100), {}, partial, cancelled=True)
    from core.forecast.estimate import forecast

    app.session_state["report"] = cancelled
    app.session_state["run_timing"] = (forecast(cancelled.plan), 14.77)
    app.run()
    assert not app.exception
    assert "estimate ÷ actual =" not in texts(app.caption) and "it stopped after" in texts(app.caption)
    assert "No finished sequential run" in texts(app.caption)
    assert "Never ran: async" in texts(app.warning)


def test_an_unreachable_localstack_disables_run_and_says_why(app: AppTest) -> None:
    """Point 9: Run stayed enabled and only repeated the error."""
    app.sidebar.radio(key="target_kind").set_value("localstack").run()
    assert app.button(key="run").disabled
    assert "The target cannot take a run" in texts(app.main.error)
    assert "Engines page" in texts(app.sidebar.caption)


def test_history_lines_say_capacity_preset_and_workers(tmp_path: Path) -> None:
    """Point 10: a provisioned=200 run read "no added latency"; runs were "#6"/"#1"; book counts differed silently."""
    plan = Plan(capacity=Capacity("provisioned", wcu=200), workers=2, approaches=("async",), items=100)
    store = History(tmp_path / "h.sqlite3")
    store.append(Report(plan, {}, (result("async", 1.0),)))
    store.append(Report(replace(plan, conditions=Conditions(22.0, 6.0), capacity=Capacity("on-demand"),
                                rehearsal=True, workers=1), {}, (result("async", 1.0),)))
    labels = [wording.history_label(entry) for entry in store.entries()]
    assert "capacity provisioned=200" in labels[1] and "2 workers" in labels[1]
    assert "22 ms + 6 ms, capacity on-demand, preset aws-like" in labels[0]
    assert not any(label.startswith("#") for label in labels)
    assert "2 Dask workers" in wording.describe_plan(plan) and "capacity provisioned=200" in wording.describe_plan(plan)
    first, second = to_dict(REPORT), to_dict(report(result("async", 1.0, items=50), items=50))
    assert "different book counts (100 and 50)" in (wording.comparison_warning(first, second) or "")
    assert wording.comparison_warning(first, first) is None


def test_a_bad_wcu_reads_like_every_other_field_and_run_says_why(app: AppTest) -> None:
    """Point 11: "capacity wcu must be a whole number from 1 to 40000, got 0"; Run greyed out with no reason."""
    app.sidebar.selectbox(key="capacity_mode").set_value("provisioned").run()
    app.sidebar.text_input(key="capacity_wcu").set_value("0").run()
    assert "Provisioned WCU must be a whole number from 1 to 40,000, got '0'" in texts(app.sidebar.error)
    assert app.button(key="run").disabled
    assert "The sidebar's conditions need fixing: Provisioned WCU" in texts(app.main.error)
    app.switch_page("core/app/pages/plan_load.py").run()
    items = app.text_input(key="load_items")
    assert "10**12" not in str(items.help) and "1,000,000,000,000" in str(items.help)


def test_planner_sources_link() -> None:
    """The planner's sources as links (its figures' wording: tests/unit/test_formatting.py)."""
    linked = wording.linked("see github.com/hashicorp/terraform-provider-aws/issues/27250 and "
                            "core/forecast/estimate.py")
    assert "(https://github.com/hashicorp/terraform-provider-aws/issues/27250)" in linked
    assert "`core/forecast/estimate.py`" in linked


def test_the_planner_shows_the_best_rows_first(app: AppTest) -> None:
    app.switch_page("core/app/pages/plan_load.py").run()
    table = app.table[0].value
    assert len(table) == 5 and "Based on" not in table.columns
    app.toggle(key="load_all").set_value(True).run()
    assert len(app.table[0].value) > 5 and "Based on" in app.table[0].value.columns


def test_a_remote_scheduler_beside_a_loopback_target_is_refused_and_too_many_workers_warned(app: AppTest) -> None:
    """Point 15: tcp://example.com:8786 accepted beside 127.0.0.1; 65 workers on 2 cores without a word."""
    app.text_input(key="scheduler").set_value("tcp://example.com:8786").run()
    assert app.button(key="run").disabled and "is off this machine while the target is on it" in texts(app.error)
    app.text_input(key="scheduler").set_value("").run()
    app.text_input(key="workers").set_value("65").run()
    assert "65 workers on this machine's" in texts(app.warning)


def test_csv_repeats_count_from_one_and_say_cancelled() -> None:
    """Point 16: CSV repeat started at 0 while the page showed 1; no cancelled flag."""
    rows = list(csv.DictReader(io.StringIO(to_csv(replace(REPORT, cancelled=True)))))
    assert [row["repeat"] for row in rows[:3]] == ["1", "2", "3"] and {row["cancelled"] for row in rows} == {"True"}


def test_the_sweep_chart_says_its_conditions_and_its_knees_have_no_label_to_overlap() -> None:
    """Point 16: the subtitle read "0 ms + up to 0 ms added"; the "async knee" text overlapped the threaded line."""
    sweep = plan_sweep(Plan(items=100), (1, 8), most_items=40)
    points = tuple(point(name, level, rate) for name in ("threaded", "async")
                   for level, rate in ((1, 100.0), (8, 700.0)))
    figure = charts.sweep_chart(SweepResult(sweep, points))
    assert "0 ms + up to 0 ms" not in figure.layout.title.subtitle.text
    assert "no added latency" in figure.layout.title.subtitle.text
    assert all(trace.mode != "markers+text" for trace in figure.data)


def test_a_session_that_finds_a_running_job_shows_its_plan(app: AppTest, emulator: Emulator) -> None:
    """Point 7: after a reload mid-run the form showed the defaults (Books 1000, Network none)."""
    plan = Plan(approaches=("sequential",), items=200_000, conditions=Conditions(75.0, 10.0), seed=7)
    job = jobs.RUNS.start(jobs.plan_job(plan, emulator))
    job.wait(0.5)
    fresh = AppTest.from_file(APP, default_timeout=120)
    with contextlib.suppress(RuntimeError):  # the page watches the job until it ends: the look times out
        fresh.run(timeout=3)
    job.cancel()
    job.wait(60)
    assert fresh.session_state["items"] == "200000" and fresh.session_state["network"] == "study-2022"
    assert fresh.session_state["approaches"] == ["sequential"] and fresh.session_state["seed"] == "7"


def test_a_write_phase_under_a_second_never_shows_a_mean_above_its_peak() -> None:
    """Point 4: async-batch showed 3,146 WRU/s mean but 900 WRU/s peak in a write phase under a second."""
    short_phase = use(((0.0, 900),), ((0.0, 4000.0),), 40, 0, {}, seconds=0.286, setting="on-demand")
    assert short_phase.goodput > 3000 and short_phase.peak >= short_phase.goodput
    row = wording.capacity_rows(to_dict(Report(Plan(approaches=("async-batch",), items=100,
                                                    capacity=Capacity("on-demand")), {},
                                               (replace(result("async-batch", 0.286), capacity_use=short_phase),))))[0]
    assert int(row["WRU/s peak"].replace(",", "")) >= int(row["WRU/s mean"].replace(",", ""))


def test_the_waste_panels_say_no_throttling_in_words_and_keep_their_titles_short() -> None:
    """Point 4: with no throttling the right panel was empty and the left axis ran 0-1 "% of requests"; the panel
    titles and the "writes (items)" label overlapped (the browser test measures the boxes)."""
    calm = use(((0.0, 100),), ((0.0, 4000.0),), 40, 0, {}, setting="on-demand")
    data = to_dict(Report(Plan(approaches=("async",), items=100, capacity=Capacity("on-demand")), {},
                          (replace(result("async", 1.0), capacity_use=calm),)))
    figure = charts.waste_bar(data)
    assert not figure.data and "No write was throttled" in figure.layout.annotations[0].text
    busy = charts.waste_bar(capacity_report())
    assert all(len(a.text) <= 30 for a in busy.layout.annotations)  # the two panel titles


def test_sweep_errors_on_the_page_suggest_what_to_type_there(app: AppTest) -> None:
    """Point 11: sweep errors suggested the CLI's syntax (concurrency=1,4,16,64,256)."""
    app.switch_page("core/app/pages/sweep.py").run()
    app.text_input(key="sweep_levels").set_value("1, x").run()
    said = texts(app.error)
    assert "e.g. 1, 4, 16, 64, 256 in Concurrency levels" in said and "concurrency=" not in said
    assert app.button(key="run_sweep").disabled
