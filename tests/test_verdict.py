"""core.verdict, table-driven on synthetic reports: the approach to use by items/s, its speed-up by items/s (not
seconds), the conditions, the bound, and interrupted runs left out and named with their counts."""

from __future__ import annotations

import pytest

from core.model import Conditions, Plan
from core.report import Report, RunReport, RunResult, Verification
from core.verdict import conditions_text, finished, speedups, verdict


def run(approach: str, seconds: float, items: int = 100, repeat: int = 0, cpu_server: float | None = 20.0,
        client_cpu: float = 0.1, throttled: int = 0, lost: int = 0) -> RunResult:
    writer = RunReport(approach, f"{approach}-table", items, seconds, items, 0, throttled, {}, items, 0, 0,
                       (1.0,) * items, client_cpu, ((0.0, 0), (seconds, items)))
    return RunResult(repeat, writer, Verification(items, items - lost, lost, 0, 0, 0), cpu_server)


def report(*runs: RunResult, items: int = 100, cancelled: bool = False, **plan: object) -> Report:
    approaches = tuple(dict.fromkeys(r.approach for r in runs))
    return Report(Plan(approaches=approaches, items=items, **plan), {}, runs, cancelled=cancelled)  # type: ignore[arg-type]


STUDY = Conditions(latency_ms=75.0, jitter_ms=10.0)

CASES = [
    # (report, approach, speed-up, words the sentence must hold)
    (report(run("sequential", 10.0), run("async", 0.5)), "async", 20.0,
     ["Use async: 200 items/s, 20.0x sequential by items/s", "no added latency", "bound by the local engine"]),
    # interrupted sequential (67 of 2,000 in 5.68 s) is left out: no speed-up, named with its counts
    (report(run("async", 1.0, items=2000), run("sequential", 5.68, items=67), items=2000, cancelled=True,
            conditions=STUDY),
     "async", None, ["Use async: 2,000 items/s, the only approach that finished, on embedded, study-2022",
                     "Interrupted, left out: sequential #1: 67 of 2,000 books"]),
    (report(run("sequential", 10.0), run("threaded", 1.0, cpu_server=95.0)), "threaded", 10.0,
     ["bound by the server"]),
    (report(run("sequential", 10.0), run("async", 2.0, throttled=40)), "async", 5.0,
     ["bound by the table's capacity (40 requests throttled)"]),
    (report(run("sequential", 10.0), run("async", 2.0, client_cpu=1.9)), "async", 5.0, ["bound by this machine"]),
    (report(run("sequential", 10.0), run("async", 0.2), conditions=STUDY, concurrency=50), "async", 50.0,
     ["bound by the round trip: 50 request(s) in flight at 75 ms"]),
    # the fastest lost items: the clean one is recommended
    (report(run("sequential", 10.0), run("threaded", 2.0), run("async", 1.0, lost=3)), "threaded", 5.0,
     ["Use threaded"]),
    (report(run("async", 1.0)), "async", None,
     ["Use async: 100 items/s, the only approach that finished, on embedded"]),
]


@pytest.mark.parametrize(("data", "approach", "gain", "words"), CASES)
def test_verdict_names_the_approach_its_rate_and_bound(data: Report, approach: str, gain: float | None,
                                                       words: list[str]) -> None:
    answer = verdict(data)
    assert answer.approach == approach
    assert answer.speedup == (pytest.approx(gain) if gain is not None else None)
    for word in words:
        assert word in answer.sentence


def test_speedups_are_by_items_per_second_and_skip_interrupted_runs() -> None:
    # by seconds a 67-book sequential run (5.68 s) against 2,000 async books (2 s) would read 2.8x; by items/s 85x
    data = report(run("sequential", 100.0, items=2000), run("sequential", 5.68, items=67, repeat=1),
                  run("async", 2.0, items=2000), items=2000)
    assert speedups(data) == {"sequential": 1.0, "async": pytest.approx(50.0)}
    assert [r.repeat for r in finished(data) if r.approach == "sequential"] == [0]


def test_no_finished_run_says_there_is_no_answer() -> None:
    answer = verdict(report(run("sequential", 1.0, items=5), items=100, cancelled=True))
    assert answer.approach is None
    assert "No approach finished" in answer.sentence and "5 of 100 books" in answer.sentence


@pytest.mark.parametrize(("conditions", "text"), [
    (Conditions(), "embedded, no added latency"),
    (STUDY, "embedded, study-2022 latency (75 ms + up to 10 ms per request)"),
    (Conditions(latency_ms=5.0), "embedded, 5 ms + up to 0 ms per request added"),
    (Conditions(throttle=0.2), "embedded, no added latency, throttle 20%"),
])
def test_conditions_text(conditions: Conditions, text: str) -> None:
    assert conditions_text(Plan(conditions=conditions)) == text


def test_exports_mark_interrupted_runs_and_carry_the_verdict() -> None:
    import csv
    import io
    import json

    from core.export import to_csv, to_json

    data = report(run("async", 1.0, items=2000), run("sequential", 5.68, items=67), items=2000, cancelled=True)
    exported = json.loads(to_json(data))
    assert [r["interrupted"] for r in exported["runs"]] == [False, True]
    assert exported["verdict"] == verdict(data).sentence and "67 of 2,000 books" in exported["verdict"]
    rows = list(csv.DictReader(io.StringIO(to_csv(data))))
    assert [row["interrupted"] for row in rows] == ["False", "True"]
