"""core.wire.sigv4 against the official AWS SigV4 test suite, botocore's signer (property-based), and a table of edges.

The suite lives in ../shared/sigv4-testsuite beside the repository (or at $SIGV4_TESTSUITE); it is not copied here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.paths import REPO_ROOT
from core.wire.sigv4 import (
    Credentials,
    Headers,
    Signer,
    SigningError,
    canonical_headers,
    canonical_query_string,
    canonical_request,
    canonical_uri,
    credential_scope,
    sign,
    signature,
    signed_headers,
    signing_key,
    string_to_sign,
)

SUITE = Path(os.environ.get("SIGV4_TESTSUITE") or REPO_ROOT.parent / "shared" / "sigv4-testsuite")
NO_SUITE = (f"the AWS SigV4 test suite is not at {SUITE} (it ships in shared/sigv4-testsuite beside the repository; "
            "set SIGV4_TESTSUITE to point elsewhere)")
KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.UTC)
E = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # SHA-256 of the empty body


def parse_request(text: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """A suite request: request line, `Name:value` headers (a line starting with whitespace continues the value
    before it), a blank line, the body. Returns method, URL (https, from the Host header), headers, body."""
    head, _, body = text.partition("\n\n")
    request_line, *lines = head.split("\n")
    method, rest = request_line.split(" ", 1)
    target = rest.rsplit(" ", 1)[0]  # the path may contain spaces; the protocol is last
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    host = next(value for name, value in headers if name.lower() == "host")
    return method, f"https://{host}{target}", headers, body.encode()


def signed_canonical_request(signed: dict[str, str], method: str, url: str, body: bytes, credentials: Credentials,
                             region: str, service: str) -> str:
    """The canonical request of the headers `sign` returned, after checking that its Authorization is exactly the
    one the spec's steps give for that canonical request, i.e. that this is what it signed."""
    sent = {name: value for name, value in signed.items() if name != "Authorization"}
    creq = canonical_request(method, url, sent, body)
    amz_date = signed["X-Amz-Date"]
    scope = credential_scope(amz_date[:8], region, service)
    sig = signature(signing_key(credentials.secret_key, amz_date[:8], region, service),
                    string_to_sign(amz_date, scope, creq))
    assert signed["Authorization"] == (f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                                       f"SignedHeaders={signed_headers(canonical_headers(sent))}, Signature={sig}")
    return creq


def case_params(cases: list[Path]) -> list[Any]:
    if not SUITE.is_dir():
        return [pytest.param(None, id="suite-missing", marks=pytest.mark.skip(reason=NO_SUITE))]
    return [pytest.param(case, id=case.relative_to(SUITE).as_posix()) for case in cases]


# --- 0. the official suite --------------------------------------------------------------------------------------

def classic_cases() -> list[Path]:
    """Every `<case>/<case>.req` outside aws-c-auth-v4, but post-sts-header-after (its token is added unsigned)."""
    if not SUITE.is_dir():
        return []
    return sorted(req.parent for req in SUITE.glob("**/*.req")
                  if req.stem == req.parent.name and "aws-c-auth-v4" not in req.parts
                  and req.stem != "post-sts-header-after")


def test_the_suite_is_complete() -> None:
    if not SUITE.is_dir():
        pytest.skip(NO_SUITE)
    assert len(classic_cases()) == 33  # 34 cases in SOURCE.md, less post-sts-header-after
    assert len([p for p in (SUITE / "aws-c-auth-v4").iterdir() if p.is_dir()]) == 38


@pytest.mark.parametrize("case", case_params(classic_cases()))
def test_official_suite(case: Path) -> None:
    def expected(suffix: str) -> str:
        return (case / f"{case.name}{suffix}").read_text()

    method, url, headers, body = parse_request(expected(".req"))
    token = next((line.partition(":")[2] for line in expected(".creq").split("\n")
                  if line.startswith("x-amz-security-token:")), None)  # a token case signs with a token
    creds = Credentials(KEYS.access_key, KEYS.secret_key, token)
    signed = sign(method, url, headers, body, credentials=creds, region="us-east-1", service="service",
                  now=SUITE_TIME)
    creq = signed_canonical_request(signed, method, url, body, creds, "us-east-1", "service")
    assert creq == expected(".creq")
    assert string_to_sign(signed["X-Amz-Date"], "20150830/us-east-1/service/aws4_request", creq) == expected(".sts")
    assert signed["Authorization"] == expected(".authz")


