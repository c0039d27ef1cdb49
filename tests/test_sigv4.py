"""core.sigv4 against the official AWS SigV4 test suite, botocore's signer (property-based), and a table of edges.

The suite lives in ../shared/sigv4-testsuite beside the repository (or $SIGV4_TESTSUITE); it is not copied here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sigv4 import (
    Credentials,
    Signer,
    SigningError,
    canonical_headers,
    canonical_query_string,
    canonical_request,
    canonical_uri,
    sign,
    signature,
    signing_key,
    string_to_sign,
)

SUITE = Path(os.environ.get("SIGV4_TESTSUITE", Path(__file__).resolve().parents[2] / "shared" / "sigv4-testsuite"))
KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.UTC)
needs_suite = pytest.mark.skipif(not SUITE.is_dir(), reason=f"the SigV4 test suite is not at {SUITE} "
                                                             "(it ships beside the repository, in ../shared)")


def parse_request(text: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """A suite .req: request line, `Name:value` headers (continuation lines start with whitespace), blank, body."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    host = next(value for name, value in headers if name.lower() == "host")
    return method, f"https://{host}{target}", headers, body.encode()


def classic_cases() -> list[Path]:
    if not SUITE.is_dir():
        return []
    return sorted(p for p in SUITE.glob("**/*.req")
                  if "aws-c-auth-v4" not in p.parts and p.stem != "post-sts-header-after")


@needs_suite
@pytest.mark.parametrize("case", classic_cases(), ids=lambda p: p.stem)
def test_official_suite(case: Path) -> None:
    method, url, headers, body = parse_request(case.read_text())
    creq_expected = case.with_suffix(".creq").read_text()
    token = next((line.split(":", 1)[1] for line in creq_expected.split("\n")
                  if line.startswith("x-amz-security-token:")), None)
    given_names = {name.lower() for name, _ in headers}
    creds = Credentials(KEYS.access_key, KEYS.secret_key, token)
    signed = sign(method, url, headers, body, credentials=creds, region="us-east-1", service="service",
                  now=SUITE_TIME)
    added = [(n, v) for n, v in signed.items() if n != "Authorization" and n.lower() not in given_names]
    sent = headers + added  # the given headers as given (repeats kept), plus what sign added
    creq = canonical_request(method, url, sent, body)
    assert creq == creq_expected
    sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", creq)
    assert sts == case.with_suffix(".sts").read_text()
    assert signed["Authorization"] == case.with_suffix(".authz").read_text()


def c_auth_cases() -> list[Path]:
    if not SUITE.is_dir():
        return []
    return sorted(p for p in (SUITE / "aws-c-auth-v4").iterdir() if p.is_dir())


@needs_suite
@pytest.mark.parametrize("case", c_auth_cases(), ids=lambda p: p.name)
def test_aws_c_auth_suite(case: Path) -> None:
    context = json.loads((case / "context.json").read_text())
    if not context["normalize"] or context["sign_body"] or context.get("omit_session_token"):
        pytest.skip("an S3-style (unnormalised), signed-body or unsigned-token variant: not what a non-S3 "
                    "service like DynamoDB signs")
    method, url, headers, body = parse_request((case / "request.txt").read_text())
    creds = Credentials(context["credentials"]["access_key_id"], context["credentials"]["secret_access_key"],
                        context["credentials"].get("token"))
    signed = sign(method, url, headers, body, credentials=creds, region=context["region"],
                  service=context["service"], now=SUITE_TIME)
    assert signed["Authorization"].endswith("Signature=" + (case / "header-signature.txt").read_text().strip())
    expected_headers = (case / "header-signed-request.txt").read_text().split("\n\n")[0].split("\n")[1:]
    authorization = next(h for h in expected_headers if h.startswith("Authorization:"))
    assert signed["Authorization"] == authorization.split(":", 1)[1]


# --- equal to botocore's SigV4Auth for random DynamoDB requests ------------------------------------------------

