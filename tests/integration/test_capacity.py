"""core.domain.capacity: the --capacity text and its checks; the JS capacity model's own unit tests (node --test); and
the model inside the proxy, end to end: throttled answers with ThrottlingReasons, honest batches, stats."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from core.domain.capacity import (
    BURST_SECONDS,
    PARTITION_UNITS,
    Capacity,
    CapacityUse,
    capacity_use,
    parse_capacity,
    partitions,
)
from core.domain.errors import ConfigError
from core.domain.plan import Conditions
from core.paths import REPO_ROOT
from core.servers.emulator import Emulator, node_executable
from core.servers.emulator.upstream import needs_proxy


@pytest.mark.parametrize(("text", "expected"), [
    ("off", Capacity()),
    (" on-demand ", Capacity(mode="on-demand")),
    ("on-demand:warm=8000", Capacity(mode="on-demand", warm=8000)),
    ("on-demand:max=500", Capacity(mode="on-demand", max=500)),
    ("on-demand:warm=1000, max=2000", Capacity(mode="on-demand", warm=1000, max=2000)),
    ("provisioned=1000", Capacity(mode="provisioned", wcu=1000)),
    ("provisioned=40000", Capacity(mode="provisioned", wcu=40000)),
])
def test_parse_capacity(text: str, expected: Capacity) -> None:
    parsed = parse_capacity(text)
    assert parsed == expected
    assert parse_capacity(str(parsed)) == parsed  # the text form round-trips


@pytest.mark.parametrize(("text", "message"), [
    ("", "bad capacity ''"),
    ("ondemand", "bad capacity 'ondemand': use off, on-demand"),
    ("provisioned", "bad capacity 'provisioned'"),
    ("provisioned=", "capacity wcu must be a whole number"),
    ("provisioned=0", "from 1 to 40,000, got 0"),
    ("provisioned=40001", "from 1 to 40,000, got 40,001"),
    ("provisioned=1.5", "got '1.5'"),
    ("provisioned=abc", "got 'abc'"),
    ("on-demand:", "bad on-demand option ''"),
    ("on-demand:warm", "bad on-demand option 'warm'"),
    ("on-demand:burst=5", "bad on-demand option 'burst=5'"),
    ("on-demand:warm=5,warm=6", "given twice"),
    ("on-demand:warm=3000,max=2000", "above its maximum 2000"),
])
def test_bad_capacity_is_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        parse_capacity(text)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("fields", "message"), [
    ({"mode": "fast"}, "unknown capacity mode"),
    ({"mode": "provisioned"}, "needs its WCU"),
    ({"mode": "on-demand", "wcu": 5}, "needs its WCU, and only it"),
    ({"mode": "off", "max": 5}, "on-demand capacity only"),
    ({"mode": "provisioned", "wcu": True}, "whole number"),
    ({"mode": "provisioned", "wcu": 2.0}, "whole number"),
])
def test_capacity_checks_its_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Capacity(**fields)  # type: ignore[arg-type]


def test_as_dict_is_what_the_proxy_takes() -> None:
    assert Capacity().as_dict() == {"mode": "off"}
    assert Capacity(mode="provisioned", wcu=5).as_dict() == {"mode": "provisioned", "wcu": 5}
    assert Capacity(mode="on-demand", max=9).as_dict() == {"mode": "on-demand", "max": 9}
    assert not Capacity().on and Capacity(mode="on-demand").on


def test_the_js_capacity_model_passes_its_unit_tests() -> None:
    result = subprocess.run([node_executable(), "--test", "tests/js/*.test.js"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout or "ℹ fail 0" in result.stdout


# ---- the model inside the proxy, end to end ---------------------------------------------------------------------

TABLE = {"TableName": "CapBooks", "AttributeDefinitions": [{"AttributeName": "isbn", "AttributeType": "S"}],
         "KeySchema": [{"AttributeName": "isbn", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}
ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/CapBooks"


@pytest.fixture
def capped() -> Iterator[Emulator]:
    with Emulator(capacity=Capacity(mode="provisioned", wcu=1)) as server:
        create(server)
        yield server


def create(server: Emulator) -> None:
    """CreateTable, then wait until the table is ACTIVE (dynalite creates tables asynchronously)."""
    assert server.call("CreateTable", TABLE)[0] == 200
    deadline = time.monotonic() + 30
    while server.call("DescribeTable", {"TableName": "CapBooks"})[1].get("Table", {}).get("TableStatus") != "ACTIVE":
        assert time.monotonic() < deadline, "the table did not become ACTIVE"
        time.sleep(0.02)


def put(server: Emulator, isbn: str) -> tuple[int, dict[str, Any]]:
    return server.call("PutItem", {"TableName": "CapBooks", "Item": {"isbn": {"S": isbn}}})


def test_provisioned_table_takes_its_burst_then_throttles_with_reasons(capped: Emulator) -> None:
    written: set[str] = set()
    for batch in range(20):  # 500 items of 1 WRU against 300 WRU of burst (+1 WRU/s)
        puts = [{"PutRequest": {"Item": {"isbn": {"S": f"{batch}-{i}"}}}} for i in range(25)]
        status, answer = capped.call("BatchWriteItem", {"RequestItems": {"CapBooks": puts}})
        if status == 400:
            assert answer["__type"].endswith("#ProvisionedThroughputExceededException")
            assert answer["ThrottlingReasons"] == [{"reason": "TableWriteProvisionedThroughputExceeded",
                                                    "resource": ARN}]
            continue
        held = {r["PutRequest"]["Item"]["isbn"]["S"] for r in answer["UnprocessedItems"].get("CapBooks", [])}
        written |= {p["PutRequest"]["Item"]["isbn"]["S"] for p in puts} - held
    assert 300 <= len(written) < 340
    scanned = capped.call("Scan", {"TableName": "CapBooks"})[1]["Items"]
    assert {item["isbn"]["S"] for item in scanned} == written  # held back means not written
    status, answer = put(capped, "single")
    assert status == 400 and answer["ThrottlingReasons"][0]["reason"] == "TableWriteProvisionedThroughputExceeded"
    model = capped.stats()["capacity"]
    assert model["consumed_wru"] == len(written)
    assert model["throttles"]["TableWriteProvisionedThroughputExceeded"] >= 500 - len(written)
    assert sum(wru for _, wru in model["consumed_wru_per_second"]) == len(written)
    assert model["tables"]["CapBooks"]["capacity_wru_per_second"] == 1
    table = model["tables"]["CapBooks"]  # the table's own figures, for the run report
    assert table["consumed_wru"] == len(written) and table["requests"] == 21
    assert table["refused_requests"] >= 1 and table["partial_requests"] <= 1
    assert table["throttles"] == {"TableWriteProvisionedThroughputExceeded": 500 - len(written) + 1}
    assert capped.stats(since=time.time() + 5)["capacity"]["tables"]["CapBooks"]["requests"] == 0


def test_a_new_table_starts_afresh(capped: Emulator) -> None:
    for i in range(400):
        if put(capped, str(i))[0] == 400:
            break
    else:
        pytest.fail("300 WRU of burst never ran out")
    assert capped.call("DeleteTable", {"TableName": "CapBooks"})[0] == 200
    deadline = time.monotonic() + 30
    while capped.call("DescribeTable", {"TableName": "CapBooks"})[0] == 200:  # dynalite deletes asynchronously
        assert time.monotonic() < deadline, "the table was not deleted"
        time.sleep(0.02)
    create(capped)  # until ACTIVE: a put before that gets dynalite's ResourceNotFoundException
    assert put(capped, "fresh")[0] == 200


def test_on_demand_maximum_gives_a_throttling_exception() -> None:
    with Emulator(capacity=parse_capacity("on-demand:max=10")) as server:
        create(server)
        answers = [put(server, str(i)) for i in range(30)]
        refused = [answer for status, answer in answers if status == 400]
        assert 0 < len(refused) <= 20
        assert refused[0]["__type"].endswith("#ThrottlingException")
        assert refused[0]["ThrottlingReasons"] == [{"reason": "TableWriteMaxOnDemandThroughputExceeded",
                                                    "resource": ARN}]
        server.set_capacity(Capacity())  # off: everything goes through
        assert all(put(server, f"off-{i}")[0] == 200 for i in range(30))


def test_capacity_control_is_validated_and_guarded(emulator: Emulator) -> None:
    token = {"X-Lab-Token": emulator._token}
    for body, message in ((b"nope", "capacity must be JSON"), (b'{"mode": "fast"}', "mode must be one of"),
                          (b'{"mode": "provisioned"}', "needs its wcu"), (b"[]", "JSON object")):
        status, answer = post(emulator, "/__lab/capacity", body, token)
        assert status == 400 and message in answer["message"]
    assert post(emulator, "/__lab/capacity", b'{"mode": "on-demand"}', {})[0] == 403
    assert emulator.stats()["capacity"]["config"] == {"mode": "off"}


def post(server: Emulator, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(("conditions", "capacity", "needed"), [
    (Conditions(), None, False), (Conditions(), Capacity(), False),
    (Conditions(), Capacity(mode="on-demand"), True), (Conditions(latency_ms=1), Capacity(), True),
])
def test_needs_proxy_with_capacity(conditions: Conditions, capacity: Capacity | None, needed: bool) -> None:
    assert needs_proxy(conditions, capacity) is needed


def test_cli_emulator_takes_a_capacity_and_refuses_a_bad_one_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "core", "emulator", "--capacity", "provisioned=0"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "from 1 to 40,000, got 0" in result.stderr
    process = subprocess.Popen([sys.executable, "-m", "core", "emulator", "--port", "0", "--capacity",
                                "on-demand:max=5"], stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" at ")[1].split()[0]
        server = Emulator()  # speaks to the CLI's server: only the DynamoDB API, no control token
        server.port = int(url.rsplit(":", 1)[1])
        create(server)
        statuses = [put(server, str(i))[0] for i in range(12)]
        assert 200 in statuses and 400 in statuses
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


# ---- the run report's capacity use (pure) -----------------------------------------------------------------------

def table_figures(rows: list[list[float]], wru: list[list[int]], **counts: Any) -> dict[str, Any]:
    return {"seconds": rows, "consumed_wru_per_second": wru, "consumed_wru": sum(w for _, w in wru), **counts}


@pytest.mark.parametrize(("setting", "table", "started", "seconds", "offered", "capacity"), [
    # a fresh provisioned table: its 300 s of burst, then WCU per second
    (Capacity("provisioned", wcu=1), table_figures([[100, 1, 1, 300], [101, 1, 1, 0]], [[100, 300], [101, 1]]),
     100.2, 1.5, 301.5, 1.0),
    # provisioned 1,000 with 300,000 WRU of burst on one partition: the partition's 1,000 WRU/s binds
    (Capacity("provisioned", wcu=1000), table_figures([[50, 1000, 1, 300_000]], [[50, 1000]]), 50.0, 20.0,
     21_000.0, 1000.0),
    # on-demand: the allowance doubles (4,000 -> 8,000 -> 16,000); its one second of burst on top
    (Capacity("on-demand"), table_figures([[100, 4000, 4, 4000], [101, 8000, 8, 8000], [103, 16000, 16, 16000]],
                                          [[100, 4000], [101, 8000], [103, 100]]),
     100.5, 3.5, 4000 + 4000 * 0.5 + 8000 * 2 + 16000 * 1, 34_000 / 3.5),
    # no write reached the table: what the setting offers
    (Capacity("provisioned", wcu=10), None, 0.0, 2.0, 3000.0, 10.0),  # 3,020 by the table; its partition: 3,000
    (Capacity("on-demand", warm=2000), None, 0.0, 1.0, 4000.0, 2000.0),
])
def test_capacity_use_compares_what_was_written_with_what_the_table_offered(
        setting: Capacity, table: dict[str, Any] | None, started: float, seconds: float, offered: float,
        capacity: float) -> None:
    use = capacity_use(setting, table, started, seconds)
    assert use.offered_wru == pytest.approx(offered)
    assert use.capacity == pytest.approx(capacity)
    consumed = table["consumed_wru"] if table else 0
    assert use.consumed_wru == consumed and use.goodput == pytest.approx(consumed / seconds)
    assert use.goodput_ratio == pytest.approx(consumed / offered)
    assert use.series[0][0] == 0.0 if use.series else use.series == ()  # seconds since the writes started


def test_the_capacity_line_starts_with_the_writes_whenever_the_first_write_lands() -> None:
    """The proxy keeps whole seconds: a write phase that starts at 10.98 has its first write counted in second 11,
    yet the table's capacity held from the start."""
    table = table_figures([[11, 10, 1, 0], [13, 20, 1, 0]], [[11, 40]], requests=4, complete=True)
    use = capacity_use(Capacity("on-demand", max=10), table, 10.98, 3.0)
    (start, first), (later, second) = use.capacity_line
    assert (start, first, second) == (0.0, 10.0, 20.0) and later == pytest.approx(2.02)


