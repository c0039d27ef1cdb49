"""python -m core aws-check offline: the check against the lab's bulk put emulation (the proxy in front of dynalite)
with moto's S3, its failures in one line, Ctrl-C, clean-up, its figures in the history and what the planner takes
from them (measured on AWS: yes; emulated: never); the figures' arithmetic table-tested."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.app.cli import main
from core.app.history import History
from core.domain.bulkmodel import BulkAssumptions, MeasuredBulk, Poll, measure, with_measured
from core.paths import REPO_ROOT
from core.run.awscheck import CheckOptions, run_check
from core.servers.emulator import Emulator
from core.targets.target import LOCAL_CREDENTIALS, Target
from tests.servers import moto_server

BUCKET = "lab-check-bucket"
DAY = 1_764_979_200.0  # 2025-12-06 00:00 UTC


def s3_settings(url: str) -> dict[str, Any]:
    return {"endpoint": url, "region": "us-east-1", "access_key": LOCAL_CREDENTIALS.access_key,
            "secret_key": LOCAL_CREDENTIALS.secret_key}


@pytest.fixture()
def emulated(emulator: Emulator, moto_url: str, moto_target: Target) -> Iterator[Any]:
    """The lab's proxy emulating the bulk put from moto's S3, where the check's bucket exists; its S3 client."""
    emulator.set_bulk({**BulkAssumptions().proxy_settings(), "s3": s3_settings(moto_url)})
    s3 = moto_target.s3_client()
    s3.create_bucket(Bucket=BUCKET)
    yield s3
    emulator.set_bulk({**BulkAssumptions().proxy_settings(), "s3": None})


def check_args(emulator: Emulator, moto_url: str, history: Path, *extra: str) -> list[str]:
    return ["aws-check", "--endpoint-url", emulator.endpoint_url, "--s3-endpoint-url", moto_url, "--s3-bucket",
            BUCKET, "--history", str(history), *extra]


