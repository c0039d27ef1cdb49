"""The experiment: a ``Plan`` run approach by approach on freshly reset tables, verified, into a ``Report``.

Contract: ``run`` gives every approach the same seeded books on a reset table, verifies each run, samples the
embedded server's CPU so a saturated server is flagged ``server_bound``, reports progress as events (from worker
threads: the caller decides how to show them) and returns a frozen ``Report``; it never raises for a target that
dies or refuses mid-plan. Whatever phase fails (reset, warm-up, write, verify), the plan stops promptly and the
report keeps what was done, with one line in ``Report.error``. Only a target that cannot be used at all (nothing
written yet) raises ``LabError``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core import lease, logs
from core.approaches import APPROACHES
from core.books import generate_books
from core.emulator import Emulator
from core.environment import environment
from core.errors import LabError
from core.model import Conditions, Plan, ProgressEvent, Report, RunResult
from core.monitor import cpu_sampler, watch
from core.report import Verification
from core.retry import RetryPolicy
from core.sigv4 import Credentials
from core.tables import check_schema, reset_table
from core.targets import Target, check_reachable, make_target
from core.verify import verify
from core.writers import WriterOptions, write

ADMIN_ATTEMPTS = 3  # reset and verification calls: botocore's standard retries, a dead server fails in seconds
ADMIN_TIMEOUT = 10.0


class PhaseFailed(Exception):
    """A phase of one approach's run failed; ``result`` holds what that run did before."""

    def __init__(self, message: str, result: RunResult | None) -> None:
        super().__init__(message)
        self.result = result


def resolve_target(plan: Plan, emulator: Emulator | None, credentials: Credentials | None = None) -> Target:
    return make_target(plan.target, endpoint_url=plan.endpoint_url, region=plan.region, profile=plan.profile,
                       credentials=credentials, embedded_url=emulator.endpoint_url if emulator else None)


def run(plan: Plan, *, emulator: Emulator | None = None, credentials: Credentials | None = None,
        progress: Callable[[ProgressEvent], None] | None = None, cancel: threading.Event | None = None) -> Report:
    """Run the plan. On the embedded target, ``emulator`` is used (or one is started and stopped here)."""
    own = None
    if plan.target == "embedded" and emulator is None:
        emulator = own = Emulator(conditions=plan.conditions).start()
    try:
        target = resolve_target(plan, emulator, credentials)
        check_reachable(target)
        client = target.client(max_attempts=ADMIN_ATTEMPTS, timeout=ADMIN_TIMEOUT)
        tables = [APPROACHES[name].table for name in plan.approaches]
        for table in tables:
            check_schema(client, table)  # before anything is written anywhere
        with lease.hold(client, tables):  # another run on this endpoint: refused here, nothing written
            if emulator is not None:
                emulator.set_conditions(plan.conditions)
            return _run_plan(plan, target, client, emulator, progress, cancel)
    finally:
        if own is not None:
            own.stop()
        elif emulator is not None and emulator.running and plan.conditions != Conditions():
            emulator.set_conditions(Conditions())


def _run_plan(plan: Plan, target: Target, client: Any, emulator: Emulator | None,
              progress: Callable[[ProgressEvent], None] | None, cancel: threading.Event | None) -> Report:
    options = WriterOptions(threads=plan.threads, concurrency=plan.concurrency, cancel=cancel,
                            policy=RetryPolicy(max_attempts=plan.max_attempts), request_timeout=plan.request_timeout,
                            retry_mode=plan.retry_mode)
    runs: list[RunResult] = []
    for repeat in range(plan.repeats):
        for name in plan.approaches:
            if cancel is not None and cancel.is_set():
                return Report(plan, environment(), tuple(runs), cancelled=True)
            try:
                runs.append(_run_one(plan, name, repeat, target, client, options, emulator, progress))
            except PhaseFailed as failed:
                if failed.result is not None:
                    runs.append(failed.result)
                return Report(plan, environment(), tuple(runs), error=str(failed),
                              cancelled=cancel is not None and cancel.is_set())
    return Report(plan, environment(), tuple(runs), cancelled=cancel is not None and cancel.is_set())


def _phase(name: str, what: str, emulator: Emulator | None, action: Callable[[], Any],
           result: Callable[[], RunResult | None] = lambda: None) -> Any:
    """Run one phase; a target error ends the plan with one line naming the phase (and the run so far)."""
    try:
        return action()
    except (BotoCoreError, ClientError, LabError, OSError) as error:
        if emulator is not None and not emulator.running:
            cause = "the embedded emulator stopped"
        else:
            cause = logs.redact(str(error).splitlines()[0] if str(error) else type(error).__name__)
        raise PhaseFailed(f"{what} of {name} failed: {cause}; the plan stopped there, run it again", result()) \
            from None


def _run_one(plan: Plan, name: str, repeat: int, target: Target, client: Any, options: WriterOptions,
             emulator: Emulator | None, progress: Callable[[ProgressEvent], None] | None) -> RunResult:
    table = APPROACHES[name].table

    def tell(phase: str, done: int, total: int, started: float) -> None:
        if progress is not None:
            progress(ProgressEvent(name, repeat, phase, done, total, time.perf_counter() - started))

    started = time.perf_counter()
    tell("reset", 0, plan.items, started)
    stop = threading.Event()
    alive = (lambda: emulator.running) if emulator is not None else (lambda: True)
    if plan.warmup and repeat == 0:
        _phase(name, "the reset before the warm-up", emulator, lambda: reset_table(client, table))
        tell("warmup", 0, plan.warmup, started)
        with watch(options.cancel, alive, stop):
            warm = write(name, generate_books(plan.warmup, plan.seed, start=plan.items), target,
                         replace(options, cancel=stop))
        if stop.is_set() and not (options.cancel is not None and options.cancel.is_set()):
            raise PhaseFailed(f"the warm-up of {name} failed: {_stopped_why(emulator, warm.halted)}", None)
    _phase(name, "the table reset", emulator, lambda: reset_table(client, table))
    started = time.perf_counter()
    stop = threading.Event()
    with cpu_sampler(emulator.pid if emulator else None) as samples, watch(options.cancel, alive, stop):
        report = write(name, generate_books(plan.items, plan.seed), target, replace(options, cancel=stop),
                       progress=lambda done: tell("write", done, plan.items, started))
    cpu = statistics.mean(samples) if samples else (0.0 if emulator else None)
    if emulator is not None and not emulator.running:
        raise PhaseFailed(f"the embedded emulator stopped during the {name} run ({report.items_ok:,} of "
                          f"{plan.items:,} items acknowledged): the run is marked failed; run the plan again",
                          RunResult(repeat, report, Verification.not_checked(report.items), None))
    tell("verify", report.items, plan.items, started)
    check = _phase(name, "the verification", emulator,
                   lambda: verify(client, table, generate_books(report.items, plan.seed), report),
                   lambda: RunResult(repeat, report, Verification.not_checked(report.items), cpu))
    tell("done", report.items, plan.items, started)
    result = RunResult(repeat, report, check, cpu)
    if report.halted:
        raise PhaseFailed(f"the {name} run gave up: {report.halted}", result)
    return result


def _stopped_why(emulator: Emulator | None, halted: str | None) -> str:
    if emulator is not None and not emulator.running:
        return "the embedded emulator stopped"
    return halted or "the run was stopped"
