"""Scale-out on Dask: one approach's books cut into seeded shards, one Dask task per shard, reports merged.

``run_sharded`` runs on a ``LocalCluster`` of one-thread worker processes or an existing cluster (``scheduler=`` or a
``Client``) and returns a ``ShardedRun``; the caller resets the table before and verifies after. Every item ends ok,
failed or unknown: a dead worker's task is re-run (writes are idempotent) up to Dask's ``allowed-failures``, then its
items are unknown. An unreachable scheduler, or a cluster on another Python or dask, is a one-line ``TargetError``
before anything is written. A ``cancel`` stops every shard promptly; in-flight items end unknown. ``progress(shard,
done, total)`` is called on the client's event-loop thread, at most every 0.25 s per shard.

Keys never enter the task graph: they reach workers in a ``WorkerPlugin`` unregistered when the run ends; targets on
boto3's default chain ship none. Typed keys are refused for a non-loopback ``tcp://`` scheduler (use ``tls://``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import random
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from distributed.diagnostics.plugin import WorkerPlugin

from core.domain.approaches import approach
from core.domain.books import Book
from core.domain.endpoints import Kind, is_local_url, validate_scheduler_address
from core.domain.errors import ConfigError, TargetError
from core.domain.results import RunReport
from core.run.shards import Shard, ShardResult, merge_reports, plan_shards, settled_books, unsettled_report
from core.targets.target import Target
from core.wire import logs
from core.wire.sigv4 import Credentials
from core.writers import WriterOptions

ShardProgress = Callable[[int, int, int], None]  # (shard/worker index, items settled, items in the shard)
PROGRESS_INTERVAL = 0.25  # seconds between one shard's progress events (they travel through the scheduler)
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class TargetSpec:
    """A target as a worker rebuilds it: where and how to authenticate, never the keys themselves."""

    kind: Kind
    region: str
    endpoint_url: str | None
    profile: str | None
    keys: str  # "plugin": the run's credentials plugin carries them; "chain": the worker's own default chain

    @classmethod
    def of(cls, target: Target) -> TargetSpec:
        keys = "chain" if target.uses_default_chain else "plugin"
        return cls(target.kind, target.region, target.endpoint_url, target.profile, keys)

    def target(self, credentials: Credentials | None) -> Target:
        return Target(self.kind, self.region, self.endpoint_url, self.profile, static_credentials=credentials)


def credentials_of(target: Target) -> Credentials | None:
    """The keys a run ships to its workers: typed keys, the dummy pair for local kinds, None for the chain."""
    if target.uses_default_chain:
        return None
    return target.static_credentials or target.local_credentials  # the keys the rest of the run uses


# --- on the workers --------------------------------------------------------------------------------------------

_credentials: dict[str, Credentials] = {}  # run id -> keys, filled by the run's plugin
_cancelled: set[str] = set()  # run ids
_running: dict[str, list[threading.Event]] = {}  # run id -> the cancel events of its shards on this worker
_targets: dict[tuple[TargetSpec, Credentials | None, int], Target] = {}  # per thread: boto3 sessions are not
_state = threading.Lock()  # thread-safe, and a warm one makes a shard's client in milliseconds, not 100+ ms of CPU


def _target(spec: TargetSpec, credentials: Credentials | None) -> Target:
    """This worker thread's ``Target`` for ``spec`` (kept across shards: its boto3 session is built once)."""
    key = (spec, credentials, threading.get_ident())
    with _state:
        found = _targets.get(key)
        if found is None:
            found = _targets[key] = spec.target(credentials)
    return found


