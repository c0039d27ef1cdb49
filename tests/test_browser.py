"""The page in a real browser: Debian's chromium, driven by playwright, against `streamlit run` on a free port."""

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


def set_books(page: Any, count: int) -> None:
    books = page.get_by_role("spinbutton", name="Books")
    books.fill(str(count))
    books.press("Enter")
    from playwright.sync_api import expect

    expect(page.get_by_text(f"{count:,} books × 3 approaches")).to_be_visible(timeout=10_000)


def test_cancel_stops_a_long_run_cleanly(page: Any) -> None:
    from playwright.sync_api import expect

    set_books(page, 200_000)  # minutes of work: only a cancel ends it within the timeout
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("items/s").first).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled: the results below cover the runs that were made.")).to_be_visible(
        timeout=60_000)
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
    ours, study = traces
    assert ours["name"] == "this lab (60 books, embedded)"
    assert ours["x"] == ["sequential", "threaded", "async"] and all(y > 0 for y in ours["y"])
    assert study["name"] == "2022 study (AWS, 10,000 books)" and study["y"] == [832.65, 71.23, 11.06]
    table = page.locator("[data-testid='stTable']").first
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
