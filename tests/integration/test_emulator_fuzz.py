"""Property: no body, however malformed, kills or wedges the server, with or without faults or a capacity model, in
front of any engine.

Every operation gets generated bodies (random JSON of any shape, random bytes, a valid request with one field
given a wrong value, deep nesting); every answer must be DynamoDB's: a 200 with a JSON object, or an error status
with a JSON ``__type`` in DynamoDB's namespaces (a dropped connection only when reset faults are on); and a good
request must succeed afterwards.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.domain.capacity import Capacity
from core.domain.plan import Conditions
from core.servers.emulator import Emulator

OPERATIONS = ("PutItem", "BatchWriteItem", "GetItem", "BatchGetItem", "CreateTable", "DescribeTable", "DeleteTable",
              "Scan", "ListTables")
TABLE = "Fuzz"
KEY = {"isbn": {"S": "1"}}
VALID: dict[str, dict[str, Any]] = {
    "PutItem": {"TableName": TABLE, "Item": {"isbn": {"S": "1"}, "n": {"N": "2"}, "l": {"L": [{"S": "x"}]}}},
    "BatchWriteItem": {"RequestItems": {TABLE: [{"PutRequest": {"Item": {"isbn": {"S": "2"}}}},
                                                {"DeleteRequest": {"Key": KEY}}]}},
    "GetItem": {"TableName": TABLE, "Key": KEY, "ConsistentRead": True},
    "BatchGetItem": {"RequestItems": {TABLE: {"Keys": [KEY]}}},
    "CreateTable": {"TableName": "FuzzNew", "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"},
    "DescribeTable": {"TableName": TABLE},
    "DeleteTable": {"TableName": "FuzzNew"},
    "Scan": {"TableName": TABLE, "Limit": 5},
    "ListTables": {"Limit": 10},
}
ERROR_TYPE = re.compile(r"^com\.amazon(aws\.dynamodb\.v20120810|\.coral\.(service|validate))#\w+$")
FAULTS = Conditions(throttle=0.3, error=0.1, reset=0.1)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value where another value can be put."""
    yield prefix
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from paths(child, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn, operation: str) -> bytes:
    """A valid request for the operation with one field replaced by a wrong value, or removed."""
    body = copy.deepcopy(VALID[operation])
    where = draw(st.sampled_from(list(paths(body))[1:]))
    parent = body
    for key in where[:-1]:
        parent = parent[key]
    if draw(st.booleans()):
        parent[where[-1]] = draw(json_values)
    elif isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent.pop(where[-1])
    return json.dumps(body).encode()


def nested(depth: int, attribute: bool) -> bytes:
    if attribute:
        inner = '{"M":{"a":' * depth + '{"S":"x"}' + "}}" * depth
        return f'{{"TableName":"{TABLE}","Item":{{"isbn":{{"S":"9"}},"deep":{inner}}}}}'.encode()
    return b"[" * depth + b"]" * depth


def bodies(operation: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        json_values.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=64),
        mutated(operation),
        st.builds(nested, st.integers(1, 20_000), st.booleans()),
    )


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes]:
    operation = draw(st.sampled_from(OPERATIONS))
    return operation, draw(bodies(operation))


@pytest.fixture(scope="module", params=["dynalite", "proxy"])
def server(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The embedded dynalite, and the conditions proxy in front of another server.js hosting dynalite."""
    if request.param == "dynalite":
        with Emulator() as running:
            yield running
        return
    with Emulator() as engine, Emulator(upstream=engine.endpoint_url) as proxy:
        yield proxy


def send(server: Emulator, operation: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        connection.request("POST", "/", body=body, headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "X-Amz-Date": "20260101T000000Z",
            "Authorization": "AWS4-HMAC-SHA256 Credential=fuzz/20260101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host;x-amz-date, Signature=0"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_dynamodb_answer(status: int, payload: bytes) -> None:
    answer = json.loads(payload)
    assert isinstance(answer, dict), payload[:200]
    if status == 200:
        return
    assert status in (400, 413, 500), (status, payload[:200])
    assert ERROR_TYPE.match(answer.get("__type", "")), payload[:200]


@pytest.mark.parametrize(("conditions", "capacity"), [
    (Conditions(), Capacity()), (FAULTS, Capacity()), (FAULTS, Capacity(mode="provisioned", wcu=3)),
], ids=["no-faults", "faults", "faults-and-capacity"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests())
@example(request=("BatchGetItem", b'{"RequestItems": {"Fuzz": null}}'))  # once made dynalite throw
@example(request=("PutItem", b'{"TableName": "Fuzz", "Item": {"isbn": {"S": "1"}, "l": {"L": [null]}}}'))
@example(request=("BatchWriteItem", b'{"RequestItems": {"Fuzz": [{"DeleteRequest": {"Key": {"isbn": null}}}]}}'))
@example(request=("PutItem", b"null"))
def test_no_body_kills_or_wedges_the_server(server: Emulator, conditions: Conditions, capacity: Capacity,
                                            request: tuple[str, bytes]) -> None:
    operation, body = request
    server.set_conditions(Conditions())
    if TABLE not in server.call("ListTables", {})[1].get("TableNames", []):
        assert server.call("CreateTable", dict(VALID["CreateTable"], TableName=TABLE,
                                               AttributeDefinitions=[{"AttributeName": "isbn", "AttributeType": "S"}],
                                               KeySchema=[{"AttributeName": "isbn", "KeyType": "HASH"}]))[0] == 200
    server.set_conditions(conditions)
    if capacity != server.capacity:
        server.set_capacity(capacity)
    try:
        try:
            status, payload = send(server, operation, body)
        except (http.client.RemoteDisconnected, ConnectionResetError):
            assert conditions.reset > 0 and operation in ("PutItem", "BatchWriteItem")
        else:
            assert_dynamodb_answer(status, payload)
    finally:
        server.set_conditions(Conditions())
    assert server.running
    assert server.call("ListTables", {})[0] == 200
    assert server.stats()["internal_errors"] == 0, server.last_message
