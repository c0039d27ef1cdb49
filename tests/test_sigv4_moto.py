"""core.sigv4 against a real verifier: moto with IAM auth on recomputes every signature."""

from __future__ import annotations

import datetime as dt
import http.client
import json
from urllib.parse import urlsplit

import pytest

from core.sigv4 import Credentials, sign
from core.targets import Target


def send(target: Target, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    parts = urlsplit(target.endpoint_url or "")
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def signed(target: Credentials, url: str, operation: str, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{operation}"}
    return sign("POST", url, headers, body, credentials=target, region="us-east-1", service="dynamodb",
                now=dt.datetime.now(dt.UTC))


def test_a_signed_request_is_accepted(moto_iam_target: Target) -> None:
    body = json.dumps({"Limit": 5}).encode()
    status, answer = send(moto_iam_target, signed(moto_iam_target.credentials(), moto_iam_target.endpoint_url or "",
                                                  "ListTables", body), body)
    assert status == 200 and "TableNames" in json.loads(answer)


@pytest.mark.parametrize("tamper", ["wrong secret", "body altered after signing", "target altered after signing"])
def test_tampering_is_rejected(moto_iam_target: Target, tamper: str) -> None:
    creds = moto_iam_target.credentials()
    url = moto_iam_target.endpoint_url or ""
    body = json.dumps({"Limit": 5}).encode()
    if tamper == "wrong secret":
        creds = Credentials(creds.access_key, creds.secret_key[::-1])
    headers = signed(creds, url, "ListTables", body)
    if tamper == "body altered after signing":
        body = json.dumps({"Limit": 6}).encode()
    if tamper == "target altered after signing":
        headers["X-Amz-Target"] = "DynamoDB_20120810.DescribeLimits"
    status, answer = send(moto_iam_target, headers, body)
    assert status == 403 and "SignatureDoesNotMatch" in answer
