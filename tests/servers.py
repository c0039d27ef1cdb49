"""Servers the tests start for real: a moto server in its own process (optionally with IAM auth on), a Dask cluster,
and the checks that a lab-started engine left nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from core.servers.lifecycle import LocalEngine


def engine_processes(engine: LocalEngine) -> list[psutil.Process]:
    """A started engine's guard and everything under it."""
    guard = engine._guard
    assert guard is not None
    root = psutil.Process(guard.pid)
    return [root, *root.children(recursive=True)]


def assert_all_gone(processes: list[psutil.Process], timeout: float = 60.0) -> None:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(*, iam_auth: bool = False, no_auth_actions: int = 0) -> Iterator[str]:
    """A moto server on 127.0.0.1; with ``iam_auth`` it checks SigV4 signatures and IAM policies (after the first
    ``no_auth_actions`` requests, which it lets through so a test can create its IAM user and keys)."""
    port = free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    if iam_auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(no_auth_actions)
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def dask_cluster(workers: int = 2, *, cwd: str | None = None, lab: bool = True) -> Iterator[str]:
    """A Dask scheduler and ``workers`` workers (one thread each), each started as its own process on 127.0.0.1
    with the ``dask`` CLI the way a real cluster runs; yields the scheduler's address (read from its file).
    ``lab`` False: started from an empty folder without the lab on PYTHONPATH (``core`` not importable there)."""
    import json
    import tempfile

    root = cwd or os.getcwd()
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="lab-dask-") as folder:
        if not lab:
            root, env = folder, {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        scheduler_file = os.path.join(folder, "scheduler.json")
        try:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--no-dashboard", "--scheduler-file", scheduler_file],
                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            deadline = time.monotonic() + 60
            while not os.path.exists(scheduler_file) or not os.path.getsize(scheduler_file):
                if time.monotonic() > deadline or processes[0].poll() is not None:
                    raise RuntimeError("the Dask scheduler did not start")
                time.sleep(0.1)
            time.sleep(0.1)  # the file is written in one go, but give its writer a moment to close it
            with open(scheduler_file) as handle:
                address = str(json.load(handle)["address"])
            for index in range(workers):
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                     "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard", "--name", f"lab-worker-{index}"],
                    cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            yield address
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in reversed(processes):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
