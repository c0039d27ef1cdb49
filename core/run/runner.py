"""The experiment: a ``Plan`` run approach by approach on freshly reset tables, verified, into a ``Report``.

``run`` gives every approach the same seeded books, verifies each run, flags a saturated embedded server
``server_bound`` and reports progress as events from worker threads. It never raises for a target that dies or
refuses mid-plan: the plan stops promptly, keeps what was done, and says why in ``Report.error``; only a target
unusable before anything was written raises ``LabError``. s3-import deletes its table instead of resetting it and,
on engines without ImportTable, runs against a moto server the plan starts; the run's notes say so.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.domain.approaches import APPROACHES, bulk_puts, imports
from core.domain.books import Book, generate_books
from core.domain.bulkmodel import BulkAssumptions
from core.domain.capacity import Capacity, CapacityUse, capacity_use
from core.domain.errors import Cancelled, LabError, TargetError
from core.domain.plan import Conditions, Plan
from core.domain.results import ProgressEvent, Report, RunReport, RunResult, Verification
from core.domain.s3source import DELEGATED, S3Location
from core.run.bulkput import BulkCancelled, BulkOptions, BulkProgress, run_bulk_put
from core.run.environment import environment
from core.run.importer import ImportCancelled, ImportOptions, ImportProgress, prepare_table, run_import
from core.servers.emulator import Emulator
from core.servers.emulator.upstream import needs_proxy
from core.servers.lifecycle import LocalEngine
from core.targets import lease
from core.targets.monitor import cpu_sampler, host_cpu, watch
from core.targets.tables import check_schema, describe_table, reset_table
from core.targets.target import (
    LOCAL_CREDENTIALS,
    Target,
    check_aws_environment,
    check_reachable,
    make_target,
)
from core.targets.verify import verify
from core.wire import logs
from core.wire.retry import RetryPolicy
from core.wire.sigv4 import Credentials
from core.writers import WriterOptions, write

ADMIN_ATTEMPTS = 3  # reset and verification calls: botocore's standard retries, a dead server fails in seconds
ADMIN_TIMEOUT = 10.0  # plus the plan's added latency and jitter (admin_timeout)
LEASE_ATTEMPTS, LEASE_TIMEOUT = 2, 3.0  # small conditional writes: a hung target must not hold the exit for long


def admin_timeout(conditions: Conditions, base: float) -> float:
    """The timeout of the lab's own calls (reset, describe, delete, verification, leases) under ``conditions``: the
    server delays every request by up to their latency plus jitter, so the timeout allows that on top of ``base``
    (a 60,000 ms latency gives the admin calls 70 s, the lease calls 63 s)."""
    return base + conditions.added_seconds


class PhaseFailed(Exception):
    """A phase of one approach's run failed; ``result`` holds what that run did before."""

    def __init__(self, message: str, result: RunResult | None) -> None:
        super().__init__(message)
        self.result = result


Server = Emulator | LocalEngine  # a server the lab started and watches: its CPU is sampled, its death stops the run


def start_server(plan: Plan) -> Server | None:
    """The server a managed target needs (the embedded emulator, DynamoDB Local), started; None for the others."""
    if plan.target == "embedded":
        return Emulator().start()  # the plan's faults are set once the leases are taken, not before
    if plan.target == "dynamodb-local":
        from core.servers.dynamodb_local import DynamoDBLocal

        return DynamoDBLocal().start()
    return None


def resolve_target(plan: Plan, server: Server | None, credentials: Credentials | None = None) -> Target:
    return make_target(plan.target, endpoint_url=plan.endpoint_url, region=plan.region, profile=plan.profile,
                       credentials=credentials, server_url=server.endpoint_url if server else None)


def preflight(plan: Plan, credentials: Credentials | None = None) -> None:
    """What a run refuses before it starts anything, beyond the plan's own checks (``ConfigError``): the real run
    and ``--dry-run`` both call this, so a dry run refuses exactly what the run would."""
    check_aws_environment()
    if plan.scheduler:
        from core.run.scaleout import check_scheduler

        check_scheduler(plan.scheduler, local_target=plan.off_machine is None, shipped_keys=credentials is not None)


