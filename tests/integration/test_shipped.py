"""The as-shipped approaches: each library called as its documentation shows, its own retries, the lab only watching.

What matters: the report says what DynamoDB really acknowledged (an independent scan agrees, and so do the capacity
model's own counts of requests, throttles and WRU), a library that gives up is recorded as such (its exception
named, the rest failed or unknown, nothing silently dropped), and every view labels them "as shipped". Real
engines only (the embedded dynalite with the capacity model or injected throttling).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.app.export import to_csv, to_dict
from core.app.terminal import results_table
from core.app.verdict import interrupted
from core.domain.approaches import APPROACHES, LAB_WRITERS, SHIPPED, label
from core.domain.books import generate_books
from core.domain.capacity import Capacity
from core.domain.plan import Conditions, Plan
from core.domain.results import Report, RunResult
from core.run.environment import environment
from core.servers.emulator import Emulator
from core.targets.tables import count_items, reset_table
from core.targets.target import Target, make_target
from core.targets.verify import verify
from core.writers import WriterOptions, write
from core.writers.shipped import _isbns, retry_settings

AVAILABLE = [name for name in SHIPPED if APPROACHES[name].unavailable is None]


@pytest.fixture
def server() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def target_of(server: Emulator) -> Target:
    return make_target("embedded", server_url=server.endpoint_url)


# --- pure ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("retries", "expected"), [
    ({}, "botocore legacy retry mode, 10 attempts per call (botocore's default for DynamoDB)"),
    ({"mode": "legacy"}, "botocore legacy retry mode, 10 attempts per call (botocore's default for DynamoDB)"),
    ({"mode": "standard"}, "botocore standard retry mode, 4 attempts per call (botocore's default for DynamoDB)"),
    ({"mode": "standard", "total_max_attempts": 4}, "botocore standard retry mode, 4 attempts per call (set)"),
    ({"max_attempts": 5}, "botocore legacy retry mode, 6 attempts per call (set)"),  # retries, not attempts
])
def test_retry_settings_name_the_mode_and_attempts(retries: dict[str, object], expected: str) -> None:
    assert retry_settings(retries) == expected


def test_a_resource_left_alone_gets_botocores_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    target = Target("custom", endpoint_url="http://127.0.0.1:9")
    retries = target.resource().meta.client.meta.config.retries
    assert retry_settings(retries).startswith("botocore legacy retry mode, 10")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")  # the user's environment is honoured, as their code would be
    fresh = Target("custom", endpoint_url="http://127.0.0.1:9")
    assert retry_settings(fresh.resource().meta.client.meta.config.retries).startswith("botocore adaptive")


@pytest.mark.parametrize(("requests", "keys"), [
    ([{"PutRequest": {"Item": {"isbn": {"S": "1"}, "title": {"S": "t"}}}}], ["1"]),  # on the wire
    ([{"PutRequest": {"Item": {"isbn": "2"}}}], ["2"]),  # before boto3's resource layer serialises it
    ([{"DeleteRequest": {"Key": {"isbn": {"S": "3"}}}}, None, {}], []),
    (None, []),
])
def test_the_keys_of_a_batch_are_read_in_either_form(requests: list[dict[str, object]] | None,
                                                     keys: list[str]) -> None:
    assert _isbns(requests or ()) == keys


def test_the_as_shipped_approaches_are_labelled_and_kept_out_of_the_fair_set() -> None:
    assert SHIPPED == ("boto3-batch-writer", "boto3-batch-writer-threaded", "pynamodb-batch", "awswrangler")
    assert not set(SHIPPED) & set(LAB_WRITERS)
    assert all(label(name) == f"{name} (as shipped)" for name in SHIPPED)
    assert label("threaded-batch") == "threaded-batch" and label("gone-approach") == "gone-approach"
    assert all(APPROACHES[name].shipped for name in SHIPPED) and not any(APPROACHES[n].shipped for n in LAB_WRITERS)


# --- real engine ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("approach", SHIPPED)
def test_each_writes_and_verifies_and_says_it_is_as_shipped(server: Emulator, approach: str) -> None:
    if (reason := APPROACHES[approach].unavailable) is not None:
        pytest.skip(reason)
    target = target_of(server)
    table = APPROACHES[approach].table
    reset_table(target.client(), table)
    seen: list[int] = []
    report = write(approach, generate_books(130, seed=41), target, WriterOptions(threads=3), progress=seen.append)
    assert (report.items, report.items_ok, report.items_failed, report.items_unknown) == (130, 130, 0, 0)
    assert seen and seen[-1] == 130 and report.timeline[-1][1] == 130  # progress, approximate but it ends right
    assert report.notes and report.notes[0].startswith("as shipped: ") and "retry" in report.notes[0]
    check = verify(target.client(), table, generate_books(130, seed=41), report)
    assert (check.found, check.lost, check.unexpected) == (130, 0, 0)
    result = RunResult(0, report, check)
    exported = to_dict(Report(Plan(items=130, approaches=(approach,)), environment(), (result,)))["runs"][0]
    assert exported["as_shipped"] is True and exported["label"] == f"{approach} (as shipped)"
    assert f"{approach} (as shipped)" in results_table(Report(Plan(items=130, approaches=(approach,)),
                                                              environment(), (result,)))
    assert "(as shipped)" in to_csv(Report(Plan(items=130, approaches=(approach,)), environment(), (result,)))


def test_a_library_that_gives_up_is_recorded_with_its_exception(server: Emulator) -> None:
    """PynamoDB resends UnprocessedItems 3 times, then raises PutError: the run ends there, as the user's program
    would; what DynamoDB acknowledged is ok, what PynamoDB was given and gave up on failed, the books it never took
    not sent (the run is over, not interrupted), and the table agrees."""
    if APPROACHES["pynamodb-batch"].unavailable:
        pytest.skip(APPROACHES["pynamodb-batch"].unavailable)
    target = target_of(server)
    table = APPROACHES["pynamodb-batch"].table
    reset_table(target.client(), table)
    server.set_conditions(Conditions(throttle=0.9))  # each item of a batch held back with this probability
    report = write("pynamodb-batch", generate_books(200, seed=42), target)
    server.set_conditions(Conditions())
    assert report.items == 200 and report.items_unknown == 0
    assert report.items_ok + report.items_failed + report.items_unknown + report.items_not_sent == 200
    assert 0 < report.items_failed <= 25 < report.items_not_sent  # one batch of 25 given, then it raised
    assert report.items_ok + report.items_failed == report.taken  # failed: given to PynamoDB and refused
    assert report.failures[0].startswith("PutError ended the run"), report.failures
    assert report.ended is not None and report.ended.startswith("PutError")
    assert any(line.startswith("not sent: PutError") for line in report.failures)  # the rest of the stream
    check = verify(target.client(), table, generate_books(report.taken, seed=42), report)
    assert count_items(target.client(), table) == report.items_ok == check.found
    assert (check.lost, check.recovered, check.missing) == (0, 0, report.items_failed)
    result = RunResult(0, report, check)
    assert not interrupted(result, Plan(items=200)) and not result.clean  # a FAIL, charted beside the others


def _spend_burst(server: Emulator, target: Target, table: str) -> None:
    """Use up a provisioned=5 table's 1,500 WRU of burst with five ~293 WRU items, then delete them (its burst is
    then a few dozen WRU: the run meets the 5 WRU/s line at once)."""
    client = target.client(max_attempts=10)
    pad = "x" * 300_000
    for index in range(5):
        client.put_item(TableName=table, Item={"isbn": {"S": f"burst-{index}"}, "pad": {"S": pad}})
    for index in range(5):
        client.delete_item(TableName=table, Key={"isbn": {"S": f"burst-{index}"}})


@pytest.mark.parametrize("approach", ["boto3-batch-writer", "pynamodb-batch"])
def test_under_provisioned_5_the_report_matches_an_independent_scan(server: Emulator, approach: str) -> None:
    """Burst spent, 5 WRU/s: the library meets throttling. Its report's acknowledged items are what a scan finds,
    its HTTP attempts and throttled ones are what the capacity model counted, and the WRU the model charged are the
    books written."""
    if (reason := APPROACHES[approach].unavailable) is not None:
        pytest.skip(reason)
    target = target_of(server)
    table = APPROACHES[approach].table
    reset_table(target.client(), table)
    server.set_capacity(Capacity("provisioned", wcu=5))
    try:
        _spend_burst(server, target, table)
        before = server.stats()["capacity"]["tables"][table]
        report = write(approach, generate_books(60, seed=43), target)
        after = server.stats()["capacity"]["tables"][table]
    finally:
        server.set_capacity(Capacity())
    scanned = count_items(target.client(), table)
    assert scanned == report.items_ok and report.items_unknown == 0
    assert report.items_ok + report.items_failed + report.items_not_sent == 60
    assert after["consumed_wru"] - before["consumed_wru"] == scanned  # one WRU per book written, none wasted
    assert after["requests"] - before["requests"] == report.requests
    throttled = (after["refused_requests"] - before["refused_requests"]
                 + after["partial_requests"] - before["partial_requests"])
    assert throttled == report.throttled > 0  # the library met the capacity line, and the report shows how often
    assert report.retries > 0  # its resends of UnprocessedItems and botocore's attempts, not new work
    if report.items_failed:  # only a library that gave up leaves books out, and it says which exception
        assert "ended the run" in report.failures[0]
