"""python -m core run: exit codes, one-line errors, chart and table, exports and history."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.app.cli import main
from core.app.history import History
from core.domain.plan import Plan, parse_faults
from core.domain.results import Report
from core.paths import REPO_ROOT


def cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=timeout, env=env)


@pytest.mark.parametrize(("args", "message"), [
    (["--items", "0"], "--items must be a whole number from 1 to 10,000,000, got '0' (see python -m core run --help)"),
    (["--items", "-3"], "--items must be a whole number from 1 to 10,000,000, got '-3'"),
    (["--items", "ten"], "--items must be a whole number from 1 to 10,000,000, got 'ten'"),
    (["--items", "1.5"], "--items must be a whole number from 1 to 10,000,000, got '1.5'"),
    (["--items", "99999999"], "--items must be a whole number from 1 to 10,000,000, got '99999999'"),
    (["--items", "1e400"], "--items must be a whole number from 1 to 10,000,000, got '1e400'"),
    (["--threads", "0"], "--threads must be between 1 and 512, got 0 (see python -m core run --help)"),
    (["--concurrency", "100000"], "--concurrency must be between 1 and 4,096, got 100,000"),
    (["--repeat", "0"], "--repeat must be between 1 and 50, got 0"),
    (["--latency-ms", "60001"], "--latency-ms must be between 0 and 60,000 ms, got 60,001"),
    (["--approaches", "sequential,warp"], "unknown approach 'warp': choose from sequential,"),
    (["--approaches", "sequental"], "unknown approach 'sequental' (did you mean 'sequential'?): choose from"),
    (["--approaches", "async,async"], "listed twice"),
    (["--region", "mars-1"], "invalid region 'mars-1'"),
    (["--target", "custom", "--endpoint-url", "localhost:8000"], "invalid endpoint URL"),
    (["--target", "custom"], "needs --endpoint-url"),
    (["--latency-ms", "-1"], "--latency-ms must be between 0 and 60,000 ms, got -1"),
    (["--faults", "throttle=2"], "fault throttle is a probability"),
    (["--faults", "lag=0.1"], "bad --faults entry 'lag=0.1'"),
    (["--network", "moon"], "argument --network: invalid choice: 'moon'; choose from none,"),
    (["--network", "study2022"], "invalid choice: 'study2022' (did you mean 'study-2022'?); choose from none,"),
    (["--itemz", "5"], "unrecognized arguments: --itemz 5 (did you mean '--items'?) (see python -m core run --help)"),
    (["--target", "custom", "--endpoint-url", "http://example.com:8000"], "not a local endpoint: add --yes"),
    (["--target", "aws"], "not a local endpoint: add --yes to write there (about $"),
    (["--json", "/nonexistent/dir/r.json"], "folder /nonexistent/dir does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    assert main(["run", "--history", str(tmp_path / "h.sqlite3"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("error: ")
    assert not (tmp_path / "h.sqlite3").exists() or History(tmp_path / "h.sqlite3").entries() == []


@pytest.mark.parametrize(("text", "faults"), [
    ("", {}), ("throttle=0.3", {"throttle": 0.3}),
    ("throttle=0.3,error=0.05,reset=0.02", {"throttle": 0.3, "error": 0.05, "reset": 0.02}),
    (" error=1 , ", {"error": 1.0}),
])
def test_parse_faults(text: str, faults: dict[str, float]) -> None:
    assert parse_faults(text) == faults


def test_a_corrupt_history_file_is_refused_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "history.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    assert main(["run", "--items", "5", "--history", str(bad)]) == 2
    assert f"history file {bad} is unusable" in capsys.readouterr().err


@pytest.mark.parametrize(("target", "keys", "message"), [
    ("custom", True, "custom target is not reachable at http://127.0.0.1:9: start it or fix the endpoint URL"),
    ("localstack", True, "localstack target is not reachable at http://127.0.0.1:9: run `docker compose up -d`"),
    # a loopback URL needs no real keys (dummy ones, never boto3's chain): the message names the real problem
    ("custom", False, "custom target is not reachable at http://127.0.0.1:9: start it or fix the endpoint URL"),
])
def test_unusable_targets_fail_fast_with_one_line(target: str, keys: bool, message: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               AWS_EC2_METADATA_DISABLED="true")
    if keys:
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    result = cli("run", "--target", target, "--endpoint-url", "http://127.0.0.1:9", "--items", "5",
                 "--history", "off", timeout=60, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {message}")


def test_a_full_run_prints_chart_table_and_writes_exports(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    result = cli("run", "--items", "60", "--approaches", "sequential,threaded,async,async-batch", "--seed", "5",
                 "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"), "--history", str(history))
    assert result.returncode == 0, result.stderr
    assert "sequential: ▇" in result.stdout and "async-batch: ▇" in result.stdout
    assert len(re.findall(r"^\S+ +1 +OK +60/60 +0 +0 +0 ", result.stdout, re.M)) == 4
    assert "Use " in result.stdout
    assert "Table capacity" not in result.stdout  # the capacity model was off
    assert "estimated" in result.stderr and "items/s" in result.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data) >= {"plan", "environment", "runs"}
    run = data["runs"][0]
    assert set(run) >= {"approach", "repeat", "table", "items", "seconds", "items_per_second", "requests", "retries",
                        "throttled", "errors", "failed_items", "not_sent_items", "latency_ms", "client_cpu_seconds",
                        "server_bound", "verification"}
    assert run["not_sent_items"] == 0
    assert run["verification"] == {"expected": 60, "found": 60, "lost": 0, "unexpected": 0, "mismatched": 0,
                                   "recovered": 0, "unchecked": 0, "checked": True}
    assert set(data["environment"]) >= {"python", "platform", "cpu_count", "packages"}
    csv_lines = (tmp_path / "r.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("approach,repeat,table,items,seconds")
    entries = History(history).entries()
    assert len(entries) == 1 and entries[0].clean and entries[0].items == 60
    assert History(history).load(entries[0].id)["runs"][3]["approach"] == "async-batch"


def test_a_capacity_run_prints_each_approach_s_use_of_the_table() -> None:
    result = cli("run", "--items", "320", "--approaches", "async-batch,threaded-batch", "--capacity", "provisioned=1",
                 "--max-attempts", "2", "--history", "off")
    assert result.returncode in (0, 1), result.stderr  # items still throttled after 2 attempts fail (exit 1)
    section = result.stdout.split("Table capacity provisioned=1 (goodput ÷ capacity: ", 1)[1].split("\n\n")[0]
    assert max(len(line) for line in section.splitlines()) <= 100  # folded to fit
    report = [" ".join(part.strip() for part in entry.splitlines())  # one entry per run, unfolded
              for entry in re.split(r"\n(?=\S+ +#1: )", section)]
    assert report[1].startswith("async-batch    #1: ") and report[2].startswith("threaded-batch #1: ")
    for line in report[1:3]:
        assert "peak vs capacity 1 WRU/s + 300 WRU burst at the start; goodput ÷ capacity " in line
        assert "(TableWriteProvisionedThroughputExceeded " in line and "% of " in line


def test_lost_or_failed_items_exit_1(tmp_path: Path) -> None:
    """The circuit breaker stops a run whose first wave is all refused: the run's stop and its failed books are
    both said, each on its own line."""
    result = cli("run", "--items", "8", "--approaches", "async", "--faults", "throttle=1", "--max-attempts", "2",
                 "--history", "off")
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "ProvisionedThroughputExceededException" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith("error: the async run gave up: the target refused all of the first 8 attempts")
    assert errors[1:] == ["error: some items were lost, failed or left unknown: 8 failed (see the table above)"]


def test_reopening_a_history_keeps_its_entries_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    History(path).append(Report(Plan(items=7), {}, ()))
    reopened = History(path)
    assert [(e.items, e.clean) for e in reopened.entries()] == [(7, False)]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM reports").fetchone() == (1,)


def test_output_piped_into_a_reader_that_stops_early_ends_quietly() -> None:
    """`python -m core plan-load ... | head -1`: the reader closes the pipe; no traceback, the shell's SIGPIPE code."""
    command = [sys.executable, "-m", "core", "plan-load", "--items", "1e9", "--item-bytes", "100", "--explain",
               "--history", "off"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT,
                          env={**os.environ, "COLUMNS": "80"}) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # as `head -1` does
        errors = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert first and "Traceback" not in errors and "BrokenPipeError" not in errors
    assert code in (0, 141)  # 0 when everything was written before the reader closed


@pytest.mark.parametrize("args", [["--approaches", ""], ["--approaches", " , "],
                                  ["--approaches", "", "--sweep", "concurrency=1,4"]])
def test_an_empty_approach_list_is_refused_not_replaced_by_the_defaults(args: list[str],
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`--approaches "$APPROACHES"` with the variable unset names no approach: one line, exit 2, nothing run."""
    assert main(["run", *args, "--dry-run", "--history", "off"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "approach" in err and len(err.strip().splitlines()) == 1