def run(plan: Plan, *, emulator: Server | None = None, credentials: Credentials | None = None,
        progress: Callable[[ProgressEvent], None] | None = None, cancel: threading.Event | None = None) -> Report:
    """Run the plan. ``emulator``: the running server of a managed target (embedded, dynamodb-local); without one,
    one is started here and stopped at the end. Conditions and capacity go to the embedded server itself, or to a
    conditions proxy the lab puts in front of any other local engine (only when they inject anything). A dress
    rehearsal (``plan.rehearsal``) always goes through such a proxy, in front of any local engine, embedded too: it
    serves HTTPS from a throwaway CA the target then trusts, and checks every signature with the target's keys."""
    preflight(plan, credentials)
    own = proxy = moto = None
    if emulator is None:
        emulator = own = start_server(plan)
    try:
        target = resolve_target(plan, emulator, credentials)
        check_reachable(target)
        # where s3-import runs: the target itself, or a moto server for engines without import; never through the
        # conditions/rehearsal proxy set up below (it serves DynamoDB only): plan.import_note says so in the run
        importer = target
        if (plan.imports or plan.bulk_puts) and plan.target in DELEGATED:
            from core.servers.moto import MotoServer

            moto = MotoServer().start()
            importer = Target("custom", plan.region, moto.endpoint_url, static_credentials=LOCAL_CREDENTIALS)
        controls = emulator if isinstance(emulator, Emulator) else None
        emulates_bulk = plan.bulk_puts and target.is_local  # the lab's proxy runs the bulk put on this machine
        if plan.rehearsal:
            assert target.endpoint_url is not None, "the dress rehearsal is only allowed on local targets"
            proxy = controls = Emulator(upstream=target.endpoint_url, tls=True,
                                        credentials=[target.credentials()]).start()
            target = replace(target, endpoint_url=proxy.endpoint_url, ca_bundle=proxy.ca_bundle)
        elif controls is None and (needs_proxy(plan.conditions, plan.capacity) or emulates_bulk):
            assert target.endpoint_url is not None, "conditions are only allowed on local targets"
            proxy = controls = Emulator(upstream=target.endpoint_url).start()
            target = replace(target, endpoint_url=proxy.endpoint_url)
        servers = [server for server in (emulator, proxy, moto) if server is not None]
        client = target.client(max_attempts=ADMIN_ATTEMPTS, timeout=admin_timeout(plan.conditions, ADMIN_TIMEOUT))
        tables = [APPROACHES[name].table for name in plan.approaches]
        with contextlib.ExitStack() as stack:
            try:
                for table in tables:
                    check_schema(client, table)  # before anything is written anywhere
                leases = target.client(max_attempts=LEASE_ATTEMPTS,
                                       timeout=admin_timeout(plan.conditions, LEASE_TIMEOUT))
                # another run here: refused, nothing written
                stack.enter_context(lease.hold(leases, tables, cancel=cancel))
            except Cancelled:
                return Report(plan, environment(), (), cancelled=True)
            except (BotoCoreError, ClientError) as error:
                raise TargetError(f"the target failed before anything was written ({_one_line(error)}): "
                                  "run the plan again") from None
            if controls is not None:
                controls.set_conditions(plan.conditions)
                controls.set_capacity(plan.capacity)
                if plan.bulk_puts:  # the proxy emulates the bulk put, reading the lab's S3 (moto)
                    s3 = importer.credentials()
                    controls.set_bulk({**BulkAssumptions().proxy_settings(),
                                       "s3": {"endpoint": importer.endpoint_url, "region": importer.region,
                                              "access_key": s3.access_key, "secret_key": s3.secret_key}})
            dask = stack.enter_context(_dask(plan, target)) if plan.scaled_out else None
            ctx = _Run(target, client, servers, emulator, dask, controls, importer)
            return _run_plan(plan, ctx, progress, cancel)
    finally:
        for server in (moto, proxy, own):
            if server is not None:
                server.stop()
        if own is None and isinstance(emulator, Emulator) and emulator.running \
                and (plan.conditions != Conditions() or plan.capacity.on):
            emulator.set_conditions(Conditions())
            emulator.set_capacity(Capacity())