class CredentialsPlugin(WorkerPlugin):
    """A Dask ``WorkerPlugin`` carrying one run's keys to every worker (see the module's docstring)."""

    idempotent = False

    def __init__(self, run_id: str, credentials: Credentials) -> None:
        self.run_id = run_id
        self.name = f"lab-credentials-{run_id}"
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"CredentialsPlugin(run={self.run_id}, keys=***)"

    def setup(self, worker: Any) -> None:
        logs.remember(self._credentials.secret_key, self._credentials.token)
        for logger in (logging.getLogger(), logging.getLogger("distributed")):  # masked should anything log them
            logs.install(logger)
        with _state:
            _credentials[self.run_id] = self._credentials

    def teardown(self, worker: Any) -> None:
        with _state:
            _credentials.pop(self.run_id, None)
            for key in [k for k in _targets if k[1] == self._credentials]:
                del _targets[key]


def _cancel_run(run_id: str) -> None:
    """Run on every worker (``Client.run``): stop this run's writers now and any shard that starts later."""
    with _state:
        _cancelled.add(run_id)
        for event in _running.get(run_id, []):
            event.set()


def _forget_run(run_id: str) -> None:
    with _state:
        _cancelled.discard(run_id)
        _running.pop(run_id, None)


def write_shard(shard: Shard, spec: TargetSpec, options: WriterOptions, run_id: str, topic: str) -> ShardResult:
    """The Dask task: write one shard's regenerated books; progress goes to the client as ``topic`` events."""
    from distributed import get_worker

    worker = get_worker()
    credentials = None
    if spec.keys == "plugin":
        with _state:
            credentials = _credentials.get(run_id)
        if credentials is None:
            raise TargetError(f"worker {worker.address} has no credentials for run {run_id}: its plugin is missing")
    cancel = threading.Event()
    with _state:
        if run_id in _cancelled:
            cancel.set()
        _running.setdefault(run_id, []).append(cancel)
    last = [0.0]

    def progress(done: int, final: bool = False) -> None:
        now = time.monotonic()
        if final or now - last[0] >= PROGRESS_INTERVAL or done >= shard.count:
            last[0] = now
            worker.log_event(topic, {"shard": shard.index, "done": done, "total": shard.count})

    try:
        if cancel.is_set():
            report = _empty_report(shard)
        else:
            from core.writers import write

            report = write(shard.approach, shard.books(), _target(spec, credentials), replace(options, cancel=cancel),
                           progress=progress)
        progress(report.items, final=True)
    finally:
        with _state:
            events = _running.get(run_id, [])
            if cancel in events:
                events.remove(cancel)
    return ShardResult(shard, report, time.time() - report.seconds, worker.address)


def _empty_report(shard: Shard) -> RunReport:
    """A shard cancelled before it started: nothing settled."""
    table = approach(shard.approach).table
    return RunReport(shard.approach, table, 0, 0.0, 0, 0, 0, {}, 0, 0, 0, (), 0.0, ((0.0, 0),))


# --- on the client ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShardedRun:
    """A sharded run: the merged report, every shard's, and the Dask dashboard's address (when bokeh is there)."""

    report: RunReport
    shards: tuple[ShardResult, ...] = field(repr=False)
    dashboard: str | None = None

    def books(self) -> Iterator[Book]:
        """The settled books, regenerated: what verification reads back."""
        return settled_books(self.shards)


def dashboard_available() -> bool:
    """Dask serves its dashboard only when bokeh is installed (an optional dependency of the lab)."""
    return importlib.util.find_spec("bokeh") is not None


def _loopback(address: str) -> bool:
    return is_local_url(address if "://" in address else f"tcp://{address}")


def check_scheduler_address(address: str, target: Target) -> str:
    """Validate ``--scheduler`` against a built target (``check_scheduler`` says the rule)."""
    return check_scheduler(address, target.is_local, TargetSpec.of(target).keys != "chain")


