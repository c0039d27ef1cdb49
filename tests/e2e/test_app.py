"""streamlit_app.py through Streamlit's AppTest (the script runs in-process, its benchmark in a background thread):
targets, validation, a real small run, the estimate against it, a sweep, history; and core.app.jobs' background run:
alone in the process, reattached from another session, cancelled."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.app import jobs, wording
from core.app.export import to_dict
from core.app.history import History
from core.domain.bulkmodel import EMULATED
from core.domain.errors import ConfigError
from core.domain.plan import Conditions, Plan
from core.domain.results import Report
from core.paths import REPO_ROOT
from core.servers.emulator import Emulator
from tests.unit.test_charts import REPORT, capacity_report, report, result

APP = str(REPO_ROOT / "streamlit_app.py")


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


def confirm_box(app: AppTest) -> Any:
    return next(c for c in app.checkbox if c.key and c.key.startswith("confirm-"))


@pytest.fixture(autouse=True)
def no_job_left_behind() -> Any:
    """The registry is process-wide (as on a server): every test leaves it idle."""
    yield
    job = jobs.RUNS.running
    if job is not None:
        job.cancel()
        assert job.wait(60)


def test_the_embedded_target_comes_up_by_itself(app: AppTest) -> None:
    assert not app.exception
    assert "Running at http://127.0.0.1:" in texts(app.sidebar.success)
    assert app.multiselect(key="approaches").value == ["sequential", "threaded", "async"]
    assert "Estimated duration" in texts(app.caption) and "not calibrated yet" in texts(app.caption)
    assert not app.error and not button(app, "Run").disabled


def test_switching_targets_needs_no_restart(app: AppTest) -> None:
    app.sidebar.radio(key="target_kind").set_value("localstack").run()
    assert not app.exception
    assert app.sidebar.text_input(key="localstack_url").value == "http://127.0.0.1:9"
    assert "not reachable at http://127.0.0.1:9: run `docker compose up -d`" in texts(app.sidebar.error)
    assert "docker compose up -d" in texts(app.sidebar.code)
    assert "Conditions" in texts(app.sidebar.header)  # a loopback LocalStack gets them through the lab's proxy

    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("localhost:8000").run()
    assert [e.value for e in app.error] == ["invalid endpoint URL 'localhost:8000': expected http(s)://host[:port], "
                                            "e.g. http://localhost:4566"]
    assert button(app, "Run").disabled

    app.sidebar.radio(key="target_kind").set_value("aws").run()
    assert not app.exception
    assert "Conditions" not in texts(app.sidebar.header)  # never injected in front of a remote target
    assert app.sidebar.selectbox(key="profile").value == "(default credential chain)"
    assert [i.label for i in app.sidebar.text_input if i.proto.type == i.proto.PASSWORD] == [
        "Access key ID", "Secret access key", "Session token (optional)"]
    assert "Check credentials" in [b.label for b in app.sidebar.button]
    assert "0.625 USD per million WRU, us-east-1, since Nov 2024" in texts(app.warning)
    assert button(app, "Run").disabled  # every AWS run needs the confirmation box
    confirm_box(app).check().run()
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
    app.text_input(key="items").set_value("40").run()
    button(app, "Run").click().run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    assert "Verified: every run wrote all 40 books, none lost." in texts(app.success)
    report: Report = app.session_state["report"]
    assert report.clean and [r.approach for r in report.runs] == ["sequential", "threaded", "async"]
    assert texts(app.success).startswith("Use ")  # the answer first: the verdict's sentence
    specs = {c.proto.id: json.loads(c.proto.spec) for c in app.get("plotly_chart")}
    assert len(specs) == 6  # the answer's speed-up chart; seconds, items/s, latency, timeline, speed-up
    seconds = next(s for s in specs.values() if s["layout"]["title"]["text"].startswith("Seconds"))
    [ours] = seconds["data"]  # the study's seconds are never drawn on our axis
    assert ours["name"] == "this lab (40 books, embedded)" and ours["x"] == ["sequential", "threaded", "async"]
    speedup = next(s for s in specs.values() if s["layout"]["title"]["text"].startswith("Speed-up"))
    ours, study = speedup["data"]
    assert ours["y"][0] == 1.0 and study["name"] == "the 2022 study's own figures (AWS, 10,000 books)"
    assert [round(v, 1) for v in study["y"]] == [1.0, 11.7, 75.3]
    assert "estimate ÷ actual" in texts(app.caption)
    assert "**mismatched**: present with other attributes" in texts(app.caption)
    latency = next(s for s in specs.values() if s["layout"]["title"]["text"].startswith("Latency"))
    assert [t["name"] for t in latency["data"]] == ["sequential", "threaded", "async"]
    assert "120" in texts(app.metric) and "of 120, none lost" in str([m.delta for m in app.metric])
    app.toggle(key="log_scale").set_value(True).run()
    shown = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    assert shown[1]["layout"]["title"]["text"].startswith("Seconds") and shown[1]["layout"]["yaxis"]["type"] == "log"
    assert "calibrated from 3 earlier fault-free runs on this machine and embedded" in texts(app.caption)
    app.switch_page("core/app/pages/history.py").run()
    history = app.selectbox(key="compare_first")
    assert len(history.options) == 1 and "40 books" in history.options[0]
    assert "no added latency" in history.options[0] and "verified" in history.options[0]


def test_a_run_with_capacity_on_shows_consumed_capacity_and_waste_per_approach(app: AppTest) -> None:
    app.text_input(key="items").set_value("30").run()
    app.sidebar.selectbox(key="capacity_mode").set_value("provisioned").run()
    app.sidebar.text_input(key="capacity_wcu").set_value("1").run()
    button(app, "Run").click().run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    report: Report = app.session_state["report"]
    assert all(r.capacity_use is not None and r.capacity_use.consumed_wru == 30 for r in report.runs)
    assert "#### Table capacity: provisioned=1" in texts(app.markdown)
    specs = {json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec)
             for c in app.get("plotly_chart")}
    assert len(specs) == 7  # the answer's chart has the speed-up chart's title
    consumed = specs["Consumed write capacity over time"]
    assert [t["name"] for t in consumed["data"]] == ["sequential", "threaded", "async",
                                                     "table capacity (provisioned=1)"]
    waste = specs["Throttling and waste per approach"]
    if any(r.capacity_use.refused or r.capacity_use.throttles for r in report.runs if r.capacity_use):
        assert waste["data"][0]["name"] == "wasted requests"
    else:  # the burst covered every write: said in words, not drawn as empty panels
        assert "No write was throttled" in waste["layout"]["annotations"][0]["text"]
    assert "goodput ÷ capacity" in texts(app.caption)


def test_capacity_rows_say_what_each_run_did_to_its_table() -> None:
    rows = wording.capacity_rows(to_dict(capacity_report()))
    assert rows[0] == {"approach": "threaded", "repeat": "1", "WRU/s mean": "72", "WRU/s peak": "100",
                       "capacity WRU/s": "100", "goodput ÷ capacity": "0.80", "requests": "200", "wasted": "10.0%",
                       "throttled (by reason)": "KeyRangeThroughputExceeded 5, ProvisionedThroughputExceeded 20"}
    assert rows[1]["throttled (by reason)"] == "none"
    assert wording.capacity_rows(to_dict(REPORT)) == []  # capacity off: nothing to show


def test_history_lists_earlier_runs_and_compares_two(app: AppTest, history_path: Path) -> None:
    app.switch_page("core/app/pages/history.py").run()
    assert "No runs yet" in texts(app.caption)
    store = History(history_path)
    first, second = store.append(REPORT), store.append(REPORT)
    app.run()
    assert "2 runs kept in" in texts(app.caption)
    compare = app.selectbox(key="compare_first")
    assert len(compare.options) == 2 and compare.options[0].endswith(f"· run {second}")
    compare.set_value(second).run()
    assert app.selectbox(key="compare_second").options == [app.selectbox(key="compare_first").options[1]]
    app.selectbox(key="compare_second").set_value(first).run()
    assert not app.exception and not app.error
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    names = {t["name"] for t in figure["data"]}  # what and when, not row numbers; the same twice is told apart
    assert len(names) == 2 and all("100 books on embedded" in name and "#" not in name for name in names)
    assert any(name in texts(app.markdown) for name in names)


def test_a_remote_endpoint_asks_before_every_run(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the custom target signs with boto3's default chain
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("http://lab.invalid:8000").run()
    assert "is not on this machine" in texts(app.warning)
    assert not app.sidebar.error and not app.sidebar.success  # nothing sent there unasked
    assert button(app, "Run").disabled
    confirm_box(app).check().run()
    button(app, "Run").click().run()
    assert not app.exception
    assert "custom target is not reachable at http://lab.invalid:8000" in texts(app.error)
    assert not confirm_box(app).value and button(app, "Run").disabled  # asked again, with a fresh box
    job = jobs.RUNS.current  # the failed run's thread may still be ending: widgets are disabled while it runs
    assert job is not None and job.wait(60)
    app.run()
    app.sidebar.radio(key="target_kind").set_value("embedded").run()
    assert "lab.invalid" not in texts(app.error)  # that target's error is not shown for another one
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("http://lab.invalid:8000").run()
    assert "lab.invalid" in texts(app.error)  # back on that target, its last error is there again


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


def test_validation_shows_every_bad_number_and_disables_run(app: AppTest) -> None:
    cases = {"items": ("0", "Books must be a whole number from 1 to 10,000,000, got '0'"),
             "threads": ("0", "Threads must be a whole number from 1 to 512, got '0'"),
             "concurrency": ("lots", "Async concurrency must be a whole number from 1 to 4,096, got 'lots'"),
             "repeats": ("0", "Repeats must be a whole number from 1 to 50, got '0'")}
    for key, (typed, _) in cases.items():
        app.text_input(key=key).set_value(typed)
    app.run()
    assert not app.exception
    assert [e.value for e in app.error] == [message for _, message in cases.values()]
    assert button(app, "Run").disabled and "Estimated duration" not in texts(app.caption)
    app.text_input(key="items").set_value("999999999").run()
    assert "Books must be a whole number from 1 to 10,000,000, got '999999999'" in texts(app.error)
    for key, typed in {"items": "1", "threads": "4", "repeats": "2", "concurrency": "8"}.items():
        app.text_input(key=key).set_value(typed)
    app.run()
    assert not app.error and not button(app, "Run").disabled
    assert "1 book × 3 approaches" in texts(app.caption) and "2 repeats" in texts(app.caption)


def test_an_absurd_latency_warns_before_the_run(app: AppTest) -> None:
    app.sidebar.selectbox(key="network").set_value("custom").run()
    app.sidebar.text_input(key="latency_ms").set_value("60000").run()
    assert "Before you run: this plan may take up to" in texts(app.warning)
    app.sidebar.text_input(key="latency_ms").set_value("70000").run()
    assert "Latency (ms) must be a number from 0 to 60,000, got '70000'" in texts(app.sidebar.error)
    assert button(app, "Run").disabled


def test_a_loopback_custom_url_needs_no_credentials_and_says_what_is_wrong(app: AppTest,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("http://127.0.0.1:9").run()
    assert "custom target is not reachable at http://127.0.0.1:9" in texts(app.sidebar.error)
    assert "credentials" not in texts(app.sidebar.error)


def test_a_remote_url_with_nothing_there_is_said_before_any_credentials(app: AppTest,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("http://lab.invalid:8000").run()
    next(b for b in app.sidebar.button if b.label == "Check the endpoint").click().run()
    assert texts(app.sidebar.error) == ("custom target is not reachable at http://lab.invalid:8000: start it or fix "
                                        "the endpoint URL")


def test_checking_absent_aws_credentials_says_there_are_none(app: AppTest, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # nothing leaves this machine
    app.sidebar.radio(key="target_kind").set_value("aws").run()
    next(b for b in app.sidebar.button if b.label == "Check credentials").click().run()
    assert not app.exception
    assert "no AWS credentials found" in texts(app.sidebar.error)
    assert "refused" not in texts(app.sidebar.error)


def test_a_cancelled_report_says_what_ran_and_what_did_not() -> None:
    cancelled = Report(Plan(items=200), {}, (result("sequential", 1.0, items=120),), cancelled=True)
    assert wording.cancel_summary(cancelled) == (
        "Cancelled: sequential wrote 120 of 200 books; threaded, async did not run. Figures below cover only what "
        "was written before the cancel.")
    assert wording.headline(cancelled) is not None and wording.headline(cancelled).speedup is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "value"), [("1000", 1000), (" 1,000 ", 1000), ("10_000", 10_000), ("1e3", 1000),
                                            ("2.5k", 2500), ("10k", 10_000)])
def test_parse_whole_accepts(text: str, value: int) -> None:
    assert wording.parse_whole(text, "Books", 1, 10_000) == value


@pytest.mark.parametrize("text", ["0", "10001", "-1", "1.5", "", "abc", "1e5", "0.5"])
def test_parse_whole_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^Books must be a whole number from 1 to 10,000, got "):
        wording.parse_whole(text, "Books", 1, 10_000)


def test_history_labels_show_conditions_seconds_and_state(history_path: Path) -> None:
    store = History(history_path)
    slow = report(result("sequential", 300.0), result("async", 77.0))
    slow = Report(Plan(items=100, conditions=Conditions(latency_ms=22, jitter_ms=6, throttle=0.2)), {}, slow.runs,
                  created=slow.created)
    store.append(slow)
    [entry] = store.entries()
    label = wording.history_label(entry)
    assert "22 ms + 6 ms, throttle 20%" in label and "377.0 s writing" in label and "100 books" in label
    assert wording.history_rows([entry])[0]["conditions"] == "22 ms + 6 ms, throttle 20%"


def test_a_small_sweep_draws_the_ideal_line_the_capacity_and_the_points(app: AppTest) -> None:
    app.switch_page("core/app/pages/sweep.py").run()
    app.text_input(key="sweep_levels").set_value("1, 8").run()
    app.text_input(key="sweep_items").set_value("40").run()
    assert not app.error
    button(app, "Run sweep").click().run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    figure = json.loads(next(c for c in app.get("plotly_chart") if c.proto.id.endswith("sweep_chart")
                             or "concurrency" in c.proto.spec).proto.spec)
    names = [t["name"] for t in figure["data"]]
    assert names[0].startswith("ideal C ÷ L (L = ") and "threaded" in names and "async" in names
    assert any(n.startswith(("highest measured", "server capacity")) for n in names)
    assert [t["x"] for t in figure["data"] if t["name"] == "async"] == [[1, 8]]
    sweep = app.session_state["sweep"]
    assert len(sweep.points) == 4 and all(p.clean for p in sweep.points)
    assert "L = " in texts(app.markdown)


def test_a_background_run_is_alone_cancels_cleanly_and_records_its_report(emulator: Emulator) -> None:
    recorded: list[Report] = []
    started = threading.Event()
    job = jobs.RUNS.start(jobs.plan_job(Plan(approaches=("sequential", "async"), items=200_000), emulator,
                                    record=recorded.append))
    try:
        while not job.wait(0.05):
            event = job.snapshot().events.get("sequential")
            if event is not None and event.phase == "write" and event.done > 0 and not started.is_set():
                started.set()
                with pytest.raises(ConfigError, match="another run is in progress"):  # e.g. from another tab
                    jobs.RUNS.start(jobs.plan_job(Plan(items=10), emulator))
                job.cancel()
    finally:
        job.cancel()  # whatever happened above, leave no writer behind
        assert job.wait(60)
    snap = job.snapshot()
    assert started.is_set() and not snap.running and snap.error is None
    assert snap.report is not None and snap.report.cancelled and recorded == [snap.report]
    assert [r.approach for r in snap.report.runs] == ["sequential"]  # async never started
    assert snap.report.runs[0].report.items_ok < 200_000


def test_another_session_reattaches_to_the_running_job_and_gets_its_result(app: AppTest,
                                                                          emulator: Emulator) -> None:
    """A run started elsewhere (another tab, or this tab before a reload): this session finds it, watches it and,
    when it ends, shows its result."""
    job = jobs.RUNS.start(jobs.plan_job(Plan(items=200_000), emulator))

    def cancel_once_writing() -> None:
        while not job.wait(0.05):
            event = job.snapshot().events.get("sequential")
            if event is not None and event.phase == "write" and event.done > 0:
                time.sleep(1.0)
                job.cancel()

    threading.Thread(target=cancel_once_writing, daemon=True).start()
    app.run()
    assert not app.exception
    assert app.session_state["report"] is job.snapshot().report
    assert "Cancelled: sequential wrote " in texts(app.warning)
    assert "of 200,000 books; threaded, async did not run." in texts(app.warning)
    assert "Every book the cancelled runs wrote was verified" in texts(app.info)
    assert not button(app, "Run").disabled


def test_s3_import_runs_on_moto_and_the_page_says_its_time_is_not_representative(app: AppTest) -> None:
    app.multiselect(key="approaches").set_value(["s3-import", "async"]).run()
    app.text_input(key="items").set_value("60").run()
    note = "s3-import ran on moto, not on embedded: its duration is not representative; only AWS's figure is"
    assert note in texts(app.info)  # before the run, beside the estimate
    assert not [t for t in app.text_input if t.key in ("s3_bucket", "s3_prefix")]  # asked only off this machine
    button(app, "Run").click().run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    report: Report = app.session_state["report"]
    assert report.clean and [r.approach for r in report.runs] == ["s3-import", "async"]
    assert texts(app.info).count(note) >= 1 and note in report.runs[0].report.notes[0]


def test_bulk_put_runs_with_its_tier_and_max_wru_and_the_page_says_it_is_emulated(app: AppTest) -> None:
    app.multiselect(key="approaches").set_value(["bulk-put"]).run()
    app.text_input(key="items").set_value("300").run()
    assert EMULATED in texts(app.info)  # before the run, beside the estimate
    app.radio(key="bulk_tier").set_value("ACCELERATED").run()
    app.number_input(key="bulk_max_wru").set_value(2048).run()
    button(app, "Run").click().run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    report: Report = app.session_state["report"]
    assert report.clean and report.plan.bulk_tier == "ACCELERATED" and report.plan.bulk_max_wru == 2048
    assert EMULATED in report.runs[0].report.notes
    assert "MaxWriteRequestUnits 2,048" in " ".join(report.runs[0].report.notes)


def test_s3_import_on_a_remote_url_asks_for_the_bucket_the_plan_needs(app: AppTest,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan needs a bucket for any target off this machine, not only AWS: the page shows the field its error
    names (the same decision, core.domain.s3source.needs_bucket)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app.sidebar.radio(key="target_kind").set_value("custom").run()
    app.sidebar.text_input(key="custom_url").set_value("http://lab.invalid:8000").run()
    app.multiselect(key="approaches").set_value(["s3-import"]).run()
    assert "needs --s3-bucket (the page: S3 bucket)" in texts(app.error)
    app.text_input(key="s3_bucket").set_value("my-lab-bucket").run()
    assert not app.error, texts(app.error)
    app.sidebar.text_input(key="custom_url").set_value("http://127.0.0.1:9").run()  # on this machine: the lab's own
    assert not [t for t in app.text_input if t.key in ("s3_bucket", "s3_prefix")]


def test_s3_import_on_aws_asks_for_the_bucket_and_prices_the_import(app: AppTest,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    app.sidebar.radio(key="target_kind").set_value("aws").run()
    app.multiselect(key="approaches").set_value(["s3-import"]).run()
    assert "s3-import on AWS us-east-1 needs --s3-bucket" in texts(app.error)
    app.text_input(key="s3_bucket").set_value("my-lab-bucket").run()
    assert not app.error, texts(app.error)
    assert "for s3-import" in texts(app.warning) and "per GB of uncompressed source" in texts(app.warning)