@dataclass(frozen=True)
class _Run:
    """What every approach of one plan shares: the target, its admin client, the servers the lab watches."""

    target: Target
    client: Any
    servers: list[Server]
    engine: Server | None  # the engine whose CPU is sampled (not the proxy in front of it)
    dask: Any  # a distributed.Client when the plan is scaled out
    controls: Emulator | None = None  # the server applying conditions and capacity (embedded, or the proxy)
    importer: Target | None = None  # where s3-import runs (the target, or the plan's moto server)

    @property
    def dashboard(self) -> str | None:
        """The Dask dashboard's address: only when bokeh is installed (an optional dependency)."""
        if self.dask is None:
            return None
        from core.run.scaleout import dashboard_available

        return str(self.dask.dashboard_link) if dashboard_available() else None

    def alive(self) -> bool:
        return all(server.running for server in self.servers)

    def died(self) -> str | None:
        dead = [server for server in self.servers if not server.running]
        return f"{dead[0].name} stopped" if dead else None


def _dask(plan: Plan, target: Target) -> contextlib.AbstractContextManager[Any]:
    """The plan's Dask client (imported here: a plan that is not scaled out never loads Dask)."""
    from core.run.scaleout import check_scheduler_address, dask_client

    scheduler = check_scheduler_address(plan.scheduler, target) if plan.scheduler else None
    return dask_client(plan.workers, scheduler)


def _run_plan(plan: Plan, ctx: _Run, progress: Callable[[ProgressEvent], None] | None,
              cancel: threading.Event | None) -> Report:
    options = WriterOptions(threads=plan.threads, concurrency=plan.concurrency, cancel=cancel,
                            policy=RetryPolicy(max_attempts=plan.max_attempts), request_timeout=plan.request_timeout,
                            retry_mode=plan.retry_mode)
    runs: list[RunResult] = []
    for repeat in range(plan.repeats):
        for name in plan.approaches:
            if cancel is not None and cancel.is_set():
                return Report(plan, environment(), tuple(runs), cancelled=True)
            try:
                runs.append(_run_one(plan, name, repeat, ctx, options, progress))
            except Cancelled:  # during a wait, before this approach wrote anything
                return Report(plan, environment(), tuple(runs), cancelled=True)
            except PhaseFailed as failed:
                if failed.result is not None:
                    runs.append(failed.result)
                return Report(plan, environment(), tuple(runs), error=str(failed),
                              cancelled=cancel is not None and cancel.is_set())
            except Exception as error:  # a library's surprise: the finished runs are kept, reported and recorded
                return Report(plan, environment(), tuple(runs), error=(
                    f"the {name} run failed unexpectedly ({type(error).__name__}: {_one_line(error)}); the runs "
                    "before it are kept"), cancelled=cancel is not None and cancel.is_set())
    return Report(plan, environment(), tuple(runs), cancelled=cancel is not None and cancel.is_set())


def _phase(name: str, what: str, ctx: _Run, action: Callable[[], Any],
           result: Callable[[], RunResult | None] = lambda: None) -> Any:
    """Run one phase; a target error ends the plan with one line naming the phase (and the run so far). A cancel
    during one of its waits (``Cancelled``) is passed on: it is no failure."""
    try:
        return action()
    except Cancelled:
        raise
    except (BotoCoreError, ClientError, LabError, OSError) as error:
        cause = ctx.died() or _one_line(error)
        raise PhaseFailed(f"{what} of {name} failed: {cause}; the plan stopped there, run it again", result()) \
            from None