def objects(s3: Any) -> list[str]:
    return [entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def tables(emulator: Emulator) -> list[str]:
    return [name for name in emulator.call("ListTables", {})[1]["TableNames"] if name.startswith("LabBulkCheck")]


def test_the_check_against_the_emulation_measures_verifies_cleans_up_and_stores_it_as_emulated(
        emulator: Emulator, emulated: Any, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "history.sqlite3"
    assert main(check_args(emulator, moto_url, history)) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "measured: start-up" in out and "to COMPLETED (100 items emulated at" in out
    assert "100 of the 100 books found, 0 lost" in out and "marked emulated" in out
    assert tables(emulator) == [] and objects(emulated) == []  # the table, the part and the report are gone
    (figures,) = History(history).checks()
    assert figures.emulated and figures.endpoint == emulator.endpoint_url and not figures.on_aws
    assert (figures.items, figures.status, figures.tier) == (100, "COMPLETED", "STANDARD")
    assert figures.startup_s[1] >= 0.5  # the emulation writes nothing for its first 0.5 s
    assert main(["plan-load", "--items", "1000000", "--item-bytes", "100", "--table", "existing",
                 "--history", str(history)]) == 0
    plan = " ".join(capsys.readouterr().out.split())  # folded to the terminal's width
    assert "measured on AWS" not in plan and "assumed (AWS publishes no tier rate" in plan


def test_ctrl_c_cancels_the_bulk_put_and_cleans_up(emulator: Emulator, emulated: Any, moto_url: str) -> None:
    emulator.set_bulk({"rates": {"STANDARD": 1500, "ACCELERATED": 1500}, "startup_s": 0})
    cancel = threading.Event()

    def progress(line: str) -> None:
        if line.startswith("bulk put IN_PROGRESS") and not line.startswith("bulk put IN_PROGRESS: 0 items"):
            cancel.set()

    options = CheckOptions(BUCKET, items=20_000, endpoint_url=emulator.endpoint_url, s3_endpoint_url=moto_url)
    result = run_check(options, cancel=cancel, progress=progress)
    assert result.cancelled and result.status == "CANCELLED" and result.figures is None
    assert result.left == () and result.error is None
    assert tables(emulator) == [] and objects(emulated) == []


def test_ctrl_c_on_the_command_cancels_it_exits_130_and_stores_nothing(
        emulator: Emulator, emulated: Any, moto_url: str, tmp_path: Path) -> None:
    emulator.set_bulk({"rates": {"STANDARD": 1500, "ACCELERATED": 1500}, "startup_s": 0})
    history = tmp_path / "h.sqlite3"
    process = subprocess.Popen([sys.executable, "-m", "core", *check_args(emulator, moto_url, history),
                                "--items", "20000"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("bulk put IN_PROGRESS") and not line.startswith("bulk put IN_PROGRESS: 0 items"):
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "cancelled: the bulk put ended CANCELLED" in out and "Traceback" not in err
    assert tables(emulator) == [] and objects(emulated) == [] and History(history).checks() == []


def test_a_failed_bulk_put_is_one_line_with_its_failure_code(
        emulator: Emulator, emulated: Any, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with moto_server() as elsewhere:  # the operation reads another S3, where the bucket does not exist
        emulator.set_bulk({"s3": s3_settings(elsewhere)})
        assert main(check_args(emulator, moto_url, tmp_path / "h.sqlite3")) == 1
    captured = capsys.readouterr()
    (line,) = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert line.startswith("error: the bulk put FAILED (S3NoSuchBucket: the input objects could not be listed")
    assert "Traceback" not in captured.err and "measured" not in captured.out
    assert tables(emulator) == [] and objects(emulated) == []
    assert History(tmp_path / "h.sqlite3").checks() == []


def test_no_bucket_is_one_line_and_nothing_is_created(
        emulator: Emulator, emulated: Any, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = check_args(emulator, moto_url, tmp_path / "h.sqlite3")
    args[args.index(BUCKET)] = "no-such-bucket"
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error: S3 bucket no-such-bucket does not exist" in err and "Traceback" not in err
    assert tables(emulator) == []


def test_no_permission_on_the_bucket_is_one_line(
        emulator: Emulator, emulated: Any, moto_iam_target: Target, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A moto S3 that checks IAM, and keys of a user allowed dynamodb:* only."""
    keys = moto_iam_target.static_credentials
    assert keys is not None and moto_iam_target.endpoint_url is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    assert main(check_args(emulator, moto_iam_target.endpoint_url, tmp_path / "h.sqlite3")) == 1
    err = capsys.readouterr().err
    assert f"error: S3 bucket {BUCKET} refused your credentials" in err and "Traceback" not in err
    assert tables(emulator) == []


def test_an_endpoint_without_the_operations_is_one_line(
        dynamodb_local: Any, emulated: Any, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DynamoDB Local answers the bulk operations as an older endpoint does (UnknownOperationException)."""
    assert main(["aws-check", "--endpoint-url", dynamodb_local.endpoint_url, "--s3-endpoint-url", moto_url,
                 "--s3-bucket", BUCKET, "--history", "off"]) == 1
    err = capsys.readouterr().err
    assert "does not know the bulk put operations (UnknownOperationException)" in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--items", "0"], "--items must be a whole number from 1"),
    (["--table", "a"], "invalid table name"),
    (["--s3-endpoint-url", "http://127.0.0.1:1"], "--s3-endpoint-url is for a check against --endpoint-url"),
    (["--bulk-tier", "fast"], "invalid choice"),
    (["--s3-bucket", "Bad_Bucket"], "invalid S3 bucket name"),
    (["--region", "nowhere 1"], "region"),
])
def test_bad_input_is_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aws-check", "--s3-bucket", "my-bucket", "--history", "off", "--dry-run", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_aws_needs_yes_and_the_confirmation_says_what_it_creates_and_costs(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aws-check", "--s3-bucket", "my-bucket", "--table", "MyCheck", "--history", "off"]) == 2
    err = capsys.readouterr().err
    assert "create the on-demand table MyCheck (deleted at the end" in err
    assert "s3://my-bucket/dynamodb-lab/check-" in err and "an assumed price" in err and "cost: about $0.0000" in err
    assert err.strip().splitlines()[-1] == "error: AWS us-east-1 is not a local endpoint: add --yes to create what " \
                                           "is listed above"


# --- the figures ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("polls", "startup", "end", "items_per_second"), [
    ([(0, 0, False), (1, 0, False), (2, 20, False), (3, 60, False), (4, 100, True)], (1, 2), (3, 4), (100 / 3, 100)),
    ([(0, 0, False), (1, 0, False), (2, 50, False), (3, 100, True)], (1, 2), (2, 3), (50, None)),
    ([(0, 0, False), (2, 100, True)], (0, 2), (0, 2), (50, None)),  # one poll saw the first item and the end
])
def test_measure_brackets_each_figure_between_two_polls(
        polls: list[tuple[float, int, bool]], startup: tuple[float, float], end: tuple[float, float],
        items_per_second: tuple[float, float | None]) -> None:
    figures = measure([Poll(t, n, n * 10, done) for t, n, done in polls], wru=200, created=DAY, region="eu-west-1",
                      tier="STANDARD", status="COMPLETED", emulated=False)
    assert figures is not None and (figures.startup_s, figures.end_s) == (startup, end)
    assert figures.items_per_second[0] == pytest.approx(items_per_second[0])
    assert figures.items_per_second[1] == (None if items_per_second[1] is None else
                                           pytest.approx(items_per_second[1]))
    assert figures.wru_per_second[0] == pytest.approx(2 * items_per_second[0])  # 2 WRU an item here
    assert figures.bytes_per_second[0] == pytest.approx(10 * items_per_second[0])


@pytest.mark.parametrize("polls", [[(0, 0, False), (5, 0, True)], [(0, 0, False), (5, 10, False)]])
def test_nothing_is_measured_without_an_item_processed_and_an_end(polls: list[tuple[float, int, bool]]) -> None:
    assert measure([Poll(t, n, n, done) for t, n, done in polls], wru=1, created=DAY, region="us-east-1",
                   tier="STANDARD", status="COMPLETED", emulated=False) is None


def figures(created: float = DAY, tier: str = "STANDARD", *, emulated: bool = False, endpoint: str | None = None,
            high: float | None = 900.0) -> MeasuredBulk:
    return MeasuredBulk(created, "eu-west-1", tier, 100, "COMPLETED", (40.0, 42.0), (43.0, 45.0), (300.0, high),
                        (4_000.0, None), (300.0, high), emulated, endpoint)


def test_the_planner_takes_the_newest_check_measured_on_aws_for_the_tier_and_never_an_emulated_one() -> None:
    base = BulkAssumptions()
    newest_emulated = figures(DAY + 9, emulated=True, endpoint="http://127.0.0.1:8000")
    other_tier = figures(DAY + 8, "ACCELERATED")
    chosen = with_measured(base, [figures(DAY - 86_400), newest_emulated, other_tier, figures(DAY)], "STANDARD")
    assert chosen.rates["STANDARD"] == (300.0, 900.0) and chosen.startup_s == (40.0, 42.0)
    assert chosen.rates["ACCELERATED"] == base.rates["ACCELERATED"] and chosen.price_per_gb == base.price_per_gb
    assert chosen.source.startswith("start-up and rate measured on AWS on 2025-12-06 (eu-west-1, STANDARD)")
    assert "the price and the capacity sharing assumed" in chosen.source
    assert with_measured(base, [newest_emulated], "STANDARD") == base
    assert with_measured(base, [figures(endpoint="https://vpce.example")], "STANDARD") == base  # not AWS's own
    unbounded = with_measured(base, [figures(high=None)], "STANDARD")
    assert unbounded.rates["STANDARD"] == (300.0, base.rates["STANDARD"][1]) and "upper end" in unbounded.source


def test_plan_load_says_measured_on_aws_for_start_up_and_rate_and_assumed_for_the_price(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = History(tmp_path / "h.sqlite3")
    history.append_check(figures(emulated=True, endpoint="http://127.0.0.1:8000", created=DAY + 5))
    args = ["plan-load", "--items", "10000000", "--item-bytes", "100", "--table", "existing", "--history",
            str(history.path)]
    assert main(args) == 0
    assert "measured on AWS" not in capsys.readouterr().out
    history.append_check(figures())
    assert main([*args, "--explain"]) == 0  # each row's basis is printed with --explain
    words = " ".join(capsys.readouterr().out.split())  # the basis folds to the terminal's width
    basis = words[words.index("bulk-put: "):].split(" Sources")[0]
    assert "300–900 WRU/s after 40 s–42 s" in basis
    assert "measured on AWS on 2025-12-06 (eu-west-1, STANDARD)" in basis and "the price and the capacity" in basis


def test_history_files_without_the_checks_table_still_load_and_bad_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # a history as written before aws-check existed
        db.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, target TEXT "
                   "NOT NULL, items INTEGER NOT NULL, approaches TEXT NOT NULL, clean INTEGER NOT NULL, report TEXT "
                   "NOT NULL)")
        db.execute("INSERT INTO reports (created, target, items, approaches, clean, report) VALUES (1, 'embedded', "
                   "1, 'async', 1, '{}')")
    history = History(path)
    assert history.checks() == [] and history.entries() == []  # its one row is not a report the lab can read
    history.append_check(figures())
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO bulk_checks (created, emulated, figures) VALUES (2, 0, ?)",
                   (json.dumps({**figures().as_dict(), "startup_s": "soon"}),))
    assert history.checks() == [figures()]
    assert any("aws-check row 2 skipped" in line for line in history.skipped_lines())
