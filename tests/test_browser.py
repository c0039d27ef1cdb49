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

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300),
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                 "(./lab.sh test installs it)")]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, LAB_HISTORY_PATH=str(tmp_path / "history.sqlite3"))
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port",
                                str(port), "--server.headless", "true"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        process.wait(timeout=20)


def test_a_60_book_comparison_in_a_real_browser(app: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2200})
        page.goto(app)
        expect(page.get_by_text("Running at http://127.0.0.1:")).to_be_visible(timeout=60_000)
        books = page.get_by_label("Books")
        books.fill("60")
        books.press("Enter")
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_text("Verified: every run wrote all 60 books, none lost.")).to_be_visible(timeout=180_000)
        chart = page.locator(".js-plotly-plot").first
        expect(chart).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)
        bars = chart.evaluate("plot => plot.data.map(trace => ({name: trace.name, x: Array.from(trace.x)}))")
        ours = next(trace for trace in bars if trace["name"].startswith("this lab"))
        assert ours["x"] == ["sequential", "threaded", "async"]
        assert any(trace["name"].startswith("2022 study") for trace in bars)
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-run.png"), full_page=True)
        expect(page.get_by_text("180/180", exact=True)).to_be_visible()  # 3 approaches x 60 books verified
        browser.close()
    if os.environ.get("LAB_UPDATE_SCREENSHOT"):
        shutil.copy(artifacts / "browser-run.png", ROOT / "docs" / "screenshot.png")
