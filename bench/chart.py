"""Render a report's speed-up chart (ours beside the 2022 study's, one axis) to a PNG with Debian's chromium.

    python -m bench.chart REPORT.json docs/performance.png

REPORT.json is a `--json` export of `python -m core run` or `python -m bench.study`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from core.app import charts

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("png", type=Path)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    figure = charts.speedup_bar(json.loads(args.report.read_text()), reference=True)
    figure.update_layout(width=1000, height=520, title="Speed-up over sequential, 10,000 books at ~80 ms per request "
                                                       "(higher is better)")
    with tempfile.TemporaryDirectory() as folder:
        page_file = Path(folder) / "chart.html"
        page_file.write_text(figure.to_html(include_plotlyjs=True, full_html=True))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1020, "height": 540})
            page.goto(page_file.as_uri())
            page.wait_for_selector(".js-plotly-plot")
            page.locator(".js-plotly-plot").screenshot(path=str(args.png))
            browser.close()
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
