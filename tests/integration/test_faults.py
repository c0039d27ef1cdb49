"""The fault matrix: under injected throttling, errors, resets, timeouts and a dying server, nothing is lost and
every failure is reported clearly, within a bounded time."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest

from core.domain.books import generate_books
from core.domain.plan import Conditions, Plan
from core.domain.results import ProgressEvent
from core.run.runner import run
from core.servers.emulator import Emulator
from core.targets.tables import create_table
from core.targets.target import Target, make_target
from core.wire.retry import explain
from core.wire.sigv4 import Credentials
from core.writers import APPROACHES, WRITERS, WriterOptions, write

ALL = tuple(name for name, a in APPROACHES.items()  # aws-sdk: Python 3.12+; s3-import, bulk-put: no writers; the
            if a.unavailable is None and a.name in WRITERS and not a.shipped)  # as-shipped ones retry their own way


@pytest.fixture
def server() -> Iterator[Emulator]:
    """An emulator of its own per test: faults and kills never reach other tests."""
    with Emulator() as emulator:
        yield emulator


def test_every_approach_survives_throttling_errors_and_resets(server: Emulator) -> None:
    plan = Plan(items=60, approaches=ALL, threads=6, concurrency=20, max_attempts=16,
                conditions=Conditions(throttle=0.3, error=0.05, reset=0.02))
    report = run(plan, emulator=server)
    assert [r.approach for r in report.runs] == list(ALL), report.error
    for result in report.runs:
        check = result.verification
        assert result.report.retries > 0, result.approach
        assert (check.found, check.lost, check.unexpected, check.mismatched) == (60, 0, 0, 0), result.approach
    assert server.stats()["resets"] > 0 and server.stats()["errors"] > 0 and server.stats()["throttled"] > 0


def test_a_server_that_always_throttles_makes_every_approach_give_up_in_bounded_time(server: Emulator) -> None:
    plan = Plan(items=5, approaches=ALL, threads=5, concurrency=5, max_attempts=3,
                conditions=Conditions(throttle=1.0))
    started = time.monotonic()
    report = run(plan, emulator=server)
    # Three attempts each: boto3 waits up to 1 + 2 s (botocore's backoff), ours as much; five items in sequence.
    assert time.monotonic() - started < 120
    assert not report.clean
    for result in report.runs:
        assert (result.report.items_ok, result.report.items_failed) == (0, 5), result.approach
        assert result.report.requests <= 5 * 3, result.approach
        assert any("ProvisionedThroughputExceededException" in reason for reason in result.report.failures)
        assert result.verification.found == 0 and result.verification.lost == 0


@pytest.mark.parametrize("approach", ["sequential", "async", "aiobotocore-batch"])
def test_timeouts_are_retried_and_unknown_outcomes_are_recovered(server: Emulator, approach: str) -> None:
    plan = Plan(items=4, approaches=(approach,), max_attempts=2, request_timeout=0.3,
                conditions=Conditions(latency_ms=600))
    report = run(plan, emulator=server)
    result = report.runs[0]
    assert result.report.items_unknown == 4 and set(result.report.errors) == {"Timeout"}
    assert result.report.retries >= 1
    # The server finished the writes after the client gave up: present, so recovered, never "lost".
    assert result.verification.lost == 0 and result.verification.recovered + result.verification.missing == 4


def test_the_emulator_killed_mid_run_ends_the_plan_with_a_clear_error() -> None:
    emulator = Emulator().start()
    pid = emulator.pid
    assert pid is not None

    def kill(event: ProgressEvent) -> None:
        if event.phase == "write" and event.done >= 100 and emulator.running:
            os.kill(pid, signal.SIGKILL)

    started = time.monotonic()
    try:
        report = run(Plan(items=5_000, approaches=("sequential", "async")), emulator=emulator, progress=kill)
    finally:
        emulator.stop()
    assert time.monotonic() - started < 90
    assert report.error is not None and "emulator stopped during the sequential run" in report.error
    assert not report.clean and len(report.runs) == 1 and not report.runs[0].clean
    assert report.runs[0].report.items_ok < 5_000
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("approach", ["sequential", "threaded-batch", "async", "aiobotocore"])
def test_a_wrong_secret_is_a_clear_authentication_error_at_once(moto_iam_target: Target, approach: str) -> None:
    create_table(moto_iam_target.client(), APPROACHES[approach].table)
    creds = moto_iam_target.credentials()
    wrong = make_target("custom", endpoint_url=moto_iam_target.endpoint_url,
                        credentials=Credentials(creds.access_key, "wrong-secret"))
    started = time.monotonic()
    report = write(approach, generate_books(10, seed=1), wrong, WriterOptions(threads=2, concurrency=2))
    assert time.monotonic() - started < 10
    assert report.items_failed == 10 and report.retries == 0  # no retry storm
    assert any("signature was rejected" in reason for reason in report.failures), report.failures


def test_an_expired_token_says_to_refresh_credentials() -> None:
    line = explain("ExpiredTokenException", "The security token included in the request is expired")
    assert "refresh your credentials" in line and "expired" in line and "\n" not in line
