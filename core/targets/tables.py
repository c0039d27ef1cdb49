"""Lab tables: one on-demand table per approach, keyed by ``isbn`` (S, HASH).

Every function blocks until the table is ACTIVE (or gone), or until ``cancel`` is set: it then raises ``Cancelled``
within one poll (``POLL_CAP`` seconds plus one DescribeTable). A table with another key schema is never touched:
``TargetError`` says how to fix it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core.domain.approaches import TABLES
from core.domain.errors import Cancelled, TargetError
from core.targets.target import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY = "isbn"
LEASE_TABLE = "LabLeases"  # core.targets.lease: which run holds which table (keyed by the table's name under KEY)
POLL_CAP = 1.0  # the longest pause between two DescribeTable calls while waiting


@dataclass(frozen=True)
class TableInfo:
    name: str
    status: str
    item_count: int  # DynamoDB's estimate (updated about every six hours on AWS); use count_items for truth
    billing_mode: str



def _wait(probe: Callable[[], bool], what: str, timeout: float, cancel: threading.Event | None = None) -> None:
    delay, deadline = 0.02, time.monotonic() + timeout
    stop = cancel or threading.Event()
    while not stop.is_set() and not probe():
        if time.monotonic() > deadline:
            raise TargetError(f"timed out after {timeout:.0f} s waiting for {what}")
        stop.wait(delay)
        delay = min(delay * 2, POLL_CAP)
    if stop.is_set():
        raise Cancelled(f"cancelled while waiting for {what}")


def describe_table(client: DynamoDBClient, name: str) -> TableInfo | None:
    """The table's status, or None when it does not exist."""
    try:
        table: Any = client.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    return TableInfo(name, table["TableStatus"], int(table.get("ItemCount", 0)),
                     table.get("BillingModeSummary", {}).get("BillingMode", "PAY_PER_REQUEST"))


def check_schema(client: DynamoDBClient, name: str) -> None:
    """Raise ``TargetError`` if ``name`` exists but is not keyed by ``isbn`` (S, HASH) alone."""
    try:
        table: Any = client.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return
        raise
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    schema = [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]
    if schema != [(KEY, "HASH")] or types.get(KEY) != "S":
        raise TargetError(f"table {name} exists with another key schema {schema}: delete it or use another target"
                          " (the lab needs isbn (S) as its only key)")


def create_table(client: DynamoDBClient, name: str, timeout: float = 300.0,
                 cancel: threading.Event | None = None) -> None:
    """Create an on-demand table keyed by isbn and wait until it is ACTIVE (an existing lab table is kept)."""
    check_schema(client, name)
    try:
        client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as error:
        if error_code(error) != "ResourceInUseException":
            raise
    _wait(lambda: (info := describe_table(client, name)) is not None and info.status == "ACTIVE",
          f"table {name} to become ACTIVE", timeout, cancel)


def delete_table(client: DynamoDBClient, name: str, timeout: float = 300.0,
                 cancel: threading.Event | None = None) -> None:
    """Delete a table if it exists and wait until it is gone."""
    try:
        client.delete_table(TableName=name)
    except ClientError as error:
        if error_code(error) not in ("ResourceNotFoundException", "ResourceInUseException"):
            raise
    _wait(lambda: describe_table(client, name) is None, f"table {name} to be deleted", timeout, cancel)


def reset_table(client: DynamoDBClient, name: str, timeout: float = 300.0,
                cancel: threading.Event | None = None) -> None:
    """Empty a lab table by deleting and recreating it (after checking it is one of ours)."""
    check_schema(client, name)
    delete_table(client, name, timeout, cancel)
    create_table(client, name, timeout, cancel)


def count_items(client: DynamoDBClient, name: str) -> int:
    """The exact number of items, by a paginated ``Scan`` with ``Select=COUNT``."""
    total = 0
    for page in client.get_paginator("scan").paginate(TableName=name, Select="COUNT"):
        total += int(page["Count"])
    return total


def list_lab_tables(client: DynamoDBClient) -> list[str]:
    """The lab's tables present on the target."""
    names: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        names.update(page["TableNames"])
    return sorted(names & (TABLES | {LEASE_TABLE}))


def delete_lab_tables(client: DynamoDBClient) -> list[str]:
    """Delete every lab table on the target; returns their names."""
    names = list_lab_tables(client)
    for name in names:
        delete_table(client, name)
    return names
