"""core.app.charts on real, synthetic reports (no I/O): one bar per approach, speed-up labels, the study's labelled
reference on one axis (speed-ups, items/s), log axes, latency and timeline traces per approach, history comparisons
from the stored dict, and the concurrency sweep's chart."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.app import charts
from core.app.export import to_csv, to_dict
from core.app.history import History
from core.app.terminal import chart, text
from core.app.verdict import speedups as verdict_speedups
from core.domain.approaches import STUDY_2022_SECONDS
from core.domain.capacity import Capacity, CapacityUse
from core.domain.plan import Plan
from core.domain.results import Report, RunReport, RunResult, Verification
from core.run.sweep import SweepPoint, SweepResult, plan_sweep


def result(approach: str, seconds: float, repeat: int = 0, items: int = 100, cpu: float | None = 20.0,
           lost: int = 0) -> RunResult:
    latencies = tuple(1.0 + (i % 7) for i in range(items))
    timeline = ((0.0, 0), (seconds / 2, items // 2), (seconds, items))
    writer = RunReport(approach, f"{approach}-table", items, seconds, items, 0, 0, {}, items, 0, 0, latencies, 0.1,
                       timeline)
    return RunResult(repeat, writer, Verification(items, items - lost, lost, 0, 0, 0), cpu)


def report(*runs: RunResult, items: int = 100) -> Report:
    approaches = tuple(dict.fromkeys(r.approach for r in runs))
    return Report(Plan(approaches=approaches, items=items), {"python": "3"}, runs, created=1_700_000_000.0)


REPORT = report(result("sequential", 10.0), result("sequential", 12.0, 1), result("sequential", 8.0, 2),
                result("threaded", 2.0), result("threaded", 2.0, 1), result("threaded", 2.0, 2),
                result("async", 0.5), result("async", 0.5, 1), result("async", 0.5, 2, cpu=97.0))


def traces(figure: Any) -> list[dict[str, Any]]:
    return list(figure.to_dict()["data"])


def test_medians_and_speedups() -> None:
    assert charts.medians(REPORT, "seconds") == {"sequential": 10.0, "threaded": 2.0, "async": 0.5}
    assert charts.speedups(REPORT) == {"sequential": 1.0, "threaded": 5.0, "async": 20.0}
    assert charts.speedups(report(result("async", 1.0))) == {"async": None}


def test_the_page_s_speed_up_is_the_cli_s_by_items_per_second() -> None:
    """async settled its 100 books in 1 s but wrote only 50 (10x sequential by seconds, 5x by items/s)."""
    half = result("async", 1.0)
    half = replace(half, report=replace(half.report, items_ok=50, items_failed=50))
    both = report(result("sequential", 10.0), half)
    assert charts.speedups(both) == verdict_speedups(both) == {"sequential": 1.0, "async": 5.0}
    assert charts.speedups(to_dict(both)) == {"sequential": 1.0, "async": 5.0}  # the stored form too
    assert list(charts.speedup_bar(both).data[0].y) == [1.0, 5.0]
    assert charts.speedup_bar(both).layout.title.subtitle.text.startswith(
        "items/s of each approach ÷ items/s of sequential")


def _gave_up(approach: str, seconds: float, written: int, items: int = 100) -> RunResult:
    """A run over its plan whose library raised: ``written`` acknowledged, the rest never sent (a FAIL, not an
    interruption)."""
    run = result(approach, seconds, items=items)
    writer = replace(run.report, items_ok=written, items_failed=0, items_not_sent=items - written,
                     ended="PutError ended the run")
    return RunResult(0, writer, Verification(written, written, 0, 0, 0, 0))


FAILED_REPORT = report(result("sequential", 10.0), result("async", 0.5), _gave_up("pynamodb-batch", 1.0, 20))


def test_the_cli_chart_marks_a_failed_run_and_leaves_interrupted_ones_out() -> None:
    cancelled = replace(result("threaded", 1.0), report=replace(result("threaded", 1.0).report, items=100,
                                                                  items_ok=10, items_not_sent=90))
    shown = text(chart(report(*FAILED_REPORT.runs, cancelled)))
    bars = {line.split(":")[0].strip(): line for line in shown.splitlines()[1:] if ":" in line}
    assert "pynamodb-batch (as shipped) FAIL" in bars and "▒" in bars["pynamodb-batch (as shipped) FAIL"]
    assert "async" in bars and "FAIL" not in bars["async"] and "▒" not in bars["async"]
    assert not any(name.startswith("threaded") for name in bars)  # interrupted: left out, not marked
    assert "FAIL: a run with books failed, unknown, not sent or lost" in shown


def test_the_page_charts_mark_a_failed_run_red_hatched_and_labelled() -> None:
    for data in (FAILED_REPORT, to_dict(FAILED_REPORT), _without_clean(to_dict(FAILED_REPORT))):
        bars = charts.throughput_bar(data).data[0]
        shown = dict(zip(bars.x, bars.text, strict=True))
        assert shown["pynamodb-batch (as shipped)"].startswith("FAIL ") and not shown["async"].startswith("FAIL")
        colours = dict(zip(bars.x, bars.marker.color, strict=True))
        assert colours["pynamodb-batch (as shipped)"] == charts.FAILED and colours["async"] == charts.OURS
        assert "FAIL (red, hatched)" in charts.throughput_bar(data).layout.title.subtitle.text
    assert "FAIL" not in charts.throughput_bar(REPORT).layout.title.subtitle.text


def _without_clean(data: dict[str, Any]) -> dict[str, Any]:
    """A report stored before runs carried ``clean``."""
    return {**data, "runs": [{k: v for k, v in run.items() if k != "clean"} for run in data["runs"]]}


def test_seconds_bar_has_one_bar_per_approach_with_its_seconds_and_whiskers() -> None:
    figure = charts.seconds_bar(REPORT)
    assert len(figure.data) == 1  # the study's seconds (other books, other machine) are never on this axis
    bars = figure.data[0]
    assert bars.name == "this lab (100 books, embedded)"
    assert list(bars.x) == ["sequential", "threaded", "async"] and list(bars.y) == [10.0, 2.0, 0.5]
    assert list(bars.text) == ["10.00 s", "2.00 s", "0.50 s<br>server-bound"]  # one async repeat saturated the server
    assert list(bars.error_y.array) == [2.0, 0.0, 0.0] and list(bars.error_y.arrayminus) == [2.0, 0.0, 0.0]
    assert "labels: seconds" in figure.layout.title.subtitle.text  # the labels are what the subtitle says
    assert figure.layout.font.size >= 14 and figure.layout.uniformtext.minsize >= 12


def test_without_a_sequential_run_the_labels_are_seconds() -> None:
    bars = charts.seconds_bar(report(result("async", 0.25), result("async-batch", 0.125))).data[0]
    assert list(bars.text) == ["0.25 s", "0.12 s"]


def test_speedups_compare_like_with_like_on_one_axis() -> None:
    figure = charts.speedup_bar(REPORT)
    ours, study = figure.data
    assert list(ours.y) == [1.0, 5.0, 20.0]
    assert study.name == "the 2022 study's own figures (AWS, 10,000 books)"
    assert list(study.x) == list(STUDY_2022_SECONDS) and [round(v, 1) for v in study.y] == [1.0, 11.7, 75.3]
    assert study.marker.color != ours.marker.color and study.marker.pattern.shape == "/"
    assert "yaxis2" not in figure.to_dict()["layout"]
    assert [t.name for t in charts.speedup_bar(REPORT, reference=False).data] == [ours.name]
    lonely = charts.speedup_bar(report(result("async", 1.0)), reference=False)
    assert list(lonely.data[0].y) == [] and "add sequential" in lonely.layout.title.subtitle.text


def test_throughput_with_the_studys_items_per_second() -> None:
    figure = charts.throughput_bar(REPORT, reference=True)
    ours, study = figure.data
    assert list(ours.y) == [10.0, 50.0, 200.0]
    assert [round(v) for v in study.y] == [12, 140, 904]  # 10,000 books ÷ 832.65, 71.23, 11.06 s
    assert study.marker.pattern.shape == "/" and "own figures" in study.name


@pytest.mark.parametrize(("log", "axis"), [(False, "linear"), (True, "log")])
def test_log_toggle(log: bool, axis: str) -> None:
    assert charts.seconds_bar(REPORT, log=log).layout.yaxis.type == axis
    assert charts.speedup_bar(REPORT, log=log).layout.yaxis.type == axis
    assert charts.throughput_bar(REPORT, log=log).layout.yaxis.type == axis
    assert charts.latency_box(REPORT, log=log).layout.yaxis.type == axis
    assert charts.comparison(REPORT, REPORT, log=log).layout.yaxis3.type == axis


def test_throughput_bar() -> None:
    figure = charts.throughput_bar(REPORT)
    assert len(figure.data) == 1
    assert list(figure.data[0].x) == ["sequential", "threaded", "async"]
    assert list(figure.data[0].y) == [10.0, 50.0, 200.0]
    assert list(figure.data[0].text) == ["10/s", "50/s", "200/s<br>server-bound"]  # ours in items/s, as the study's
    assert "labels: items/s" in figure.layout.title.subtitle.text
    study = charts.throughput_bar(REPORT, reference=True).data[1]
    assert list(study.text) == ["12/s", "140/s", "904/s"]


def test_cancelled_and_failed_runs_are_not_drawn_as_if_finished() -> None:
    """A cancelled sequential run (35 of 100 books) has no bar for the whole count; a run that wrote nothing has no
    rate; without a finished sequential run there are no speed-ups to draw, the study's neither."""
    cancelled = replace(result("sequential", 14.77, items=35), repeat=0)
    data = to_dict(Report(Plan(approaches=("sequential", "async"), items=100), {}, (cancelled,), cancelled=True))
    assert list(charts.seconds_bar(data).data[0].x) == [] and not charts.has_sequential(data)
    assert [t.name for t in charts.speedup_bar(data).data] == ["this lab (100 books, embedded)"]
    assert charts.has_sequential(REPORT)