def check_scheduler(address: str, local_target: bool, shipped_keys: bool) -> str:
    """The scheduler address, normalised, if a run may use it: a remote cluster cannot reach a loopback target, and
    keys shipped to the workers (typed ones) go to a non-loopback scheduler only over TLS. A plan's check (before
    anything starts, dry runs too) and a built target's both come here."""
    address = validate_scheduler_address(address)
    parts = urlsplit(address)
    if not _loopback(address) and local_target:
        raise ConfigError(f"the scheduler {address} is on another machine, but the target is this machine's "
                          "loopback: its workers cannot reach it; use a target they can reach")
    if parts.scheme == "tcp" and not _loopback(address) and shipped_keys and not local_target:
        raise ConfigError(f"the scheduler {address} is reached over plain tcp://: typed AWS keys would cross the "
                          "network in clear; use a tls:// scheduler, or a profile/role so workers use their own keys")
    return address


_MAIN_LOCK = threading.Lock()


@contextmanager
def script_hidden() -> Iterator[None]:
    """Worker processes started in the block do not run this process's main script again.

    multiprocessing's spawn (Dask's nannies use it) re-runs the parent's ``__main__`` in every child when it was
    started by path rather than as a module: under ``streamlit run`` that is the page, which would start its own
    servers in each worker. The workers need only ``core`` (``write_shard`` lives here): while they start,
    ``__main__`` is a bare module with nothing to re-run. A main started as a module (``python -m core``) is kept:
    spawn imports it by name, guarded by ``if __name__ == "__main__"``."""
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(main, "__spec__", None), "name", None) or not getattr(main, "__file__", None):
        yield
        return
    with _MAIN_LOCK:
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main


@contextmanager
def dask_client(workers: int, scheduler: str | None = None, *, connect_timeout: float = CONNECT_TIMEOUT,
                allowed_failures: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: on a new ``LocalCluster`` of ``workers`` processes (one thread each), or on the
    scheduler at ``scheduler``. Closed (and the local cluster stopped) when the block ends."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=connect_timeout, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as error:
            raise TargetError(f"the Dask scheduler at {scheduler} did not answer within {connect_timeout:g} s "
                              f"({type(error).__name__}): start it or fix --scheduler") from None
        try:
            check_cluster(client)
            yield client
        finally:
            client.close()  # type: ignore[no-untyped-call]
        return
    settings = {} if allowed_failures is None else {"distributed.scheduler.allowed-failures": allowed_failures}
    with dask.config.set(settings), script_hidden():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",  # type: ignore[no-untyped-call]
                               dashboard_address="127.0.0.1:0")
    try:
        client = Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]
        try:
            yield client
        finally:
            client.close()  # type: ignore[no-untyped-call]
    finally:
        cluster.close()


def lab_fingerprint() -> str:
    """This lab's version and a hash of its Python sources (read through ``importlib.resources``, so a copy shipped
    as a zip hashes alike): what the scheduler and every worker of a cluster must run."""
    import hashlib
    from importlib.resources import files

    import core

    digest = hashlib.sha256()

    def walk(node: Any, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir() and child.name != "__pycache__":
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".py"):
                digest.update(f"{prefix}{child.name}\0".encode())
                digest.update(child.read_bytes())

    walk(files("core"), "")
    return f"{core.__version__}+{digest.hexdigest()[:12]}"


def _runtime() -> tuple[str, str]:
    """``(Python major.minor, dask version)`` of this process."""
    import sys
    from importlib.metadata import version

    return f"{sys.version_info.major}.{sys.version_info.minor}", version("dask")


def _probe() -> str:
    """Run on the scheduler and each worker (by reference: it fails there when ``core`` is not importable)."""
    return lab_fingerprint()


def _lab_folder() -> str:
    """A folder holding a copy of the lab's ``core`` package (data files included), named after its fingerprint:
    what ``UploadDirectory`` ships (it puts the folder on ``sys.path`` there, so ``import core`` finds the copy)."""
    import shutil
    import tempfile
    from pathlib import Path

    import core

    folder = Path(tempfile.gettempdir()) / "lab-ship" / f"lab-{lab_fingerprint().replace('+', '-')}"
    if not (folder / "core").is_dir():
        staging = Path(tempfile.mkdtemp(prefix="lab-ship-"))
        shutil.copytree(Path(core.__file__).parent, staging / "core",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        folder.parent.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):  # another run made it meanwhile: same fingerprint, same files
            staging.rename(folder)
    return str(folder)


