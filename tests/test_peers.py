"""The peers' transports (official async AWS SDK, aiodynamo) against real servers: the embedded emulator and moto
with signature checks. Driven through the engine's async driver directly, as ``write()`` will drive them."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator

import pytest

from core.books import Book, generate_books
from core.emulator import Conditions, Emulator
from core.errors import ConfigError
from core.report import RunReport
from core.retry import RetryPolicy
from core.sigv4 import Credentials
from core.tables import TABLES, count_items, create_table, reset_table
from core.targets import Target, make_target
from core.verify import verify
from core.writers.engine import Tally, run_async, works
from core.writers.peers import PEERS, TRANSPORTS, available

FAST = RetryPolicy(max_attempts=16, base=0.005, cap=0.05)
APPROACHES = [f"{peer}{suffix}" for peer in PEERS for suffix in ("", "-batch")]


def peer_of(approach: str) -> str:
    return approach.removesuffix("-batch")


def skip_unless_available(approach: str) -> None:
    reason = available(peer_of(approach))
    if reason is not None:
        pytest.skip(f"{approach}: {reason}")


async def run(approach: str, books: Iterable[Book], target: Target, *, table: str | None = None,
              concurrency: int = 16, policy: RetryPolicy = FAST, cancel: threading.Event | None = None,
              timeout: float = 10.0) -> RunReport:
    table = table or TABLES[approach]
    tally = Tally(approach, table, None, cancel)
    factory = TRANSPORTS[peer_of(approach)]
    async with factory(target, table, tally, concurrency=concurrency, timeout=timeout) as send:
        tally.start()
        started, cpu = time.perf_counter(), time.process_time()
        await run_async(works(books, approach.endswith("-batch"), tally), send, policy, tally, concurrency)
    return tally.report(time.perf_counter() - started, time.process_time() - cpu)


def write(approach: str, books: Iterable[Book], target: Target, **options: object) -> RunReport:
    """Run in a fresh loop and fail on any unclosed session or connector the run left behind."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = asyncio.run(run(approach, books, target, **options))  # type: ignore[arg-type]
        gc.collect()
    unclosed = [str(w.message) for w in caught if "nclosed" in str(w.message)]
    assert not unclosed, unclosed
    return report


def fresh(target: Target, approach: str) -> str:
    table = TABLES[approach]
    reset_table(target.client(), table)
    return table


# --- availability: a one-line reason, never a crash -------------------------------------------------------------

def test_availability_is_a_reason_or_none() -> None:
    assert available("aws-sdk", (3, 11)) is not None and "needs Python 3.12+" in str(available("aws-sdk", (3, 11)))
    expected = None if sys.version_info >= (3, 12) else available("aws-sdk", (3, 11))
    if expected is None:
        assert available("aws-sdk") in (None, "the aws-sdk-dynamodb package is not installed: run ./lab.sh setup")
    else:
        assert available("aws-sdk") == expected and "\n" not in expected
    with pytest.raises(ConfigError, match="unknown peer client"):
        available("boto4")


def test_an_unavailable_peer_is_a_config_error_not_an_import_crash(embedded_target: Target) -> None:
    if available("aws-sdk") is None:
        pytest.skip("aws-sdk is available on this interpreter")

    async def scenario() -> None:
        async with TRANSPORTS["aws-sdk"](embedded_target, "AwsSdkBooks", Tally("aws-sdk", "AwsSdkBooks"),
                                         concurrency=1, timeout=1.0):
            pass  # pragma: no cover - never reached

    with pytest.raises(ConfigError, match=r"unavailable: needs Python 3\.12"):
        asyncio.run(scenario())


# --- writes that verify -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("approach", APPROACHES)
def test_each_peer_writes_books_that_verify(embedded_target: Target, approach: str) -> None:
    skip_unless_available(approach)
    table = fresh(embedded_target, approach)
    report = write(approach, generate_books(300, seed=21), embedded_target)
    assert (report.items, report.items_ok, report.items_failed, report.items_unknown) == (300, 300, 0, 0)
    assert report.requests == (12 if approach.endswith("-batch") else 300) and report.retries == 0
    assert report.latency.count == report.requests and not report.errors
    check = verify(embedded_target.client(), table, generate_books(300, seed=21), report)
    assert (check.found, check.mismatched, check.lost, check.unexpected) == (300, 0, 0, 0)


@pytest.mark.parametrize("approach", APPROACHES)
def test_each_peer_passes_a_real_signature_check(moto_iam_target: Target, approach: str) -> None:
    skip_unless_available(approach)
    table = TABLES[approach]
    create_table(moto_iam_target.client(), table)
    report = write(approach, generate_books(60, seed=22), moto_iam_target, concurrency=8)
    assert report.items_ok == 60 and not report.errors
    assert verify(moto_iam_target.client(), table, generate_books(60, seed=22), report).found == 60


