"""``python -m core proxy``: the conditions proxy for the user's own code, and ``proxy-report``.

The report's text and the settings are pure (tables of cases); the command runs for real: the AWS CLI (LocalStack's
venv has one) or botocore sends signed requests over HTTPS through ``--preset aws-like``, a wrong secret gets
DynamoDB's error, and the report counts both. No timing assertions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from core.app.cli import build_parser, proxy_settings, signature_keys, try_lines
from core.domain.capacity import Capacity
from core.domain.errors import ConfigError, LabError
from core.domain.plan import NETWORK_PRESETS
from core.paths import REPO_ROOT
from core.servers.emulator.traffic import Ticket, read_ticket, remove_ticket, traffic_report, write_ticket
from core.wire.sigv4 import Credentials

AWS_CLI = REPO_ROOT / ".venv-localstack" / "bin" / "aws"
KEY, SECRET = "AKIDPROXYTEST0000001", "proxy-test-secret-never-printed"


def args_of(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["proxy", *argv])


# --- pure ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "capacity", "tls", "checks", "latency"), [
    ((), Capacity(), False, False, 0.0),
    (("--preset", "aws-like"), Capacity("on-demand"), True, True, NETWORK_PRESETS["nearby-region"].latency_ms),
    (("--preset", "aws-like", "--capacity", "provisioned=5", "--network", "none"),
     Capacity("provisioned", wcu=5), True, True, 0.0),  # what the user typed wins over the preset
    (("--tls",), Capacity(), True, False, 0.0),
    (("--check-signatures", "--capacity", "on-demand"), Capacity("on-demand"), False, True, 0.0),
])
def test_the_preset_and_the_flags_make_the_settings(argv: tuple[str, ...], capacity: Capacity, tls: bool,
                                                    checks: bool, latency: float) -> None:
    conditions, got_capacity, got_tls, got_checks = proxy_settings(args_of(*argv))
    assert (got_capacity, got_tls, got_checks, conditions.latency_ms) == (capacity, tls, checks, latency)


def test_emulator_is_the_same_command() -> None:
    assert build_parser().parse_args(["emulator", "--tls"]).handler is args_of().handler


class _Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_keys_come_from_stdin_and_a_test_pair_is_made_without_them() -> None:
    keys, generated = signature_keys(args_of("--check-signatures"), _Stdin(f"# mine\n\n{KEY} {SECRET}\nB s2\n"))
    assert [(k.access_key, k.secret_key) for k in keys] == [(KEY, SECRET), ("B", "s2")] and not generated
    keys, generated = signature_keys(args_of("--check-signatures"), _Stdin("", tty=True))  # never read from a tty
    assert generated and len(keys) == 1 and keys[0].access_key.startswith("AKIDLABPROXY") and keys[0].secret_key
    with pytest.raises(ConfigError, match="ACCESS_KEY_ID SECRET"):
        signature_keys(args_of("--check-signatures"), _Stdin("only-one-word\n"))


STATS = {
    "requests": 40, "writes": 30, "throttled": 5, "errors": 1, "resets": 0, "injected_ms": 2500.0,
    "auth_refused": {"InvalidSignatureException": 2},
    "conditions": {"latency_ms": 20, "jitter_ms": 5, "throttle": 0, "error": 0.1, "reset": 0},
    "capacity": {"config": {"mode": "provisioned", "wcu": 5}, "tables": {"Books": {
        "consumed_wru": 100, "requests": 30, "refused_requests": 6, "partial_requests": 4,
        "throttles": {"TableWriteProvisionedThroughputExceeded": 70},
        "consumed_wru_per_second": [[1000, 60], [1001, 40]], "seconds": [[1000, 5, 1, 60], [1001, 5, 1, 0]]}}},
}


@pytest.mark.parametrize(("stats", "expected"), [
    (STATS, ["40 DynamoDB requests (30 writes); table capacity provisioned=5",
             "Books: 50 WRU/s mean, 60 peak vs capacity 5 WRU/s + 60 WRU burst at the start",
             "TableWriteProvisionedThroughputExceeded 70", "wasted 20.0% of 30 requests, 4 batches partly refused",
             "signature checks: InvalidSignatureException 2", "500 errors 1",
             "latency injected: 20 ms + up to 5 ms per request, 2.5 s in all"]),
    ({"requests": 3, "writes": 0, "conditions": {}, "capacity": {"config": {"mode": "off"}}},
     ["table capacity off", "the capacity model is off", "signature checks: off", "latency injected: none"]),
    ({"requests": 1, "auth_refused": {}, "capacity": {"config": {"mode": "on-demand"}, "tables": {}}},
     ["no write reached a table yet", "signature checks: no request refused"]),
])
def test_the_report_says_what_the_traffic_met(stats: dict[str, object], expected: list[str]) -> None:
    text = traffic_report(stats, "https://127.0.0.1:8000")
    for part in expected:
        assert part in text, (part, text)


def test_a_ticket_is_private_and_refused_elsewhere(tmp_path: Path) -> None:
    directory = tmp_path / "tickets"
    path = write_ticket(Ticket("https://127.0.0.1:8123", "s3cr3t", "/ca.pem"), directory)
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(directory.stat().st_mode & 0o777) == "0o700"
    assert read_ticket("https://127.0.0.1:8123", directory) == Ticket("https://127.0.0.1:8123", "s3cr3t", "/ca.pem")
    assert "s3cr3t" not in repr(read_ticket("https://127.0.0.1:8123", directory))
    with pytest.raises(LabError, match="no proxy started"):
        read_ticket("https://127.0.0.1:8124", directory)
    directory.chmod(0o755)  # someone else could read the token: refused
    with pytest.raises(LabError, match="not a private directory"):
        read_ticket("https://127.0.0.1:8123", directory)
    remove_ticket(path)
    with pytest.raises(ConfigError, match="not a proxy URL"):
        read_ticket("127.0.0.1:8123", directory)


PAIR = Credentials("AKIDLABPROXY0000", "made-here")


@pytest.mark.parametrize(("ca", "keys", "generated", "profile", "prefix", "suffix"), [
    (None, (), False, None, "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test ", ""),  # nothing checked
    ("/tmp/ca.pem", (PAIR,), True, None,
     "AWS_CA_BUNDLE=/tmp/ca.pem AWS_ACCESS_KEY_ID=AKIDLABPROXY0000 AWS_SECRET_ACCESS_KEY=made-here ", ""),
    (None, (PAIR,), False, None, "AWS_ACCESS_KEY_ID=AKIDLABPROXY0000 AWS_SECRET_ACCESS_KEY=YOUR_SECRET ", ""),
    ("/tmp/ca.pem", (PAIR,), False, "dev", "AWS_CA_BUNDLE=/tmp/ca.pem ", " --profile dev"),
])
def test_the_banner_s_try_lines_work_without_aws_configuration(ca: str | None, keys: tuple[Credentials, ...],
                                                                generated: bool, profile: str | None, prefix: str,
                                                                suffix: str) -> None:
    url = "http://127.0.0.1:8000"
    assert try_lines(url, ca, keys, generated, profile) == [
        f"{prefix}aws dynamodb list-tables --endpoint-url {url} --region us-east-1{suffix}",
        f"{prefix}python -m core run --target custom --endpoint-url {url}{suffix}"]


# --- the command, for real -----------------------------------------------------------------------------------------

def _lab(*argv: str, **options: object) -> subprocess.Popen[str]:
    process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "core", *argv], cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, **options)
    return process


def banner(process: subprocess.Popen[str]) -> list[str]:
    """The proxy's banner, to its last line ("Report while it runs: ...")."""
    assert process.stdout is not None
    lines = [process.stdout.readline()]
    while lines[-1] and not lines[-1].startswith("Report while it runs: "):
        lines.append(process.stdout.readline())
    return lines


