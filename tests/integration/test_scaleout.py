"""core.run.scaleout on real Dask clusters (LocalCluster processes, and a scheduler + workers started as separate
processes) against the real embedded emulator: every item written and verified, a worker killed mid-run, the
canary secret kept out of the task graph and the logs, an unreachable scheduler, cancellation."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed.diagnostics.plugin import SchedulerPlugin

from core.domain.errors import ConfigError, TargetError
from core.domain.plan import Conditions
from core.paths import REPO_ROOT
from core.run.scaleout import ShardedRun, check_scheduler_address, dask_client, run_sharded
from core.servers.emulator import Emulator
from core.targets.tables import count_items, reset_table
from core.targets.target import Target, make_target
from core.targets.verify import verify
from core.wire.sigv4 import Credentials
from core.writers import APPROACHES, WriterOptions
from tests.servers import dask_cluster, free_port

ROOT = str(REPO_ROOT)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One LocalCluster of 4 worker processes for the module (starting one costs seconds)."""
    with dask_client(4) as client:
        client.wait_for_workers(4, timeout=120)
        yield client


@pytest.fixture
def slow(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator with some latency, so shards are still writing when a test acts on them."""
    emulator.set_conditions(Conditions(latency_ms=25.0))
    yield emulator
    emulator.set_conditions(Conditions())


class Progress:
    """Collects ``progress(shard, done, total)`` calls (they arrive on the client's event-loop thread)."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[int, int]] = {}
        self.lock = threading.Lock()

    def __call__(self, shard: int, done: int, total: int) -> None:
        with self.lock:
            self.latest[shard] = (done, total)

    def done(self) -> int:
        with self.lock:
            return sum(d for d, _ in self.latest.values())


def fresh(target: Target, name: str) -> Any:
    client = target.client()
    reset_table(client, APPROACHES[name].table)
    return client


def check_every_item(target: Target, name: str, run: ShardedRun, items: int) -> None:
    assert run.report.items == items and run.report.complete, run.report.failures
    check = verify(target.client(), APPROACHES[name].table, run.books(), run.report)
    assert check.ok and check.expected == items, check


def in_background(call: Callable[[], ShardedRun]) -> tuple[threading.Thread, list[ShardedRun | BaseException]]:
    out: list[ShardedRun | BaseException] = []

    def body() -> None:
        try:
            out.append(call())
        except BaseException as error:  # handed to the test thread
            out.append(error)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_two_workers_on_their_own_local_cluster_write_and_verify_every_item(embedded_target: Target) -> None:
    fresh(embedded_target, "threaded")
    progress = Progress()
    run = run_sharded("threaded", 300, 11, 2, embedded_target, WriterOptions(threads=4), progress=progress)
    check_every_item(embedded_target, "threaded", run, 300)
    assert [(r.shard.start, r.shard.count) for r in run.shards] == [(0, 150), (150, 150)]
    assert len({r.worker for r in run.shards}) == 2  # one shard per worker process
    wait_for(lambda: progress.done() == 300, "the last progress events")
    assert progress.latest == {0: (150, 150), 1: (150, 150)}


@pytest.mark.parametrize("name", ["sequential", "async-batch"])
def test_four_workers_write_and_verify_every_item(cluster: Any, embedded_target: Target, name: str) -> None:
    fresh(embedded_target, name)
    run = run_sharded(name, 401, 12, 4, embedded_target, WriterOptions(concurrency=8), client=cluster)
    check_every_item(embedded_target, name, run, 401)
    assert [r.shard.count for r in run.shards] == [101, 100, 100, 100]
    assert len({r.worker for r in run.shards}) == 4
    assert run.report.requests == sum(r.report.requests for r in run.shards)
    assert run.report.timeline[-1][1] == 401
    assert run.report.seconds >= max(r.report.seconds for r in run.shards) - 1e-6  # one clock, float rounding


def test_a_scheduler_and_workers_started_as_separate_processes(embedded_target: Target) -> None:
    fresh(embedded_target, "aiobotocore")
    with dask_cluster(2, cwd=ROOT) as address:
        run = run_sharded("aiobotocore", 120, 13, 2, embedded_target, WriterOptions(concurrency=8),
                          scheduler=address, connect_timeout=30)
    check_every_item(embedded_target, "aiobotocore", run, 120)
    assert {r.worker.rsplit(":", 1)[0] for r in run.shards} == {"tcp://127.0.0.1"}


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=60, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        client.wait_for_workers(count, timeout=120)


def test_an_existing_cluster_without_the_lab_gets_it_shipped_and_one_shard_per_worker(
        embedded_target: Target) -> None:
    """`dask scheduler` and two `dask worker`s started where `core` is not importable (a traceback from the
    scheduler before): the lab ships itself (upload_file to scheduler and workers), and without --workers the
    2-worker cluster gets 2 shards; every item written and verified."""
    from core.domain.plan import Plan
    from core.domain.results import ProgressEvent
    from core.run.runner import run

    with dask_cluster(2, lab=False) as address:
        _wait_for_workers(address, 2)
        shards: list[int] = []

        def progress(event: ProgressEvent) -> None:
            shards.append(len(event.per_worker))

        report = run(Plan(target="embedded", items=200, approaches=("async",), scheduler=address, concurrency=8),
                     progress=progress)
    assert report.error is None and report.clean, report.error
    (result,) = report.runs
    assert result.report.items_ok == 200 and result.verification.found == 200
    assert max(shards) == 2


def test_an_existing_cluster_on_another_python_or_dask_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                  embedded_target: Target) -> None:
    import core.run.scaleout

    monkeypatch.setattr(core.run.scaleout, "_runtime", lambda: ("3.99", "1.0.0"))
    with dask_cluster(1, lab=False) as address:
        _wait_for_workers(address, 1)
        with pytest.raises(TargetError) as raised:
            run_sharded("sequential", 10, 0, 1, embedded_target, scheduler=address, connect_timeout=30)
    message = str(raised.value)
    assert "\n" not in message and "the Dask scheduler runs Python" in message
    assert "the lab needs Python 3.99 with dask 1.0.0: install those there" in message


def test_an_unreachable_scheduler_is_one_line_within_seconds_and_nothing_is_written(embedded_target: Target) -> None:
    client = fresh(embedded_target, "sequential")
    started = time.monotonic()
    with pytest.raises(TargetError, match=r"Dask scheduler at tcp://127\.0\.0\.1:\d+ did not answer within 2 s"):
        run_sharded("sequential", 50, 0, 2, embedded_target, scheduler=f"tcp://127.0.0.1:{free_port()}",
                    connect_timeout=2)
    assert time.monotonic() - started < 60  # generous on a noisy machine: the point is it does not hang
    assert count_items(client, APPROACHES["sequential"].table) == 0


class GraphRecorder(SchedulerPlugin):
    """Captures what the scheduler holds for every task of the run: its pickled spec and its state's repr."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.seen: list[bytes] = []

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        task = self.scheduler.tasks.get(key)
        if task is not None and str(key).startswith("lab-shard"):
            self.seen.append(pickle.dumps(task.run_spec) + repr(task).encode() + repr(task.run_spec).encode())


def test_the_canary_secret_reaches_workers_but_never_the_graph_or_the_logs(cluster: Any,
                                                                          moto_iam_target: Target) -> None:
    secret = moto_iam_target.static_credentials.secret_key if moto_iam_target.static_credentials else ""
    assert len(secret) >= 20  # moto's random key: the canary
    fresh(moto_iam_target, "async")
    recorder = GraphRecorder(cluster.cluster.scheduler)
    cluster.cluster.scheduler.add_plugin(recorder, name="lab-graph-recorder")
    try:
        run = run_sharded("async", 60, 14, 2, moto_iam_target, WriterOptions(concurrency=4), client=cluster)
    finally:
        cluster.cluster.scheduler.remove_plugin("lab-graph-recorder")
    check_every_item(moto_iam_target, "async", run, 60)  # moto checked every signature made with the secret
    assert recorder.seen and all(str(moto_iam_target.endpoint_url).encode() in blob for blob in recorder.seen)
    canary = secret.encode()
    assert all(canary not in blob for blob in recorder.seen)
    assert canary not in pickle.dumps(run)
    for logs in (cluster.get_worker_logs(), cluster.get_scheduler_logs(), cluster.get_events()):
        assert secret not in repr(logs)
    assert not cluster.run_on_scheduler(lambda dask_scheduler: [
        name for name in dask_scheduler.worker_plugins if name.startswith("lab-credentials")])


def test_cancelling_stops_every_shard_and_accounts_for_every_settled_item(cluster: Any, slow: Emulator,
                                                                          embedded_target: Target) -> None:
    fresh(embedded_target, "sequential")
    progress, cancel = Progress(), threading.Event()
    thread, out = in_background(lambda: run_sharded("sequential", 4000, 15, 4, embedded_target, client=cluster,
                                                    progress=progress, cancel=cancel))
    wait_for(lambda: progress.done() >= 20, "the shards to start writing")
    cancel.set()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the cancelled run did not stop"
    run = out[0]
    assert isinstance(run, ShardedRun)
    report = run.report
    assert 0 < report.items < 4000
    assert report.items == report.items_ok + report.items_failed + report.items_unknown
    check = verify(embedded_target.client(), APPROACHES["sequential"].table, run.books(), report)
    assert check.lost == 0 and check.unexpected == 0 and check.found >= report.items_ok


def _kill_a_busy_worker(client: Any) -> int:
    """SIGKILL the process of a worker that is running a shard; returns its pid."""
    busy = [address for address, keys in client.processing().items()
            if any(str(k).startswith("lab-shard") for k in keys)]
    pids = client.run(os.getpid, workers=busy[:1])
    pid = int(next(iter(pids.values())))
    os.kill(pid, signal.SIGKILL)
    return pid


def test_a_worker_killed_mid_run_has_its_shard_rerun_and_no_item_unaccounted(cluster: Any, slow: Emulator,
                                                                             embedded_target: Target) -> None:
    fresh(embedded_target, "sequential")
    progress = Progress()
    thread, out = in_background(lambda: run_sharded("sequential", 240, 16, 4, embedded_target, client=cluster,
                                                    progress=progress))
    wait_for(lambda: len(progress.latest) == 4 and min(d for d, _ in progress.latest.values()) >= 5,
             "every shard to be writing")
    killed = _kill_a_busy_worker(cluster)
    thread.join(timeout=240)
    run = out[0]
    assert isinstance(run, ShardedRun), run
    check_every_item(embedded_target, "sequential", run, 240)  # the lost shard was re-run by Dask
    assert killed not in cluster.run(os.getpid).values()
    wait_for(lambda: len(cluster.scheduler_info()["workers"]) == 4, "the nanny to restart the worker")


def test_a_shard_lost_for_good_ends_unknown_and_verification_says_which_were_written(
        slow: Emulator, embedded_target: Target) -> None:
    client = fresh(embedded_target, "sequential")
    progress = Progress()
    with dask_client(2, allowed_failures=0) as dask:
        dask.wait_for_workers(2, timeout=120)
        thread, out = in_background(lambda: run_sharded("sequential", 200, 17, 2, embedded_target, client=dask,
                                                        progress=progress))
        wait_for(lambda: len(progress.latest) == 2 and min(d for d, _ in progress.latest.values()) >= 5,
                 "both shards to be writing")
        _kill_a_busy_worker(dask)
        thread.join(timeout=240)
    run = out[0]
    assert isinstance(run, ShardedRun), run
    report = run.report
    assert report.items == 200 and report.items_unknown == 100 and report.items_ok == 100
    assert any("was lost" in line for line in report.failures)
    check = verify(client, APPROACHES["sequential"].table, run.books(), report)
    assert check.lost == 0 and check.expected == 200
    assert check.recovered >= 5 and check.recovered + check.missing == 100  # the killed shard's written prefix


@pytest.mark.parametrize(("address", "kind", "keys", "error"), [
    ("tcp://127.0.0.1:8786", "custom", True, None),
    ("tls://10.0.0.5:8786", "custom", True, None),
    ("tcp://10.0.0.5:8786", "aws", False, None),  # default chain: workers use their own keys
    ("tcp://10.0.0.5:8786", "custom", True, "plain tcp://"),
    ("10.0.0.5:8786", "aws", True, "plain tcp://"),
    ("http://127.0.0.1:8786", "custom", True, "invalid scheduler address"),
    ("tcp://127.0.0.1", "custom", True, "invalid scheduler address"),
    ("tcp://127.0.0.1:notaport", "custom", True, "invalid scheduler address"),
    ("tls://10.0.0.5:8786", "local-custom", True, "cannot reach it"),
])
def test_scheduler_addresses(address: str, kind: str, keys: bool, error: str | None) -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret-example") if keys else None
    url = {"custom": "https://dynamodb.example.com", "local-custom": "http://127.0.0.1:8000"}.get(kind)
    target = make_target("aws" if kind == "aws" else "custom", endpoint_url=url, credentials=credentials)
    if error is None:
        assert check_scheduler_address(address, target).endswith(address.rsplit("/", 1)[-1])
    else:
        with pytest.raises(ConfigError, match=error):
            check_scheduler_address(address, target)


def test_the_cli_scales_out_and_reports_every_item(tmp_path: Path) -> None:
    """`python -m core run --workers 2`: the plan's writes go to two Dask worker processes; one verified row each;
    with the capacity model on, each table's figures sum both shards' writes (one server counts them)."""
    result = subprocess.run([sys.executable, "-m", "core", "run", "--workers", "2", "--items", "120", "--approaches",
                             "sequential,async-batch", "--history", "off", "--capacity", "provisioned=1000",
                             "--json", str(tmp_path / "r.json")], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^\S+ +1 +OK +120/120 +0 ", result.stdout, re.M)) == 2
    runs = json.loads((tmp_path / "r.json").read_text())["runs"]
    assert [run["capacity"]["consumed_wru"] for run in runs] == [120, 120]
    assert [run["capacity"]["requests"] for run in runs] == [run["requests"] for run in runs]


def test_the_cli_with_an_unreachable_scheduler_is_one_line_and_writes_nothing() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "core", "run", "--scheduler", f"tcp://127.0.0.1:{port}",
                             "--items", "20", "--history", "off"], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"127.0.0.1:{port}" in last


def test_worker_processes_do_not_run_the_main_script_again(tmp_path: Path) -> None:
    """Under `streamlit run` the page is ``__main__``, started by path: spawn would re-run it in every worker (the
    page would start its own servers there). A stand-in main script that leaves a mark when it runs shows it."""
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "page.py"
    script.write_text(
        "import os, pathlib, sys\n"
        f"pathlib.Path({str(marks)!r}, str(os.getpid())).touch()\n"
        "if __name__ == '__main__':\n"
        "    from core.run.scaleout import dask_client\n"
        "    with dask_client(2) as client:\n"
        "        print(sorted(client.run(os.getpid).values()))\n")
    done = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    workers = json.loads(done.stdout.strip().splitlines()[-1])
    ran = [int(path.name) for path in marks.iterdir()]
    assert len(workers) == 2 and len(ran) == 1 and not set(ran) & set(workers)  # the parent alone ran the script
