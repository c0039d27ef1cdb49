"""The page in a real browser: Debian's chromium, driven by playwright, against `streamlit run` on a free port:
a run and its charts, cancel, a reload that reattaches to the running job, a bad number, the concurrency sweep,
and small comparisons on the real engines: DynamoDB Local (started by the app) and host-mode LocalStack (started by
the test session, its URL typed into the page)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from core.paths import REPO_ROOT
from core.servers.localstack import LocalStack
from tests.servers import assert_all_gone, free_port

ROOT = REPO_ROOT
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240),
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason=f"Debian's chromium is not installed at {CHROMIUM} (./lab.sh test installs "
                                        "it; playwright's own browsers are never downloaded)")]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free port, with a fresh history; stopped after, and with it every engine
    it started (dynalite, DynamoDB Local): none is left behind."""
    port = free_port()
    history = tmp_path_factory.mktemp("browser") / "history.sqlite3"
    env = dict(os.environ, LAB_HISTORY_PATH=str(history))
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.fileWatcherType", "none"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "streamlit did not start"
            time.sleep(0.2)
        yield url
    finally:
        engines = []
        with contextlib.suppress(psutil.NoSuchProcess):  # it may have died at start
            engines = psutil.Process(process.pid).children(recursive=True)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert_all_gone(engines)


LOCAL_URLS = ("http://127.0.0.1", "ws://127.0.0.1", "http://localhost", "ws://localhost", "data:", "blob:")


@pytest.fixture
def page(app: str) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(app)
            expect(page.get_by_text("Running at http://127.0.0.1:")).to_be_visible(timeout=60_000)
            settle(page)  # the first run of the page sets the form up: typing before it ends is undone
            try:
                yield page
            finally:
                stop_any_run(page, app)
            assert [url for url in requested if not url.startswith(LOCAL_URLS)] == [], "the page fetched off-machine"
        finally:
            browser.close()


def stop_any_run(page: Any, app: str) -> None:
    """Cancel a run a test left going (one that failed halfway): the app runs one job at a time, and the next
    test's page would find this one's still running."""
    from playwright.sync_api import expect

    page.goto(app)
    run = page.get_by_role("button", name="Run", exact=True)
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    expect(run.or_(cancel).first).to_be_visible(timeout=60_000)  # while a run goes on the page watches it: no Run
    if cancel.count():
        cancel.first.click()
        expect(run).to_be_visible(timeout=120_000)


def go_to(page: Any, title: str) -> None:
    """Open a page of the app from the sidebar's navigation."""
    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()
    expect(page.locator("h1").first).to_be_visible(timeout=30_000)


def overlapping(page: Any, chart: Any) -> list[tuple[str, str]]:
    """Pairs of a Plotly chart's texts (titles, panel titles, axis titles, annotations, bar labels) whose drawn
    boxes overlap."""
    boxes = chart.evaluate("""plot => Array.from(plot.querySelectorAll(
        '.gtitle, .g-gtitle text, .annotation-text, .g-xtitle text, .g-ytitle text, .g-y2title text, .textpoint text'))
        .filter(e => e.textContent.trim()).map(e => {const r = e.getBoundingClientRect();
          return {t: e.textContent.trim(), x: r.left, y: r.top, w: r.width, h: r.height};})""")
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] \
                    and b["y"] < a["y"] + a["h"]:
                pairs.append((a["t"], b["t"]))
    return pairs


def type_into(page: Any, label: str, text: str) -> None:
    """Type ``text`` into the text box called ``label`` and press Enter, as often as it takes to stick: a box the
    page redraws while a rerun is still under way (a slow machine) shows its old value again, as it would to a
    user, who would type again."""
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name=label, exact=True)
    for _ in range(3):
        settle(page)
        box.fill(text)
        box.press("Enter")
        settle(page)
        if box.input_value() == text:
            return
    expect(box).to_have_value(text)


def set_books(page: Any, count: int, approaches: int = 3) -> None:
    from playwright.sync_api import expect

    type_into(page, "Books", str(count))
    expect(page.get_by_text(f"{count:,} books × {approaches} approaches")).to_be_visible(timeout=10_000)