def test_the_suite_token_case_with_the_token_in_the_credentials_only() -> None:
    """post-sts-header-before without its X-Amz-Security-Token header: sign adds it from the credentials."""
    case = SUITE / "post-sts-token" / "post-sts-header-before"
    if not case.is_dir():
        pytest.skip(NO_SUITE)
    method, url, headers, body = parse_request((case / f"{case.name}.req").read_text())
    token = dict(headers)["X-Amz-Security-Token"]
    without = [(name, value) for name, value in headers if name != "X-Amz-Security-Token"]
    signed = sign(method, url, without, body, credentials=Credentials(KEYS.access_key, KEYS.secret_key, token),
                  region="us-east-1", service="service", now=SUITE_TIME)
    assert signed["X-Amz-Security-Token"] == token
    assert signed["Authorization"] == (case / f"{case.name}.authz").read_text()


def c_auth_cases() -> list[Path]:
    return sorted(p for p in (SUITE / "aws-c-auth-v4").iterdir() if p.is_dir()) if SUITE.is_dir() else []


@pytest.mark.parametrize("case", case_params(c_auth_cases()))
def test_aws_c_auth_suite(case: Path) -> None:
    context = json.loads((case / "context.json").read_text())
    if not context["normalize"]:
        pytest.skip("unnormalised path (S3 style); this signer normalises, as every other service expects")
    if context.get("omit_session_token"):
        pytest.skip("the session token is deliberately left out of the signature")
    method, url, headers, body = parse_request((case / "request.txt").read_text())
    if context["sign_body"]:  # what aws-c-auth adds itself; a caller of `sign` passes it
        headers.append(("X-Amz-Content-Sha256", hashlib.sha256(body).hexdigest()))
    keys = context["credentials"]
    creds = Credentials(keys["access_key_id"], keys["secret_access_key"], keys.get("token"))
    signed = sign(method, url, headers, body, credentials=creds, region=context["region"],
                  service=context["service"], now=SUITE_TIME)
    creq = signed_canonical_request(signed, method, url, body, creds, context["region"], context["service"])
    assert creq == (case / "header-canonical-request.txt").read_text()
    scope = credential_scope("20150830", context["region"], context["service"])
    assert string_to_sign(signed["X-Amz-Date"], scope, creq) == (case / "header-string-to-sign.txt").read_text()
    signed_request = (case / "header-signed-request.txt").read_text().split("\n\n")[0].split("\n")[1:]
    authorization = next(line for line in signed_request if line.startswith("Authorization:"))
    assert signed["Authorization"] == authorization.partition(":")[2].strip()
    assert signed["Authorization"].endswith("Signature=" + (case / "header-signature.txt").read_text().strip())


