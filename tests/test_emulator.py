"""core.emulator: a real dynalite process, health-checked, conditions injected, never orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from core import emulator as emulator_module
from core.emulator import Emulator
from core.errors import ConfigError, EmulatorError
from core.model import NETWORK_PRESETS, Conditions

TABLE = {"TableName": "EmuBooks", "AttributeDefinitions": [{"AttributeName": "isbn", "AttributeType": "S"}],
         "KeySchema": [{"AttributeName": "isbn", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}


def create_table(emulator: Emulator) -> None:
    assert emulator.call("CreateTable", TABLE)[0] == 200
    deadline = time.monotonic() + 10
    while emulator.call("DescribeTable", {"TableName": "EmuBooks"})[1]["Table"]["TableStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_serves_a_real_dynamodb_api(emulator: Emulator) -> None:
    assert emulator.running and emulator.endpoint_url.startswith("http://127.0.0.1:")
    create_table(emulator)
    try:
        assert emulator.call("PutItem", {"TableName": "EmuBooks", "Item": {"isbn": {"S": "1"}}})[0] == 200
        status, answer = emulator.call("GetItem", {"TableName": "EmuBooks", "Key": {"isbn": {"S": "1"}}})
        assert status == 200 and answer["Item"] == {"isbn": {"S": "1"}}
        status, answer = emulator.call("PutItem", {"TableName": "Missing", "Item": {"isbn": {"S": "1"}}})
        assert status == 400 and answer["__type"].endswith("ResourceNotFoundException")
    finally:
        emulator.call("DeleteTable", {"TableName": "EmuBooks"})


def test_start_health_stop() -> None:
    server = Emulator().start()
    pid = server.pid
    assert pid is not None and psutil.pid_exists(pid)
    assert server.call("ListTables", {}) == (200, {"TableNames": []})
    server.stop()
    server.stop()  # idempotent
    assert not server.running and not psutil.pid_exists(pid)


def test_starting_twice_is_a_clear_error(emulator: Emulator) -> None:
    with pytest.raises(EmulatorError, match="already running"):
        emulator.start()


def test_port_in_use_is_a_clear_error(emulator: Emulator) -> None:
    assert emulator.port is not None
    with pytest.raises(EmulatorError, match=rf"port {emulator.port} .* is in use: pick another"):
        Emulator(port=emulator.port).start()


def test_missing_dynalite_says_what_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    monkeypatch.setattr(emulator_module, "REPO_ROOT", tmp_path)
    with pytest.raises(EmulatorError, match=r"dynalite is not installed.*lab.sh setup"):
        Emulator().start()


def test_missing_node_says_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator_module, "node_executable", lambda: "/nonexistent/node")
    with pytest.raises(EmulatorError, match=r"Node.js was not found.*lab.sh setup"):
        Emulator().start()


def test_no_orphan_when_the_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        from core.emulator import Emulator
        server = Emulator().start()
        print(server.pid, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, cwd=emulator_module.REPO_ROOT, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert psutil.pid_exists(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the emulator outlived its parent"
        time.sleep(0.05)


def test_injected_throttle_and_error(emulator: Emulator) -> None:
    create_table(emulator)
    try:
        emulator.set_conditions(Conditions(throttle=1.0))
        status, answer = emulator.call("PutItem", {"TableName": "EmuBooks", "Item": {"isbn": {"S": "1"}}})
        assert status == 400 and answer["__type"].endswith("ProvisionedThroughputExceededException")
        emulator.set_conditions(Conditions(error=1.0))
        status, answer = emulator.call("PutItem", {"TableName": "EmuBooks", "Item": {"isbn": {"S": "1"}}})
        assert status == 500 and answer["__type"].endswith("InternalServerError")
        emulator.set_conditions(Conditions())
        assert emulator.call("Scan", {"TableName": "EmuBooks"})[1]["Count"] == 0  # nothing was written
    finally:
        emulator.set_conditions(Conditions())
        emulator.call("DeleteTable", {"TableName": "EmuBooks"})


def test_throttled_batch_leaves_a_genuinely_unwritten_subset(emulator: Emulator) -> None:
    create_table(emulator)
    try:
        emulator.set_conditions(Conditions(throttle=0.5))
        puts = [{"PutRequest": {"Item": {"isbn": {"S": str(i)}}}} for i in range(25)]
        status, answer = emulator.call("BatchWriteItem", {"RequestItems": {"EmuBooks": puts}})
        assert status == 200  # all 25 held back at p=0.5 has odds 3e-8
        held = [r["PutRequest"]["Item"]["isbn"]["S"] for r in answer["UnprocessedItems"].get("EmuBooks", [])]
        assert 0 < len(held) < 25
        emulator.set_conditions(Conditions())
        items = emulator.call("Scan", {"TableName": "EmuBooks"})[1]["Items"]
        assert {item["isbn"]["S"] for item in items} == {str(i) for i in range(25)} - set(held)
        emulator.set_conditions(Conditions(throttle=1.0))  # nothing processed at all: 400, as DynamoDB answers
        status, answer = emulator.call("BatchWriteItem", {"RequestItems": {"EmuBooks": puts}})
        assert status == 400 and answer["__type"].endswith("ProvisionedThroughputExceededException")
    finally:
        emulator.set_conditions(Conditions())
        emulator.call("DeleteTable", {"TableName": "EmuBooks"})


def test_latency_is_added_per_request(emulator: Emulator) -> None:
    emulator.set_conditions(Conditions(latency_ms=150))
    try:
        started = time.perf_counter()
        emulator.call("ListTables", {})
        assert time.perf_counter() - started >= 0.15
    finally:
        emulator.set_conditions(Conditions())


@pytest.mark.parametrize(("fields", "message"), [
    ({"latency_ms": -1}, "latency_ms must be between"),
    ({"jitter_ms": 70_000}, "jitter_ms must be between"),
    ({"throttle": 1.5}, "fault throttle is a probability"),
    ({"error": -0.1}, "fault error is a probability"),
    ({"throttle": 0.6, "reset": 0.6}, "add up to at most 1"),
])
def test_conditions_are_validated(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Conditions(**fields)


def test_presets_are_ordered_by_latency() -> None:
    latencies = [NETWORK_PRESETS[name].latency_ms for name in ("none", "same-region", "nearby-region", "study-2022")]
    assert latencies == sorted(latencies) and latencies[0] == 0


def test_cli_emulator_serves_in_the_foreground() -> None:
    process = subprocess.Popen([sys.executable, "-m", "core", "emulator", "--port", "0"], stdout=subprocess.PIPE,
                               cwd=emulator_module.REPO_ROOT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "Embedded DynamoDB (dynalite) at http://127.0.0.1:" in line
        url = line.split(" at ")[1].split()[0]
        import urllib.request
        assert b"healthy" in urllib.request.urlopen(url, timeout=5).read()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_cli_emulator_port_in_use_is_one_line(emulator: Emulator) -> None:
    result = subprocess.run([sys.executable, "-m", "core", "emulator", "--port", str(emulator.port)],
                            capture_output=True, text=True, cwd=emulator_module.REPO_ROOT, timeout=30)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "is in use" in result.stderr and "Traceback" not in result.stderr
