"""core.app.verdict, table-driven on synthetic reports: the approach to use by items/s, its speed-up by items/s (not
seconds), the conditions, the bound, and interrupted runs left out and named with their counts."""

from __future__ import annotations

import pytest

from core.app.verdict import aws_approaches, aws_spec, conditions_text, finished, speedups, verdict
from core.domain.plan import Conditions, Plan
from core.domain.results import Report, RunReport, RunResult, Verification
from core.forecast.planner import plan_load


def run(approach: str, seconds: float, items: int = 100, repeat: int = 0, cpu_server: float | None = 20.0,
        client_cpu: float = 0.1, throttled: int = 0, lost: int = 0, failed: int = 0) -> RunResult:
    ok = items - failed
    writer = RunReport(approach, f"{approach}-table", items, seconds, items, 0, throttled, {}, ok, failed, 0,
                       (1.0,) * items, client_cpu, ((0.0, 0), (seconds, ok)),
                       failures=("500 InternalServerError: we encountered an internal error",) if failed else ())
    return RunResult(repeat, writer, Verification(items, ok - lost, lost, 0, 0, 0, missing=failed), cpu_server)


def report(*runs: RunResult, items: int = 100, cancelled: bool = False, **plan: object) -> Report:
    approaches = tuple(dict.fromkeys(r.approach for r in runs))
    return Report(Plan(approaches=approaches, items=items, **plan), {}, runs, cancelled=cancelled)  # type: ignore[arg-type]


STUDY = Conditions(latency_ms=75.0, jitter_ms=10.0)

CASES = [
    # (report, approach, speed-up, words the sentence must hold)
    (report(run("sequential", 10.0), run("async", 0.5)), "async", 20.0,
     ["Use async: 200 items/s, 20.0x sequential by items/s", "no added latency, 100 books in 0.5 s;",
      "bound by the local engine (dynalite on this machine answered, not DynamoDB)"]),
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
    (Conditions(latency_ms=5.0), "embedded, 5 ms per request added"),
    (Conditions(throttle=0.2), "embedded, no added latency, throttle 20%"),
])
def test_conditions_text(conditions: Conditions, text: str) -> None:
    assert conditions_text(Plan(conditions=conditions)) == text


def test_exports_mark_interrupted_runs_and_carry_the_verdict() -> None:
    import csv
    import io
    import json

    from core.app.export import to_csv, to_json

    data = report(run("async", 1.0, items=2000), run("sequential", 5.68, items=67), items=2000, cancelled=True)
    exported = json.loads(to_json(data))
    assert [r["interrupted"] for r in exported["runs"]] == [False, True]
    assert exported["verdict"] == verdict(data).sentence and "67 of 2,000 books" in exported["verdict"]
    rows = list(csv.DictReader(io.StringIO(to_csv(data))))
    assert [row["interrupted"] for row in rows] == ["False", "True"]


def test_every_write_failing_recommends_nothing_and_says_why() -> None:
    """error=1.0: nothing was written, so no approach is "fastest" (0 items/s is not a rate), and the one that never
    ran is named."""
    runs = (run("sequential", 9.78, items=200, failed=200),)
    data = Report(Plan(approaches=("sequential", "async"), items=200), {}, runs, error="the circuit breaker gave up")
    answer = verdict(data)
    assert answer.approach is None
    assert "No approach finished" in answer.sentence and "the circuit breaker gave up" in answer.sentence
    assert "Never ran: async" in answer.sentence and "Use" not in answer.sentence


GAPS = [
    # (conditions, target, the gap explained, words it has)
    (Conditions(), "embedded", True, ["Async is 4.6x sequential here against the 2022 study's 75x",
                                      "~83 ms round trips to AWS", "a round trip took 1.0 ms here",
                                      'Network "study-2022"']),
    (STUDY, "embedded", False, []),
    (Conditions(), "aws", True, ["~83 ms round trips to AWS"]),
]


@pytest.mark.parametrize(("conditions", "target", "explained", "words"), GAPS)
def test_the_gap_to_the_study_is_explained_below_the_studys_latency(conditions: Conditions, target: str,
                                                                   explained: bool, words: list[str]) -> None:
    answer = verdict(report(run("sequential", 4.6), run("async", 1.0), conditions=conditions, target=target))
    assert (answer.gap is not None) == explained
    for word in words:
        assert word in answer.sentence
    if target == "aws":
        assert "reproduces" not in answer.sentence and "bound by the round trip to AWS" in answer.sentence


def test_the_aws_line_comes_from_the_planner_for_the_recommended_approach() -> None:
    data = report(run("sequential", 4.6), run("async", 1.0))
    load = plan_load(aws_spec(10_000_000), approaches=aws_approaches(data))
    row = next(r for r in load.rows if r.approach == "async")
    answer = verdict(data, load)
    assert answer.aws is not None and answer.aws.startswith("10 million items on AWS would take ~")
    assert f"async x {row.workers} worker" in answer.aws and answer.aws[1:] in answer.sentence
    assert verdict(data).aws is None
    assert aws_approaches(report(run("sequential", 1.0), run("boto3-batch-writer", 1.0))) == ("sequential",)


@pytest.mark.parametrize("best", ["boto3-batch-writer", "bulk-put"])
def test_an_aws_line_for_another_approach_says_the_recommended_one_is_not_planned(best: str) -> None:
    """'Use boto3-batch-writer (as shipped) ... with threaded-batch x 1 worker' must say why the AWS line names
    another approach: it plans the lab's writers only."""
    data = report(run("threaded-batch", 1.1), run(best, 1.0))
    answer = verdict(data, plan_load(aws_spec(10_000_000), approaches=aws_approaches(data)))
    assert answer.approach == best and answer.aws is not None
    assert "with threaded-batch x " in answer.aws and f"the AWS line plans the lab's writers, not {best}" in answer.aws


def test_the_page_s_verdict_goes_into_its_export() -> None:
    import json

    from core.app.export import to_json

    data = report(run("sequential", 4.6), run("async", 1.0))
    answer = verdict(data, plan_load(aws_spec(), approaches=aws_approaches(data)))
    assert json.loads(to_json(data, answer))["verdict"] == answer.sentence and "on AWS" in answer.sentence