REGIONS = st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-1", "us-gov-west-1", "il-central-1"])
HEADER_NAMES = st.sampled_from(["X-Amz-User-Agent", "x-amz-client-context", "X-Custom", "X-Amz-Meta-Info"])
HEADER_VALUES = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    body=st.recursive(st.text(max_size=40) | st.integers() | st.booleans(),
                      lambda inner: st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12),
    region=REGIONS,
    extra=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
    token=st.none() | st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=16, max_size=120),
    seconds=st.integers(0, 2_000_000_000),
)
def test_equal_to_botocore(body: object, region: str, extra: dict[str, str], token: str | None,
                           seconds: int) -> None:
    now = dt.datetime.fromtimestamp(seconds, dt.UTC)
    payload = json.dumps({"TableName": "Bööks", "Item": body}, ensure_ascii=False).encode()
    url = f"https://dynamodb.{region}.amazonaws.com/"
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem", **extra}
    ours = sign("POST", url, headers, payload, credentials=Credentials("AKIDEXAMPLE", "s3cr3t/Key+", token),
                region=region, service="dynamodb", now=now)
    request = botocore.awsrequest.AWSRequest("POST", url, headers=dict(headers), data=payload)
    auth = botocore.auth.SigV4Auth(botocore.credentials.Credentials("AKIDEXAMPLE", "s3cr3t/Key+", token),
                                   "dynamodb", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        auth.add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")


# --- a table of edges, each with its canonical request written out -------------------------------------------

E = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # SHA-256 of the empty body


@pytest.mark.parametrize(("method", "url", "headers", "expected"), [
    ("GET", "https://h/", [("Host", "h"), ("X-A", "1"), ("x-a", "2"), ("X-A", "3")],
     f"GET\n/\n\nhost:h\nx-a:1,2,3\n\nhost;x-a\n{E}"),
    ("GET", "https://h/", [("Host", "h"), ("X-B", "  a   b \n  c  ")],
     f"GET\n/\n\nhost:h\nx-b:a b c\n\nhost;x-b\n{E}"),
    ("GET", "https://h/?b=2&a=&=x&a=1", [("Host", "h")],
     f"GET\n/\n=x&a=&a=1&b=2\nhost:h\n\nhost\n{E}"),
    ("GET", "https://h/?k=a b&x=%2F~", [("Host", "h")],
     f"GET\n/\nk=a%20b&x=%2F~\nhost:h\n\nhost\n{E}"),
    ("GET", "https://h/a/./b/../c//d/", [("Host", "h")],
     f"GET\n/a/c/d/\n\nhost:h\n\nhost\n{E}"),
    ("GET", "https://h/ሴ/x y", [("Host", "h")],
     f"GET\n/%E1%88%B4/x%20y\n\nhost:h\n\nhost\n{E}"),
    ("POST", "http://127.0.0.1:8000", [("Host", "127.0.0.1:8000")],
     f"POST\n/\n\nhost:127.0.0.1:8000\n\nhost\n{E}"),
    ("get", "https://h/..", [("HOST", "h")],
     f"GET\n/\n\nhost:h\n\nhost\n{E}"),
])
def test_canonical_request_edges(method: str, url: str, headers: list[tuple[str, str]], expected: str) -> None:
    assert canonical_request(method, url, headers, b"") == expected


def test_sign_adds_host_date_and_token_and_signs_them_all() -> None:
    signed = sign("POST", "http://127.0.0.1:8000", {"X-Amz-Target": "DynamoDB_20120810.PutItem"}, b"{}",
                  credentials=Credentials("AKID", "secret", "tok"), region="us-east-1", service="dynamodb",
                  now=SUITE_TIME)
    assert signed["Host"] == "127.0.0.1:8000" and signed["X-Amz-Date"] == "20150830T123600Z"
    assert signed["X-Amz-Security-Token"] == "tok" and "X-Amz-Content-Sha256" not in signed
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token;x-amz-target," in signed["Authorization"]


def test_a_non_utc_time_is_converted() -> None:
    local = SUITE_TIME.astimezone(dt.timezone(dt.timedelta(hours=-7)))
    args = dict(credentials=KEYS, region="us-east-1", service="service")
    assert sign("GET", "https://h/", {}, b"", now=local, **args) == sign("GET", "https://h/", {}, b"",
                                                                         now=SUITE_TIME, **args)


def test_spec_steps_match_the_published_example() -> None:
    key = signing_key(KEYS.secret_key, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    sts = ("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
           "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
    assert signature(key, sts) == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"credentials": Credentials("", "s")}, "access key and the secret key must not be empty"),
    ({"credentials": Credentials("a", "")}, "access key and the secret key must not be empty"),
    ({"region": ""}, "region and service must not be empty"),
    ({"service": ""}, "region and service must not be empty"),
    ({"now": dt.datetime(2015, 8, 30, 12, 36)}, "must be an aware datetime"),
])
def test_bad_input_is_a_signing_error(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"credentials": KEYS, "region": "us-east-1", "service": "dynamodb", "now": SUITE_TIME}
    args.update(kwargs)
    with pytest.raises(SigningError, match=message):
        sign("POST", "https://h/", {}, b"", **args)  # type: ignore[arg-type]


def test_credentials_never_show_their_secrets() -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "the-session-token")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "wJalrXUtnFEMI" not in text and "the-session-token" not in text


def test_helpers_in_isolation() -> None:
    assert canonical_uri("") == "/" and canonical_uri("/a%20b") == "/a%20b"
    assert canonical_query_string("") == "" and canonical_query_string("a") == "a="
    assert list(canonical_headers({"B": "1", "a": "2"})) == ["a", "b"]


# --- Signer: sign's answer, prepared once per second and key set -------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=200), min_size=1, max_size=4),
    region=REGIONS,
    extra=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
    token=st.none() | st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=16, max_size=60),
    seconds=st.lists(st.integers(0, 2_000_000_000), min_size=1, max_size=4),
    fraction=st.floats(0, 0.999),
    url=st.sampled_from(["http://127.0.0.1:8000", "https://dynamodb.us-east-1.amazonaws.com/", "http://h/a/../b?x=1"]),
)
def test_signer_equals_sign(bodies: list[bytes], region: str, extra: dict[str, str], token: str | None,
                            seconds: list[int], fraction: float, url: str) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem", **extra}
    signer = Signer("POST", url, headers, region=region, service="dynamodb")
    for index, body in enumerate(bodies):  # the same signer across bodies, seconds and key sets
        creds = Credentials("AKIDEXAMPLE", f"s3cr3t/Key+{index % 2}", token)
        second = seconds[index % len(seconds)]
        expected = sign("POST", url, headers, body, credentials=creds, region=region, service="dynamodb",
                        now=dt.datetime.fromtimestamp(second, dt.UTC))
        assert signer.sign(body, credentials=creds, now=second + fraction) == expected


@pytest.mark.parametrize(("credentials", "region", "message"), [
    (Credentials("", "s"), "us-east-1", "access key and the secret key must not be empty"),
    (Credentials("a", ""), "us-east-1", "access key and the secret key must not be empty"),
    (KEYS, "", "region and service must not be empty"),
])
def test_signer_bad_input_is_a_signing_error(credentials: Credentials, region: str, message: str) -> None:
    with pytest.raises(SigningError, match=message):
        Signer("POST", "https://h/", {}, region=region, service="dynamodb").sign(b"", credentials=credentials, now=0)
