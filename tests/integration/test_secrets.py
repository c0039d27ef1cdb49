"""Secrets never leak: not in output, logs (botocore's DEBUG log included), exports, history or reprs; nothing
is sent to a non-local endpoint before the user confirms; the served config binds loopback with XSRF on."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml  # type: ignore[import-untyped]

from core.app.cli import main
from core.domain.plan import Plan
from core.paths import REPO_ROOT
from core.run.runner import run
from core.servers.emulator import Emulator
from core.targets.target import make_target
from core.wire import logs
from core.wire.sigv4 import Credentials

CANARY_KEY_ID = "AKIDCANARYEXAMPLE000"
CANARY_SECRET = "canarySecretKey/Do+Not+Leak+0123456789abcd"
CANARY_TOKEN = "canarySessionToken//FwoGZXIvYXdzEDoaDDoNotLeakThisToken0123456789"


def test_cli_run_with_canary_credentials_leaks_nothing(emulator: Emulator, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=CANARY_KEY_ID, AWS_SECRET_ACCESS_KEY=CANARY_SECRET, AWS_SESSION_TOKEN=CANARY_TOKEN,
               AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    files = {name: tmp_path / name for name in ("r.json", "r.csv", "h.sqlite3")}
    result = subprocess.run(
        [sys.executable, "-m", "core", "run", "--target", "custom", "--endpoint-url", emulator.endpoint_url,
         "--items", "30", "--approaches", "sequential,async,aiobotocore-batch", "--log-level", "debug",
         "--json", str(files["r.json"]), "--csv", str(files["r.csv"]), "--history", str(files["h.sqlite3"])],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "x-amz-security-token" in result.stderr.lower()  # the wire log really was on, and masked
    assert "Signature:\n" in result.stderr and "StringToSign:\n" in result.stderr  # botocore's signing log too
    with sqlite3.connect(files["h.sqlite3"]) as db:
        stored = "\n".join(row[0] for row in db.execute("SELECT report FROM reports"))
    everything = "\n".join([result.stdout, result.stderr, files["r.json"].read_text(), files["r.csv"].read_text(),
                            stored, files["h.sqlite3"].read_bytes().decode("latin-1")])
    for secret in (CANARY_SECRET, CANARY_TOKEN, quote(CANARY_SECRET, safe=""), quote(CANARY_TOKEN, safe="")):
        assert secret not in everything
    assert re.findall(r"(?i)(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])", everything) == []  # no signature, in any form


@pytest.mark.parametrize("text", [
    f"headers={{'X-Amz-Security-Token': b'{CANARY_TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 "
    f"Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature={'ab' * 32}'}}",
    f"x-amz-security-token:{CANARY_TOKEN}\nhost:example.com",
    f"aws_secret_access_key = {CANARY_SECRET}",
    f"{{'SecretAccessKey': '{CANARY_SECRET}', 'SessionToken': '{CANARY_TOKEN}'}}",
    f"Signature:\n{'ab' * 32}",
    f"StringToSign:\nAWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/dynamodb/aws4_request\n{'ab' * 32}",
    f"CanonicalRequest:\nPOST\n/\n\nhost:localhost\nx-amz-security-token:{CANARY_TOKEN}\n\nhost\n{'AB' * 32}",
    f"GET https://bucket.s3.amazonaws.com/k?X-Amz-Security-Token={quote(CANARY_TOKEN, safe='')}&X-Amz-Signature="
    f"{'ab' * 32}&X-Amz-Credential=AKID",
    f"{{'authorization': 'AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature={'ab' * 32}'}}",
    f"connecting to https://lab:{CANARY_SECRET}@proxy.example.com:3128/",
    f"password={CANARY_SECRET}&user=lab",
])
def test_redaction_patterns(text: str) -> None:
    cleaned = logs.redact(text)
    for secret in (CANARY_SECRET, CANARY_TOKEN, quote(CANARY_TOKEN, safe=""), "ab" * 32, "AB" * 32):
        assert secret not in cleaned


def test_remembered_secrets_are_masked_anywhere_in_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    logs.remember("an-unusual-secret-value")
    logger = logging.getLogger("lab.test")
    caplog.handler.addFilter(logs.RedactingFilter())
    logger.warning("got %s in the middle", "an-unusual-secret-value")
    logs.remember("an/unusual+secret")
    logger.warning("signed url ?Token=%s&x=1", quote("an/unusual+secret", safe=""))
    assert "an-unusual-secret-value" not in caplog.text and "got *** in the middle" in caplog.text
    assert "unusual" not in caplog.text


def test_reprs_never_show_secrets(emulator: Emulator) -> None:
    creds = Credentials(CANARY_KEY_ID, CANARY_SECRET, CANARY_TOKEN)
    target = make_target("custom", endpoint_url=emulator.endpoint_url, credentials=creds)
    report = run(Plan(target="custom", endpoint_url=emulator.endpoint_url, items=5, approaches=("async",)),
                 credentials=creds)
    for text in (repr(creds), str(creds), repr(target), str(target), repr(report), repr(report.runs[0])):
        assert CANARY_SECRET not in text and CANARY_TOKEN not in text


@pytest.mark.parametrize("args", [
    ["--target", "aws", "--region", "eu-west-1"],
    ["--target", "custom", "--endpoint-url", "https://dynamodb.example.com"],
    ["--target", "localstack", "--endpoint-url", "http://10.1.2.3:4566"],
])
def test_nothing_reaches_a_non_local_endpoint_before_confirmation(
        no_remote_sockets: list[object], args: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CANARY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
    assert main(["run", "--items", "5", "--history", "off", *args]) == 2
    assert "add --yes to write there" in capsys.readouterr().err
    assert no_remote_sockets == []


def test_streamlit_serves_loopback_only_with_xsrf_protection() -> None:
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True and config["server"]["headless"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none" and config["runner"]["magicEnabled"] is False


def test_localstack_compose_is_pinned_and_loopback_only() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["localstack"]
    assert service["image"] == "localstack/localstack:4.14.0"
    assert service["ports"] and all(str(port).startswith("127.0.0.1:") for port in service["ports"])
    assert service["environment"]["SERVICES"] == "dynamodb" and "healthcheck" in service