@pytest.fixture
def aws_like() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``core proxy --preset aws-like`` with our key pair on stdin: the process and its pasted variables."""
    process = _lab("proxy", "--port", "0", "--preset", "aws-like", "--capacity", "on-demand", stdin=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{KEY} {SECRET}\n")
    process.stdin.close()  # the keys are read to the end of stdin
    lines = banner(process)
    exported = dict(part.split("=", 1) for line in lines if line.strip().startswith("export ")
                    for part in line.split("#")[0].split()[1:])
    try:
        yield process, exported
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_aws_like_accepts_signed_requests_over_https_and_refuses_a_wrong_secret(
        aws_like: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    process, exported = aws_like
    url, ca = exported["AWS_ENDPOINT_URL_DYNAMODB"], exported["AWS_CA_BUNDLE"]
    assert url.startswith("https://127.0.0.1:") and Path(ca).is_file() and exported["AWS_ACCESS_KEY_ID"] == KEY
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(exported, AWS_SECRET_ACCESS_KEY=SECRET)
    if AWS_CLI.exists():  # the AWS CLI itself: its own signer, its own TLS stack
        ok = subprocess.run([str(AWS_CLI), "dynamodb", "list-tables"], env=env, capture_output=True, text=True,
                            timeout=120)
        assert ok.returncode == 0 and json.loads(ok.stdout) == {"TableNames": []}, ok.stderr
        env["AWS_SECRET_ACCESS_KEY"] = "wrong"
        bad = subprocess.run([str(AWS_CLI), "dynamodb", "list-tables"], env=env, capture_output=True, text=True,
                             timeout=120)
        assert bad.returncode != 0 and "InvalidSignatureException" in bad.stderr, bad.stderr
    else:  # botocore, configured only by what was pasted (the CLI is not on this machine: .venv-localstack missing)
        session = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
        client = session.client("dynamodb", endpoint_url=url, verify=ca, config=Config(retries={"max_attempts": 0}))
        assert client.list_tables()["TableNames"] == []
        forged = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key="wrong", region_name="us-east-1")
        with pytest.raises(ClientError, match="InvalidSignatureException"):
            forged.client("dynamodb", endpoint_url=url, verify=ca).list_tables()
    report = _lab("proxy-report", "--url", url)
    out, err = report.communicate(timeout=60)
    assert report.returncode == 0 and "signature checks: InvalidSignatureException 1" in out, err
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0 and process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    assert process.returncode == 0 and "What the traffic met at " + url in out, err
    assert SECRET not in out + err  # a key pair given on stdin: its secret is never printed
    missing = _lab("proxy-report", "--url", url)  # the ticket went with the proxy
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 1 and "no proxy started" in err and err.count("\n") == 1


def test_the_proxy_page_runs_as_shown(tmp_path: Path) -> None:
    """docs/proxy.md's proxy command (on a free port, and on-demand so the 2,000 books do not take 100 s at 5 WRU/s),
    its create-table and its boto3 batch_writer script, run as a user would: configured only by the pasted lines."""
    from tests.e2e.test_readme import readme_commands

    (args,) = readme_commands(".venv/bin/python -m core proxy")
    args[args.index("--port") + 1] = "0"
    section = (REPO_ROOT / "docs" / "proxy.md").read_text()
    script = section.split("```python\n", 1)[1].split("```", 1)[0]
    (create,) = [line for line in section.split("```sh\n", 2)[2].split("```")[0].splitlines()
                 if line.startswith("aws dynamodb create-table")]
    (tmp_path / "load.py").write_text(script)
    process = _lab("proxy", *args, "--capacity", "on-demand", stdin=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        lines = banner(process)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(part.partition("=")[::2] for line in lines if line.strip().startswith("export ")
                   for part in line.split("#")[0].split()[1:])
        if AWS_CLI.exists():
            made = subprocess.run([str(AWS_CLI), *create.split()[1:]], env=env, capture_output=True, text=True,
                                  timeout=120)
            assert made.returncode == 0, made.stderr
        else:  # the same call through boto3 (the AWS CLI is not on this machine: .venv-localstack missing)
            call = ("import boto3; boto3.client('dynamodb').create_table(TableName='Books', BillingMode="
                    "'PAY_PER_REQUEST', AttributeDefinitions=[{'AttributeName': 'isbn', 'AttributeType': 'S'}], "
                    "KeySchema=[{'AttributeName': 'isbn', 'KeyType': 'HASH'}])")
            subprocess.run([sys.executable, "-c", call], env=env, check=True, timeout=120)
        loaded = subprocess.run([sys.executable, "load.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=300)
        assert loaded.stdout.strip() == "2000 books in the table", loaded.stderr
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        report = process.stdout.read()
        assert "table capacity on-demand" in report and "  Books: " in report, report
        assert "signature checks: no request refused" in report
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_banner_shows_the_conditions_and_lines_that_work_as_pasted() -> None:
    """No AWS configuration at all: the banner's AWS CLI line (or botocore with its keys) and its lab run work."""
    process = _lab("proxy", "--port", "0", "--network", "study-2022", "--faults", "throttle=0.01",
                   stdin=subprocess.DEVNULL)
    try:
        lines = [line.rstrip("\n") for line in banner(process)]
        assert lines[1] == ("Conditions: study-2022 latency (75 ms + up to 10 ms per request), throttle 1%; HTTP, "
                            "no credentials checked (any key works)")
        listing, run = lines[lines.index("Or try it as is (no AWS account needed):") + 1:][:2]
        url = lines[0].split(" at ")[1].split()[0]
        assert listing.strip().startswith("AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws dynamodb list-tables ")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                   AWS_EC2_METADATA_DISABLED="true", PATH=f"{AWS_CLI.parent}:{env['PATH']}")
        if AWS_CLI.exists():
            listed = subprocess.run(listing, shell=True, env=env, capture_output=True, text=True, timeout=120)
            assert listed.returncode == 0 and json.loads(listed.stdout) == {"TableNames": []}, listed.stderr
        command = run.strip().replace("python -m core", f"{sys.executable} -m core") + \
            " --items 20 --approaches async --max-attempts 10 --history off"
        ran = subprocess.run(command, shell=True, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=240)
        assert ran.returncode == 0 and "on custom" in " ".join(ran.stdout.split()), ran.stderr
        assert url in run
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