def test_latency_and_timeline_have_one_trace_per_approach() -> None:
    latency = charts.latency_box(REPORT)
    assert [t.type for t in latency.data] == ["box"] * 3
    assert [t.name for t in latency.data] == ["sequential", "threaded", "async"]
    assert len(latency.data[0].y) == 300  # three repeats of 100 requests, pooled
    timeline = charts.timeline(REPORT)
    assert [t.name for t in timeline.data] == ["sequential", "threaded", "async"]
    assert list(timeline.data[1].x) == [0.0, 1.0, 2.0] and list(timeline.data[1].y) == [0, 50, 100]


def test_a_fresh_report_and_its_export_draw_the_same_figures() -> None:
    detail = json.loads(json.dumps(to_dict(REPORT, detail=True)))
    for draw in (charts.seconds_bar, charts.throughput_bar, charts.latency_box, charts.timeline):
        assert traces(draw(REPORT)) == traces(draw(detail))


def test_comparison_of_two_stored_reports() -> None:
    stored_a = json.loads(json.dumps(to_dict(REPORT)))  # what the history keeps: no latency samples, no timeline
    stored_b = json.loads(json.dumps(to_dict(report(result("async", 0.25), result("async-batch", 0.05)))))
    figure = charts.comparison(stored_a, stored_b, ("#1", "#2"))
    assert [t.name for t in figure.data] == ["#1"] * 3 + ["#2"] * 3
    assert [t.showlegend for t in figure.data] == [None, False, False] * 2
    seconds_a, rates_a, latency_a = figure.data[:3]
    assert list(seconds_a.y) == [10.0, 2.0, 0.5] and list(rates_a.y) == [10.0, 50.0, 200.0]
    assert list(figure.data[3].x) == ["async", "async-batch"]
    assert list(latency_a.y) == [4.0, 4.0, 4.0] and list(latency_a.error_y.array) == [3.0, 3.0, 3.0]
    assert latency_a.error_y.symmetric is False
    assert charts.seconds_bar(stored_a).data[0].x == ("sequential", "threaded", "async")
    default = charts.comparison(stored_a, stored_b)
    assert default.data[0].name == charts.report_label(stored_a) and "100 books · embedded" in default.data[0].name