def test_the_published_example_and_key_derivation() -> None:
    """The IAM ListUsers example of the AWS General Reference, and its key derivation example."""
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    url = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"
    signed = sign("GET", url, headers, b"", credentials=KEYS, region="us-east-1", service="iam", now=SUITE_TIME)
    creq = signed_canonical_request(signed, "GET", url, b"", KEYS, "us-east-1", "iam")
    assert hashlib.sha256(creq.encode()).hexdigest() == (
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
    assert signed["Authorization"].endswith(
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    assert signing_key(KEYS.secret_key, "20150830", "us-east-1", "iam").hex() == (
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    assert signing_key(KEYS.secret_key, "20120215", "us-east-1", "iam").hex() == (
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")


# --- 1. equal to botocore's SigV4Auth for random DynamoDB requests ----------------------------------------------

RESERVED = {"authorization", "content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target",
            "x-amz-content-sha256", *botocore.auth.SIGNED_HEADERS_BLACKLIST}  # botocore never signs the latter
HEADER_NAMES = (st.sampled_from(["X-Amz-User-Agent", "x-amz-client-context", "X-Custom", "Accept-Encoding"])
                | st.from_regex(r"(X-Amz-|x-)[A-Za-z0-9][A-Za-z0-9-]{0,15}", fullmatch=True)
                ).filter(lambda name: name.lower() not in RESERVED)
HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)  # inner runs of spaces too
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),  # any Unicode, incl. astral
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=10)
KEY_TEXT = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=", min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(
    item=JSON,
    region=st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-1", "us-gov-west-1"])
    | st.from_regex(r"[a-z]{2}-[a-z]{4,9}-[1-9]", fullmatch=True),
    endpoint=st.sampled_from(["https://dynamodb.{region}.amazonaws.com/", "http://127.0.0.1:8000",
                              "http://localhost:4566/", "https://dynamodb.{region}.amazonaws.com:443"]),
    extra=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
    access_key=KEY_TEXT,
    secret_key=KEY_TEXT,
    token=st.none() | KEY_TEXT,
    seconds=st.integers(0, 4_102_444_799),  # 1970 .. 2099
)
def test_equal_to_botocore(item: object, region: str, endpoint: str, extra: dict[str, str], access_key: str,
                           secret_key: str, token: str | None, seconds: int) -> None:
    now = dt.datetime.fromtimestamp(seconds, dt.UTC)
    url = endpoint.format(region=region)
    body = json.dumps({"TableName": "Bücher", "Item": item}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem", **extra}
    ours = sign("POST", url, headers, body, credentials=Credentials(access_key, secret_key, token), region=region,
                service="dynamodb", now=now)
    request = botocore.awsrequest.AWSRequest("POST", url, headers=dict(headers), data=body)
    auth = botocore.auth.SigV4Auth(botocore.credentials.Credentials(access_key, secret_key, token), "dynamodb", region)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now.replace(tzinfo=None)):
        auth.add_auth(request)
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
    assert ours["Authorization"] == request.headers["Authorization"]
    assert "X-Amz-Content-Sha256" not in ours
    signed_canonical_request(ours, "POST", url, body, Credentials(access_key, secret_key, token), region, "dynamodb")


# --- 3. a table of edges, each with its canonical request written out --------------------------------------------

H = [("Host", "h")]
UTF8_BODY = '{"TableName":"Bücher","Item":{"t":{"S":"ሴ €"}}}'.encode()


