"""A run's problems decided once (``RunResult.issues``, ``Report.issues``) and read the same way by the CLI's error
lines and exit code, the page's badge and headline, and the verdict's caveat."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console

from core.app.cli import show_results
from core.app.terminal import RunProgress
from core.app.verdict import problem_lines, verdict
from core.app.wording import headline
from core.app.wording import verdict as badge
from core.domain.plan import Plan
from core.domain.results import Issue, ProgressEvent, Report, RunReport, RunResult, Verification


def run(approach: str = "async", items: int = 10, failed: int = 0, unknown: int = 0, not_sent: int = 0,
        lost: int = 0, unexpected: int = 0, mismatched: int = 0, unchecked: int = 0, checked: bool = True,
        halted: str | None = None, seconds: float = 1.0) -> RunResult:
    ok = items - failed - unknown - not_sent
    writer = RunReport(approach, "t", items, seconds, items, 0, 0, {}, ok, failed, unknown, (1.0,), 0.1,
                       ((0.0, 0), (seconds, ok)), halted=halted, items_not_sent=not_sent)
    taken = items - not_sent
    check = Verification(taken, ok - lost - mismatched - unchecked, lost, unexpected, mismatched, 0,
                         missing=failed + unknown, unchecked=unchecked) if checked else Verification.not_checked(taken)
    return RunResult(0, writer, check)


def plan_of(*runs: RunResult, cancelled: bool = False, error: str | None = None) -> Report:
    approaches = tuple(dict.fromkeys(r.approach for r in runs)) or ("async",)
    return Report(Plan(approaches=approaches, items=10), {}, runs, cancelled=cancelled, error=error)


RUNS = [
    # (the run, its issues as said)
    (run(), []),
    (run(failed=8), ["8 failed"]),
    (run(lost=2), ["2 lost"]),
    (run(unknown=1, not_sent=3), ["1 unknown", "3 not sent"]),
    (run(unexpected=4, mismatched=1), ["4 unexpected", "1 mismatched"]),
    (run(unchecked=5), ["5 unchecked"]),
    (run(checked=False), ["10 not verified"]),
    (run(failed=8, halted="the target refused all of the first 8 attempts"),
     ["8 failed", "halted: the target refused all of the first 8 attempts"]),
]


@pytest.mark.parametrize(("result", "said"), RUNS)
def test_a_run_s_issues_and_clean_agree(result: RunResult, said: list[str]) -> None:
    assert [str(issue) for issue in result.issues()] == said
    assert result.clean is (not said)
    assert (badge(result) == ":green-background[verified]") is (not said)


def test_books_absent_without_a_reason_are_missing() -> None:
    """A read-back that found fewer books than given while the writer reported none failed is still a problem."""
    result = replace(run(), verification=Verification(10, 7, 0, 0, 0, 0))
    assert result.issues() == (Issue("missing", 3),) and not result.clean


PLANS = [
    # (the plan, the CLI's error lines, its exit code as the CLI decides it: 130 cancelled, 1 any issue, else 0)
    (plan_of(run(), run("threaded")), [], 0),
    (plan_of(run(failed=8, halted="refused"), error="the async run gave up: refused"),
     ["the async run gave up: refused", "some items were lost, failed or left unknown: 8 failed (see the table "
                                        "above)"], 1),
    (plan_of(run(failed=8, halted="refused")),
     ["refused", "some items were lost, failed or left unknown: 8 failed (see the table above)"], 1),
    (plan_of(run(lost=1), run("threaded", lost=2)),
     ["some items were lost, failed or left unknown: 3 lost (see the table above)"], 1),
    (plan_of(run(not_sent=6, unknown=1), cancelled=True),
     ["some items were lost, failed or left unknown: 1 unknown, 6 not sent (see the table above)",
      "the run was interrupted: the table above shows what was done (rows marked INTERRUPTED)"], 130),
    (plan_of(error="the emulator died"), ["the emulator died", "no run was made: nothing was written; not run: async"],
     1),
    (replace(plan_of(cancelled=True), plan=Plan(approaches=("async-batch", "sequential"), items=10)),
     ["interrupted before any run wrote a book: nothing was written; not run: async-batch, sequential"], 130),
]


@pytest.mark.parametrize(("data", "lines", "code"), PLANS)
def test_a_plan_s_issues_give_the_cli_s_lines_and_exit_code(data: Report, lines: list[str], code: int) -> None:
    assert problem_lines(data) == lines
    assert (130 if data.cancelled else 1 if data.issues() else 0) == code
    assert data.clean is (code == 0)


@pytest.mark.parametrize(("data", "lines", "code"), [case for case in PLANS if case[0].runs])
def test_the_page_s_headline_counts_the_same_books(data: Report, lines: list[str], code: int) -> None:
    top = headline(data)
    assert top is not None
    assert top.problems == sum(issue.count for issue in data.issues() if issue.books)
    assert (top.problems == 0) is (code == 0 or not any(issue.books for issue in data.issues()))


def test_the_verdict_names_the_books_of_a_recommended_run_that_was_not_clean() -> None:
    answer = verdict(plan_of(run(failed=2)))
    assert answer.approach == "async" and "Its runs lost, failed or left items unknown (2 failed)" in answer.sentence


def test_a_run_whose_table_was_not_read_back_says_so_in_exports_and_stored_views() -> None:
    """A dead server during the read-back: the JSON, the CSV and the history's rows say 'not verified', never
    'found 0, lost 0' (which reads as nothing written and nothing lost)."""
    import csv
    import io

    from core.app.export import to_csv, to_dict
    from core.app.wording import summary_rows

    data = to_dict(plan_of(run(checked=False), run("sequential")))
    assert [r["verification"]["checked"] for r in data["runs"]] == [False, True]
    assert [row["checked"] for row in csv.DictReader(io.StringIO(to_csv(plan_of(run(checked=False)))))] == ["False"]
    assert [row["written"] for row in summary_rows(data)] == ["not verified", "10/10"]
    for stored in data["runs"]:  # a report stored before the field: read as checked
        del stored["verification"]["checked"]
    assert [row["written"] for row in summary_rows(data)] == ["0/10", "10/10"]


def test_without_a_run_the_cli_draws_no_empty_table() -> None:
    """Ctrl-C during the first reset: no chart, no table, no verdict; the one error line says it all."""
    out = Console(file=io.StringIO(), width=100)
    empty = Report(Plan(approaches=("async-batch", "sequential"), items=10), {}, (), cancelled=True)
    show_results(out, empty, verdict(empty))
    assert isinstance(out.file, io.StringIO) and out.file.getvalue() == ""
    show_results(out, plan_of(run()), verdict(plan_of(run())))
    assert "items/s" in out.file.getvalue() and "check" in out.file.getvalue()


def test_the_overall_progress_counts_the_runs_started_not_a_reset() -> None:
    """Two runs done, the third interrupted in its table's reset: the overall line says run 2 of 3, not 3 of 3."""
    progress = RunProgress(Console(file=io.StringIO(), width=100), items=10, runs=3, clock=lambda: 0.0)
    assert progress._position() == "no run started yet, 3 planned"
    for approach in ("async-batch", "sequential"):
        for phase in ("reset", "write", "done"):
            progress(ProgressEvent(approach, 0, phase, 10 if phase == "done" else 0, 10, 1.0))
    progress(ProgressEvent("threaded", 0, "reset", 0, 10, 0.0))
    assert progress._position() == "run 2 of 3"
    progress(ProgressEvent("threaded", 0, "write", 0, 10, 0.0))
    assert progress._position() == "run 3 of 3"
