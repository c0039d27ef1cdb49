"""Typed input that looks right and is not: numbers in other scripts' digits or not finite, URLs with full-width
punctuation or a broken IPv6 host, S3 bucket names S3 forbids, hosts this machine cannot listen on, timeouts that
mean nothing; each is one ``error:`` line and exit 2, and ``--dry-run`` refuses exactly what the run refuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.app.cli import main
from core.app.history import History
from core.domain.approaches import APPROACHES
from core.domain.errors import ConfigError
from core.domain.numbers import number, whole
from core.domain.s3source import validate_bucket
from core.paths import REPO_ROOT
from core.run import runner as benchmark


@pytest.mark.parametrize(("text", "value"), [("12", 12), (" -3 ", -3), ("+7", 7), ("0", 0)])
def test_whole_reads_ascii_digits(text: str, value: int) -> None:
    assert whole(text) == value


@pytest.mark.parametrize("text", ["²", "１２", "٣", "1_000", "", "1.0", "0x10", "ten"])
def test_whole_refuses_everything_else(text: str) -> None:
    with pytest.raises(ValueError):
        whole(text)


@pytest.mark.parametrize(("text", "value"), [("1.5", 1.5), (".5", 0.5), ("-2", -2.0), ("1e3", 1000.0), ("5.", 5.0)])
def test_number_reads_finite_ascii_numbers(text: str, value: float) -> None:
    assert number(text) == value


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "０.5", "1_0.5", "½", ""])
def test_number_refuses_everything_else(text: str) -> None:
    with pytest.raises(ValueError):
        number(text)


@pytest.mark.parametrize(("args", "message"), [
    (["--sweep", "concurrency=²"], "bad sweep level '²'"),
    (["--sweep", "concurrency=1,４"], "bad sweep level '４'"),
    (["--items", "１２"], "--items must be a whole number from 1 to 10,000,000, got '１２'"),
    (["--threads", "1_0"], "argument --threads: invalid int value: '1_0'"),
    (["--request-timeout", "1e999"], "argument --request-timeout: invalid float value: '1e999'"),
    (["--latency-ms", "５"], "argument --latency-ms: invalid float value"),
    (["--faults", "throttle=０.5"], "bad --faults value '０.5'"),
    (["--capacity", "provisioned=１０"], "capacity wcu must be a whole number"),
    (["--target", "custom", "--endpoint-url", "http://127.0.0.1：8000"], "use plain ASCII characters"),
    (["--target", "custom", "--endpoint-url", "http://127.0.0.1:8000／x"], "use plain ASCII characters"),
    (["--target", "custom", "--endpoint-url", "http://１２７.0.0.1:8000"], "use plain ASCII characters"),
    (["--target", "custom", "--endpoint-url", "http://[::1"], "invalid endpoint URL 'http://[::1' (Invalid IPv6 URL)"),
    (["--target", "custom", "--endpoint-url", "http://[::1]:80x"], "the port must be a number"),
    (["--scheduler", "tcp://[::1"], "invalid scheduler address 'tcp://[::1'"),
    (["--scheduler", "tcp://127.0.0.1：8786"], "invalid scheduler address"),
])
@pytest.mark.parametrize("dry", [False, True])
def test_lookalike_input_is_one_line_and_exit_2(args: list[str], message: str, dry: bool,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--history", "off", *args, *(["--dry-run"] if dry else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(("args", "message"), [
    (["plan-load", "--items", "１０", "--item-bytes", "100"], "--items must be a whole number from 1 to"),
    (["plan-load", "--items", "10", "--item-bytes", "100", "--deadline", "４５min"], "bad deadline '４５min'"),
    (["plan-load", "--items", "10", "--item-bytes", "100", "--endpoint-url", "http://[::1", "--target", "custom"],
     "Invalid IPv6 URL"),
    (["emulator", "--port", "８０００"], "argument --port: invalid int value"),
    (["emulator", "--upstream", "http://[::1"], "Invalid IPv6 URL"),
])
def test_lookalike_input_to_the_other_commands_is_one_line_and_exit_2(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("timeout", ["-5", "0", "nan", "inf", "1e999", "５"])
def test_localstack_refuses_a_timeout_that_means_nothing_without_a_setup_hint(timeout: str) -> None:
    result = subprocess.run([sys.executable, "-m", "core", "localstack", "--timeout", timeout, "--port", "0"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: argument --timeout: invalid timeout value") and \
        result.stderr.count("\n") == 1, result.stderr
    assert "lab.sh" not in result.stderr


def test_the_emulator_on_an_address_this_machine_lacks_names_the_address_not_the_setup() -> None:
    result = subprocess.run([sys.executable, "-m", "core", "emulator", "--host", "10.99.99.99", "--port", "0"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the embedded emulator cannot listen on 10.99.99.99 (no interface of this "
                           "machine has that address)"), result.stderr
    assert "lab.sh" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "rule"), [
    ("192.168.1.1", "formatted as an IP address"), ("10.0.0.255", "formatted as an IP address"),
    ("xn--bucket", "start with xn--"), ("sthree-bucket", "start with sthree-"),
    ("amzn-s3-demo-bucket", "start with amzn-s3-demo-"), ("bucket-s3alias", "end with -s3alias"),
    ("bucket--ol-s3", "end with --ol-s3"), ("bucket.mrap", "end with .mrap"), ("bucket--x-s3", "end with --x-s3"),
    ("bucket--table-s3", "end with --table-s3"), ("my..bucket", "two dots in a row"),
    ("ab", "3 to 63"), ("a" * 64, "3 to 63"), ("My-Bucket", "lowercase"), ("-bucket", "starting and ending"),
    ("bucket-", "starting and ending"), ("bucket_1", "lowercase letters, digits, dots or hyphens"),
    ("bucket\n", "3 to 63"),
])
def test_bucket_names_s3_forbids_are_refused_naming_the_rule(name: str, rule: str) -> None:
    with pytest.raises(ConfigError, match="invalid S3 bucket name") as refused:
        validate_bucket(name)
    assert rule in str(refused.value) and "\n" not in str(refused.value).replace(repr(name), "")


@pytest.mark.parametrize("name", ["my-bucket", "a.b.c", "123", "1.2.3", "xn-bucket", "bucket-s3", "s3alias-bucket",
                                  "a" * 63])
def test_bucket_names_s3_accepts_are_kept(name: str) -> None:
    assert validate_bucket(name) == name


def test_the_cli_refuses_a_forbidden_bucket_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--approaches", "s3-import", "--s3-bucket", "xn--bucket", "--history", "off"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "it must not start with xn-- (reserved by S3)" in err


@pytest.mark.parametrize("args", [
    ["--scheduler", "tcp://10.1.2.3:8786"],  # embedded: the remote cluster cannot reach this machine's loopback
    ["--target", "dynamodb-local", "--scheduler", "tls://10.1.2.3:8786"],
    ["--target", "custom", "--endpoint-url", "http://127.0.0.1:9", "--scheduler", "10.1.2.3:8786"],
])
def test_the_dry_run_refuses_exactly_what_the_run_refuses(args: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--items", "5", "--history", "off", *args]) == 2
    real = capsys.readouterr().err
    assert main(["run", "--items", "5", "--history", "off", *args, "--dry-run"]) == 2
    dry = capsys.readouterr().err
    assert dry == real and real.count("\n") == 1 and "is on another machine, but the target" in real


@pytest.mark.parametrize(("name", "value"), [
    ("AWS_MAX_ATTEMPTS", "abc"), ("AWS_MAX_ATTEMPTS", "0"), ("AWS_MAX_ATTEMPTS", "３"), ("AWS_RETRY_MODE", "garbage"),
    ("AWS_DEFAULTS_MODE", "fast"), ("AWS_STS_REGIONAL_ENDPOINTS", "global"),
    ("AWS_REQUEST_CHECKSUM_CALCULATION", "always"), ("AWS_RESPONSE_CHECKSUM_VALIDATION", "never"),
    ("AWS_ACCOUNT_ID_ENDPOINT_MODE", "maybe"), ("AWS_REQUEST_MIN_COMPRESSION_SIZE_BYTES", "99999999"),
    ("AWS_METADATA_SERVICE_TIMEOUT", "-1"), ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "many"),
    ("AWS_USE_FIPS_ENDPOINT", "yes"), ("AWS_USE_DUALSTACK_ENDPOINT", "1"),
])
@pytest.mark.parametrize("dry", [False, True])
def test_aws_sdk_settings_in_the_environment_are_checked_before_the_run(
        name: str, value: str, dry: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(name, value)
    args = ["run", "--items", "5", "--approaches", "async,aws-sdk", "--history", "off", *(["--dry-run"] if dry else [])]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the environment variable {name}=") and err.count("\n") == 1, err
    assert "Plan:" not in err  # nothing ran


@pytest.mark.parametrize(("name", "value"), [("AWS_MAX_ATTEMPTS", "3"), ("AWS_RETRY_MODE", "Adaptive"),
                                             ("AWS_USE_FIPS_ENDPOINT", "false"), ("AWS_DEFAULTS_MODE", "")])
def test_valid_aws_sdk_settings_pass(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    assert main(["run", "--items", "5", "--approaches", "async", "--history", "off", "--dry-run"]) == 0


def test_an_approach_failing_unexpectedly_keeps_the_finished_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The official SDK refusing a setting mid-run (its own ConfigValidationError, the check above switched off):
    the async run before it keeps its row, its JSON and its history entry; one error line names the approach."""
    if APPROACHES["aws-sdk"].unavailable:
        pytest.skip(APPROACHES["aws-sdk"].unavailable)
    monkeypatch.setattr(benchmark, "check_aws_environment", lambda: None)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "abc")
    history, exported = tmp_path / "h.sqlite3", tmp_path / "r.json"
    assert main(["run", "--items", "5", "--approaches", "async,aws-sdk", "--history", str(history),
                 "--json", str(exported)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "error: the aws-sdk run failed unexpectedly (ConfigValidationError" in captured.err
    assert re.search(r"async +1 +OK +5/5", captured.out) and "Never ran: aws-sdk" in captured.out
    assert [run["approach"] for run in json.loads(exported.read_text())["runs"]] == ["async"]
    assert [entry.approaches for entry in History(history).entries()] == [("async", "aws-sdk")]