def test_standalone_html_inlines_plotly_once() -> None:
    page = charts.standalone_html([charts.seconds_bar(REPORT), charts.timeline(REPORT)], "Lab <run>")
    assert page.count("Plotly.newPlot") == 2 and page.count("plotly.js v") == 1
    assert "<title>Lab &lt;run&gt;</title>" in page


def point(approach: str, level: int, rate: float, cpu: float = 30.0) -> SweepPoint:
    items = 1_000
    return SweepPoint(approach, level, items, items / rate, rate, cpu, cpu >= 90, True)


def test_sweep_chart_draws_little_s_law_the_capacity_and_the_knees() -> None:
    plan = plan_sweep(Plan(items=2_000), (1, 4, 16, 64))
    # L = 10 ms at C = 1 (100 items/s): ideal 100, 400, 1,600, 6,400 items/s
    sweep = SweepResult(plan, (point("threaded", 1, 100), point("async", 1, 100), point("threaded", 4, 380),
                               point("async", 4, 390), point("threaded", 16, 700), point("async", 16, 1_500),
                               point("threaded", 64, 720), point("async", 64, 3_000, cpu=97)))
    figure = charts.sweep_chart(sweep)
    by_name = {t.name: t for t in figure.data}
    assert list(by_name["ideal C ÷ L (L = 10.0 ms)"].y) == [100, 400, 1_600, 6_400]
    assert list(by_name["async"].x) == [1, 4, 16, 64] and list(by_name["async"].y) == [100, 390, 1_500, 3_000]
    assert list(by_name["threaded knee (C = 4)"].x) == [4]  # 700 < 0.7 x 1,600 at C = 16
    assert list(by_name["async knee (C = 16)"].x) == [16]  # 3,000 < 0.7 x 6,400 at C = 64
    capacity = by_name["server capacity (CPU saturated): 3,000 items/s"]
    assert list(capacity.y) == [3_000, 3_000]
    assert figure.layout.xaxis.type == "log" and figure.layout.yaxis.type == "log"