def _cluster_mismatch(client: Any) -> str | None:
    """The first process of the cluster (scheduler, then workers) that does not run this lab, and why; else None."""
    wanted = lab_fingerprint()
    where: list[tuple[str, Any]] = []
    try:
        where.append(("scheduler", client.run_on_scheduler(_probe)))
    except Exception as error:  # a scheduler that cannot load the probe answers with any error
        where.append(("scheduler", error))
    for address, answer in sorted(client.run(_probe, on_error="return").items()):
        where.append((f"worker {address}", answer))
    for name, answer in where:
        if isinstance(answer, BaseException):
            return f"the {name} cannot import the lab ({type(answer).__name__}: {str(answer).splitlines()[0][:120]})"
        if answer != wanted:
            return f"the {name} runs lab {answer}, this is {wanted}"
    return None


def check_cluster(client: Any) -> None:
    """Make sure an existing cluster runs this lab: the scheduler and every worker need this Python (major.minor)
    and this dask (else a one-line ``TargetError`` saying what to install); when ``core`` is missing or another
    version there, the lab ships itself with Dask's ``UploadDirectory`` plugin (a copy of ``core`` put first on
    ``sys.path`` of the scheduler and of every worker's nanny, which restarts its worker; a worker joining later
    gets it too). Still not importable afterwards (its requirements missing there, or an older ``core``
    already loaded): a ``TargetError`` line saying to install the lab there."""
    python, dask_version = _runtime()
    versions = client.get_versions(check=False)
    processes = [("scheduler", versions["scheduler"])] + [
        (f"worker {address}", info) for address, info in sorted((versions.get("workers") or {}).items())]
    for name, info in processes:
        packages = info.get("packages", {}) if isinstance(info, dict) else {}
        theirs = ".".join(str(packages.get("python", "")).split(".")[:2])
        if theirs != python or str(packages.get("dask")) != dask_version:
            raise TargetError(f"the Dask {name} runs Python {theirs or '?'} with dask {packages.get('dask', '?')}, "
                              f"the lab needs Python {python} with dask {dask_version}: install those there "
                              f"(pip install -r requirements.txt) and start it again")
    if _cluster_mismatch(client) is None:
        return
    from distributed.diagnostics.plugin import UploadDirectory

    count = cluster_workers(client)
    client.register_plugin(UploadDirectory(  # type: ignore[no-untyped-call]
        _lab_folder(), restart_workers=True, update_path=True, mode="all"))
    with contextlib.suppress(TimeoutError):
        client.wait_for_workers(count, timeout=60)
    problem = _cluster_mismatch(client)
    if problem is not None:
        raise TargetError(f"{problem}, even after shipping it with Dask's UploadDirectory: install the lab there "
                          f"(pip install -r requirements.txt, and this checkout on its PYTHONPATH) and restart the "
                          f"scheduler and workers")


def cluster_workers(client: Any) -> int:
    """How many workers the cluster has now (one shard each, by default)."""
    return len(client.scheduler_info(n_workers=-1)["workers"])