def settle(page: Any) -> None:
    """Wait until the page's script run is over: no running icon in the status widget, nothing drawn stale."""
    page.wait_for_timeout(300)  # a rerun's running icon shows after a short delay
    page.wait_for_function("() => !document.querySelector("
                           "\"[data-testid='stStatusWidgetRunningIcon'], [data-stale='true']\")", timeout=60_000)


def choose_approaches(page: Any, names: list[str]) -> None:
    """Make ``names`` the chosen approaches: remove the other tags by their buttons, type and pick the missing,
    each step after the page's rerun is over. A rerun still under way (a target just switched) may put the
    defaults back: then it chooses again."""
    tags = page.locator("[data-testid='stMultiSelect'] [data-tag]")

    def chosen() -> list[str]:
        return list(tags.evaluate_all("tags => tags.map(t => t.getAttribute('aria-label'))"))

    for _ in range(4):
        settle(page)
        for name in chosen():
            if name not in names:
                remove = page.get_by_role("button", name=f"Remove {name}", exact=True)
                if remove.count():
                    remove.click()
                    settle(page)
        picker = page.get_by_role("combobox", name="Approaches", exact=True)
        for name in names:
            if not page.get_by_role("button", name=f"Remove {name}", exact=True).count():
                picker.fill(name)
                page.get_by_role("option", name=name, exact=True).click()
                settle(page)
        picker.press("Escape")
        settle(page)
        if chosen() == names:
            return
    assert chosen() == names