@pytest.mark.parametrize(("method", "url", "headers", "body", "expected"), [
    pytest.param("GET", "https://h/", [*H, ("X-A", "1"), ("x-a", " 2 "), ("X-A", "3")], b"",
                 f"GET\n/\n\nhost:h\nx-a:1,2,3\n\nhost;x-a\n{E}", id="repeated-header-joined-in-order"),
    pytest.param("GET", "https://h/", [*H, ("X-B", "a\n   b\n\tc")], b"",
                 f"GET\n/\n\nhost:h\nx-b:a b c\n\nhost;x-b\n{E}", id="folded-value"),
    pytest.param("GET", "https://h/", [*H, ("My-Header", '  "a   b"  c ')], b"",
                 f'GET\n/\n\nhost:h\nmy-header:"a b" c\n\nhost;my-header\n{E}', id="value-trimmed-and-collapsed"),
    pytest.param("GET", "https://h/", [*H, ("X-Empty", "")], b"",
                 f"GET\n/\n\nhost:h\nx-empty:\n\nhost;x-empty\n{E}", id="empty-value"),
    pytest.param("GET", "https://h/", [("X-Z", "z"), ("HOST", "h"), ("x-M", "m")], b"",
                 f"GET\n/\n\nhost:h\nx-m:m\nx-z:z\n\nhost;x-m;x-z\n{E}", id="names-lower-cased-and-sorted"),
    pytest.param("GET", "https://h/?b=2&a=&=x&a=1", H, b"",
                 f"GET\n/\n=x&a=&a=1&b=2\nhost:h\n\nhost\n{E}", id="query-empty-key-and-value"),
    pytest.param("GET", "https://h/?flag&a=1", H, b"",
                 f"GET\n/\na=1&flag=\nhost:h\n\nhost\n{E}", id="query-name-without-equals"),
    pytest.param("GET", "https://h/?a=2&a=10&A=1&b%20=1&b=1", H, b"",
                 f"GET\n/\nA=1&a=10&a=2&b=1&b%20=1\nhost:h\n\nhost\n{E}", id="query-sorted-by-encoded-name-then-value"),
    pytest.param("GET", "https://h/?k=a b&x=%2F~&y=a+b&z=%7e&e=a=b", H, b"",
                 f"GET\n/\ne=a%3Db&k=a%20b&x=%2F~&y=a%2Bb&z=~\nhost:h\n\nhost\n{E}", id="query-reserved-encoded"),
    pytest.param("GET", "https://h/?ሴ=é", H, b"",
                 f"GET\n/\n%E1%88%B4=%C3%A9\nhost:h\n\nhost\n{E}", id="query-utf8"),
    pytest.param("GET", "https://h/ሴ/x y", H, b"",
                 f"GET\n/%E1%88%B4/x%20y\n\nhost:h\n\nhost\n{E}", id="path-utf8-and-space"),
    pytest.param("GET", "https://h/a%20b/%E1%88%B4", H, b"",
                 f"GET\n/a%2520b/%25E1%2588%25B4\n\nhost:h\n\nhost\n{E}", id="path-already-encoded-twice-encoded"),
    pytest.param("GET", "https://h/$a!b*(c)'d:e@f,g;h=i+j~k", H, b"",
                 f"GET\n/%24a%21b%2A%28c%29%27d%3Ae%40f%2Cg%3Bh%3Di%2Bj~k\n\nhost:h\n\nhost\n{E}",
                 id="path-reserved-encoded"),
    pytest.param("GET", "https://h/a/./b/../c", H, b"",
                 f"GET\n/a/c\n\nhost:h\n\nhost\n{E}", id="path-dot-segments"),
    pytest.param("GET", "https://h/a/b/../..", H, b"",
                 f"GET\n/\n\nhost:h\n\nhost\n{E}", id="path-dot-dot-to-root"),
    pytest.param("GET", "https://h/../../a/", H, b"",
                 f"GET\n/a/\n\nhost:h\n\nhost\n{E}", id="path-dot-dot-above-root"),
    pytest.param("GET", "https://h//a//b//", H, b"",
                 f"GET\n/a/b/\n\nhost:h\n\nhost\n{E}", id="path-duplicate-slashes"),
    pytest.param("get", "https://h?a=1", H, b"",
                 f"GET\n/\na=1\nhost:h\n\nhost\n{E}", id="empty-path-lower-case-method"),
    pytest.param("POST", "https://h/", H, UTF8_BODY,
                 "POST\n/\n\nhost:h\n\nhost\n11e2b5fc02d8ca13a3028a8c83f5f1b4d88423a3b4f2c48d3b5a76e9b530b5cd",
                 id="utf8-body"),
    pytest.param("PUT", "https://h/k", [*H, ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")], b"anything",
                 "PUT\n/k\n\nhost:h\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\nhost;x-amz-content-sha256\n"
                 "UNSIGNED-PAYLOAD", id="payload-hash-from-x-amz-content-sha256"),
])
def test_canonical_request_edges(method: str, url: str, headers: list[tuple[str, str]], body: bytes,
                                 expected: str) -> None:
    assert canonical_request(method, url, headers, body) == expected


D = "x-amz-date:20150830T123600Z"


@pytest.mark.parametrize(("url", "headers", "token", "expected_headers", "expected"), [
    pytest.param("http://127.0.0.1:8000", {}, None, {"Host": "127.0.0.1:8000"},
                 f"POST\n/\n\nhost:127.0.0.1:8000\n{D}\n\nhost;x-amz-date\n{E}", id="host-with-port"),
    pytest.param("https://user:pw@h:443/", {}, None, {"Host": "h"},
                 f"POST\n/\n\nhost:h\n{D}\n\nhost;x-amz-date\n{E}", id="host-default-port-and-userinfo-dropped"),
    pytest.param("http://h:80", {"host": "other:81"}, None, {"host": "other:81"},
                 f"POST\n/\n\nhost:other:81\n{D}\n\nhost;x-amz-date\n{E}", id="given-host-kept"),
    pytest.param("https://h/", {}, "the-token", {"X-Amz-Security-Token": "the-token"},
                 f"POST\n/\n\nhost:h\n{D}\nx-amz-security-token:the-token\n\nhost;x-amz-date;x-amz-security-token\n{E}",
                 id="token-header-added"),
    pytest.param("https://h/", {"x-amz-security-token": "given"}, "the-token", {"x-amz-security-token": "given"},
                 f"POST\n/\n\nhost:h\n{D}\nx-amz-security-token:given\n\nhost;x-amz-date;x-amz-security-token\n{E}",
                 id="given-token-header-kept"),
    pytest.param("https://h/", {"X-AMZ-DATE": "19990101T000000Z", "Authorization": "stale"}, None,
                 {"X-Amz-Date": "20150830T123600Z"},
                 f"POST\n/\n\nhost:h\n{D}\n\nhost;x-amz-date\n{E}", id="stale-date-and-authorization-replaced"),
    pytest.param("https://h/", [("X-A", " 1 "), ("x-a", "2  3")], None, {"X-A": "1,2 3"},
                 f"POST\n/\n\nhost:h\nx-a:1,2 3\n{D}\n\nhost;x-a;x-amz-date\n{E}", id="repeated-names-sent-joined"),
])
def test_sign_edges(url: str, headers: Headers, token: str | None, expected_headers: dict[str, str],
                    expected: str) -> None:
    creds = Credentials("AKID", "secret", token)
    signed = sign("POST", url, headers, b"", credentials=creds, region="us-east-1", service="dynamodb",
                  now=SUITE_TIME)
    assert signed_canonical_request(signed, "POST", url, b"", creds, "us-east-1", "dynamodb") == expected
    assert signed.items() >= expected_headers.items()
    assert "X-Amz-Content-Sha256" not in signed and "Authorization" in signed
    assert len({name.lower() for name in signed}) == len(signed)  # each name once


def test_sign_keeps_the_given_headers_and_their_order() -> None:
    headers = [("X-Amz-Target", "DynamoDB_20120810.PutItem"), ("Content-Type", "application/x-amz-json-1.0")]
    signed = sign("POST", "https://h/", headers, b"{}", credentials=Credentials("AKID", "secret", "tok"),
                  region="eu-west-1", service="dynamodb", now=SUITE_TIME)
    assert list(signed) == ["X-Amz-Target", "Content-Type", "Host", "X-Amz-Date", "X-Amz-Security-Token",
                            "Authorization"]
    assert headers == [("X-Amz-Target", "DynamoDB_20120810.PutItem"), ("Content-Type", "application/x-amz-json-1.0")]


def test_a_non_utc_time_is_converted_to_utc() -> None:
    local = SUITE_TIME.astimezone(dt.timezone(dt.timedelta(hours=-7, minutes=-30)))
    args: dict[str, Any] = {"credentials": KEYS, "region": "us-east-1", "service": "service"}
    converted = sign("GET", "https://h/", {}, b"", now=local, **args)
    assert converted["X-Amz-Date"] == "20150830T123600Z"
    assert converted == sign("GET", "https://h/", {}, b"", now=SUITE_TIME, **args)


@pytest.mark.parametrize(("change", "message"), [
    pytest.param({"credentials": Credentials("", "s")}, "access key and the secret key", id="empty-access-key"),
    pytest.param({"credentials": Credentials("a", "")}, "access key and the secret key", id="empty-secret"),
    pytest.param({"region": ""}, "region and service", id="empty-region"),
    pytest.param({"service": ""}, "region and service", id="empty-service"),
    pytest.param({"now": dt.datetime(2015, 8, 30, 12, 36)}, "aware datetime", id="naive-datetime"),
    pytest.param({"now": "20150830T123600Z"}, "aware datetime", id="not-a-datetime"),
    pytest.param({"url": "dynamodb.us-east-1.amazonaws.com"}, "absolute http", id="url-without-scheme"),
    pytest.param({"url": "ftp://h/"}, "absolute http", id="url-not-http"),
    pytest.param({"url": "http://h:port/"}, "bad URL", id="url-bad-port"),
])
def test_bad_input_is_a_signing_error(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"url": "https://h/", "credentials": KEYS, "region": "us-east-1", "service": "dynamodb",
                            "now": SUITE_TIME, **change}
    url = args.pop("url")
    with pytest.raises(SigningError, match=message):
        sign("POST", url, {}, b"", **args)


def test_credentials_never_show_their_secrets() -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "the-session-token")
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds]), repr({"c": creds})):
        assert "wJalrXUtnFEMI" not in text and "EXAMPLEKEY" not in text and "session-token" not in text
    assert "AKID" in repr(creds)  # enough of the key to tell which one
    with pytest.raises(AttributeError):
        creds.secret_key = "changed"  # type: ignore[misc]


