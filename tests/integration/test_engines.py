"""Real engines started by the lab: AWS DynamoDB Local and host-mode LocalStack, each for real, plus their guard.

The two session fixtures (``dynamodb_local``, ``localstack``, in tests/conftest.py) start each engine once. Nothing
here mocks DynamoDB; no assertion depends on timing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import psutil
import pytest

from core.domain.books import generate_books
from core.domain.endpoints import localstack_endpoint
from core.domain.errors import ConfigError, EmulatorError
from core.paths import REPO_ROOT
from core.servers.dynamodb_local import LISTENS_ON, DynamoDBLocal, distribution_dir
from core.servers.java import AGENT_CLASS, java_tools
from core.servers.lifecycle import LOOPBACK, http_json
from core.servers.localstack import VENV, LocalStack, venv_python
from core.targets.tables import reset_table
from core.targets.target import LOCAL_CREDENTIALS, Target, check_reachable, make_target
from core.targets.verify import verify
from core.writers import APPROACHES, WRITERS, WriterOptions, write
from tests.servers import assert_all_gone, engine_processes

GUARD = REPO_ROOT / "core" / "servers" / "guard.py"

needs_java = pytest.mark.skipif(shutil.which("java") is None or shutil.which("javac") is None,
                                reason="Java 17 (JRE + JDK) is not installed: run ./lab.sh setup dev")
needs_localstack_venv = pytest.mark.skipif(
    not (VENV / "bin" / "python").exists() and shutil.which("python3.13") is None
    and not list(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13")),
    reason="no Python 3.13 on this machine, so LocalStack cannot be installed (./lab.sh setup dev needs one)")


def _round_trip(endpoint_url: str, table: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1",
                          aws_access_key_id="lab", aws_secret_access_key="lab")
    client.create_table(TableName=table, KeySchema=[{"AttributeName": "isbn", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "isbn", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})  # type: ignore[typeddict-item]  # botocore sleeps a float; the stubs say int
    item = {"isbn": {"S": "978-0-00-000000-1"}, "title": {"S": "Écrire vite"}, "pages": {"N": "321"}}
    client.put_item(TableName=table, Item=item)
    got = client.get_item(TableName=table, Key={"isbn": item["isbn"]}, ConsistentRead=True)
    assert got["Item"] == item
    written = client.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {"isbn": {"S": f"b-{i}"}}}} for i in range(25)]})
    assert not written.get("UnprocessedItems")
    assert client.scan(TableName=table, Select="COUNT")["Count"] == 26


def _non_loopback_ipv4() -> str:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return str(address.address)
    pytest.skip("this machine has no non-loopback IPv4 address to test from")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


def _listening_addresses(pid: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}


# -- DynamoDB Local ----------------------------------------------------------------------------------------------
def test_dynamodb_local_round_trip(dynamodb_local: DynamoDBLocal) -> None:
    _round_trip(dynamodb_local.endpoint_url, "engines_round_trip")


def test_dynamodb_local_server_pid_is_its_java(dynamodb_local: DynamoDBLocal) -> None:
    assert dynamodb_local.pid is not None
    process = psutil.Process(dynamodb_local.pid)
    assert process.name() == "java"
    assert "-disableTelemetry" in process.cmdline() and "-inMemory" in process.cmdline()
    assert os.getpgid(process.pid) == process.pid != os.getpgid(0)  # its own process group


def test_dynamodb_local_is_reachable_from_this_machine_only(dynamodb_local: DynamoDBLocal) -> None:
    outside = _non_loopback_ipv4()
    port = dynamodb_local.port
    assert port is not None
    # The probe can fail: a server on every interface is reachable through the machine's own non-loopback address.
    with socket.create_server(("0.0.0.0", 0)) as control:
        assert _reachable(outside, control.getsockname()[1])
    assert _reachable(LOOPBACK, port)
    assert not _reachable(outside, port)
    assert dynamodb_local.pid is not None
    assert _listening_addresses(dynamodb_local.pid) <= {LISTENS_ON, f"::ffff:{LISTENS_ON}"}


def test_dynamodb_local_stops_with_nothing_left() -> None:
    engine = DynamoDBLocal().start(timeout=120)
    processes = engine_processes(engine)
    assert engine.running and len(processes) == 2  # the guard and java
    engine.stop()
    engine.stop()  # idempotent
    assert not engine.running and engine.pid is None
    assert_all_gone(processes, timeout=30)


def test_dynamodb_local_port_in_use_is_one_clear_line() -> None:
    with socket.create_server((LOOPBACK, 0)) as taken:
        engine = DynamoDBLocal(port=taken.getsockname()[1])
        with pytest.raises(EmulatorError, match="is in use") as raised:
            engine.start(timeout=120)
    assert "\n" not in str(raised.value)
    assert not engine.running


def test_localstack_port_in_use_is_one_clear_line() -> None:
    with socket.create_server((LOOPBACK, 0)) as taken, \
            pytest.raises(EmulatorError, match=r"LocalStack: port \d+ on 127\.0\.0\.1 is in use"):
        LocalStack(port=taken.getsockname()[1]).start()


def test_missing_package_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match=r"lab\.sh setup dev"):
        distribution_dir(tmp_path)


def test_bad_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="between 0 and 65535"):
        DynamoDBLocal(port=70000)


@needs_java
def test_java_helpers_build(tmp_path: Path) -> None:
    tools = java_tools(tmp_path)
    with zipfile.ZipFile(tools.agent_jar) as agent:
        assert f"Premain-Class: {AGENT_CLASS}" in agent.read("META-INF/MANIFEST.MF").decode()
    with zipfile.ZipFile(tools.launcher_jar) as launcher:
        assert "LoopbackDynamoDBLocal.class" in launcher.namelist()
    assert java_tools(tmp_path) == tools  # the second call reuses the build


# -- LocalStack --------------------------------------------------------------------------------------------------
@needs_localstack_venv
def test_localstack_round_trip(localstack: LocalStack) -> None:
    _round_trip(localstack.endpoint_url, "engines_round_trip")


@needs_localstack_venv
def test_localstack_found_like_a_users(localstack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", localstack.endpoint_url)
    assert localstack_endpoint() == localstack.endpoint_url
    target = make_target("localstack")
    check_reachable(target)
    assert "TableNames" in target.client().list_tables()
    status, health = http_json((LOOPBACK, localstack.port or 0), "GET", "/_localstack/health")
    assert status == 200 and health["services"]["dynamodb"] == "running"


@needs_localstack_venv
def test_localstack_listens_on_loopback_only(localstack: LocalStack) -> None:
    outside = _non_loopback_ipv4()
    assert localstack.port is not None and localstack.pid is not None
    assert _reachable(LOOPBACK, localstack.port) and not _reachable(outside, localstack.port)
    java = psutil.Process(localstack.pid)
    assert java.name() == "java"  # LocalStack's own DynamoDB Local, whose CPU the lab samples
    inner_ports = {c.laddr.port for c in java.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
    assert inner_ports and not any(_reachable(outside, port) for port in inner_ports)
    assert _listening_addresses(java.pid) <= {LOOPBACK, f"::ffff:{LOOPBACK}"}


@needs_localstack_venv
def test_localstack_filesystem_root_is_the_labs(localstack: LocalStack) -> None:
    root = localstack.filesystem_root
    assert root is not None and root.is_relative_to(REPO_ROOT / ".lab" / "localstack")
    placed = root / "var" / "lib" / "localstack" / "lib" / "dynamodb-local" / "2"
    assert (placed / "DynamoDBLocal.jar").is_symlink() and (placed / "ddb-local-loader-0.1.jar").exists()


def test_missing_localstack_venv_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match=r"LocalStack is not installed .*lab\.sh setup dev"):
        venv_python(tmp_path / ".venv-localstack")
    with pytest.raises(EmulatorError, match="LocalStack is not installed"):
        LocalStack(venv=tmp_path).start()


@needs_java
@needs_localstack_venv
def test_localstack_foreground_command_stops_on_ctrl_c() -> None:
    command = [sys.executable, "-m", "core.servers.localstack", "--port", "0"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert "ready at http://127.0.0.1:" in ready, process.stderr.read() if process.stderr else ""
        url = ready.split("ready at ")[1].split()[0]
        banner = [process.stdout.readline().strip() for _ in range(6)]
        assert banner[0].startswith("Conditions: none added") and f"proxy --upstream {url}" in banner[0]
        assert f"export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=test" in banner[2]
        listing, run = banner[4:6]
        assert run == f"AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test python -m core run --target localstack " \
                      f"--endpoint-url {url}"
        if (REPO_ROOT / ".venv-localstack" / "bin" / "aws").exists():  # the banner's line, without any AWS setup
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                       PATH=f"{REPO_ROOT / '.venv-localstack' / 'bin'}:{env['PATH']}")
            listed = subprocess.run(listing, shell=True, env=env, capture_output=True, text=True, timeout=120)
            assert listed.returncode == 0 and '"TableNames"' in listed.stdout, listed.stderr
        everything = psutil.Process(process.pid).children(recursive=True)
        assert any(p.name() == "java" for p in everything)
        assert _reachable(LOOPBACK, int(url.rsplit(":", 1)[1]))
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert process.stderr is not None and process.stderr.read().strip() == "LocalStack stopped."  # no log
    finally:
        if process.poll() is None:
            process.kill()
    assert_all_gone(everything)


# -- the lab's writers on each engine ---------------------------------------------------------------------------
def _target(request: pytest.FixtureRequest, engine: str) -> Target:
    if engine == "localstack":
        return make_target("localstack", endpoint_url=request.getfixturevalue("localstack").endpoint_url)
    url = request.getfixturevalue("dynamodb_local").endpoint_url
    return make_target("custom", endpoint_url=url, credentials=LOCAL_CREDENTIALS)


@pytest.mark.parametrize("approach", WRITERS)
@pytest.mark.parametrize("engine", ["dynamodb_local", pytest.param("localstack", marks=needs_localstack_venv)])
def test_every_approach_writes_and_verifies_on_the_engine(request: pytest.FixtureRequest, engine: str,
                                                          approach: str) -> None:
    if (reason := APPROACHES[approach].unavailable) is not None:
        pytest.skip(reason)
    target = _target(request, engine)
    table = APPROACHES[approach].table
    reset_table(target.client(), table)
    report = write(approach, generate_books(120, seed=5), target, WriterOptions(threads=4, concurrency=8))
    assert (report.items, report.items_ok, report.items_failed, report.items_unknown) == (120, 120, 0, 0)
    check = verify(target.client(), table, generate_books(120, seed=5), report)
    assert (check.expected, check.found, check.lost, check.unexpected, check.mismatched) == (120, 120, 0, 0, 0)


# -- gone when the lab is killed ---------------------------------------------------------------------------------
PARENT = """
import json, sys, time
from core.servers.{module} import {cls}
engine = {cls}().start(timeout=180)
print(json.dumps({{"url": engine.endpoint_url}}), flush=True)
time.sleep(600)
"""


@needs_java
@pytest.mark.parametrize(("module", "cls"), [("dynamodb_local", "DynamoDBLocal"),
                                              pytest.param("localstack", "LocalStack", marks=needs_localstack_venv)])
def test_no_engine_process_survives_a_killed_lab(module: str, cls: str) -> None:
    lab = subprocess.Popen([sys.executable, "-c", PARENT.format(module=module, cls=cls)], cwd=REPO_ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert lab.stdout is not None
        line = lab.stdout.readline()
        assert line, "the engine did not start in the child lab"
        url = json.loads(line)["url"]
        engine = psutil.Process(lab.pid).children(recursive=True)
        assert any(p.name() == "java" for p in engine)
        lab.send_signal(signal.SIGKILL)
        lab.wait(timeout=10)
    finally:
        if lab.poll() is None:
            lab.kill()
    assert_all_gone(engine)
    assert not _reachable(LOOPBACK, int(url.rsplit(":", 1)[1]))


# -- the guard on its own (fast, no engine) ----------------------------------------------------------------------
def _guard(grace: float, script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(GUARD), str(grace), "--", "sh", "-c", script],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)


def _descendants_when_ready(guard: subprocess.Popen[bytes], count: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 30
    while True:
        found = psutil.Process(guard.pid).children(recursive=True)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM"])
def test_guard_ends_the_whole_group(how: str) -> None:
    guard = _guard(10, "sleep 600 & sleep 600 & wait")
    processes = _descendants_when_ready(guard, 3)
    assert len(processes) == 3  # sh and its two sleeps
    if how == "stdin closed":
        assert guard.stdin is not None
        guard.stdin.close()
    else:
        guard.terminate()
    guard.wait(timeout=30)
    assert_all_gone(processes, timeout=10)


def test_guard_kills_what_ignores_sigterm_after_the_grace() -> None:
    guard = _guard(0.5, "trap '' TERM; sleep 600 & wait; sleep 600")
    processes = _descendants_when_ready(guard, 2)
    assert guard.stdin is not None
    guard.stdin.close()
    guard.wait(timeout=30)
    assert_all_gone(processes, timeout=10)


def test_guard_stops_the_rest_when_the_command_ends_and_keeps_its_status() -> None:
    guard = _guard(10, "sleep 600 & echo $!; exit 7")
    assert guard.stdout is not None
    left_behind = int(guard.stdout.readline())
    assert guard.wait(timeout=30) == 7
    assert not psutil.pid_exists(left_behind) or psutil.Process(left_behind).status() == psutil.STATUS_ZOMBIE