def compare_and_verify(page: Any, books: int, approaches: list[str], target: str) -> None:
    """Run the plan on the page and check it end to end: every book verified, one bar per approach."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Run", exact=True).click()
    verified = page.locator("[data-testid='stAlertContentSuccess']",
                            has_text=f"Verified: every run wrote all {books} books, none lost.")
    expect(verified).to_be_visible(timeout=180_000)
    table = page.locator("[data-testid='stTable']", has_text="mismatched")  # the verification table
    for approach in approaches:
        expect(table.locator("tr", has_text=approach).get_by_text(f"{books}/{books}")).to_be_visible()
    expect(table.get_by_text("verified")).to_have_count(len(approaches))
    total = books * len(approaches)
    expect(page.get_by_text(f"of {total}, none lost", exact=True)).to_be_visible()  # the metric
    chart = page.locator(".stPlotlyChart .js-plotly-plot", has_text="Seconds to write every book")
    expect(chart).to_be_visible(timeout=30_000)
    bars = chart.locator(".bars .point path")  # one bar per approach, drawn (its error bar is not a point)
    expect(bars).to_have_count(len(approaches), timeout=30_000)
    assert all(bar.bounding_box()["height"] > 0 for bar in bars.all())
    [ours] = chart.evaluate("plot => plot.data.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))")
    assert ours["name"] == f"this lab ({books} books, {target})"
    assert ours["x"] == approaches and all(y > 0 for y in ours["y"])


def test_cancel_stops_a_long_run_cleanly(page: Any) -> None:
    from playwright.sync_api import expect

    set_books(page, 200_000)  # minutes of work: only a cancel ends it within the timeout
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("items/s").first).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled: sequential wrote")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()


def test_a_60_book_comparison_in_a_real_browser(page: Any) -> None:
    from playwright.sync_api import expect

    set_books(page, 60)  # the study's three approaches are preselected
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("Verified: every run wrote all 60 books, none lost.")).to_be_visible(timeout=120_000)
    success = page.locator("[data-testid='stAlertContentSuccess']", has_text="Verified: every run wrote all 60")
    expect(success).to_be_visible()
    chart = page.locator(".stPlotlyChart .js-plotly-plot", has_text="Seconds to write every book")
    expect(chart).to_be_visible(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .bars path').length >= 6")
    traces = chart.evaluate("plot => plot.data.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))")
    [ours] = traces  # seconds: ours only
    assert ours["name"] == "this lab (60 books, embedded)"
    assert ours["x"] == ["sequential", "threaded", "async"] and all(y > 0 for y in ours["y"])
    speedup = page.locator(".stPlotlyChart .js-plotly-plot").first  # the answer's chart: ours beside the study's
    ours, study = speedup.evaluate("plot => plot.data.map(t => ({name: t.name, y: Array.from(t.y)}))")
    assert study["name"] == "the 2022 study's own figures (AWS, 10,000 books)"
    assert [round(v, 1) for v in study["y"]] == [1.0, 11.7, 75.3] and ours["y"][0] == 1.0
    expect(page.get_by_text("estimate ÷ actual")).to_be_visible()
    table = page.locator("[data-testid='stTable']", has_text="mismatched")  # the verification table
    for approach in ("sequential", "threaded", "async"):
        expect(table.locator("tr", has_text=approach).get_by_text("60/60")).to_be_visible()
    expect(table.get_by_text("verified")).to_have_count(3)
    expect(page.get_by_text("of 180, none lost", exact=True)).to_be_visible()  # the metric: 3 approaches x 60
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": height})  # the page scrolls inside stMain: show all of it
    page.wait_for_timeout(1000)  # let the charts redraw at the new size
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "browser-run.png"), full_page=True)


def test_a_reload_reattaches_to_the_running_job_which_it_can_cancel(page: Any) -> None:
    from playwright.sync_api import expect

    set_books(page, 200_000)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("items/s").first).to_be_visible(timeout=30_000)
    page.reload()  # a new session: the run goes on in the server, and this page finds it
    expect(page.get_by_text("Run running").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("items/s").first).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled: sequential wrote")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("threaded, async did not run")).to_be_visible()
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()


def test_a_bad_number_is_said_and_run_disabled(page: Any) -> None:
    from playwright.sync_api import expect

    type_into(page, "Books", "0")
    expect(page.get_by_text("Books must be a whole number from 1 to 10,000,000, got '0'")).to_be_visible(
        timeout=10_000)
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
    page.get_by_text("More: threads, seed, retry mode, scale-out (Dask)").click()
    type_into(page, "Threads", "0")
    expect(page.get_by_text("Threads must be a whole number from 1 to 512, got '0'")).to_be_visible(timeout=10_000)
    type_into(page, "Books", "50")
    type_into(page, "Threads", "4")
    expect(page.get_by_text("50 books × 3 approaches")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()


def test_the_sweep_chart_in_a_real_browser(page: Any) -> None:
    from playwright.sync_api import expect

    go_to(page, "Sweep")
    type_into(page, "Concurrency levels", "1, 8")
    type_into(page, "Books per level, at most", "40")
    page.get_by_role("button", name="Run sweep").click()
    chart = page.locator(".stPlotlyChart .js-plotly-plot", has_text="Where concurrency stops paying")
    expect(chart).to_be_visible(timeout=120_000)
    names = chart.evaluate("plot => plot.data.map(t => t.name)")
    assert names[0].startswith("ideal C ÷ L (L = ") and "threaded" in names and "async" in names
    assert any(n.startswith(("highest measured", "server capacity")) for n in names)
    expect(page.get_by_text("L = ").first).to_be_visible()


def test_a_failed_remote_run_leaves_the_confirmation_unticked(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_text("Custom URL", exact=True).click()
    type_into(page, "Endpoint URL", "http://lab.invalid:8000")  # off this machine, and nothing answers there
    box = page.get_by_role("checkbox", name="Write to this endpoint")
    expect(box).to_be_visible(timeout=10_000)
    page.get_by_text("Write to this endpoint", exact=True).click()  # its label takes the click
    expect(box).to_be_checked()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("custom target is not reachable at http://lab.invalid:8000")).to_be_visible(
        timeout=30_000)
    expect(page.get_by_role("checkbox", name="Write to this endpoint")).not_to_be_checked()
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
    page.get_by_text("Embedded (dynalite)", exact=True).click()
    expect(page.get_by_text("custom target is not reachable")).to_have_count(0)  # that target's error stays there


def test_a_small_comparison_on_dynamodb_local_started_by_the_app(page: Any) -> None:
    from playwright.sync_api import expect

    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("Java 17 (JRE + JDK) is not installed: run ./lab.sh setup dev")
    page.get_by_text("DynamoDB Local (AWS's)", exact=True).click()
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_text("Amazon's DynamoDB Local (Java, in memory)")).to_be_visible(timeout=120_000)
    expect(sidebar.get_by_text("Running at http://127.0.0.1:")).to_be_visible()
    set_books(page, 30)  # the study's three approaches are preselected
    expect(page.get_by_text("30 books × 3 approaches on dynamodb-local")).to_be_visible()
    compare_and_verify(page, 30, ["sequential", "threaded", "async"], "dynamodb-local")


def test_a_small_comparison_on_a_host_mode_localstack(page: Any, localstack: LocalStack) -> None:
    from playwright.sync_api import expect

    page.get_by_text("LocalStack", exact=True).click()
    type_into(page, "LocalStack URL", localstack.endpoint_url)
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_text(f"Reachable at {localstack.endpoint_url}")).to_be_visible(timeout=30_000)
    choose_approaches(page, ["sequential", "async-batch"])
    set_books(page, 30, approaches=2)
    expect(page.get_by_text(f"30 books × 2 approaches on localstack ({localstack.endpoint_url}, no added "
                            "latency)")).to_be_visible()
    compare_and_verify(page, 30, ["sequential", "async-batch"], "localstack")


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox called ``label``."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(option)
    box.press("Enter")


def inside(page: Any, locator: Any) -> bool:
    """The element is drawn whole inside the viewport (no scrolling needed)."""
    box = locator.bounding_box()
    view = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= view["height"] \
        and box["x"] + box["width"] <= view["width"]


def test_a_new_user_on_1280x720_sees_what_to_do_then_the_answer_and_a_chart(page: Any) -> None:
    """Issue 24's first screen: the targets explained, Run and the estimate above the fold; after the default run
    the answer sentence and a chart, without scrolling."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_timeout(500)
    expect(page.get_by_text("dynalite (Node, in memory) started with the app on 127.0.0.1").first).to_be_visible()
    run = page.get_by_role("button", name="Run", exact=True)
    assert inside(page, run) and inside(page, page.get_by_text("Estimated duration:"))
    run.click()
    answer = page.locator("[data-testid='stAlertContentSuccess']", has_text="Use ")
    expect(answer).to_be_visible(timeout=180_000)
    chart = page.locator(".stPlotlyChart").first
    expect(chart.locator(".bars .point path").first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1000)
    assert inside(page, answer) and inside(page, chart)
    assert "x sequential" in answer.inner_text() and "on AWS would take" in answer.inner_text()
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "first-screen-1280x720.png"))
    if os.environ.get("LAB_UPDATE_SCREENSHOT"):  # refresh the README's picture on purpose, never as a side effect
        shutil.copy(artifacts / "first-screen-1280x720.png", ROOT / "docs" / "screenshot.png")


