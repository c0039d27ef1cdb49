"""Leases on the lab's tables, so two runs on one endpoint never reset or verify each other's tables.

``hold(client, tables)`` is a context manager: on entry it leases every table (conditional writes to ``LabLeases``)
or, when another live run holds one, writes nothing and raises ``TargetError`` naming it. A daemon thread renews the
leases until exit releases them; a dead run's leases expire after ``TTL`` seconds.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from core.domain.errors import TargetError
from core.targets.monitor import every
from core.targets.tables import LEASE_TABLE, create_table
from core.targets.target import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TTL = 60.0  # seconds a lease lives without renewal
RENEW_EVERY = 15.0


def _acquire(client: DynamoDBClient, table: str, run: str, now: float, since: float) -> None:
    """Take or renew the lease with UpdateItem (an upsert): the emulator's injected write faults hit PutItem and
    BatchWriteItem only, so a run under ``--faults throttle=1.0`` still takes and keeps its lease."""
    try:
        client.update_item(
            TableName=LEASE_TABLE,
            Key={"isbn": {"S": table}},
            UpdateExpression="SET #run = :run, #until = :until, #since = :since",
            ConditionExpression="attribute_not_exists(isbn) OR #until < :now OR #run = :run",
            ExpressionAttributeNames={"#until": "until", "#run": "run", "#since": "since"},
            ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":run": {"S": run},
                                       ":until": {"N": f"{now + TTL:.3f}"}, ":since": {"N": f"{since:.3f}"}},
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        raise TargetError(_held_by_other(client, table, now)) from None


def _held_by_other(client: DynamoDBClient, table: str, now: float) -> str:
    item: Any = client.get_item(TableName=LEASE_TABLE, Key={"isbn": {"S": table}}, ConsistentRead=True).get("Item")
    since = time.strftime("%H:%M:%S", time.localtime(float(item["since"]["N"]))) if item else "?"
    left = max(0.0, float(item["until"]["N"]) - now) if item else 0.0
    return (f"another run (started {since}) is using table {table} on this endpoint: wait for it to finish, or "
            f"cancel it (its lease expires {left:.0f} s after it stops), or use another target")


def _release(client: DynamoDBClient, table: str, run: str) -> bool:
    """Give the lease back; False when the target did not answer (the lease then expires by itself)."""
    try:
        client.delete_item(TableName=LEASE_TABLE, Key={"isbn": {"S": table}},
                           ConditionExpression="#run = :run", ExpressionAttributeNames={"#run": "run"},
                           ExpressionAttributeValues={":run": {"S": run}})
    except ClientError:
        return True
    except BotoCoreError:
        return False
    return True


def _release_all(client: DynamoDBClient, tables: Iterable[str], run: str) -> None:
    """Release every lease, stopping at the first the target does not answer (a dead or hung target would make
    each further attempt wait out its timeouts; the rest expire after ``TTL``)."""
    for name in tables:
        if not _release(client, name, run):
            return


@contextmanager
def hold(client: DynamoDBClient, tables: Iterable[str], clock: Callable[[], float] = time.time,
         cancel: threading.Event | None = None) -> Iterator[str]:
    """Hold a lease on every table while the block runs; yields this run's id. A cancel while the lease table is
    being created stops that wait (``Cancelled``), nothing taken."""
    run, names, since = uuid.uuid4().hex, sorted(set(tables)), clock()
    create_table(client, LEASE_TABLE, cancel=cancel)
    taken: list[str] = []
    try:
        for name in names:
            _acquire(client, name, run, clock(), since)
            taken.append(name)
    except BaseException:
        _release_all(client, taken, run)
        raise
    def renew() -> None:
        for name in names:
            with contextlib.suppress(ClientError, BotoCoreError, TargetError):
                _acquire(client, name, run, clock(), since)

    try:
        with every(RENEW_EVERY, renew, "lab-lease"):
            yield run
    finally:
        _release_all(client, names, run)
