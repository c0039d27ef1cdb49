"""core.charts: one bar per approach, speed-up labels, the study's labelled reference, log axes."""

from __future__ import annotations

from typing import Any

import pytest

from core import charts
from core.benchmark import STUDY_2022_SECONDS


def run(approach: str, seconds: float, repeat: int = 0, items: int = 100) -> dict[str, Any]:
    return {"approach": approach, "repeat": repeat, "seconds": seconds, "items_per_second": items / seconds,
            "retries": 0, "latency_samples_ms": [1.0, 2.0, 3.0], "timeline": [[0, 0], [seconds, items]]}


def report(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"plan": {"items": 100, "target": "embedded"}, "runs": list(runs)}


DATA = report(run("sequential", 10.0), run("sequential", 12.0, 1), run("sequential", 8.0, 2),
              run("threaded", 2.0), run("async", 0.5))


def test_medians_and_speedups() -> None:
    assert charts.medians(DATA, "seconds") == {"sequential": 10.0, "threaded": 2.0, "async": 0.5}
    assert charts.speedups(DATA) == {"sequential": 1.0, "threaded": 5.0, "async": 20.0}
    assert charts.speedups(report(run("async", 1.0))) == {"async": None}


def test_seconds_bar_has_one_bar_per_approach_with_speedups_and_whiskers() -> None:
    figure = charts.seconds_bar(DATA, reference=False)
    assert len(figure.data) == 1
    bars = figure.data[0]
    assert list(bars.x) == ["sequential", "threaded", "async"] and list(bars.y) == [10.0, 2.0, 0.5]
    assert list(bars.text) == ["1.0×", "5.0×", "20.0×"] and "speed-up vs sequential" in bars.name
    assert list(bars.error_y.array) == [2.0, 0.0, 0.0] and list(bars.error_y.arrayminus) == [2.0, 0.0, 0.0]


def test_the_study_reference_is_labelled_and_distinct() -> None:
    figure = charts.seconds_bar(DATA, reference=True)
    reference = figure.data[1]
    assert reference.name.startswith("2022 study") and "10,000 books" in reference.name
    assert list(reference.y) == list(STUDY_2022_SECONDS.values())
    assert reference.marker.color != figure.data[0].marker.color and reference.marker.pattern.shape == "/"


@pytest.mark.parametrize(("log", "axis"), [(False, "linear"), (True, "log")])
def test_log_toggle(log: bool, axis: str) -> None:
    assert charts.seconds_bar(DATA, log=log).layout.yaxis.type == axis
    assert charts.throughput_bar(DATA, log=log).layout.yaxis.type == axis


def test_throughput_latency_timeline_and_comparison_traces() -> None:
    assert list(charts.throughput_bar(DATA).data[0].y) == [10.0, 50.0, 200.0]
    latency = charts.latency_box(DATA)
    assert [trace.name for trace in latency.data] == ["sequential", "threaded", "async"]
    assert len(latency.data[0].y) == 9  # three repeats pooled
    timeline = charts.timeline(DATA)
    assert [trace.name for trace in timeline.data] == ["sequential", "threaded", "async"]
    assert list(timeline.data[1].x) == [0, 2.0]
    compared = charts.comparison(DATA, report(run("async", 0.25)), ("#1", "#2"))
    assert [trace.name for trace in compared.data] == ["#1", "#2"] and list(compared.data[1].x) == ["async"]
