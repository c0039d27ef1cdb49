"""The page in a real browser: Debian's chromium, driven by playwright, against `streamlit run` on a free port:
a run and its charts, cancel, a reload that reattaches to the running job, a bad number, the concurrency sweep."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240),
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason=f"Debian's chromium is not installed at {CHROMIUM} (./lab.sh test installs "
                                        "it; playwright's own browsers are never downloaded)")]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free port, with a fresh history; stopped (with its emulator) after."""
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
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def page(app: str) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(app)
            expect(page.get_by_text("Running at http://127.0.0.1:")).to_be_visible(timeout=60_000)
            yield page
        finally:
            browser.close()


def type_into(page: Any, label: str, text: str) -> None:
    box = page.get_by_role("textbox", name=label, exact=True)
    box.fill(text)
    box.press("Enter")


def set_books(page: Any, count: int) -> None:
    from playwright.sync_api import expect

    type_into(page, "Books", str(count))
    expect(page.get_by_text(f"{count:,} books × 3 approaches")).to_be_visible(timeout=10_000)


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
    chart = page.locator(".stPlotlyChart .js-plotly-plot").first
    expect(chart).to_be_visible(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .bars path').length >= 6")
    traces = chart.evaluate("plot => plot.data.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))")
    [ours] = traces  # seconds: ours only
    assert ours["name"] == "this lab (60 books, embedded)"
    assert ours["x"] == ["sequential", "threaded", "async"] and all(y > 0 for y in ours["y"])
    speedup = page.locator(".stPlotlyChart .js-plotly-plot").nth(1)
    ours, study = speedup.evaluate("plot => plot.data.map(t => ({name: t.name, y: Array.from(t.y)}))")
    assert study["name"] == "the 2022 study's own figures (AWS, 10,000 books)"
    assert [round(v, 1) for v in study["y"]] == [1.0, 11.7, 75.3] and ours["y"][0] == 1.0
    expect(page.get_by_text("estimate ÷ actual")).to_be_visible()
    table = page.locator("[data-testid='stTable']", has_text="mismatched")  # the verification table
    for approach in ("sequential", "threaded", "async"):
        expect(table.locator("tr", has_text=approach).get_by_text("60/60")).to_be_visible()
    expect(table.get_by_text("verified")).to_have_count(3)
    expect(page.get_by_text("180/180", exact=True)).to_be_visible()  # the metric: 3 approaches x 60 books
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": height})  # the page scrolls inside stMain: show all of it
    page.wait_for_timeout(1000)  # let the charts redraw at the new size
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "browser-run.png"), full_page=True)
    if os.environ.get("LAB_UPDATE_SCREENSHOT"):  # refresh the README's picture on purpose, never as a side effect
        shutil.copy(artifacts / "browser-run.png", ROOT / "docs" / "screenshot.png")


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
    type_into(page, "Threads", "0")
    expect(page.get_by_text("Threads must be a whole number from 1 to 512, got '0'")).to_be_visible(timeout=10_000)
    type_into(page, "Books", "50")
    type_into(page, "Threads", "4")
    expect(page.get_by_text("50 books × 3 approaches")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()


def test_the_sweep_chart_in_a_real_browser(page: Any) -> None:
    from playwright.sync_api import expect

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
