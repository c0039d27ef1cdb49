"""core.wire.sigv4 against a real verifier: moto's server with IAM auth on recomputes the signature of every request.

The server runs in this process (``ThreadedMotoServer`` on a free port). Auth starts off (moto's default), so the
fixture can create an IAM user allowed ``dynamodb:*`` and a role to assume; then ``POST /moto-api/reset-auth 0``
makes moto check every request, and the previous setting is put back at the end. No environment variable is used.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto.server import ThreadedMotoServer

from core.wire.sigv4 import Credentials, sign

pytestmark = pytest.mark.timeout(120)

REGION = "us-east-1"
ALLOW_DYNAMODB = json.dumps({"Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]})
TRUST_ANYONE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})


@dataclass(frozen=True)
class Moto:
    url: str
    user: Credentials  # an IAM user's access key, allowed dynamodb:*
    session: Credentials  # temporary credentials (with a session token) of an assumed role allowed dynamodb:*


def request(url: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def reset_auth(url: str, initial_no_auth_action_count: str) -> str:
    """Set moto's INITIAL_NO_AUTH_ACTION_COUNT (0: check every request); returns the previous value."""
    status, answer = request(url, "POST", "/moto-api/reset-auth", {}, initial_no_auth_action_count.encode())
    assert status == 200, answer
    return str(json.loads(answer)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        clients: dict[str, Any] = {"endpoint_url": url, "region_name": REGION, "aws_access_key_id": "setup",
                                   "aws_secret_access_key": "setup"}
        iam, sts = boto3.client("iam", **clients), boto3.client("sts", **clients)
        iam.create_user(UserName="signer")
        iam.put_user_policy(UserName="signer", PolicyName="dynamodb", PolicyDocument=ALLOW_DYNAMODB)
        key = iam.create_access_key(UserName="signer")["AccessKey"]
        role = iam.create_role(RoleName="writer", AssumeRolePolicyDocument=TRUST_ANYONE)["Role"]
        iam.put_role_policy(RoleName="writer", PolicyName="dynamodb", PolicyDocument=ALLOW_DYNAMODB)
        temporary = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="lab")["Credentials"]
        previous = reset_auth(url, "0")
        try:
            yield Moto(url, Credentials(key["AccessKeyId"], key["SecretAccessKey"]),
                       Credentials(temporary["AccessKeyId"], temporary["SecretAccessKey"],
                                   temporary["SessionToken"]))
        finally:
            reset_auth(url, previous)
    finally:
        request(url, "POST", "/moto-api/reset", {})  # moto's backends live in this process: leave them empty
        server.stop()


def list_tables(moto: Moto, credentials: Credentials, body: bytes = b"{}") -> dict[str, str]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"}
    return sign("POST", moto.url + "/", headers, body, credentials=credentials, region=REGION, service="dynamodb",
                now=dt.datetime.now(dt.UTC))


def test_a_signed_request_is_accepted(moto: Moto) -> None:
    status, answer = request(moto.url, "POST", "/", list_tables(moto, moto.user), b"{}")
    assert status == 200, answer
    assert json.loads(answer)["TableNames"] == []


def test_a_request_signed_with_a_session_token_is_accepted(moto: Moto) -> None:
    headers = list_tables(moto, moto.session)
    assert headers["X-Amz-Security-Token"] == moto.session.token
    status, answer = request(moto.url, "POST", "/", headers, b"{}")
    assert status == 200, answer
    assert "TableNames" in json.loads(answer)


def test_a_request_with_a_query_string_is_accepted(moto: Moto) -> None:
    """General SigV4, not DynamoDB's shape: STS GetCallerIdentity (a form body) with a signed query string, out of
    order, percent-encoded and UTF-8. (Not over GET: moto's verifier hashes a GET's parsed query as its body.)"""
    target = "/?b=x%20y&a=%E1%88%B4&a=1&c"
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    headers = sign("POST", moto.url + target, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                   body, credentials=moto.user, region=REGION, service="sts", now=dt.datetime.now(dt.UTC))
    status, answer = request(moto.url, "POST", target, headers, body)
    assert status == 200, answer
    assert ":user/signer</Arn>" in answer


@pytest.mark.parametrize("tamper", ["wrong secret", "body altered after signing", "target altered after signing"])
def test_tampering_is_rejected(moto: Moto, tamper: str) -> None:
    body = b'{"Limit": 5}'
    credentials = moto.user
    if tamper == "wrong secret":
        credentials = Credentials(credentials.access_key, "not-" + credentials.secret_key)
    headers = list_tables(moto, credentials, body)
    if tamper == "body altered after signing":
        body = b'{"Limit": 6}'
    if tamper == "target altered after signing":
        headers["X-Amz-Target"] = "DynamoDB_20120810.DescribeLimits"
    status, answer = request(moto.url, "POST", "/", headers, body)
    assert status == 403
    assert "SignatureDoesNotMatch" in answer


def test_a_token_altered_after_signing_is_rejected(moto: Moto) -> None:
    headers = list_tables(moto, moto.session)
    headers["X-Amz-Security-Token"] = headers["X-Amz-Security-Token"][::-1]
    status, answer = request(moto.url, "POST", "/", headers, b"{}")
    assert status == 403
    assert "InvalidClientTokenId" in answer