def test_every_page_walks_without_an_error(page: Any) -> None:
    """Every page renders (the page fixture checks that nothing it loads comes from off this machine)."""
    from playwright.sync_api import expect

    for title, heading in (("Sweep", "Concurrency sweep"), ("Plan a load", "Plan a bulk load"),
                           ("History", "History"), ("Engines", "Engines: where the lab writes"),
                           ("Compare", "Compare the ways to write")):
        go_to(page, title)
        expect(page.locator("h1", has_text=heading)).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        if title == "Engines":
            expect(page.get_by_text("put-malformed-json").first).to_be_visible()
            expect(page.get_by_role("button", name="Start")).to_have_count(2)
        if title == "Plan a load":
            expect(page.get_by_text("Recommended:")).to_be_visible()


def test_scale_out_from_the_page_starts_no_server_in_its_workers(app: str, page: Any) -> None:
    """Point 1: every Dask worker re-ran the page script and started its own server.js during the measurement."""
    from playwright.sync_api import expect

    port = app.rsplit(":", 1)[1]
    [server] = [p for p in psutil.process_iter(["cmdline"])
                if "streamlit" in " ".join(p.info["cmdline"] or ()) and port in (p.info["cmdline"] or ())]
    page.get_by_text("More: threads, seed, retry mode, scale-out (Dask)").click()
    type_into(page, "Workers", "2")
    set_books(page, 300)
    page.get_by_role("button", name="Run", exact=True).click()
    most = 0
    done = page.get_by_text("Verified: every run wrote all 300 books, none lost.")
    deadline = time.monotonic() + 180
    while not done.count() and time.monotonic() < deadline:
        engines = []
        for child in server.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any("server.js" in part for part in child.cmdline()):
                    engines.append(child)
        most = max(most, len(engines))
        page.wait_for_timeout(200)
    expect(done).to_be_visible(timeout=5_000)
    assert most == 1  # the app's one embedded server; none started by a worker