# ---- the capacity report ---------------------------------------------------------------------------------------

def use(series: tuple[tuple[float, int], ...], line: tuple[tuple[float, float], ...], requests: int, refused: int,
        throttles: dict[str, int], seconds: float = 4.0, setting: str = "provisioned=100") -> CapacityUse:
    consumed = sum(wru for _, wru in series)
    return CapacityUse(setting, seconds, consumed, consumed * 1.25, 300, requests, refused, 1, throttles, series, line)


def capacity_report() -> Report:
    runs = (replace(result("threaded", 4.0), capacity_use=use(
                ((0.0, 90), (1.0, 100), (3.0, 100)), ((0.0, 100.0),), 200, 20,
                {"TableWriteProvisionedThroughputExceeded": 20, "TableWriteKeyRangeThroughputExceeded": 5})),
            replace(result("async-batch", 2.0), capacity_use=use(
                ((0.0, 100), (1.0, 100)), ((0.0, 100.0),), 10, 0, {}, seconds=2.0)))
    plan = Plan(approaches=("threaded", "async-batch"), items=100, capacity=Capacity("provisioned", wcu=100))
    return Report(plan, {"python": "3"}, runs, created=1_700_000_000.0)


def test_capacity_timeline_draws_consumed_wru_against_one_shared_capacity_line() -> None:
    figure = charts.capacity_timeline(capacity_report())
    by_name = {t.name: t for t in figure.data}
    assert list(by_name) == ["threaded", "async-batch", "table capacity (provisioned=100)"]
    threaded = by_name["threaded"]
    assert list(threaded.x) == [0.0, 1.0, 2.0, 3.0] and list(threaded.y) == [90, 100, 0.0, 100]  # an idle second: 0
    line = by_name["table capacity (provisioned=100)"]
    assert list(line.x) == [0.0, 4.0] and list(line.y) == [100.0, 100.0] and line.line.shape == "hv"
    assert figure.layout.yaxis.title.text == "WRU per second"
    assert charts.capacity_timeline(capacity_report(), log=True).layout.yaxis.type == "log"


