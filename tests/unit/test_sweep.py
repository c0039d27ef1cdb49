"""core.run.sweep: parsing and planning (table-driven, pure) and what a result derives (L, C ÷ L, the knee)."""

from __future__ import annotations

import pytest

from core.app.cli import main
from core.domain.errors import ConfigError
from core.domain.plan import Conditions, Plan
from core.run.sweep import SweepPoint, SweepResult, items_for, parse_sweep, plan_sweep


@pytest.mark.parametrize(("text", "levels"), [("concurrency=1,4,16,64,256", (1, 4, 16, 64, 256)),
                                              ("64, 1, 16", (1, 16, 64)), (" concurrency = 8 ", (8,))])
def test_parse_sweep(text: str, levels: tuple[int, ...]) -> None:
    assert parse_sweep(text) == levels


@pytest.mark.parametrize(("text", "message"), [
    ("threads=1,2", "only concurrency can be swept"), ("concurrency=", "needs concurrency levels"),
    ("1,x", "bad sweep level 'x'"), ("0,4", "between 1 and 512"), ("1,1", "listed twice"),
    ("1,2,3,4,5,6,7,8,9,10,11,12,13", "at most 12")])
def test_parse_sweep_refuses(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sweep(text)


def test_plan_sweep_sets_threads_and_concurrency_to_each_level() -> None:
    base = Plan(items=500, conditions=Conditions(latency_ms=20), seed=7)
    sweep = plan_sweep(base, (1, 16, 64))
    assert [(s.threads, s.concurrency, s.items) for s in sweep.steps] == [(1, 1, 50), (16, 16, 320), (64, 64, 500)]
    assert all(s.approaches == ("threaded", "async") and s.conditions == base.conditions and s.seed == 7
               for s in sweep.steps)
    assert sweep.lanes[:2] == ("threaded @ 1", "async @ 1")
    with pytest.raises(ConfigError, match="choose threaded or async approaches, not 'sequential'"):
        plan_sweep(base, (1, 4), approaches=("sequential",))


@pytest.mark.parametrize(("level", "most", "items"), [(1, 2_000, 50), (4, 2_000, 80), (256, 2_000, 2_000),
                                                      (1, 10, 10)])
def test_items_per_level(level: int, most: int, items: int) -> None:
    assert items_for(level, most) == items


def test_a_result_without_a_knee_says_it_kept_up() -> None:
    plan = plan_sweep(Plan(items=1_000), (1, 2))
    sweep = SweepResult(plan, (SweepPoint("async", 1, 100, 1.0, 100.0, 10.0, False, True),
                               SweepPoint("async", 2, 100, 0.5, 200.0, 10.0, False, True)))
    assert sweep.round_trip_s == pytest.approx(0.01) and sweep.ideal(2) == pytest.approx(200)
    assert sweep.knee("async") is None and sweep.ideal_knee == pytest.approx(2.0)
    assert "async: keeps up with C ÷ L at every level measured" in sweep.summary()
    assert "the server was not saturated" in sweep.summary()
    assert [line.split() for line in sweep.table().splitlines()[2:]] == [["1", "–", "100", "100"],
                                                                         ["2", "–", "200", "200"]]


def test_the_table_s_header_names_its_units() -> None:
    plan = plan_sweep(Plan(items=1_000), (1, 2), approaches=("async",))
    sweep = SweepResult(plan, (SweepPoint("async", 1, 100, 1.0, 100.0, 10.0, False, True),))
    head = sweep.table().splitlines()[0].split()
    assert head == ["C", "async", "items/s", "ideal", "C", "÷", "L", "items/s"]


@pytest.mark.parametrize(("args", "line"), [
    ([], "Sweep: concurrency 1, 4, 16 x threaded, async = 6 runs on embedded, books per point 50, 80, 300 "),
    (["--approaches", "async"], "Sweep: concurrency 1, 4, 16 x async = 3 runs on embedded, books per point 50, 80, "
                                "300 "),
    (["--approaches", "async-batch,threaded"], "x async-batch, threaded = 6 runs on embedded"),
])
def test_the_cli_sweeps_the_approaches_given_and_counts_its_runs_and_books(
        args: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--sweep", "concurrency=1,4,16", "--items", "300", "--history", "off", "--dry-run",
                 *args]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert line in err


def test_the_cli_refuses_a_sweep_of_an_approach_without_concurrency(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--sweep", "1,4", "--approaches", "sequential", "--history", "off", "--dry-run"]) == 2
    assert "choose threaded or async approaches, not 'sequential'" in capsys.readouterr().err


@pytest.mark.parametrize(("target", "url", "where"), [("aws", None, "AWS us-east-1"),
                                                      ("custom", "http://db.invalid:8000", "db.invalid")])
def test_a_sweep_runs_on_this_machine_only(target: str, url: str | None, where: str) -> None:
    with pytest.raises(ConfigError, match=f"the sweep runs on targets on this machine only, not .*{where}"):
        plan_sweep(Plan(target=target, endpoint_url=url), (1, 4))  # type: ignore[arg-type]


def test_the_cli_refuses_a_remote_sweep_though_confirmed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--sweep", "1,4", "--target", "custom", "--endpoint-url", "http://db.invalid:8000",
                 "--yes", "--history", "off"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the sweep runs on targets on this machine only" in err