def test_a_reload_mid_run_shows_the_running_jobs_plan(page: Any) -> None:
    """Point 7: after a reload the form showed the defaults while another plan was running."""
    from playwright.sync_api import expect

    type_into(page, "Repeats", "2")
    type_into(page, "Async concurrency", "50")
    set_books(page, 200_000)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("items/s").first).to_be_visible(timeout=30_000)
    page.reload()
    expect(page.get_by_text("Run running").first).to_be_visible(timeout=30_000)
    for label, value in (("Books", "200000"), ("Repeats", "2"), ("Async concurrency", "50")):
        expect(page.get_by_role("textbox", name=label, exact=True)).to_have_value(value)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Never ran").first).to_be_visible(timeout=60_000)
    expect(page.get_by_role("textbox", name="Books", exact=True)).to_have_value("200000")  # kept after the run


def test_the_sweep_shows_its_progress_under_its_button_and_not_the_old_chart(page: Any) -> None:
    """Point 8: the progress box appeared at the top of the page, and the old chart stayed for the whole run."""
    from playwright.sync_api import expect

    go_to(page, "Sweep")
    type_into(page, "Concurrency levels", "1, 8")
    type_into(page, "Books per level, at most", "40")
    button = page.get_by_role("button", name="Run sweep")
    button.click()
    chart = page.locator(".stPlotlyChart", has_text="Where concurrency stops paying")
    expect(chart).to_be_visible(timeout=120_000)
    assert not overlapping(page, chart.locator(".js-plotly-plot"))  # point 16: the knee's label
    type_into(page, "Books per level, at most", "3000")
    type_into(page, "Concurrency levels", "1, 2, 4")
    button.click()
    progress = page.locator("[data-testid='stProgress']").first
    expect(progress).to_be_visible(timeout=30_000)
    assert progress.bounding_box()["y"] > button.bounding_box()["y"] and inside(page, progress)
    expect(chart).to_have_count(0)  # the old chart is not shown while the new one is measured
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("The sweep was cancelled")).to_be_visible(timeout=60_000)


def test_capacity_panels_have_no_overlapping_labels(page: Any) -> None:
    """Point 4: the waste chart's panel titles overlapped, and "writes (items)" ran into the left panel."""
    from playwright.sync_api import expect

    choose(page, "Table capacity", "provisioned")
    type_into(page, "Provisioned WCU", "1")
    set_books(page, 30)
    page.get_by_role("button", name="Run", exact=True).click()
    waste = page.locator(".stPlotlyChart .js-plotly-plot", has_text="Throttling and waste per approach")
    expect(waste).to_be_visible(timeout=180_000)
    page.wait_for_timeout(1000)
    assert not overlapping(page, waste)
    consumed = page.locator(".stPlotlyChart .js-plotly-plot", has_text="Consumed write capacity")
    assert not overlapping(page, consumed)


def test_an_open_expander_stays_open_through_unrelated_reruns(page: Any) -> None:
    """Point 13: "Scale out (Dask)" and "Plan a bulk load" collapsed on unrelated reruns."""
    from playwright.sync_api import expect

    page.get_by_text("More: threads, seed, retry mode, scale-out (Dask)").click()
    threads = page.get_by_role("textbox", name="Threads", exact=True)
    expect(threads).to_be_visible(timeout=10_000)
    set_books(page, 70)  # a rerun that has nothing to do with the expander
    type_into(page, "Repeats", "2")
    page.get_by_text("Custom URL", exact=True).click()  # the sidebar reruns the page too
    page.get_by_text("Embedded (dynalite)", exact=True).click()
    expect(threads).to_be_visible(timeout=10_000)
