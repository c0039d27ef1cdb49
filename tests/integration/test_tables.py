"""core.targets.tables: the full lifecycle, on the embedded emulator and on a moto server."""

from __future__ import annotations

import pytest

from core.domain.approaches import APPROACHES, TABLES
from core.domain.errors import TargetError
from core.targets.tables import (
    count_items,
    create_table,
    delete_lab_tables,
    delete_table,
    describe_table,
    list_lab_tables,
    reset_table,
)
from core.targets.target import Target


@pytest.fixture(params=["embedded_target", "moto_target"])
def target(request: pytest.FixtureRequest) -> Target:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_table_names_follow_the_study_and_every_approach_has_its_own() -> None:
    tables = [APPROACHES[name].table for name in ("sequential", "threaded", "async")]
    assert tables == ["SyncBooks", "ThreadedBooks", "AsyncBooks"]
    assert len(TABLES) == len(APPROACHES)


def test_full_lifecycle(target: Target) -> None:
    client = target.client()
    delete_lab_tables(client)
    create_table(client, "SyncBooks")
    info = describe_table(client, "SyncBooks")
    assert info is not None and info.status == "ACTIVE" and info.billing_mode == "PAY_PER_REQUEST"
    create_table(client, "SyncBooks")  # existing lab table: kept, no error
    for i in range(30):
        client.put_item(TableName="SyncBooks", Item={"isbn": {"S": f"{i:013d}"}})
    assert count_items(client, "SyncBooks") == 30
    reset_table(client, "SyncBooks")
    assert count_items(client, "SyncBooks") == 0
    create_table(client, "AsyncBooks")
    assert list_lab_tables(client) == ["AsyncBooks", "SyncBooks"]
    assert delete_lab_tables(client) == ["AsyncBooks", "SyncBooks"]
    assert describe_table(client, "SyncBooks") is None
    delete_table(client, "SyncBooks")  # already gone: no error


def test_wrong_key_schema_is_never_touched(target: Target) -> None:
    client = target.client()
    delete_table(client, "ThreadedBooks")
    client.create_table(TableName="ThreadedBooks", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    client.get_waiter("table_exists").wait(TableName="ThreadedBooks", WaiterConfig={"Delay": 0.05})  # type: ignore[typeddict-item]
    try:
        client.put_item(TableName="ThreadedBooks", Item={"id": {"N": "1"}})
        with pytest.raises(TargetError, match="exists with another key schema"):
            reset_table(client, "ThreadedBooks")
        assert count_items(client, "ThreadedBooks") == 1
    finally:
        delete_table(client, "ThreadedBooks")


def test_count_paginates(embedded_target: Target) -> None:
    client = embedded_target.client()
    reset_table(client, "SyncBatchBooks")
    big = "x" * 60_000  # ~60 KB items: 30 of them exceed Scan's 1 MB page, so counting must follow pages
    for i in range(30):
        client.put_item(TableName="SyncBatchBooks", Item={"isbn": {"S": str(i)}, "title": {"S": big}})
    pages = client.scan(TableName="SyncBatchBooks", Select="COUNT")
    assert "LastEvaluatedKey" in pages
    assert count_items(client, "SyncBatchBooks") == 30
    delete_table(client, "SyncBatchBooks")
