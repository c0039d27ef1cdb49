"""core.targets.target: validation, endpoint resolution, credentials (masked), client configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.domain.endpoints import is_local_url, validate_endpoint_url, validate_region
from core.domain.errors import ConfigError, EmulatorError
from core.targets.target import Target, check_reachable, make_target
from core.wire.sigv4 import Credentials


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-2", "ap-southeast-1", "us-gov-west-1", "il-central-1"])
def test_valid_regions(region: str) -> None:
    assert validate_region(region) == region


@pytest.mark.parametrize("region", ["", "useast1", "US-EAST-1", "us-east", "us east 1", "us-east-1; rm"])
def test_invalid_regions(region: str) -> None:
    with pytest.raises(ConfigError, match="invalid region"):
        validate_region(region)


@pytest.mark.parametrize(("url", "expected"), [
    ("http://localhost:4566", "http://localhost:4566"),
    ("https://dynamodb.eu-west-1.amazonaws.com/", "https://dynamodb.eu-west-1.amazonaws.com"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
])
def test_valid_endpoint_urls(url: str, expected: str) -> None:
    assert validate_endpoint_url(url) == expected


@pytest.mark.parametrize("url", ["localhost:4566", "ftp://host", "http://", "http://host:99999", "http://host:abc",
                                 "not a url"])
def test_invalid_endpoint_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="invalid endpoint URL"):
        validate_endpoint_url(url)


@pytest.mark.parametrize(("url", "local"), [
    ("http://localhost:4566", True), ("http://127.0.0.1:1", True), ("http://127.5.0.1", True),
    ("http://[::1]:8000", True), ("http://api.localhost", False), ("https://dynamodb.us-east-1.amazonaws.com", False),
    ("http://10.0.0.5:8000", False), ("http://192.168.1.2", False), (None, False),
])
def test_is_local_url(url: str | None, local: bool) -> None:
    assert is_local_url(url) is local


def test_localstack_endpoint_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("LOCALSTACK_HOST", raising=False)
    assert make_target("localstack").endpoint_url == "http://localhost:4566"
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:4577")
    assert make_target("localstack").endpoint_url == "http://127.0.0.1:4577"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    assert make_target("localstack").endpoint_url == "http://127.0.0.1:9999"


def test_custom_needs_an_endpoint_and_embedded_needs_the_emulator() -> None:
    with pytest.raises(ConfigError, match="needs --endpoint-url"):
        make_target("custom")
    with pytest.raises(EmulatorError, match="not running"):
        make_target("embedded")
    with pytest.raises(ConfigError, match="unknown target 'dynamo'"):
        make_target("dynamo")  # type: ignore[arg-type]  # what a user may type


def test_aws_endpoint_is_resolved_by_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    keys = Credentials("AKIDEXAMPLE", "secret")
    assert make_target("aws", region="eu-west-1", credentials=keys).resolved_endpoint() == \
        "https://dynamodb.eu-west-1.amazonaws.com"
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert make_target("aws", region="us-east-1", credentials=keys).resolved_endpoint() == \
        "https://dynamodb-fips.us-east-1.amazonaws.com"


def test_credentials_come_from_the_default_chain_and_stay_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCANARY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-secret-value")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "canary-session-token")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    target = make_target("custom", endpoint_url="http://127.0.0.1:5000")
    creds = target.credentials()
    assert (creds.access_key, creds.secret_key, creds.token) == \
        ("AKIDCANARY", "canary-secret-value", "canary-session-token")
    for text in (repr(creds), str(creds), repr(target)):
        assert "canary-secret-value" not in text and "canary-session-token" not in text


def test_local_targets_use_dummy_keys_not_the_users() -> None:
    target = Target("localstack", endpoint_url="http://localhost:4566")
    assert target.credentials().access_key == "testing"


def test_unknown_profile_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    with pytest.raises(ConfigError, match="profile 'no-such-profile' is not in your AWS config"):
        make_target("aws", profile="no-such-profile").credentials()


def test_client_pool_and_retry_mode_are_pinned() -> None:
    target = Target("custom", endpoint_url="http://127.0.0.1:5000", static_credentials=Credentials("a", "b"))
    client = target.client(pool=32, max_attempts=7)
    config: Any = client.meta.config  # the stubs do not list its options
    assert config.max_pool_connections == 32
    assert config.retries == {"mode": "standard", "total_max_attempts": 7}
    assert client.meta.endpoint_url == "http://127.0.0.1:5000"


def test_a_stale_ca_bundle_does_not_stop_a_plain_http_target(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> None:
    """An AWS_CA_BUNDLE left from another project is read only for HTTPS endpoints: a local engine over plain HTTP
    needs no certificate, so the run goes on (a request is answered); an HTTPS endpoint names the setting."""
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/stale-ca.pem")
    local = make_target("custom", endpoint_url=moto_url)
    assert not local.https and local.trusted_ca != "/nonexistent/stale-ca.pem"
    local.ssl_context()  # the aiohttp writers build one for every target
    check_reachable(local)
    assert "Buckets" in local.s3_client().list_buckets()
    secure = make_target("custom", endpoint_url="https://127.0.0.1:5000", credentials=Credentials("a", "b"))
    assert secure.https
    with pytest.raises(ConfigError, match=r"the CA bundle /nonexistent/stale-ca\.pem .* does not exist"):
        secure.client()
    with pytest.raises(ConfigError, match=r"the CA bundle /nonexistent/stale-ca\.pem .* does not exist"):
        secure.s3_client()


def test_the_s3_client_verifies_against_the_targets_ca(tmp_path: Path) -> None:
    """s3-import's S3 client trusts what every other client trusts (the dress rehearsal's CA, AWS_CA_BUNDLE)."""
    ca = tmp_path / "ca.pem"
    ca.write_text("not read until a connection is made\n")
    target = Target("custom", endpoint_url="https://127.0.0.1:5000", static_credentials=Credentials("a", "b"),
                    ca_bundle=str(ca))
    assert target.s3_client()._endpoint.http_session._verify == str(ca)
    assert target.client()._endpoint.http_session._verify == str(ca)  # type: ignore[attr-defined]