def run_sharded(approach_name: str, items: int, seed: int, workers: int, target: Target,
                options: WriterOptions | None = None, *, scheduler: str | None = None, client: Any = None,
                start: int = 0, progress: ShardProgress | None = None, cancel: threading.Event | None = None,
                connect_timeout: float = CONNECT_TIMEOUT, rng: random.Random | None = None) -> ShardedRun:
    """Write ``items`` books of ``seed`` (from index ``start``) with ``approach_name`` across ``workers`` shards.

    ``client``: a ``distributed.Client`` the caller keeps (not closed here); else ``scheduler`` (an address) or a
    new ``LocalCluster`` of ``workers`` processes. ``progress(shard, done, total)`` is called from the client's
    event-loop thread as shards report. ``options.cancel`` is ignored: pass ``cancel``.
    """
    approach(approach_name)
    shards = plan_shards(approach_name, items, workers, seed, start)
    if scheduler is not None:
        scheduler = check_scheduler_address(scheduler, target)
    spec = TargetSpec.of(target)
    keys = credentials_of(target)
    options = replace(options or WriterOptions(), cancel=None)
    if client is not None:
        return _run_on(client, shards, spec, keys, options, progress, cancel, rng)
    with dask_client(workers, scheduler, connect_timeout=connect_timeout) as own:
        return _run_on(own, shards, spec, keys, options, progress, cancel, rng)


def _run_on(client: Any, shards: tuple[Shard, ...], spec: TargetSpec, keys: Credentials | None,
            options: WriterOptions, progress: ShardProgress | None, cancel: threading.Event | None,
            rng: random.Random | None) -> ShardedRun:
    from distributed import as_completed

    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT * 6)
    except TimeoutError:
        raise TargetError(f"the Dask scheduler at {client.scheduler.address} has no workers: start some "
                          "(`dask worker ADDRESS`)") from None
    run_id = uuid.uuid4().hex[:12]
    topic = f"lab-progress-{run_id}"
    table = approach(shards[0].approach).table
    plugin_name = None

    def on_event(event: Any) -> None:
        message = event[1]
        if progress is not None:
            progress(int(message["shard"]), int(message["done"]), int(message["total"]))

    done = threading.Event()

    def watch_cancel() -> None:
        while not done.wait(0.05):
            if cancel is not None and cancel.is_set():
                with contextlib.suppress(Exception):
                    client.run(_cancel_run, run_id)
                return

    watcher = threading.Thread(target=watch_cancel, daemon=True, name="lab-dask-cancel")
    results: list[ShardResult] = []
    try:  # from the plugin's registration on, the finally below unregisters it whatever happens
        if keys is not None:
            plugin = CredentialsPlugin(run_id, keys)
            plugin_name = plugin.name
            client.register_plugin(plugin)
        client.subscribe_topic(topic, on_event)
        watcher.start()
        # One graph, shard i placed on worker i (round robin): left to itself the scheduler may queue two shards
        # on one single-threaded worker and move one later by work stealing, starting it a second or more late.
        # The placement is loose: if that worker dies, the shard runs wherever the scheduler can.
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        if not workers:
            raise TargetError(f"the Dask scheduler at {client.scheduler.address} has no workers left: start some "
                              "(`dask worker ADDRESS`)")
        futures = {client.submit(write_shard, shard, spec, options, run_id, topic, key=f"lab-shard-{run_id}-{i}",
                                 workers=[workers[i % len(workers)]], allow_other_workers=True, pure=False,
                                 retries=0): shard
                   for i, shard in enumerate(shards)}
        for future in as_completed(list(futures), loop=client.loop):  # type: ignore[no-untyped-call]
            shard = futures[future]
            try:
                results.append(future.result())
            except Exception as error:  # a lost shard is reported, never raised
                reason = logs.redact(" ".join(f"{type(error).__name__}: {error}".split()))[:300]
                results.append(unsettled_report(shard, f"shard {shard.index} was lost ({reason}): its items may "
                                                f"or may not be written", table=table))
            future.release()
    finally:
        done.set()
        if watcher.ident is not None:  # started
            watcher.join()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
        with contextlib.suppress(Exception):
            client.run(_forget_run, run_id)
        if plugin_name is not None:
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(plugin_name)
    ordered = tuple(sorted(results, key=lambda r: r.shard.index))
    dashboard = client.dashboard_link if dashboard_available() else None
    return ShardedRun(merge_reports(ordered, rng), ordered, dashboard)