def test_on_demand_tables_get_a_capacity_line_each() -> None:
    growing = use(((0.0, 4000), (1.0, 8000)), ((0.0, 4000.0), (1.0, 8000.0)), 400, 0, {}, 2.0, "on-demand")
    flat = use(((0.0, 3000),), ((0.0, 4000.0),), 120, 0, {}, 1.0, "on-demand")
    runs = (replace(result("async", 2.0), capacity_use=growing), replace(result("threaded", 1.0), capacity_use=flat))
    data = to_dict(Report(Plan(approaches=("async", "threaded"), capacity=Capacity("on-demand")), {}, runs))
    names = [t.name for t in charts.capacity_timeline(data).data]
    assert names == ["async", "async: capacity", "threaded", "threaded: capacity"]
    assert list(charts.capacity_timeline(data).data[1].y) == [4000.0, 8000.0, 8000.0]


def test_waste_bar_shows_the_share_refused_and_the_reasons_stacked() -> None:
    figure = charts.waste_bar(capacity_report())
    wasted, *reasons = figure.data
    assert list(wasted.x) == ["threaded", "async-batch"] and list(wasted.y) == [10.0, 0.0]
    assert list(wasted.text) == ["10.0% of 200", "0.0% of 10"]
    assert {t.name: list(t.y) for t in reasons} == {"TableWriteKeyRangeThroughputExceeded": [5, 0],
                                                    "TableWriteProvisionedThroughputExceeded": [20, 0]}
    assert figure.layout.barmode == "stack"


def test_capacity_figures_travel_through_exports_and_history(tmp_path: Path) -> None:
    fresh = capacity_report()
    store = History(tmp_path / "h.sqlite3")
    stored = store.load(store.append(fresh))
    assert stored["runs"][0]["capacity"]["waste"] == 0.1 and stored["runs"][0]["capacity"]["goodput_ratio"] == 0.8
    for draw in (charts.capacity_timeline, charts.waste_bar):
        assert traces(draw(fresh)) == traces(draw(stored))
    assert charts.has_capacity(stored) and not charts.has_capacity(REPORT)
    header, first, _ = to_csv(fresh).splitlines()
    row = dict(zip(header.split(","), first.split(","), strict=True))
    assert row["capacity"] == "provisioned=100" and row["waste"] == "0.1" and row["refused_requests"] == "20"
    assert row["throttle_reasons"] == ("TableWriteKeyRangeThroughputExceeded=5;"
                                       "TableWriteProvisionedThroughputExceeded=20")
    off = dict(zip(*(line.split(",") for line in to_csv(REPORT).splitlines()[:2]), strict=True))
    assert off["capacity"] == "" and off["waste"] == ""


def test_a_report_stored_before_the_capacity_report_still_reads() -> None:
    old = json.loads(json.dumps(to_dict(REPORT)))
    for run in old["runs"]:
        del run["capacity"]  # what the history holds from before
    assert not charts.has_capacity(old)
    assert charts.capacity_timeline(old).data == () and charts.seconds_bar(old).data
