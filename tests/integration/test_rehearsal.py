"""The AWS dress rehearsal: every approach over HTTPS from a throwaway CA, its signatures checked by the proxy (aws4),
on a new on-demand table; a certificate from another CA, a wrong secret, an unknown key and a skewed clock each
fail fast with the lab's one line; the secret never shows in the proxy's logs, stats or command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from botocore.exceptions import ClientError

from core.app.cli import build_parser, plan_from
from core.domain.approaches import APPROACHES, LAB_WRITERS, WRITERS
from core.domain.books import generate_books
from core.domain.capacity import Capacity
from core.domain.endpoints import is_local_url, off_machine
from core.domain.errors import ConfigError, TargetError
from core.domain.plan import NETWORK_PRESETS, PRESETS, Conditions, Plan
from core.run import runner as benchmark
from core.servers.emulator import Emulator, rehearsal_endpoint
from core.servers.emulator.tls import ThrowawayCA
from core.targets.tables import reset_table
from core.targets.target import Target, check_reachable, make_target
from core.targets.verify import verify
from core.wire.retry import RetryPolicy, clock_skew, explain
from core.wire.sigv4 import Credentials
from core.writers import WriterOptions, write
from core.writers.exchange import Tally, run_async, works
from core.writers.transports import AiohttpSender, CredentialCache

SECRET = "rehearsal-secret-" + secrets.token_hex(12)
KEY = Credentials("AKIDREHEARSAL0000001", SECRET)
FAST = RetryPolicy(max_attempts=16, base=0.005, cap=0.05)
AVAILABLE = [name for name, a in APPROACHES.items() if a.unavailable is None]  # s3-import too (a whole plan)
WRITING = [name for name in AVAILABLE if name in LAB_WRITERS]  # the lab's loop: refused fast, with its one line
BOOKS = 40


def skip_unless_available(approach: str) -> None:
    reason = APPROACHES[approach].unavailable
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def proxy(emulator: Emulator) -> Iterator[Emulator]:
    """The dress rehearsal in front of the embedded engine: HTTPS, signatures checked, a new on-demand table."""
    with rehearsal_endpoint(emulator.endpoint_url, [KEY], capacity=Capacity("on-demand")) as running:
        yield running


def target_for(proxy: Emulator, monkeypatch: pytest.MonkeyPatch, credentials: Credentials = KEY,
               ca_bundle: str | None = None, host: str = "127.0.0.1") -> Target:
    """A custom target at the proxy that trusts ``ca_bundle`` (default: the proxy's CA) the way a user would:
    through AWS_CA_BUNDLE."""
    monkeypatch.setenv("AWS_CA_BUNDLE", ca_bundle or str(proxy.ca_bundle))
    url = proxy.endpoint_url.replace("127.0.0.1", host)
    return make_target("custom", endpoint_url=url, credentials=credentials)


def options(**changes: object) -> WriterOptions:
    return WriterOptions(**{"threads": 4, "concurrency": 8, "policy": FAST, **changes})  # type: ignore[arg-type]


# --- every approach passes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("approach", WRITERS)
def test_every_approach_writes_and_verifies_over_https_with_signature_checks(
        proxy: Emulator, monkeypatch: pytest.MonkeyPatch, approach: str) -> None:
    skip_unless_available(approach)
    target = target_for(proxy, monkeypatch)
    assert target.endpoint_url is not None and target.endpoint_url.startswith("https://")
    table = APPROACHES[approach].table
    reset_table(target.client(), table)
    before = proxy.stats()
    report = write(approach, generate_books(BOOKS, seed=31), target, options())
    assert report.items_ok == BOOKS and not report.errors, (report.errors, report.failures)
    assert verify(target.client(), table, generate_books(BOOKS, seed=31), report).found == BOOKS
    after = proxy.stats()
    assert after["auth_refused"] == before["auth_refused"]  # every request's signature held ...
    assert after["capacity"]["consumed_wru"] >= before["capacity"]["consumed_wru"] + BOOKS  # on-demand charged
    forged = target_for(proxy, monkeypatch, credentials=Credentials(KEY.access_key, "forged"))
    with pytest.raises(ClientError, match="InvalidSignatureException"):  # ... and was checked: a forgery is refused
        forged.client(max_attempts=1).delete_table(TableName=table)
    assert proxy.stats()["capacity"]["tables"][table]["consumed_wru"] >= BOOKS  # and did not reset the table's model


def test_the_profile_ca_bundle_is_trusted_too(proxy: Emulator, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(f"[profile rehearsal]\nregion = us-east-1\nca_bundle = {proxy.ca_bundle}\n"
                      f"aws_access_key_id = {KEY.access_key}\naws_secret_access_key = {KEY.secret_key}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    target = make_target("custom", endpoint_url=proxy.endpoint_url, profile="rehearsal")
    assert target.trusted_ca == proxy.ca_bundle
    for approach in ("sequential", "async-batch", "aiobotocore"):
        reset_table(target.client(), APPROACHES[approach].table)
        report = write(approach, generate_books(10, seed=32), target, options())
        assert report.items_ok == 10 and not report.errors, (approach, report.errors)


def test_the_aiohttp_writer_sends_the_host_name_as_sni(proxy: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    target = target_for(proxy, monkeypatch, host="localhost")
    reset_table(target.client(), APPROACHES["async"].table)
    before = proxy.stats()["tls_server_names"].get("localhost", 0)
    report = write("async", generate_books(10, seed=33), target, options(concurrency=2))
    assert report.items_ok == 10 and not report.errors
    assert proxy.stats()["tls_server_names"].get("localhost", 0) > before


def test_https_endpoints_on_this_machine_are_local() -> None:
    for url in ("https://127.0.0.1:8443", "https://localhost:4566", "https://[::1]:8000"):
        assert is_local_url(url) and off_machine("custom", url, "us-east-1") is None
    assert off_machine("custom", "https://dynamodb.us-east-1.amazonaws.com", "us-east-1") is not None


# --- refused fast, with the lab's one line ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def other_ca() -> Iterator[ThrowawayCA]:
    made = ThrowawayCA.create()
    yield made
    made.remove()


@pytest.mark.parametrize("approach", WRITING)
def test_a_certificate_from_another_ca_is_refused_fast(proxy: Emulator, other_ca: ThrowawayCA,
                                                       monkeypatch: pytest.MonkeyPatch, approach: str) -> None:
    target = target_for(proxy, monkeypatch, ca_bundle=str(other_ca.ca_bundle))
    before = proxy.stats()["requests"]
    report = write(approach, generate_books(BOOKS, seed=34), target, options())
    assert report.items_ok == 0 and report.items_failed == BOOKS and report.items_unknown == 0
    assert set(report.errors) == {"CertificateError"} and report.retries == 0, report.errors
    line = report.failures[0]
    assert "AWS_CA_BUNDLE" in line and "certificate" in line and "\n" not in line, line
    assert "issuer" in line  # the verifier's own reason: unable to get local issuer certificate
    assert proxy.stats()["requests"] == before  # nothing reached DynamoDB


def test_check_reachable_names_the_untrusted_certificate(proxy: Emulator, other_ca: ThrowawayCA,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    target = target_for(proxy, monkeypatch, ca_bundle=str(other_ca.ca_bundle))
    with pytest.raises(TargetError) as raised:
        check_reachable(target)
    message = str(raised.value)
    assert "CertificateError" in message and "AWS_CA_BUNDLE" in message and "\n" not in message, message


def test_a_ca_bundle_that_is_not_there_is_a_config_error(proxy: Emulator, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    target = target_for(proxy, monkeypatch, ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="AWS_CA_BUNDLE"):
        target.client()


@pytest.mark.parametrize("approach", WRITING)
def test_a_wrong_secret_fails_fast_with_one_line(proxy: Emulator, monkeypatch: pytest.MonkeyPatch,
                                                 approach: str) -> None:
    target = target_for(proxy, monkeypatch, credentials=Credentials(KEY.access_key, "not-the-secret"))
    report = write(approach, generate_books(BOOKS, seed=35), target, options())
    assert report.items_failed == BOOKS and report.retries == 0
    assert set(report.errors) == {"InvalidSignatureException"}, report.errors
    assert report.requests <= (3 if APPROACHES[approach].batch else 20)  # the breaker stops sending
    line = report.failures[0]
    assert "check the key pair" in line and "\n" not in line, line
    assert "not-the-secret" not in repr(report)


@pytest.mark.parametrize("approach", WRITING)
def test_an_unknown_access_key_fails_fast_with_one_line(proxy: Emulator, monkeypatch: pytest.MonkeyPatch,
                                                        approach: str) -> None:
    target = target_for(proxy, monkeypatch, credentials=Credentials("AKIDNOBODYKNOWS00001", SECRET))
    report = write(approach, generate_books(BOOKS, seed=36), target, options())
    assert report.items_failed == BOOKS and report.retries == 0
    assert set(report.errors) == {"UnrecognizedClientException"}, report.errors
    assert "access key is not recognised" in report.failures[0] and "\n" not in report.failures[0]


SKEW = dt.timedelta(minutes=-7, seconds=-30)  # this client's clock runs 7 min 30 s slow
# ... as the server sees it: both dates are whole seconds, and a request takes time to arrive on a busy machine
SKEWED = re.compile(r"this machine's clock is 7 min (29|[3-5]\d) s behind the server's")


@pytest.mark.parametrize("batch", [False, True])
def test_a_skewed_clock_fails_fast_naming_the_skew_hand_signed(proxy: Emulator, monkeypatch: pytest.MonkeyPatch,
                                                               batch: bool) -> None:
    target = target_for(proxy, monkeypatch)
    tally = Tally("async-batch" if batch else "async", APPROACHES["async"].table)

    async def scenario() -> None:
        connector = aiohttp.TCPConnector(ssl=target.ssl_context())
        session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        async with session, AiohttpSender(session, target.resolved_endpoint(), tally.table, target.region,
                                          CredentialCache(target.credentials_provider()), tally, 10.0,
                                          clock=lambda: time.time() + SKEW.total_seconds()) as send:
            tally.start()
            await run_async(works(generate_books(BOOKS, seed=37), batch, tally), send, FAST, tally, 8)

    asyncio.run(scenario())
    report = tally.report(1.0, 0.0)
    assert report.items_failed == BOOKS and report.retries == 0
    assert set(report.errors) == {"InvalidSignatureException"}
    line = report.failures[0]
    assert SKEWED.search(line) and "fix the clock" in line and "Signature expired" in line, line


@pytest.mark.parametrize("approach", ["sequential", "threaded-batch", "aiobotocore"])
def test_a_skewed_clock_fails_fast_naming_the_skew_botocore(proxy: Emulator, monkeypatch: pytest.MonkeyPatch,
                                                            approach: str) -> None:
    import botocore.auth

    real = botocore.auth.get_current_datetime  # type: ignore[attr-defined]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: real(*a, **k) + SKEW)
    target = target_for(proxy, monkeypatch)
    report = write(approach, generate_books(BOOKS, seed=38), target, options())
    assert report.items_failed == BOOKS and report.retries == 0 and set(report.errors) == {
        "InvalidSignatureException"}
    assert SKEWED.search(report.failures[0]), report.failures


def test_clock_skew_is_read_from_both_of_aws_messages() -> None:
    assert clock_skew("Signature expired: 20160610T180547Z is now earlier than 20160610T180612Z "
                      "(20160610T181112Z - 5 min.)") == -325.0
    assert clock_skew("Signature not yet current: 20260101T001000Z is still later than 20260101T000500Z "
                      "(20260101T000000Z + 5 min.)") == 600.0
    assert clock_skew("The request signature we calculated does not match") is None
    assert "10 min ahead" in explain("InvalidSignatureException", "Signature not yet current: 20260101T001000Z is "
                                     "still later than 20260101T000500Z (20260101T000000Z + 5 min.)")


def test_the_secret_never_shows_in_the_proxys_stats_logs_or_command_line(proxy: Emulator) -> None:
    stats = json.dumps(proxy.stats())
    assert SECRET not in stats and KEY.access_key not in stats
    assert SECRET not in repr(proxy) and SECRET not in str(proxy.credentials)
    assert all(SECRET not in line for line in proxy._stderr_tail)
    assert proxy.pid is not None
    assert SECRET.encode() not in Path(f"/proc/{proxy.pid}/cmdline").read_bytes()
    assert SECRET.encode() not in Path(f"/proc/{proxy.pid}/environ").read_bytes()  # handed over on stdin


# --- the preset: CLI, plan, and a whole run per engine ------------------------------------------------------------

def test_the_cli_preset_sets_https_signature_checks_on_demand_and_nearby_latency() -> None:
    plan = plan_from(build_parser().parse_args(["run", "--preset", "aws-like"]))
    assert plan.rehearsal and plan.capacity == Capacity("on-demand")
    nearby = NETWORK_PRESETS["nearby-region"]
    assert (plan.conditions.latency_ms, plan.conditions.jitter_ms) == (nearby.latency_ms, nearby.jitter_ms)
    chosen = plan_from(build_parser().parse_args(["run", "--preset", "aws-like", "--capacity", "provisioned=500",
                                                  "--network", "same-region", "--faults", "throttle=0.1"]))
    assert chosen.capacity == Capacity("provisioned", wcu=500) and chosen.conditions.latency_ms == 4.0
    assert chosen.conditions.throttle == 0.1 and chosen.rehearsal
    bare = plan_from(build_parser().parse_args(["run", "--preset", "aws-like", "--capacity", "off", "--network",
                                                "none"]))  # an explicit off and none win too
    assert not bare.capacity.on and bare.conditions == Conditions() and bare.rehearsal


def test_the_rehearsal_is_for_local_targets_only() -> None:
    with pytest.raises(ConfigError, match="dress rehearsal"):
        PRESETS["aws-like"].apply(Plan(target="aws"))
    with pytest.raises(ConfigError, match="dress rehearsal"):
        Plan(target="custom", endpoint_url="https://dynamodb.eu-west-1.amazonaws.com", rehearsal=True)


def rehearse(plan: Plan, **kwargs: object) -> None:
    report = benchmark.run(PRESETS["aws-like"].apply(plan), **kwargs)  # type: ignore[arg-type]
    assert report.error is None, report.error
    assert [r.report.approach for r in report.runs] == list(plan.approaches)
    for result in report.runs:
        assert result.report.items_ok == plan.items and not result.report.errors, result.report.errors
        assert result.verification.found == plan.items, result.report.approach


def test_the_preset_runs_every_approach_on_the_embedded_target(emulator: Emulator) -> None:
    rehearse(Plan(approaches=tuple(AVAILABLE), items=BOOKS, threads=4, concurrency=8), emulator=emulator)
    assert emulator.conditions == Conditions() and not emulator.capacity.on  # the rehearsal went to its own proxy


def test_the_preset_runs_on_dynamodb_local(dynamodb_local: object) -> None:
    rehearse(Plan(target="dynamodb-local", approaches=("sequential", "async-batch", "aiobotocore"), items=BOOKS,
                  threads=4, concurrency=8), emulator=dynamodb_local)


def test_the_preset_runs_on_localstack(localstack: object) -> None:
    endpoint = localstack.endpoint_url  # type: ignore[attr-defined]
    rehearse(Plan(target="localstack", endpoint_url=endpoint, approaches=("threaded", "async"), items=BOOKS,
                  threads=4, concurrency=8))


def test_a_rehearsal_proxy_stops_with_its_ca_deleted(emulator: Emulator) -> None:
    with rehearsal_endpoint(emulator.endpoint_url, [KEY]) as running:
        authority = Path(str(running.ca_bundle)).parent
        assert authority.is_dir() and (authority.stat().st_mode & 0o777) == 0o700
    assert not authority.exists() and running.ca_bundle is None



def test_the_js_signature_check_passes_its_unit_tests() -> None:
    import subprocess

    from core.paths import REPO_ROOT
    from core.servers.emulator import node_executable

    result = subprocess.run([node_executable(), "--test", "tests/js/auth.test.js"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "ℹ fail 0" in result.stdout or "# fail 0" in result.stdout


def test_the_page_offers_the_preset_and_runs_a_rehearsal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from core.app import jobs, wording
    from core.paths import REPO_ROOT

    monkeypatch.setenv("LAB_HISTORY_PATH", str(tmp_path / "history.sqlite3"))
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    app = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=120).run()
    try:
        assert list(app.selectbox(key="preset").options) == list(wording.PRESET_CHOICES)
        app.selectbox(key="preset").set_value("aws-like").run()
        app.text_input(key="items").set_value("20").run()
        next(b for b in app.button if b.label == "Run").click().run()
        assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
        report = app.session_state["report"]
        assert report.plan.rehearsal and report.plan.capacity == Capacity("on-demand") and report.clean
        assert report.plan.conditions.latency_ms == NETWORK_PRESETS["nearby-region"].latency_ms
    finally:
        job = jobs.RUNS.running
        if job is not None:
            job.cancel()
            assert job.wait(60)


def test_the_page_words_say_it_is_a_rehearsal() -> None:
    from core.app import wording

    plan = wording.with_preset(Plan(items=10), "aws-like")
    assert "AWS dress rehearsal" in wording.plan_where(plan) and wording.with_preset(plan, wording.NO_PRESET) is plan
    assert "aws-like" in wording.preset_help()


def test_tls_failures_are_told_apart_from_other_transport_failures() -> None:
    import ssl

    from botocore.exceptions import SSLError

    from core.wire.failures import tls_failure
    from core.writers.transports import transport_code

    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "certificate has expired"
    wrapped = SSLError(endpoint_url="https://127.0.0.1:1", error=verify)
    handshake = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    handshake.reason = "WRONG_VERSION_NUMBER"
    cases: list[tuple[BaseException, tuple[str, str] | None]] = [
        (verify, ("CertificateError", "certificate has expired")),
        (wrapped, ("CertificateError", "certificate has expired")),
        (handshake, ("TLSError", "WRONG_VERSION_NUMBER")),
        (ConnectionResetError(), None),
        (TimeoutError(), None),
    ]
    for error, expected in cases:
        assert tls_failure(error) == expected, error
    assert transport_code(wrapped) == "CertificateError" and transport_code(TimeoutError()) == "Timeout"


def test_a_rehearsal_plan_survives_export_and_history() -> None:
    plan = PRESETS["aws-like"].apply(Plan(items=10))
    assert Plan.from_dict(json.loads(json.dumps(plan.as_dict()))) == plan
    assert Plan.from_dict({k: v for k, v in plan.as_dict().items() if k != "rehearsal"}).rehearsal is False  # older
