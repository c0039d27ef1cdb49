"""core.servers.emulator: a real dynalite process or conditions proxy, health-checked, conditions injected, never
orphaned, never crashed by a request."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
import psutil
import pytest
from botocore.exceptions import ClientError

from core.domain.errors import ConfigError, EmulatorError
from core.domain.plan import NETWORK_PRESETS, Conditions
from core.paths import REPO_ROOT
from core.servers import emulator as emulator_module
from core.servers.emulator import Emulator, conditioned_endpoint, node_executable
from core.servers.emulator.upstream import check_upstream, needs_proxy
from core.targets.target import Target
from tests.servers import free_port

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
        from core.servers.emulator import Emulator
        server = Emulator().start()
        print(server.pid, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True)
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
                               cwd=REPO_ROOT, text=True)
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
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=30)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "is in use" in result.stderr and "Traceback" not in result.stderr


# ---- the conditions proxy in front of another engine (issue 11 part 4) --------------------------------------

def raw(port: int | None, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
        timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def token_of(server: Emulator) -> str:
    return server._token  # the lab's own token; tests play the lab here


@pytest.fixture(scope="module")
def moto_proxy(moto_url: str) -> Iterator[Emulator]:
    with Emulator(upstream=moto_url) as proxy:
        yield proxy


def test_proxy_serves_another_engine_through_itself(moto_proxy: Emulator, moto_url: str) -> None:
    assert moto_proxy.upstream == moto_url and moto_proxy.stats()["backend"] == moto_url
    table = dict(TABLE, TableName="ProxyBooks")
    assert moto_proxy.call("CreateTable", table)[0] == 200
    try:
        assert moto_proxy.call("PutItem", {"TableName": "ProxyBooks", "Item": {"isbn": {"S": "1"}}})[0] == 200
        status, answer = moto_proxy.call("GetItem", {"TableName": "ProxyBooks", "Key": {"isbn": {"S": "1"}}})
        assert status == 200 and answer["Item"] == {"isbn": {"S": "1"}}
        direct = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1",
                              aws_access_key_id="health", aws_secret_access_key="x")
        assert direct.get_item(TableName="ProxyBooks", Key={"isbn": {"S": "1"}})["Item"] == {"isbn": {"S": "1"}}
    finally:
        moto_proxy.call("DeleteTable", {"TableName": "ProxyBooks"})


def test_proxy_throttles_a_batch_honestly_on_another_engine(moto_proxy: Emulator) -> None:
    table = dict(TABLE, TableName="ProxyBatch")
    assert moto_proxy.call("CreateTable", table)[0] == 200
    try:
        moto_proxy.set_conditions(Conditions(throttle=0.5))
        puts = [{"PutRequest": {"Item": {"isbn": {"S": str(i)}}}} for i in range(25)]
        status, answer = moto_proxy.call("BatchWriteItem", {"RequestItems": {"ProxyBatch": puts}})
        assert status == 200  # all 25 held back at p=0.5 has odds 3e-8
        held = [r["PutRequest"]["Item"]["isbn"]["S"] for r in answer["UnprocessedItems"]["ProxyBatch"]]
        assert 0 < len(held) < 25
        moto_proxy.set_conditions(Conditions())
        items = moto_proxy.call("Scan", {"TableName": "ProxyBatch"})[1]["Items"]
        assert {item["isbn"]["S"] for item in items} == {str(i) for i in range(25)} - set(held)
        moto_proxy.set_conditions(Conditions(throttle=1.0))
        status, answer = moto_proxy.call("BatchWriteItem", {"RequestItems": {"ProxyBatch": puts}})
        assert status == 400 and answer["__type"].endswith("ProvisionedThroughputExceededException")
        moto_proxy.set_conditions(Conditions(error=1.0))
        status, answer = moto_proxy.call("PutItem", {"TableName": "ProxyBatch", "Item": {"isbn": {"S": "x"}}})
        assert status == 500 and answer["__type"].endswith("InternalServerError")
    finally:
        moto_proxy.set_conditions(Conditions())
        moto_proxy.call("DeleteTable", {"TableName": "ProxyBatch"})


def test_proxy_keeps_the_signed_host_so_a_signature_checking_engine_accepts(moto_iam_target: Target) -> None:
    assert moto_iam_target.endpoint_url is not None
    keys = moto_iam_target.credentials()
    with Emulator(upstream=moto_iam_target.endpoint_url, conditions=Conditions(latency_ms=1)) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.endpoint_url, region_name="us-east-1",
                              aws_access_key_id=keys.access_key, aws_secret_access_key=keys.secret_key)
        assert "TableNames" in client.list_tables()
        wrong = boto3.client("dynamodb", endpoint_url=proxy.endpoint_url, region_name="us-east-1",
                             aws_access_key_id=keys.access_key, aws_secret_access_key="wrong")
        with pytest.raises(ClientError):
            wrong.list_tables()


def test_conditioned_endpoint_starts_a_proxy_only_when_conditions_need_one(moto_url: str) -> None:
    with conditioned_endpoint(moto_url, Conditions()) as url:
        assert url == moto_url
    with conditioned_endpoint(moto_url, Conditions(latency_ms=5)) as url:
        assert url != moto_url and urlsplit(url).hostname == "127.0.0.1"
        assert raw(urlsplit(url).port, "GET", "/")[0] < 500


@pytest.mark.parametrize(("conditions", "needed"), [
    (Conditions(), False), (Conditions(latency_ms=1), True), (Conditions(jitter_ms=1), True),
    (Conditions(throttle=0.1), True), (Conditions(error=0.1), True), (Conditions(reset=0.1), True),
])
def test_needs_proxy(conditions: Conditions, needed: bool) -> None:
    assert needs_proxy(conditions) is needed


@pytest.mark.parametrize(("url", "message"), [
    ("http://10.0.0.1:8000", "not a loopback address"),
    ("http://example.com:8000", "not a loopback address"),
    ("https://127.0.0.1:8000", "plain http"),
    ("http://key:secret@127.0.0.1:8000", "must not carry credentials"),
    ("http://127.0.0.1:8000/dynamo", "no path"),
    ("ftp://127.0.0.1:8000", "invalid endpoint URL"),
    ("http://127.0.0.1:99999", "port must be a number"),
])
def test_upstream_must_be_a_plain_loopback_url(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        check_upstream(url)
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:4566/", "http://[::1]:8000",
                                 "http://127.3.4.5:1"])
def test_loopback_upstreams_are_accepted(url: str) -> None:
    assert check_upstream(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000", "http://8.8.8.8:53", "https://127.0.0.1:1",
                                 "http://a:b@127.0.0.1:1", "http://[fe80::1]:80"])
def test_server_js_refuses_other_upstreams_itself(url: str) -> None:
    result = subprocess.run([node_executable(), str(emulator_module.SERVER_JS), "--port", "0", "--upstream", url],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    announced = json.loads(result.stdout)
    assert announced["error"] == "BAD_ARGUMENTS" and "b@" not in result.stdout


def test_dead_upstream_gets_a_clear_error_and_a_502_later(moto_url: str) -> None:
    port = free_port()
    with pytest.raises(EmulatorError, match=rf"engine at http://127.0.0.1:{port} did not answer .*start it first"):
        Emulator(upstream=f"http://127.0.0.1:{port}").start(timeout=2)
    engine = Emulator().start()
    proxy = Emulator(upstream=engine.endpoint_url).start()
    try:
        assert proxy.call("ListTables", {})[0] == 200
        engine.stop()
        status, answer = proxy.call("ListTables", {})
        assert status == 502 and "could not reach its engine" in answer["message"]
        assert proxy.running and proxy.stats()["upstream_errors"] == 1
    finally:
        proxy.stop()
        engine.stop()


# ---- a server that cannot be crashed (issue 15 point 8) --------------------------------------------------------

def test_control_endpoints_answer_only_the_lab_that_started_the_server(emulator: Emulator) -> None:
    assert token_of(emulator) not in " ".join(psutil.Process(emulator.pid).cmdline())  # not in argv (ps)
    assert token_of(emulator) not in psutil.Process(emulator.pid).environ().values()  # nor its /proc environ
    assert token_of(emulator) not in repr(emulator)
    for headers in ({}, {"X-Lab-Token": "wrong"}, {"X-Lab-Token": token_of(emulator)[:-1]}):
        for method, path, body in (("GET", "/__lab/stats", b""), ("GET", "/__lab/conditions", b""),
                                   ("POST", "/__lab/conditions", b'{"throttle": 1}')):
            status, _ = raw(emulator.port, method, path, body, headers)
            assert status == 403
    assert emulator.stats()["conditions"]["throttle"] == 0
    status, answer = raw(emulator.port, "GET", "/__lab/conditions", headers={"X-Lab-Token": token_of(emulator)})
    assert status == 200 and json.loads(answer)["throttle"] == 0


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "conditions must be JSON"),
    (b"null", "must be a JSON object"),
    (b"[1]", "must be a JSON object"),
    (b'{"latency": 5}', 'unknown condition "latency"'),
    (b'{"throttle": "0.5"}', "throttle must be a number"),
    (b'{"throttle": true}', "throttle must be a number"),
    (b'{"latency_ms": null}', "latency_ms must be a number"),
    (b'{"latency_ms": -1}', "latency_ms must be between 0 and 60000"),
    (b'{"jitter_ms": 70000}', "jitter_ms must be between 0 and 60000"),
    (b'{"error": 1.5}', "fault error is a probability"),
    (b'{"reset": -0.1}', "fault reset is a probability"),
    (b'{"throttle": 0.6, "reset": 0.6}', "must add up to at most 1"),
    (b"{" * 70_000, "request body too large|Request body too large"),
])
def test_control_endpoint_validates_like_the_cli(emulator: Emulator, body: bytes, message: str) -> None:
    status, answer = raw(emulator.port, "POST", "/__lab/conditions", body, {"X-Lab-Token": token_of(emulator)})
    assert status in (400, 413) and re.search(message, json.loads(answer)["message"])
    assert emulator.stats()["conditions"] == Conditions().as_dict()  # unchanged


def test_conditions_the_cli_accepts_the_server_accepts(emulator: Emulator) -> None:
    try:
        emulator.set_conditions(Conditions(latency_ms=60_000, jitter_ms=0, throttle=0.1, error=0.2, reset=0.7))
        assert emulator.stats()["conditions"]["reset"] == 0.7
    finally:
        emulator.set_conditions(Conditions())


@pytest.mark.parametrize("faults", [
    (0.33, 0.56, 0.11), (0.11, 0.56, 0.33), (0.7, 0.2, 0.1), (0.1, 0.2, 0.7), (0.6, 0.3, 0.1), (0.3, 0.6, 0.1),
    (0.3333334, 0.3333333, 0.3333333), (0.5, 0.5000004, 0.0), (0.5, 0.5000005, 0.0), (0.34, 0.56, 0.11),
])
def test_fault_sums_follow_one_rule_in_the_cli_and_the_server(emulator: Emulator,
                                                              faults: tuple[float, float, float]) -> None:
    fields = dict(zip(("throttle", "error", "reset"), faults, strict=True))
    try:
        Conditions(**fields)
        python_accepts = True
    except ConfigError:
        python_accepts = False
    status, answer = raw(emulator.port, "POST", "/__lab/conditions", json.dumps(fields).encode(),
                         {"X-Lab-Token": token_of(emulator)})
    raw(emulator.port, "POST", "/__lab/conditions", b"{}", {"X-Lab-Token": token_of(emulator)})
    assert (status == 200) == python_accepts, answer
    if faults == (0.33, 0.56, 0.11):  # the issue's: they add up to 1 (1.0000000000000002 summed left to right)
        assert python_accepts


def test_settings_the_server_refuses_are_its_one_line_without_a_setup_hint() -> None:
    forged = Conditions()
    object.__setattr__(forged, "latency_ms", 70_000.0)  # past the Python check: only server.js sees it
    with pytest.raises(EmulatorError) as refused:
        Emulator(conditions=forged).start()
    message = str(refused.value)
    assert "latency_ms must be between 0 and 60000 ms, got 70000" in message
    assert "setup" not in message and "\n" not in message


def test_huge_bodies_are_refused_early_without_buffering(emulator: Emulator) -> None:
    node = psutil.Process(emulator.pid)
    before = node.memory_info().rss
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.BatchWriteItem",
               "Content-Length": str(300 * 1024 * 1024)}
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    try:  # a 300 MB body announced: answered at once, after only 1 MB was sent
        connection.putrequest("POST", "/")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        with contextlib.suppress(OSError):
            connection.send(b"{" + b" " * (1024 * 1024))
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["__type"].endswith("SerializationException")
    finally:
        connection.close()
    chunks = (b" " * (1024 * 1024) for _ in range(64))  # 64 MB, chunked, no Content-Length
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    try:
        with contextlib.suppress(OSError):
            connection.request("POST", "/", body=chunks, headers=dict(headers, **{"Content-Length": ""}),
                               encode_chunked=True)
            assert connection.getresponse().status == 413
    finally:
        connection.close()
    assert node.memory_info().rss - before < 48 * 1024 * 1024
    assert emulator.call("ListTables", {})[0] == 200 and emulator.stats()["rejected"] >= 2


def test_cli_emulator_exits_1_with_one_line_when_the_server_dies() -> None:
    process = subprocess.Popen([sys.executable, "-m", "core", "emulator", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=REPO_ROOT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        pid = int(line.split(" pid ")[1].split()[0])
        os.kill(pid, signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 1
        assert stderr.count("\n") == 1 and "Traceback" not in stderr
        assert "the embedded emulator stopped unexpectedly (killed by signal 9)" in stderr
    finally:
        if process.poll() is None:
            process.kill()


def test_wait_gives_the_exit_and_its_reason() -> None:
    server = Emulator().start()
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    assert server.wait() == -9 and server.exit_reason(-9) == "killed by signal 9"
    server.stop()
    server = Emulator().start()
    assert server.pid is not None
    os.kill(server.pid, signal.SIGTERM)  # asked to stop: not a crash
    assert server.wait() == 0
    server.stop()


def test_cli_emulator_fronts_an_upstream_with_conditions(moto_url: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "core", "emulator", "--port", "0", "--upstream", moto_url,
                                "--faults", "error=1"],
                               stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"Conditions proxy in front of {moto_url} at http://127.0.0.1:" in line
        port = urlsplit(line.split(" at ")[1].split()[0]).port
        # unsigned, so moto answers the proxy's DescribeTable with something else: the keys go unchecked
        status, answer = raw(port, "POST", "/", json.dumps({"TableName": "Tbl", "Item": {"k": {"S": "1"}}}).encode(),
                             {"X-Amz-Target": "DynamoDB_20120810.PutItem",
                              "Content-Type": "application/x-amz-json-1.0"})
        assert status == 500 and json.loads(answer)["__type"].endswith("InternalServerError")
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_cli_emulator_refuses_a_remote_upstream_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "core", "emulator", "--upstream", "http://10.1.2.3:8000"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not a loopback address" in result.stderr


# ---- a proxy that would be its own upstream (issue 22 point 10) ----------------------------------------------------

@pytest.mark.parametrize(("host", "upstream", "itself"), [
    ("127.0.0.1", "http://127.0.0.1:18777", True),
    ("127.0.0.1", "http://localhost:18777", True),
    ("localhost", "http://[::1]:18777", True),
    ("::1", "http://127.0.0.1:18777", True),
    ("0.0.0.0", "http://127.0.0.9:18777", True),
    ("::", "http://localhost:18777", True),
    ("127.0.0.1", "http://127.0.0.1:18778", False),
    ("127.0.0.1", "http://127.0.0.2:18777", False),  # another address: another socket
])
def test_an_upstream_that_is_the_proxy_itself_is_refused(host: str, upstream: str, itself: bool) -> None:
    if itself:
        with pytest.raises(ConfigError, match="is this proxy itself"):
            Emulator(port=18777, host=host, upstream=upstream)
    else:
        Emulator(port=18777, host=host, upstream=upstream)  # not started: the check is at construction


def test_cli_emulator_refuses_itself_as_upstream_in_one_line() -> None:
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "core", "emulator", "--port", str(port), "--upstream",
                             f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=60,
                            cwd=REPO_ROOT)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "is this proxy itself" in result.stderr


def test_server_js_refuses_a_request_of_its_own_that_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator_module, "check_not_itself", lambda *_: None)  # a disguise the URL check misses
    port = free_port()
    proxy = Emulator(port=port, upstream=f"http://127.0.0.1:{port}")
    with pytest.raises(ConfigError, match=r"leads back to .* itself"):
        proxy.start(timeout=20)
    assert not proxy.running
    process = subprocess.Popen([node_executable(), str(emulator_module.SERVER_JS), "--port", str(port),
                                "--upstream", f"http://127.0.0.1:{port}"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO_ROOT)
    try:
        assert process.stdout is not None and "port" in json.loads(process.stdout.readline())
        for _ in range(20):
            status, answer = raw(port, "POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                                            "Content-Type": "application/x-amz-json-1.0"})
            assert status == 508 and b"its upstream leads to itself" in answer
        assert process.poll() is None and psutil.Process(process.pid).memory_info().rss < 200 * 2**20
        assert psutil.Process(process.pid).num_fds() < 100
    finally:
        process.kill()
        process.wait()
