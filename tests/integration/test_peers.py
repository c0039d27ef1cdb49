"""The peers (the official async AWS SDK, aiodynamo) against real servers: the embedded emulator and moto with
signature checks, through ``write()`` like every approach; their availability as a reason, never a crash."""

from __future__ import annotations

import gc
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pytest

from core.domain.approaches import APPROACHES
from core.domain.books import Book, generate_books
from core.domain.errors import ConfigError
from core.domain.plan import Conditions, Plan
from core.domain.results import RunReport
from core.servers.emulator import Emulator
from core.targets.tables import count_items, create_table, reset_table
from core.targets.target import Target, make_target
from core.targets.verify import verify
from core.wire.retry import RetryPolicy
from core.wire.sigv4 import Credentials
from core.writers import WriterOptions, write
from core.writers.peers import PEERS, available
from tests.integration.test_writers import tasks_left_after_cancel

FAST = RetryPolicy(max_attempts=16, base=0.005, cap=0.05)
PEER_APPROACHES = [name for name, a in APPROACHES.items() if a.client in PEERS]


def skip_unless_available(approach: str) -> None:
    reason = APPROACHES[approach].unavailable
    if reason is not None:
        pytest.skip(reason)


def checked_write(approach: str, books: Iterable[Book], target: Target, table: str | None = None,
                  **options: object) -> RunReport:
    """``write`` (to ``table``, else the approach's) that fails the test on any unclosed session or connector the run
    left behind."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = write(approach, books, target, WriterOptions(**options), table=table)  # type: ignore[arg-type]
        gc.collect()
    unclosed = [str(w.message) for w in caught if "nclosed" in str(w.message)]
    assert not unclosed, unclosed
    return report


def fresh(target: Target, approach: str) -> str:
    """A new table of this test's own (what a slow server writes late never lands in another test's table)."""
    table = f"{APPROACHES[approach].table}-{uuid.uuid4().hex[:8]}"
    create_table(target.client(), table)
    return table


# --- availability: a one-line reason, never a crash -------------------------------------------------------------

def test_the_four_peer_approaches_are_registered() -> None:
    assert PEER_APPROACHES == ["aws-sdk", "aws-sdk-batch", "aiodynamo", "aiodynamo-batch"]
    assert {APPROACHES[name].requires_python for name in PEER_APPROACHES} == {(3, 12), (3, 11)}


def test_an_older_python_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 11, 7, "final", 0))
    monkeypatch.setattr(sys, "version", "3.11.7 (main) [GCC]")
    reason = available("aws-sdk")
    assert reason is not None and "\n" not in reason
    assert reason.startswith("aws-sdk needs Python 3.12+ (this is 3.11.7)")
    assert available("aiodynamo") is None
    with pytest.raises(ConfigError, match=r"aws-sdk-batch needs Python 3\.12\+.*or leave aws-sdk-batch out"):
        Plan(approaches=("async", "aws-sdk-batch"))
    with pytest.raises(ConfigError, match="unknown peer client"):
        available("boto4")


def test_a_missing_package_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "aiodynamo" else real(name, *a))
    assert available("aiodynamo") == ("aiodynamo needs the aiodynamo package, which is not installed: "
                                      "run ./lab.sh setup")


def test_writing_with_an_unavailable_peer_is_a_config_error(embedded_target: Target) -> None:
    if available("aws-sdk") is None:
        pytest.skip("aws-sdk is available on this interpreter")
    with pytest.raises(ConfigError, match=r"aws-sdk needs Python 3\.12\+"):
        write("aws-sdk", generate_books(3, seed=1), embedded_target)


# --- writes that verify -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("approach", PEER_APPROACHES)
def test_each_peer_writes_books_that_verify(embedded_target: Target, approach: str) -> None:
    skip_unless_available(approach)
    table = fresh(embedded_target, approach)
    report = checked_write(approach, generate_books(300, seed=21), embedded_target, table, concurrency=16, policy=FAST)
    assert (report.items, report.items_ok, report.items_failed, report.items_unknown) == (300, 300, 0, 0)
    assert report.requests == (12 if APPROACHES[approach].batch else 300) and report.retries == 0
    assert report.latency.count == report.requests and not report.errors
    check = verify(embedded_target.client(), table, generate_books(300, seed=21), report)
    assert (check.found, check.mismatched, check.lost, check.unexpected) == (300, 0, 0, 0)


@pytest.mark.parametrize("approach", PEER_APPROACHES)
def test_each_peer_passes_a_real_signature_check(moto_iam_target: Target, approach: str) -> None:
    skip_unless_available(approach)
    table = APPROACHES[approach].table
    create_table(moto_iam_target.client(), table)
    report = checked_write(approach, generate_books(60, seed=22), moto_iam_target, concurrency=8)
    assert report.items_ok == 60 and not report.errors
    assert verify(moto_iam_target.client(), table, generate_books(60, seed=22), report).found == 60


@pytest.mark.parametrize("approach", PEER_APPROACHES)
def test_a_wrong_secret_is_one_fatal_line_and_no_retry_storm(moto_iam_target: Target, approach: str) -> None:
    skip_unless_available(approach)
    create_table(moto_iam_target.client(), APPROACHES[approach].table)
    creds = moto_iam_target.credentials()
    wrong = make_target("custom", endpoint_url=moto_iam_target.endpoint_url,
                        credentials=Credentials(creds.access_key, "not-the-secret"))
    report = checked_write(approach, generate_books(60, seed=23), wrong, concurrency=4)
    assert report.items_failed == 60 and report.retries == 0
    assert len(report.errors) == 1 and set(report.errors) <= {"InvalidSignatureException", "SignatureDoesNotMatch"}
    assert report.requests <= (3 if APPROACHES[approach].batch else 20)  # the breaker stops sending
    assert "signature was rejected" in report.failures[0] and "\n" not in report.failures[0], report.failures
    assert "not-the-secret" not in repr(report)


# --- faults: throttling, timeouts, cancellation -------------------------------------------------------------------

@contextmanager
def injected(server: Emulator, conditions: Conditions) -> Iterator[None]:
    """``conditions`` on ``server`` for the block, none after it."""
    server.set_conditions(conditions)
    try:
        yield
    finally:
        server.set_conditions(Conditions())


@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[Emulator, Target]]:
    """An emulator of its own, so injected faults never reach other tests."""
    with Emulator() as server:
        yield server, make_target("embedded", server_url=server.endpoint_url)


@pytest.mark.parametrize("approach", PEER_APPROACHES)
def test_a_throttling_server_still_ends_with_every_item_written(faulty: tuple[Emulator, Target],
                                                                approach: str) -> None:
    skip_unless_available(approach)
    server, target = faulty
    table = fresh(target, approach)
    with injected(server, Conditions(throttle=0.3)):
        report = checked_write(approach, generate_books(300, seed=24), target, table, concurrency=16, policy=FAST)
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
    with injected(server, Conditions(throttle=1.0)):
        report = checked_write(approach, generate_books(6, seed=25), target, table, concurrency=6,
                               policy=RetryPolicy(max_attempts=3, base=0.01, cap=0.02))
    assert (report.items_ok, report.items_failed) == (0, 6)
    assert report.requests <= 3 * 6 and report.throttled == report.requests  # the client retried nothing itself
    assert any("ProvisionedThroughputExceededException" in reason for reason in report.failures)
    assert count_items(target.client(), table) == 0


@pytest.mark.parametrize("approach", ["aws-sdk", "aiodynamo"])
def test_timeouts_end_unknown_with_the_transport_code(faulty: tuple[Emulator, Target], approach: str) -> None:
    skip_unless_available(approach)
    server, target = faulty
    table = fresh(target, approach)
    with injected(server, Conditions(latency_ms=400)):
        report = checked_write(approach, generate_books(4, seed=28), target, table, request_timeout=0.2,
                               policy=RetryPolicy(max_attempts=2, base=0.01, cap=0.01))
    assert report.items_unknown == 4 and report.errors == {"Timeout": 8}
    deadline = time.monotonic() + 30  # the server still finishes the writes it was given
    while count_items(target.client(), table) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert verify(target.client(), table, generate_books(4, seed=28), report).lost == 0


@pytest.mark.parametrize("approach", PEER_APPROACHES)
def test_a_cancelled_run_leaves_nothing_unaccounted(faulty: tuple[Emulator, Target], approach: str) -> None:
    """The stop signal mid-run, with throttling: what was written is ok, what still needed a retry is unknown (or
    failed when it was never sent), nothing is dropped, and the table holds exactly what the report says."""
    skip_unless_available(approach)
    server, target = faulty
    table = fresh(target, approach)
    stop = threading.Event()
    books = list(generate_books(3_000, seed=26))

    def stopping() -> Iterator[Book]:
        for index, book in enumerate(books):
            if index == 100:  # throttling once the run has succeeded (the breaker stays shut: 0.5 ** 24 in a row)
                server.set_conditions(Conditions(latency_ms=5, throttle=0.5))
            if index == 500:
                stop.set()
            yield book

    try:
        report = checked_write(approach, stopping(), target, table, concurrency=8, cancel=stop,
                               policy=RetryPolicy(max_attempts=30, base=0.01, cap=0.1))
    finally:
        server.set_conditions(Conditions())
    assert report.halted is None
    assert 500 <= report.items < 600 and report.items == report.items_ok + report.items_unknown + report.items_failed
    check = verify(target.client(), table, books[: report.items], report)
    assert check.lost == 0 and check.unexpected == 0 and check.found == report.items_ok + check.recovered


@pytest.mark.parametrize("approach", ["aws-sdk", "aiodynamo-batch"])
def test_cancelling_the_task_leaves_no_task_and_no_open_session(faulty: tuple[Emulator, Target],
                                                                 approach: str) -> None:
    skip_unless_available(approach)
    server, target = faulty
    reset_table(target.client(), APPROACHES[approach].table)  # tasks_left_after_cancel writes the approach's own
    with injected(server, Conditions(latency_ms=50)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tasks_left_after_cancel(approach, target, seed=27, concurrency=8) == set()
        gc.collect()
    assert not [w for w in caught if "nclosed" in str(w.message)]
