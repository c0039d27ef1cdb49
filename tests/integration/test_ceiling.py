"""The client ceiling: the figures' file, the planner holding writers to it, and bench.ceiling's instant server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.ceiling import answer, instant_server, request_end, target_at
from core.domain.books import generate_books
from core.domain.capacity import parse_capacity
from core.forecast.ceiling import ClientCeiling, cores_for, load
from core.forecast.estimate import Calibration
from core.forecast.planner import LoadSpec, plan_load, writer_row
from core.writers import WriterOptions, write

CEILING = ClientCeiling({"async": 8_000.0, "async-batch": 100_000.0}, "2026-12-06",
                        {"cpu_count": 2, "processor": "x86_64", "python": "3.13.0"}, "an instant local server")


@pytest.mark.parametrize(("rate", "per_core", "cores"), [
    (40_000, 100_000, 1), (40_000, 40_000, 1), (40_000, 39_999, 2), (40_000, 8_000, 5), (40_000, 7_000, 6),
    (1, 1e9, 1),
])
def test_cores_for_a_rate(rate: float, per_core: float, cores: int) -> None:
    assert cores_for(rate, per_core) == cores


def test_no_cores_write_at_a_ceiling_of_nothing() -> None:
    with pytest.raises(ValueError, match="writes nothing"):
        cores_for(40_000, 0)


def test_the_ceiling_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "client_ceiling.json"
    path.write_text(json.dumps(CEILING.as_dict()))
    assert load(path) == CEILING


@pytest.mark.parametrize("text", [None, "", "{", "[]", '{"measured": "2026-12-06"}',
                                  '{"items_per_core_s": 3, "measured": "x"}'])
def test_a_missing_or_foreign_ceiling_file_is_no_ceiling(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "client_ceiling.json"
    if text is not None:
        path.write_text(text)
    assert load(path) is None


def _spec(items: int = 10_000_000) -> LoadSpec:
    return LoadSpec(items=items, item_bytes=100, table="existing", capacity=parse_capacity("off"), target="aws")


@pytest.mark.parametrize("name", ["async", "async-batch"])
def test_a_worker_never_writes_faster_than_the_client_ceiling(name: str) -> None:
    spec = _spec()
    free = writer_row(spec, name, Calibration.none(), "prior", workers=1, client_ceiling=None)
    slow = ClientCeiling({name: 10.0}, "2026-12-06", {}, "test")  # far below any model: it binds
    held = writer_row(spec, name, Calibration.none(), "prior", workers=1, client_ceiling=slow)
    fast = ClientCeiling({name: 1e12}, "2026-12-06", {}, "test")  # far above: it changes nothing
    unheld = writer_row(spec, name, Calibration.none(), "prior", workers=1, client_ceiling=fast)
    assert held.seconds == pytest.approx(spec.items / 10.0, rel=0.01)
    assert held.seconds > free.seconds and "client's CPU ceiling of 10 items/s a core" in held.basis
    assert unheld == free


def test_the_plan_says_how_many_client_cores_a_quota_table_takes() -> None:
    plan = plan_load(_spec(), approaches=("async", "async-batch", "sequential"), client_ceiling=CEILING)
    assert ("client cores for 40,000 items/s (a table at the default account quota), at least, by the client's own "
            "CPU (bench.ceiling): async-batch 1, async 5") in plan.notes
    assert any(source.startswith("client ceiling: bench.ceiling, 2026-12-06, 2-core x86_64") for source in plan.sources)
    bare = plan_load(_spec(), approaches=("async",), client_ceiling=None)
    assert not any("client cores" in note for note in bare.notes)


PUT = b"POST / HTTP/1.1\r\nx-amz-target: T\r\ncontent-length: 2\r\n\r\n{}"
CHUNKED = b"POST / HTTP/1.1\r\nX-Amz-Target: T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"


@pytest.mark.parametrize(("buffer", "parsed"), [
    (b"", None),
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n", None),
    (PUT[:-1], None),
    (PUT, (len(PUT), "T", b"{}")),
    (PUT + CHUNKED[:20], (len(PUT), "T", b"{}")),  # pipelined: the first request only
    (CHUNKED, (len(CHUNKED), "T", b"{}")),
    (CHUNKED[:-5], None),
])
def test_the_instant_server_finds_whole_requests(buffer: bytes, parsed: tuple[int, str, bytes] | None) -> None:
    assert request_end(buffer) == parsed


@pytest.mark.parametrize(("target", "body", "status", "answered"), [
    ("DynamoDB_20120810.PutItem", b"{}", 200, {}),
    ("DynamoDB_20120810.BatchWriteItem", b"{}", 200, {"UnprocessedItems": {}}),
    ("DynamoDB_20120810.DescribeTable", b'{"TableName": "books"}', 200, "books"),
    ("DynamoDB_20120810.DescribeTable", b"{", 400, "ValidationException"),
    ("DynamoDB_20120810.Scan", b"{}", 400, "ValidationException"),
])
def test_the_instant_server_answers(target: str, body: bytes, status: int, answered: object) -> None:
    code, text = answer(target, body)
    data = json.loads(text)
    assert code == status
    if isinstance(answered, dict):
        assert data == answered
    elif status == 200:
        assert data["Table"]["TableName"] == answered and data["Table"]["KeySchema"][0]["AttributeName"] == "isbn"
    else:
        assert str(answered) in data["__type"]


@pytest.fixture(scope="module")
def instant() -> Iterator[str]:
    with instant_server() as url:
        yield url


@pytest.mark.parametrize("name", ["async", "async-batch", "sequential-batch", "aiobotocore"])
def test_the_writers_take_the_instant_servers_answers_as_written(instant: str, name: str) -> None:
    books = list(generate_books(60, seed=3))
    report = write(name, books, target_at(instant), WriterOptions(concurrency=8, threads=2))
    assert (report.items_ok, report.items_failed, report.items_unknown, report.retries) == (60, 0, 0, 0)