def test_helpers_on_their_own() -> None:
    assert canonical_uri("") == "/" and canonical_uri("/") == "/" and canonical_uri("/a%20b/") == "/a%2520b/"
    assert canonical_query_string("") == "" and canonical_query_string("a") == "a="
    assert canonical_headers({"B": "1", "a": " 2 "}) == {"a": "2", "b": "1"}
    assert signed_headers({"a": "2", "b": "1"}) == "a;b"
    assert credential_scope("20150830", "us-east-1", "dynamodb") == "20150830/us-east-1/dynamodb/aws4_request"


# --- Signer: sign's headers, what does not depend on the body prepared once per second and key set ------------------

@settings(max_examples=150, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
    endpoint=st.sampled_from(["http://127.0.0.1:8000", "https://dynamodb.us-east-1.amazonaws.com:443",
                              "http://h/a/../b?y=2&x=1"]),
    extra=st.lists(st.tuples(HEADER_NAMES | st.sampled_from(["X-Amz-Date", "Authorization",
                                                            "X-Amz-Content-Sha256"]), HEADER_VALUES), max_size=4),
    token=st.none() | KEY_TEXT,
    seconds=st.lists(st.integers(0, 4_102_444_799), min_size=1, max_size=3),
    fraction=st.floats(0, 0.999),
)
def test_signer_equals_sign(bodies: list[bytes], endpoint: str, extra: list[tuple[str, str]], token: str | None,
                            seconds: list[int], fraction: float) -> None:
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "DynamoDB_20120810.PutItem"), *extra]
    signer = Signer("POST", endpoint, headers, region="eu-west-2", service="dynamodb")
    key_sets = [Credentials("AKIDEXAMPLE", "s3cr3t/Key+", token), Credentials("AKIDOTHER", "other", None)]
    for index, body in enumerate(bodies):  # one signer across bodies, seconds and key sets, as a writer uses it
        creds, second = key_sets[index % 2], seconds[index % len(seconds)]
        expected = sign("POST", endpoint, headers, body, credentials=creds, region="eu-west-2", service="dynamodb",
                        now=dt.datetime.fromtimestamp(second, dt.UTC))
        assert signer.sign(body, credentials=creds, now=second + fraction) == expected


@pytest.mark.parametrize(("credentials", "region", "url", "message"), [
    (Credentials("", "s"), "us-east-1", "https://h/", "access key and the secret key must not be empty"),
    (Credentials("a", ""), "us-east-1", "https://h/", "access key and the secret key must not be empty"),
    (KEYS, "", "https://h/", "region and service must not be empty"),
    (KEYS, "us-east-1", "ftp://h/", "not an absolute http"),
])
def test_signer_bad_input_is_a_signing_error(credentials: Credentials, region: str, url: str, message: str) -> None:
    with pytest.raises(SigningError, match=message):
        Signer("POST", url, {}, region=region, service="dynamodb").sign(b"", credentials=credentials, now=0.0)