@pytest.mark.parametrize("approach", APPROACHES)
def test_a_wrong_secret_is_one_fatal_line_and_no_retry_storm(moto_iam_target: Target, approach: str) -> None:
    skip_unless_available(approach)
    create_table(moto_iam_target.client(), TABLES[approach])
    creds = moto_iam_target.credentials()
    wrong = make_target("custom", endpoint_url=moto_iam_target.endpoint_url,
                        credentials=Credentials(creds.access_key, "not-the-secret"))
    report = write(approach, generate_books(20, seed=23), wrong, concurrency=4)
    assert report.items_failed == 20 and report.retries == 0
    assert report.requests == (1 if approach.endswith("-batch") else 20)
    assert len(report.failures) == 1 and "\n" not in report.failures[0]
    assert "signature was rejected" in report.failures[0], report.failures
    assert "not-the-secret" not in repr(report)


# --- faults: throttling, cancellation -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[Emulator, Target]]:
    """An emulator of its own, so injected faults never reach other tests."""
    with Emulator() as server:
        yield server, make_target("embedded", embedded_url=server.endpoint_url)


@pytest.mark.parametrize("approach", APPROACHES)
def test_a_throttling_server_still_ends_with_every_item_written(faulty: tuple[Emulator, Target],
                                                                approach: str) -> None:
    skip_unless_available(approach)
    server, target = faulty
    table = fresh(target, approach)
    server.set_conditions(Conditions(throttle=0.3))
    try:
        report = write(approach, generate_books(300, seed=24), target)
    finally:
        server.set_conditions(Conditions())
    assert report.throttled > 0 and report.retries > 0
    assert (report.items_ok, report.items_failed, report.items_unknown) == (300, 0, 0)
    assert set(report.errors) <= {"ProvisionedThroughputExceededException"}
    check = verify(target.client(), table, generate_books(300, seed=24), report)
    assert (check.found, check.lost, check.unexpected) == (300, 0, 0)


@pytest.mark.parametrize("approach", ["aws-sdk", "aiodynamo"])
def test_a_server_that_always_throttles_ends_failed_within_the_budget(faulty: tuple[Emulator, Target],
                                                                       approach: str) -> None:
    skip_unless_available(approach)
    server, target = faulty
    table = fresh(target, approach)
    server.set_conditions(Conditions(throttle=1.0))
    try:
        report = write(approach, generate_books(6, seed=25), target,
                       policy=RetryPolicy(max_attempts=3, base=0.01, cap=0.02))
    finally:
        server.set_conditions(Conditions())
    assert (report.items_ok, report.items_failed) == (0, 6)
    assert report.requests == 3 * 6 and report.throttled == report.requests  # the client retried nothing itself
    assert any("ProvisionedThroughputExceededException" in reason for reason in report.failures)
    assert count_items(target.client(), table) == 0


@pytest.mark.parametrize("approach", APPROACHES)
def test_a_cancelled_run_leaves_nothing_unaccounted(faulty: tuple[Emulator, Target], approach: str) -> None:
    """The cancel event mid-run, with throttling: what was written is ok, what still needed a retry is unknown,
    nothing is dropped and nothing new is sent."""
    skip_unless_available(approach)
    server, target = faulty
    table = fresh(target, approach)
    stop = threading.Event()
    books = list(generate_books(3_000, seed=26))

    def stopping() -> Iterator[Book]:
        for index, book in enumerate(books):
            if index == 500:
                stop.set()
            yield book

    server.set_conditions(Conditions(latency_ms=5, throttle=0.6))
    try:
        report = write(approach, stopping(), target, concurrency=8, cancel=stop,
                       policy=RetryPolicy(max_attempts=30, base=0.01, cap=0.1))
    finally:
        server.set_conditions(Conditions())
    assert report.items == 500 and report.items == report.items_ok + report.items_unknown
    assert report.items_unknown > 0 and report.items_failed == 0
    time.sleep(0.2)  # the server finishes what it was given
    check = verify(target.client(), table, books[:500], report)
    assert check.lost == 0 and check.unexpected == 0 and check.found == report.items_ok + check.recovered


@pytest.mark.parametrize("approach", ["aws-sdk", "aiodynamo-batch"])
def test_cancelling_the_task_leaves_no_task_and_no_open_session(faulty: tuple[Emulator, Target],
                                                                 approach: str) -> None:
    skip_unless_available(approach)
    server, target = faulty
    fresh(target, approach)
    server.set_conditions(Conditions(latency_ms=50))

    async def scenario() -> set[asyncio.Task[object]]:
        task = asyncio.create_task(run(approach, generate_books(10_000, seed=27), target, concurrency=8))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert asyncio.run(scenario()) == set()
            gc.collect()
    finally:
        server.set_conditions(Conditions())
    assert not [w for w in caught if "nclosed" in str(w.message)]


@pytest.mark.parametrize("approach", ["aws-sdk", "aiodynamo"])
def test_timeouts_end_unknown_with_the_transport_code(faulty: tuple[Emulator, Target], approach: str) -> None:
    skip_unless_available(approach)
    server, target = faulty
    table = fresh(target, approach)
    server.set_conditions(Conditions(latency_ms=400))
    try:
        report = write(approach, generate_books(4, seed=28), target, timeout=0.2,
                       policy=RetryPolicy(max_attempts=2, base=0.01, cap=0.01))
    finally:
        server.set_conditions(Conditions())
    assert report.items_unknown == 4 and report.errors == {"Timeout": 8}
    time.sleep(0.5)
    assert verify(target.client(), table, generate_books(4, seed=28), report).lost == 0