def _write(plan: Plan, name: str, books: tuple[int, int], ctx: _Run, options: WriterOptions, stop: threading.Event,
           progress: Callable[[int], None] | None = None, board: dict[int, int] | None = None,
           ) -> tuple[RunReport, Callable[[], Iterator[Book]]]:
    """Write ``books`` (count, start) with one approach, in this process or across the plan's Dask workers (whose
    shards' counts go to ``board``); the report (every one of the ``count`` books accounted for: those a stopped run
    never took are not sent) and how to regenerate the books it took (for verification)."""
    count, start = books
    if ctx.dask is None:
        report = write(name, generate_books(count, plan.seed, start=start), ctx.target, replace(options, cancel=stop),
                       progress=progress).planned(count)
        return report, lambda: generate_books(report.taken, plan.seed, start=start)
    from core.run.scaleout import cluster_workers, run_sharded

    # an existing cluster without --workers: one shard per worker it has
    shards = cluster_workers(ctx.dask) if plan.scheduler is not None and plan.workers == 1 else plan.workers
    sharded = run_sharded(name, count, plan.seed, shards, ctx.target, options, client=ctx.dask, start=start,
                          cancel=stop, progress=_shard_progress(progress, count, {} if board is None else board))
    return sharded.report.planned(count), sharded.books


def _shard_progress(progress: Callable[[int], None] | None, total: int,
                    done: dict[int, int]) -> Callable[[int, int, int], None] | None:
    """The shards' progress kept per worker in ``done`` and summed into the plan's one count."""
    if progress is None:
        return None
    lock = threading.Lock()

    def update(index: int, settled: int, _: int) -> None:
        with lock:
            done[index] = settled
            count = sum(done.values())
        progress(min(count, total))

    return update


def _run_one(plan: Plan, name: str, repeat: int, ctx: _Run, options: WriterOptions,
             progress: Callable[[ProgressEvent], None] | None) -> RunResult:
    if imports(name):
        return _import_one(plan, name, repeat, ctx, options, progress)
    if bulk_puts(name):
        return _bulk_one(plan, name, repeat, ctx, options, progress)
    table = APPROACHES[name].table

    board: dict[int, int] = {}  # a scaled-out write: each worker's shard

    def tell(phase: str, done: int, total: int, started: float, measured: float | None = None) -> None:
        if progress is not None:
            workers = tuple(board[i] for i in sorted(board))
            progress(ProgressEvent(name, repeat, phase, done, total, time.perf_counter() - started, workers,
                                   ctx.dashboard, measured=measured))

    started = time.perf_counter()
    tell("reset", 0, plan.items, started)
    if plan.warmup and repeat == 0:
        _phase(name, "the reset before the warm-up", ctx, lambda: reset_table(ctx.client, table, cancel=options.cancel))
        tell("warmup", 0, plan.warmup, started)
        stop = threading.Event()
        with watch(options.cancel, ctx.alive, stop):
            warm, _ = _write(plan, name, (plan.warmup, plan.items), ctx, options, stop)
        if stop.is_set() and not _cancelled(options):
            raise PhaseFailed(f"the warm-up of {name} failed: {ctx.died() or warm.halted or 'it was stopped'}", None)
    _phase(name, "the table reset", ctx, lambda: reset_table(ctx.client, table, cancel=options.cancel))
    if _cancelled(options):  # cancelled during the reset or the warm-up: the write does not start
        raise Cancelled(f"{name} was cancelled before its write")
    started, wall = time.perf_counter(), time.time()
    stop = threading.Event()
    engine_pid = ctx.engine.pid if ctx.engine is not None else None
    with cpu_sampler(engine_pid) as samples, host_cpu() as machine, watch(options.cancel, ctx.alive, stop):
        report, settled = _write(plan, name, (plan.items, 0), ctx, options, stop,
                                 progress=lambda done: tell("write", done, plan.items, started), board=board)
    cpu = statistics.mean(samples) if samples else (0.0 if engine_pid else None)
    host = machine[0] if machine else None
    use = _capacity_use(plan, ctx, table, wall, report.seconds)
    if (died := ctx.died()) is not None:
        raise PhaseFailed(f"{died} during the {name} run ({report.items_ok:,} of {plan.items:,} items "
                          "acknowledged): the run is marked failed; run the plan again",
                          RunResult(repeat, report, Verification.not_checked(report.items), None))
    if report.halted and not _answers(ctx.target, plan.conditions):  # dead or hung: verifying would wait it out
        raise PhaseFailed(f"the {name} run gave up: {report.halted}; the target no longer answers, so the table "
                          "was not verified",
                          RunResult(repeat, report, Verification.not_checked(report.items), cpu, use))
    tell("verify", report.taken, plan.items, started, report.items_per_second)
    # A cancel during the verification cuts it short; a run cancelled during its write still verifies what it wrote.
    interrupt = None if _cancelled(options) else options.cancel
    check = _phase(name, "the verification", ctx, lambda: verify(ctx.client, table, settled(), report, interrupt),
                   lambda: RunResult(repeat, report, Verification.not_checked(report.items), cpu, use, host))
    tell("done", report.taken, plan.items, started, report.items_per_second)
    result = RunResult(repeat, report, check, cpu, use, host)
    if report.halted:
        raise PhaseFailed(f"the {name} run gave up: {report.halted}", result)
    return result


