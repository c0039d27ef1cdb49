"""Shared fixtures: one embedded emulator and one moto server per test session, real and local; a socket guard."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import boto3
import pytest

from core.emulator import Emulator
from core.sigv4 import Credentials
from core.targets import LOCAL_CREDENTIALS, Target, make_target
from tests.servers import moto_server


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="session")
def embedded_target(emulator: Emulator) -> Target:
    return make_target("embedded", server_url=emulator.endpoint_url)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def moto_target(moto_url: str) -> Target:
    return make_target("custom", endpoint_url=moto_url, credentials=LOCAL_CREDENTIALS)


@pytest.fixture(scope="session")
def moto_iam_target() -> Iterator[Target]:
    """A moto server that checks every SigV4 signature and IAM policy, and a user allowed dynamodb:*."""
    with moto_server(iam_auth=True, no_auth_actions=3) as url:
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        iam.create_user(UserName="lab")
        iam.put_user_policy(UserName="lab", PolicyName="dynamodb", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="lab")["AccessKey"]
        yield make_target("custom", endpoint_url=url,
                          credentials=Credentials(key["AccessKeyId"], key["SecretAccessKey"]))


@pytest.fixture
def no_remote_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """A socket-level guard: records (and refuses) every connection to a non-loopback address."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        if not (str(host).startswith("127.") or host in ("::1", "localhost")) and self.family != socket.AF_UNIX:
            attempts.append(address)
            raise ConnectionRefusedError(f"test guard: no connection to {address}")
        real_connect(self, address)  # type: ignore[arg-type]

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> list[object]:
        if host not in ("127.0.0.1", "localhost", "::1", None):
            attempts.append(host)
            raise socket.gaierror(f"test guard: no lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield attempts
