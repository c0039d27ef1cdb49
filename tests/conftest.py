"""Shared fixtures: one embedded emulator, one moto server, one DynamoDB Local and one host-mode LocalStack per test
session, real and local, each started on first use; a socket guard."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.servers.dynamodb_local import DynamoDBLocal
from core.servers.emulator import Emulator
from core.servers.localstack import LocalStack, venv_python
from core.targets.target import LOCAL_CREDENTIALS, Target, make_target
from core.wire.sigv4 import Credentials
from tests.servers import assert_all_gone, engine_processes, moto_server


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


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """AWS DynamoDB Local, started once per session on 127.0.0.1."""
    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("Java 17 (JRE + JDK) is not installed: run ./lab.sh setup dev")
    engine = DynamoDBLocal()
    with engine:
        processes = engine_processes(engine)
        yield engine
    assert_all_gone(processes)


@pytest.fixture(scope="session")
def localstack() -> Iterator[LocalStack]:
    """Host-mode LocalStack, started once per session on 127.0.0.1 (its venv is installed by ./lab.sh)."""
    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("Java 17 (JRE + JDK) is not installed: run ./lab.sh setup dev")
    if not venv_python().exists():
        pytest.skip("LocalStack's virtualenv is missing (it needs a Python 3.13): run ./lab.sh setup dev")
    engine = LocalStack()
    engine.start(timeout=180)
    processes = engine_processes(engine)
    try:
        yield engine
    finally:
        engine.stop()
    assert_all_gone(processes)


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

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1", None):
            attempts.append(host)
            raise socket.gaierror(f"test guard: no lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield attempts


def pytest_configure(config: pytest.Config) -> None:
    """The CLI's output is checked as printed to a file (100 columns): pytest-xdist's workers set COLUMNS=80, and a
    test that wants a width sets it itself. Tests stop the lab's foreground commands with SIGINT, as Ctrl-C does:
    a suite started with SIGINT ignored (a background job of a non-interactive shell) would hand that on to them,
    and they would never stop, so it is caught here (a caught signal is reset for a child, an ignored one is not)."""
    os.environ.pop("COLUMNS", None)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


LAYERS = ("unit", "integration", "e2e")
ONE_LOCALSTACK = ("localstack", "engine")  # fixtures that start (or may start) the session's LocalStack
ONE_LOCALSTACK_FILES = ("test_engines.py",)  # files that also start LocalStack themselves


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked by its folder (``-m unit``, ``-m "not e2e"``) and, for ``./lab.sh test``'s parallel
    run (pytest-xdist, ``--dist loadgroup``), grouped by its file, so a file's tests share one worker and its
    module fixtures; every test that uses LocalStack joins one group, so one LocalStack runs at a time."""
    here = Path(__file__).parent
    for item in items:
        relative = item.path.relative_to(here)
        if relative.parts[0] in LAYERS:
            item.add_marker(getattr(pytest.mark, relative.parts[0]))
        uses_localstack = relative.name in ONE_LOCALSTACK_FILES or any(
            name in ONE_LOCALSTACK for name in getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.xdist_group("localstack" if uses_localstack else relative.as_posix()))