def _capacity_use(plan: Plan, ctx: _Run, table: str, started: float, seconds: float) -> CapacityUse | None:
    """The table's capacity use over the write phase, from the server that applies the capacity model (one server
    for every Dask shard too: its per-table figures already sum theirs); None with capacity off, or when the server
    can no longer say (its death is reported on its own)."""
    if not plan.capacity.on or ctx.controls is None or not ctx.controls.running:
        return None
    try:
        tables = ctx.controls.stats(since=started).get("capacity", {}).get("tables", {})
    except (OSError, ValueError, LabError):
        return None
    return capacity_use(plan.capacity, tables.get(table), started, seconds)


IMPORT_BUCKET = "dynamodb-lab-imports"  # the bucket the lab creates on its own servers (moto, a local custom URL)


def _import_one(plan: Plan, name: str, repeat: int, ctx: _Run, options: WriterOptions,
                progress: Callable[[ProgressEvent], None] | None) -> RunResult:
    """One run of s3-import: its table deleted (an import creates it), the books imported through S3, verified."""
    target = ctx.importer or ctx.target
    table = APPROACHES[name].table
    local = target.is_local  # the lab's own server: it makes the bucket, replaces the table, removes the parts
    client = target.client(max_attempts=ADMIN_ATTEMPTS, timeout=admin_timeout(plan.conditions, ADMIN_TIMEOUT))
    started = time.perf_counter()

    def tell(phase: str, done: int, detail: str | None = None) -> None:
        if progress is not None:
            progress(ProgressEvent(name, repeat, phase, done, plan.items, time.perf_counter() - started,
                                   detail=detail))

    def update(event: ImportProgress) -> None:
        tell("write", min(event.done, plan.items), event.line)  # the books uploaded: never back to 0 for the import

    tell("reset", 0)
    _phase(name, "the check for an old table", ctx,
           lambda: prepare_table(client, table, local, target.region, options.cancel))
    stop = threading.Event()
    import_options = ImportOptions(S3Location(plan.s3_bucket or IMPORT_BUCKET, plan.s3_prefix), local=local,
                                   items=plan.items, poll_seconds=0.2 if local else 10.0, cancel=stop,
                                   note=plan.import_note)
    started = time.perf_counter()
    def attempt() -> RunReport | ImportCancelled:
        try:
            return run_import(generate_books(plan.items, plan.seed), target, import_options, progress=update,
                              table=table)
        except ImportCancelled as cancelled:  # not a failure of the target: handled below, not by _phase
            return cancelled

    with watch(options.cancel, ctx.alive, stop):
        outcome = _phase(name, "the import", ctx, attempt)
    if isinstance(outcome, ImportCancelled):
        died = ctx.died()
        raise PhaseFailed(f"{died} during the {name} run: the import did not finish; run the plan again" if died
                          else str(outcome), None)
    report: RunReport = outcome
    tell("verify", report.items)
    exists = _phase(name, "the verification", ctx, lambda: describe_table(client, table) is not None)
    check = Verification.not_checked(report.items)
    if exists:
        check = _phase(name, "the verification", ctx,
                       lambda: verify(client, table, generate_books(report.items, plan.seed), report),
                       lambda: RunResult(repeat, report, Verification.not_checked(report.items), None))
    tell("done", report.items)
    result = RunResult(repeat, report, check, None)
    if report.halted:
        raise PhaseFailed(f"the {name} run gave up: {report.halted}", result)
    return result