def test_capacity_use_counts_waste_and_reasons_and_survives_the_export() -> None:
    table = table_figures([[10, 5, 1, 1500], [12, 5, 1, 0]], [[10, 1500], [12, 5]], requests=40,
                          refused_requests=10, partial_requests=3,
                          throttles={"TableWriteProvisionedThroughputExceeded": 250}, complete=True)
    use = capacity_use(Capacity("provisioned", wcu=5), table, 10.5, 4.0)
    assert use.waste == 0.25 and use.peak == 1500 and use.partial == 3
    assert use.series == ((0.0, 1500), (1.5, 5)) and use.capacity_line == ((0.0, 5.0),)
    assert use.summary() == ("376 WRU/s mean, 1,500 peak vs capacity 5 WRU/s + 1,500 WRU burst at the start; "
                             "goodput ÷ capacity 0.99; writes throttled 250 (TableWriteProvisionedThroughputExceeded "
                             "250); wasted 25.0% of 40 requests, 3 batches partly refused")
    data = use.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert CapacityUse.from_dict(data) == use
    assert data["goodput_ratio"] == round(1505 / 1520, 4) and data["waste"] == 0.25


@pytest.mark.parametrize(("units", "count"), [
    (1, 1), (999, 1), (1_000, 1), (1_001, 2), (1_500, 2), (4_000, 4), (4_000.5, 5), (40_000, 40), (0, 1),
])
def test_partitions_one_per_started_thousand_units_at_least_one(units: float, count: int) -> None:
    from core.forecast.planner import ceiling  # the planner's burst ceiling rests on the same rule

    assert partitions(units) == count
    if units >= 1 and float(units).is_integer():
        assert ceiling(Capacity("provisioned", wcu=int(units))) == count * PARTITION_UNITS
        # a phase the proxy did not report: the partitions' offer (their second of burst, then 1,000 WRU/s each)
        assert capacity_use(Capacity("provisioned", wcu=int(units)), None, 0.0, 10.0).offered_wru == \
            min(units * BURST_SECONDS + units * 10, count * PARTITION_UNITS * 11)