def _bulk_one(plan: Plan, name: str, repeat: int, ctx: _Run, options: WriterOptions,
              progress: Callable[[ProgressEvent], None] | None) -> RunResult:
    """One run of bulk-put: its table reset, the books through S3 into it by StartBulkPutItems, verified; the
    verification must agree with the operation's ProcessedItemCount and FailedItemCount."""
    s3_target = ctx.importer or ctx.target
    table = APPROACHES[name].table
    started = time.perf_counter()

    def tell(phase: str, done: int, detail: str | None = None) -> None:
        if progress is not None:
            progress(ProgressEvent(name, repeat, phase, done, plan.items, time.perf_counter() - started,
                                   detail=detail))

    def update(event: BulkProgress) -> None:  # items processed by the operation (0 while uploading)
        tell("write", min(event.operation.processed_items if event.operation else 0, plan.items), event.line)

    tell("reset", 0)
    _phase(name, "the table reset", ctx, lambda: reset_table(ctx.client, table, cancel=options.cancel))
    stop = threading.Event()
    local = s3_target.is_local
    step = plan.items / plan.bulk_malformed if plan.bulk_malformed else 0
    bulk_options = BulkOptions(S3Location(plan.s3_bucket or IMPORT_BUCKET, plan.s3_prefix), tier=plan.bulk_tier,
                               max_wru=plan.bulk_max_wru, local=local, emulated=ctx.target.is_local,
                               items=plan.items, poll_seconds=0.2 if local else 10.0, cancel=stop,
                               malformed=frozenset(int(i * step) for i in range(plan.bulk_malformed)))
    started, wall = time.perf_counter(), time.time()

    def attempt() -> Any:
        try:
            return run_bulk_put(generate_books(plan.items, plan.seed), ctx.target, s3_target, bulk_options,
                                progress=update, table=table)
        except BulkCancelled as cancelled:  # before the operation started: nothing written, nothing to verify
            return cancelled

    with watch(options.cancel, ctx.alive, stop):
        outcome = _phase(name, "the bulk put", ctx, attempt)
    if isinstance(outcome, BulkCancelled):
        died = ctx.died()
        raise PhaseFailed(f"{died} during the {name} run: the bulk put did not start; run the plan again" if died
                          else str(outcome), None)
    report, operation = outcome.report, outcome.operation
    use = _capacity_use(plan, ctx, table, wall, report.seconds)
    if (died := ctx.died()) is not None:
        raise PhaseFailed(f"{died} during the {name} run: the run is marked failed; run the plan again",
                          RunResult(repeat, report, Verification.not_checked(report.items), None, use))
    tell("verify", report.items_ok)
    check = _phase(name, "the verification", ctx,
                   lambda: verify(ctx.client, table, generate_books(report.items, plan.seed), report),
                   lambda: RunResult(repeat, report, Verification.not_checked(report.items), None, use))
    if operation is not None and operation.terminal:
        agrees = check.found == operation.written and \
            (check.expected - check.found == operation.failed_items or operation.status not in
             ("COMPLETED", "COMPLETED_WITH_ERRORS"))
        line = (f"verification agrees with the operation: {check.found:,} items in the table = ProcessedItemCount "
                f"{operation.processed_items:,} - FailedItemCount {operation.failed_items:,}") if agrees else (
                f"verification disagrees with the operation: {check.found:,} items found, ProcessedItemCount "
                f"{operation.processed_items:,} - FailedItemCount {operation.failed_items:,} = {operation.written:,}")
        report = replace(report, notes=(*report.notes, line),
                         halted=report.halted or (None if agrees else line))
    tell("done", report.items_ok)
    result = RunResult(repeat, report, check, None, use)
    if report.halted:
        raise PhaseFailed(f"the {name} run gave up: {report.halted}", result)
    return result


def _cancelled(options: WriterOptions) -> bool:
    return options.cancel is not None and options.cancel.is_set()


def _answers(target: Target, conditions: Conditions) -> bool:
    try:
        check_reachable(target, timeout=admin_timeout(conditions, LEASE_TIMEOUT))
    except LabError:
        return False
    return True


def _one_line(error: BaseException) -> str:
    return logs.redact(str(error).splitlines()[0] if str(error) else type(error).__name__)
