"""The command line: ``python -m core run``, ``plan-load``, ``aws-check``, ``proxy`` (alias ``emulator``),
``proxy-report`` and ``localstack``.

``main(argv)`` returns the exit code: 0 when every run verified with nothing lost or failed, 1 when anything was lost
or failed, 2 for bad input (one line on stderr, no traceback, checked before anything runs). Progress goes to stderr;
the chart, tables and verdict to stdout, after the exports and the history are written. The first Ctrl-C stops the
run within seconds and still records it, marked INTERRUPTED; a second one a second later exits at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from rich.console import Console

import core
from core.app.export import EXPORT_HEAD, is_export, to_csv, to_json
from core.app.formatting import duration, plural, short, span
from core.app.history import HISTORY_ENV, History, kept_paths
from core.app.history import default_path as default_history_path
from core.app.jobs import Job
from core.app.terminal import RunProgress, chart, console, table, table_text, verdict_text, width_of
from core.app.verdict import (
    Verdict,
    aws_approaches,
    aws_spec,
    conditions_text,
    in_effect,
    problem_lines,
    verdict,
)
from core.domain.approaches import APPROACHES, STUDY_APPROACHES
from core.domain.approaches import label as approach_label
from core.domain.bulkmodel import with_measured
from core.domain.bulkwire import MIN_MAX_WRU, TIERS
from core.domain.capacity import Capacity, parse_capacity
from core.domain.endpoints import DUMMY_KEYS, KINDS, try_commands
from core.domain.errors import ConfigError, LabError, did_you_mean
from core.domain.limits import LIMITS, MAX_ITEMS, MAX_PLAN_ITEMS
from core.domain.numbers import FLOAT, INT, parse_count
from core.domain.plan import NETWORK_PRESETS, PRESETS, RETRY_MODES, Conditions, Plan, parse_faults
from core.domain.results import Report
from core.domain.s3source import DEFAULT_PREFIX
from core.forecast.estimate import forecast
from core.forecast.planner import DEFAULT_RETRY_MODE, LoadSpec, parse_duration, plan_load
from core.run.awscheck import DEFAULT_ITEMS, CheckOptions, CheckResult, confirmation, run_check, summary
from core.run.awscheck import MAX_ITEMS as CHECK_MAX_ITEMS
from core.run.environment import environment
from core.run.runner import preflight, run
from core.run.sweep import SWEEP_APPROACHES, parse_sweep, plan_sweep, run_sweep
from core.servers.emulator import Emulator, fetch_stats
from core.servers.emulator.traffic import read_ticket, remove_ticket, traffic_report, write_ticket
from core.targets.target import Target
from core.wire import logs
from core.wire.sigv4 import Credentials

STDOUT = "-"
SAME_SIGNAL_S = 1.0  # a second SIGINT within this long of the first is the same Ctrl-C (see run_interruptibly)
HISTORY_HELP = ("the SQLite history of runs and checks: read to estimate and calibrate, written after a run or a "
                f"check (default: {HISTORY_ENV}, else your user data dir; 'off': none)")
CONFIRM_OVER_S = 600.0  # a local run estimated longer than this asks first (--yes skips the question)
T = TypeVar("T")
E = TypeVar("E")


def conditions_from(args: argparse.Namespace) -> Conditions:
    base = NETWORK_PRESETS[args.network or "none"]
    return Conditions(
        latency_ms=base.latency_ms if args.latency_ms is None else args.latency_ms,
        jitter_ms=base.jitter_ms if args.jitter_ms is None else args.jitter_ms,
        **parse_faults(args.faults or ""),
    )


def plan_from(args: argparse.Namespace) -> Plan:
    given = ",".join(STUDY_APPROACHES) if args.approaches is None else args.approaches  # '' names none: refused
    approaches = tuple(a.strip() for a in given.split(",") if a.strip())
    plan = Plan(target=args.target, endpoint_url=args.endpoint_url, region=args.region, profile=args.profile,
                approaches=approaches, items=args.items, seed=args.seed, repeats=args.repeat, warmup=args.warmup,
                threads=args.threads, concurrency=args.concurrency, conditions=conditions_from(args),
                max_attempts=args.max_attempts, request_timeout=args.request_timeout, retry_mode=args.retry_mode,
                capacity=parse_capacity(args.capacity or "off"), workers=args.workers, scheduler=args.scheduler,
                s3_bucket=args.s3_bucket, s3_prefix=args.s3_prefix, bulk_tier=args.bulk_tier,
                bulk_max_wru=args.bulk_max_wru, bulk_malformed=args.bulk_malformed)
    if not getattr(args, "preset", None):
        return plan
    chosen = {"network"} if args.network or args.latency_ms is not None or args.jitter_ms is not None else set()
    return PRESETS[args.preset].apply(plan, keep=chosen | ({"capacity"} if args.capacity is not None else set()))


def capacity_report(report: Report) -> str:
    """Per run, its table's capacity use (empty when the capacity model was off): see ``CapacityUse.summary``."""
    runs = [run for run in report.runs if run.capacity_use is not None]
    if not runs:
        return ""
    lines = [f"Table capacity {report.plan.capacity} (goodput ÷ capacity: WRU written ÷ what the table offered in "
             "the write phase, burst included; wasted: requests refused whole)"]
    width = max(len(approach_label(run.approach)) for run in runs)
    lines.extend(f"{approach_label(run.approach):<{width}} #{run.repeat + 1}: {run.capacity_use.summary()}"
                 for run in runs if run.capacity_use is not None)
    return "\n".join(lines)


def _identity(path: Path) -> tuple[int, int] | Path:
    """What names one file however it is spelt: device and inode when it exists, else its resolved path."""
    try:
        status = path.stat()
    except OSError:
        return path.resolve()
    return status.st_dev, status.st_ino


def _overwritable(path: Path) -> bool:
    """An export may replace this existing file: not a regular file (a device, a pipe), empty, or an export."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return True
        with path.open("rb") as existing:
            return is_export(existing.read(EXPORT_HEAD))
    except OSError:
        return True  # unreadable: the permission check names it


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path is usable and distinct before anything runs (``ConfigError`` otherwise). An export never
    writes over a history (in use, ``LAB_HISTORY_PATH``'s or the standard one, however spelt: links, ``..``, a
    relative path) nor over an existing file that is not an earlier export (the lab's own files, the user's)."""
    history = None if args.history.lower() == "off" else Path(args.history or default_history_path()).expanduser()
    named = [(flag, value) for flag, value in (("--json", args.json), ("--csv", args.csv),
                                                ("--history", None if history is None else args.history))
             if value and value != STDOUT]  # the default history's folder is created when it is opened
    kept = {_identity(path): path for path in kept_paths(history)}
    seen: dict[tuple[int, int] | Path, str] = {}
    for flag, value in named:
        identity = _identity(Path(value).expanduser().resolve())
        if identity in seen:
            raise ConfigError(f"{seen[identity]} and {flag} name the same file {value}: give each output its own file")
        seen[identity] = flag
    for flag, value in named:
        path = Path(value).expanduser().resolve()
        identity = _identity(path)
        if path.is_dir():
            raise ConfigError(f"cannot write {value} ({flag}): it is a folder; name a file in it")
        if not path.parent.is_dir():
            raise ConfigError(f"cannot write {value} ({flag}): folder {Path(value).parent} does not exist")
        if flag != "--history" and identity in kept:
            raise ConfigError(f"cannot write {value} ({flag}): it is the lab's history file {kept[identity]}; "
                              "name another file")
        if flag != "--history" and not _overwritable(path):
            raise ConfigError(f"cannot write {value} ({flag}): it exists and is not an export of the lab (an export "
                              "replaces only an earlier export); name a new file")
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise ConfigError(f"cannot write {value} ({flag}): permission denied; pick another path")
    if args.json == STDOUT and args.csv == STDOUT:
        raise ConfigError("--json - and --csv - both ask for standard output: send one of them to a file")


def _skipped(history: History | None) -> None:
    """One warning line per history row that could not be read (it was skipped; the file is left as it is)."""
    for line in history.skipped_lines() if history is not None else ():
        print(f"warning: {line}", file=sys.stderr)


def _export(path: str, text: str) -> str | None:
    """Write one export; the one-line reason when it failed (the run is kept and reported anyway)."""
    if path == STDOUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return None
    try:
        Path(path).expanduser().write_text(text)
    except OSError as error:
        return f"could not write {path}: {error.strerror or error}"
    return None


def run_interruptibly(work: Callable[[threading.Event, Callable[[E], None]], T],
                      on_progress: Callable[[E], None] | None = None, clock: Callable[[], float] = time.monotonic) -> T:
    """Run ``work(cancel, progress)`` as a ``Job``, handing its progress events to ``on_progress`` in this thread, and
    return what it returned (or raise what it raised). The first Ctrl-C sets ``cancel`` (the run stops within seconds
    and returns what it did), a second one more than ``SAME_SIGNAL_S`` later exits the process at once. A second
    SIGINT sooner is the same Ctrl-C delivered twice (GNU ``timeout`` forwards the terminal's SIGINT to its child,
    which also receives it): it counts once."""
    job: Job[T, E] = Job(work, name="lab-run")
    first: list[float] = []

    def interrupted(*_: object) -> None:
        if first and clock() - first[0] < SAME_SIGNAL_S:
            return
        if job.cancel_event.is_set():
            sys.stderr.write("\ninterrupted again: exiting now\n")
            sys.stderr.flush()
            os._exit(130)
        first.append(clock())
        job.cancel()
        sys.stderr.write("\ninterrupted: stopping (in-flight items are reported unknown); Ctrl-C again to quit now\n")
        sys.stderr.flush()

    def hand_over() -> None:
        for event in job.events():
            if on_progress is not None:
                on_progress(event)

    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGINT, interrupted)
    try:
        job.start()
        while not job.wait(0.1):
            hand_over()
        hand_over()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return job.outcome()


def _history_for_estimate(args: argparse.Namespace) -> History | None:
    """The history a run records into; a dry run reads an existing one (to estimate as the run will) and creates
    none."""
    if args.history.lower() == "off":
        return None
    if not args.dry_run:
        return History(args.history or None)
    path = Path(args.history).expanduser() if args.history else default_history_path()
    return History(path) if path.exists() else None


def _confirm(err: Console, guess_seconds: float, yes: bool) -> None:
    """Ask before a local run estimated over ``CONFIRM_OVER_S`` (``--yes`` skips it; without a terminal to ask on,
    ``ConfigError`` says to add ``--yes``)."""
    if yes or guess_seconds <= CONFIRM_OVER_S:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"this run is estimated at {duration(guess_seconds)}: add --yes to run it, or plan fewer "
                          "books (--items) or less latency")
    err.print(f"This run is estimated at {duration(guess_seconds)}. Run it? [y/N] ", end="")
    if input().strip().lower() not in ("y", "yes"):
        raise ConfigError("not run: answer y to run it, or add --yes")


def _sweep_approaches(args: argparse.Namespace) -> tuple[str, ...]:
    """The approaches a sweep varies: those of ``--approaches`` when given, else the threaded and async ones."""
    return tuple(a.strip() for a in args.approaches.split(",") if a.strip()) if args.approaches is not None \
        else SWEEP_APPROACHES


def _verdict(report: Report, past: Sequence[Mapping[str, Any]]) -> Verdict:
    """The verdict with its AWS line, as the page computes it (the planner on the run's writers, calibrated from the
    history); without the line when the planner cannot answer."""
    try:
        load = plan_load(aws_spec(), past, environment(), aws_approaches(report) or None)
    except LabError:
        load = None
    return verdict(report, load)


def _run(args: argparse.Namespace) -> int:
    if args.log_level:
        logs.configure(args.log_level)
    plan = plan_from(args)
    check_outputs(args)
    sweep = plan_sweep(plan, parse_sweep(args.sweep), _sweep_approaches(args)) if args.sweep else None
    where = plan.off_machine
    if where is not None and not args.yes:
        cost = f" ({plan.cost_text})" if plan.target == "aws" else ""
        raise ConfigError(f"{where} is not a local endpoint: add --yes to write there{cost}")
    preflight(plan)
    history = _history_for_estimate(args)
    past = history.reports() if history is not None else ()
    err = console(sys.stderr)
    _skipped(history)
    if sweep is not None:
        guesses = [forecast(step, past, environment()) for step in sweep.steps]
        seconds = sum(g.seconds for g in guesses)
        books = ", ".join(f"{step.items:,}" for step in sweep.steps)
        err.print(f"Sweep: concurrency {', '.join(map(str, sweep.levels))} x {', '.join(sweep.approaches)} "
                  f"= {len(sweep.steps) * len(sweep.approaches)} runs on {plan.target}, books per point {books} "
                  f"(20 rounds of C requests, at most --items); estimated {duration(seconds)} "
                  f"({short(sum(g.low for g in guesses))}–{short(sum(g.high for g in guesses))}): "
                  f"{guesses[0].basis}")
    else:
        guess = forecast(plan, past, environment())
        seconds = guess.seconds
        runs = len(plan.approaches) * plan.repeats
        err.print(f"Plan: {plural(plan.items, 'book')} x {plural(len(plan.approaches), 'approach', 'approaches')} "
                  f"x {plan.repeats} = {plural(runs, 'run')} on {conditions_text(plan)}; estimated "
                  f"{span(guess)}: {guess.basis}")
        if guess.warning:
            err.print(f"warning: {guess.warning}")
    if plan.import_note:
        err.print(f"note: {plan.import_note}")
    if plan.bulk_note:
        err.print(f"note: {plan.bulk_note}")
    if args.dry_run:
        err.print(f"dry run: nothing was sent; it would write to {where or 'this machine'}")
        return 0
    _confirm(err, seconds, args.yes or where is not None)
    if sweep is not None:
        with RunProgress(err, max(step.items for step in sweep.steps), len(sweep.steps) * len(sweep.approaches)) \
                as progress:
            result = run_interruptibly(lambda cancel, events: run_sweep(sweep, progress=events, cancel=cancel),
                                       progress)
        out = console(sys.stdout)
        out.print(result.table())
        out.print(result.summary())
        if result.error:
            print(f"error: {logs.redact(result.error)}", file=sys.stderr)
        return 130 if result.cancelled else 1 if result.error else 0
    with RunProgress(err, plan.items, len(plan.approaches) * plan.repeats) as progress:
        report = run_interruptibly(lambda cancel, events: run(plan, progress=events, cancel=cancel), progress)
    answer = _verdict(report, past)
    # what was measured is kept before anything is drawn: a terminal that cannot draw loses nothing
    problems = [problem for path, text in ((args.json, lambda r: to_json(r, answer)), (args.csv, to_csv)) if path
                for problem in [_export(path, text(report))] if problem]
    if history is not None:
        try:
            history.append(report)
        except LabError as error:
            problems.append(str(error))
    show_results(console(sys.stderr if STDOUT in (args.json, args.csv) else sys.stdout), report, answer)
    for problem in [*problems, *problem_lines(report)]:
        print(f"error: {logs.redact(problem)}", file=sys.stderr)
    return 130 if report.cancelled else 1 if problems or report.issues() else 0


def show_results(out: Console, report: Report, answer: Verdict) -> None:
    """The chart, the tables, the capacity use and the verdict; nothing without a run (the error lines say that
    nothing was written and what did not run)."""
    if not report.runs:
        return
    width = width_of(out)
    out.print(chart(report, width, ascii_only=out.options.ascii_only), width=width)
    out.print()
    out.print(table(report), width=width)
    if capacity := capacity_report(report):
        out.print()
        out.print(capacity, width=width, markup=False)
    out.print()
    out.print(verdict_text(answer), width=width)


def _plan_load(args: argparse.Namespace) -> int:
    """The bulk-load planner: a ranked table (or ``--json``) with its sources; calibrated from the history."""
    spec = LoadSpec(items=args.items, item_bytes=args.item_bytes, table=args.table,
                    capacity=parse_capacity(args.capacity), target=args.target, endpoint_url=args.endpoint_url,
                    deadline_s=parse_duration(args.deadline) if args.deadline else None, threads=args.threads,
                    concurrency=args.concurrency, retry_mode=args.retry_mode, bulk_tier=args.bulk_tier,
                    bulk_max_wru=args.bulk_max_wru)
    path = None if args.history.lower() == "off" else Path(args.history).expanduser() if args.history \
        else default_history_path()
    history = History(path) if path is not None and path.exists() else None  # a plan creates no history
    reports = history.reports() if history is not None else []
    _skipped(history)
    bulk = with_measured(spec.bulk, history.checks() if history is not None else [], spec.bulk_tier)
    if args.bulk_rate is not None:
        bulk = bulk.with_rate(spec.bulk_tier, args.bulk_rate)
    if args.bulk_price_per_gb is not None:
        bulk = bulk.with_price(spec.bulk_tier, args.bulk_price_per_gb)
    plan = plan_load(replace(spec, bulk=bulk), reports, environment())
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(table_text(plan, args.explain, width_of(console(sys.stdout))))
    return 0


def _aws_check(args: argparse.Namespace) -> int:
    """A tiny bulk put on the user's account (core/run/awscheck.py), its figures stored for the planner."""
    options = CheckOptions(args.s3_bucket, args.s3_prefix, args.region, args.table, args.items, args.bulk_tier,
                           args.profile, args.endpoint_url, args.s3_endpoint_url)
    history = None if args.history.lower() == "off" or args.dry_run else History(args.history or None)
    print("\n".join(confirmation(options)), file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing was sent", file=sys.stderr)
        return 0
    if options.off_machine is not None and not args.yes:
        raise ConfigError(f"{options.off_machine} is not a local endpoint: add --yes to create what is listed above")

    def check(cancel: threading.Event, lines: Callable[[str], None]) -> CheckResult:
        return run_check(options, cancel=cancel, progress=lines)

    result = run_interruptibly(check, lambda line: print(line, file=sys.stderr))
    print("\n".join(summary(result, options)))
    if result.figures is not None and history is not None:
        row = history.append_check(result.figures)
        use = "plan-load --table existing now takes its start-up and rate" if result.figures.on_aws else \
            "marked emulated: the planner never takes it for AWS's figures"
        print(f"stored in {history.path} (aws-check #{row}): {use}")
    for line in result.left:
        print(f"error: could not delete {logs.redact(line)}", file=sys.stderr)
    if result.error:
        print(f"error: {logs.redact(result.error)}", file=sys.stderr)
    return 130 if result.cancelled else 1 if result.error or result.left else 0


def proxy_settings(args: argparse.Namespace) -> tuple[Conditions, Capacity, bool, bool]:
    """The proxy's conditions, capacity, TLS and signature checks: the flags, over ``--preset``'s (an explicit
    --network/--latency-ms/--jitter-ms or --capacity wins, as for a run: the same ``Preset.apply``)."""
    plan = Plan(conditions=conditions_from(args), capacity=parse_capacity(args.capacity or "off"))
    if args.preset:
        chosen = {"network"} if args.network or args.latency_ms is not None or args.jitter_ms is not None else set()
        plan = PRESETS[args.preset].apply(plan, keep=chosen | ({"capacity"} if args.capacity is not None else set()))
    return plan.conditions, plan.capacity, args.tls or plan.rehearsal, args.check_signatures or plan.rehearsal


def signature_keys(args: argparse.Namespace, stdin: TextIO) -> tuple[tuple[Credentials, ...], bool]:
    """The key pairs the proxy checks signatures against, and whether they are a test pair made here: the profile's
    (``--profile``), else "ACCESS_KEY_ID SECRET" lines on stdin (piped; never argv or the environment), else, with
    nothing on stdin, a throwaway test pair."""
    if args.profile:
        try:
            found = Target("aws", profile=args.profile).credentials()
        except LabError as error:
            raise ConfigError(f"--profile {args.profile}: {error}") from None
        return (found,), False
    pairs: list[Credentials] = []
    if not stdin.isatty():
        for number, line in enumerate(stdin, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if len(words) != 2:
                raise ConfigError(f"stdin line {number}: give one key pair per line as ACCESS_KEY_ID SECRET")
            pairs.append(Credentials(words[0], words[1]))
            logs.remember(words[1])
    if pairs:
        return tuple(pairs), False
    return (Credentials("AKIDLABPROXY" + secrets.token_hex(4).upper(), secrets.token_urlsafe(30)),), True


def paste_lines(proxy: Emulator, keys: Sequence[Credentials], generated: bool, region: str = "us-east-1") -> list[str]:
    """What a user pastes into another shell to send their own code through the proxy."""
    lines = [f"export AWS_ENDPOINT_URL_DYNAMODB={proxy.endpoint_url}"]
    if proxy.ca_bundle:
        lines.append(f"export AWS_CA_BUNDLE={proxy.ca_bundle}")
    if not keys:
        lines.append("export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing  # any key: none is checked")
    elif generated:
        lines.append(f"export AWS_ACCESS_KEY_ID={keys[0].access_key} AWS_SECRET_ACCESS_KEY={keys[0].secret_key}"
                     "  # a test pair made for this proxy")
    else:
        lines.append(f"export AWS_ACCESS_KEY_ID={keys[0].access_key}  # and AWS_SECRET_ACCESS_KEY: the secret you gave")
    lines.append(f"export AWS_DEFAULT_REGION={region}")
    return lines


def try_lines(url: str, ca_bundle: str | None, keys: Sequence[Credentials], generated: bool,
              profile: str | None = None) -> list[str]:
    """``core.domain.endpoints.try_commands`` for the proxy: dummy keys when none are checked, else the test pair, the
    profile or the user's own key (its secret left for them to type), and the throwaway CA under TLS."""
    env = [f"AWS_CA_BUNDLE={ca_bundle}"] if ca_bundle else []
    if not keys:
        env.append(DUMMY_KEYS)
    elif generated:
        env.append(f"AWS_ACCESS_KEY_ID={keys[0].access_key} AWS_SECRET_ACCESS_KEY={keys[0].secret_key}")
    elif not profile:
        env.append(f"AWS_ACCESS_KEY_ID={keys[0].access_key} AWS_SECRET_ACCESS_KEY=YOUR_SECRET")
    return try_commands(url, "custom", " ".join(env), f"--profile {profile}" if profile else "")


def _proxy(args: argparse.Namespace) -> int:
    """``python -m core proxy`` (and its alias ``emulator``): the server in the foreground, the lines to paste, and
    on Ctrl-C (or SIGTERM) the report of what the traffic met."""
    conditions, capacity, tls, checks = proxy_settings(args)
    keys, generated = signature_keys(args, sys.stdin) if checks else ((), False)
    proxy = Emulator(port=args.port, host=args.host, conditions=conditions, upstream=args.upstream,
                     capacity=capacity, tls=tls, credentials=keys)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host} makes the emulator reachable from other machines"
              + ("" if checks else " (it checks no credentials)"), file=sys.stderr)

    class Stop(Exception):
        """SIGTERM: leave the wait and stop the server outside the signal handler."""

    def terminate(*_: object) -> None:
        raise Stop

    stopped, ticket = False, None
    signal.signal(signal.SIGTERM, terminate)  # before the URL is printed: a SIGTERM right after it stops cleanly
    try:
        proxy.start()
        what = f"Conditions proxy in front of {proxy.upstream}" if proxy.upstream else "Embedded DynamoDB (dynalite)"
        print(f"{what} at {proxy.endpoint_url}  pid {proxy.pid}  (Ctrl-C stops it and prints its report)", flush=True)
        checked = "signatures checked" if checks else "no credentials checked (any key works)"
        print(f"Conditions: {in_effect(conditions, capacity)}; {'HTTPS' if tls else 'HTTP'}, {checked}")
        ticket = write_ticket(proxy.ticket)
        print("Paste into the shell of your own code (the AWS CLI, boto3 and the other SDKs read these):")
        print("\n".join(f"  {line}" for line in paste_lines(proxy, keys, generated)))
        print("Or try it as is (no AWS account needed):")
        print("\n".join(f"  {line}" for line in try_lines(proxy.endpoint_url, proxy.ca_bundle, keys, generated,
                                                          args.profile if checks else None)))
        print(f"Report while it runs: python -m core proxy-report --url {proxy.endpoint_url}", flush=True)
        code = proxy.wait()
    except (KeyboardInterrupt, Stop):
        stopped, code = True, 0
        if proxy.running:
            try:
                print(traffic_report(proxy.stats(), proxy.endpoint_url), flush=True)
            except (OSError, LabError) as error:
                print(f"error: no report: the proxy did not answer ({error})", file=sys.stderr)
    finally:
        if ticket is not None:
            remove_ticket(ticket)
        proxy.stop()
    if not stopped:
        reason = proxy.exit_reason(code if code is not None else 0)
        print(f"error: {proxy.name} stopped unexpectedly ({logs.redact(reason)}); start it again", file=sys.stderr)
        return 1
    return 0


def _proxy_report(args: argparse.Namespace) -> int:
    """``python -m core proxy-report --url URL``: the running proxy's report, through its ticket."""
    ticket = read_ticket(args.url)
    print(traffic_report(fetch_stats(ticket), ticket.url))
    return 0


def _add_conditions(group: argparse._ActionsContainer) -> None:
    group.add_argument("--network", choices=list(NETWORK_PRESETS),
                       help="latency preset injected by the lab's server or proxy (targets on this machine): "
                            + ", ".join(f"{name} {c.latency_ms:g}+{c.jitter_ms:g} ms" for name, c in
                                        NETWORK_PRESETS.items() if name != "none") + "; default none")
    _limited(group, "--latency-ms", "latency_ms", metavar="MS", default=None,
             help="fixed latency per request (overrides the preset)")
    _limited(group, "--jitter-ms", "jitter_ms", metavar="MS", default=None)
    group.add_argument("--faults", metavar="LIST", help="fault probabilities, e.g. throttle=0.3,error=0.05,reset=0.02")
    group.add_argument("--capacity", metavar="MODEL",
                       help="table capacity model: off (the default), on-demand, on-demand:warm=N,max=N or "
                            "provisioned=WCU")


def _limited(group: argparse._ActionsContainer, flag: str, name: str, help: str | None = None,
             **extra: Any) -> None:
    """An option for an input of ``LIMITS``: its type, default and range from the row (``extra`` may replace the
    type, e.g. a count, or the default, e.g. None where a preset decides)."""
    row = LIMITS[name]
    default = None if row.default is None or extra.get("required") else int(row.default) if row.whole \
        else row.default
    parse = INT if row.whole else FLOAT

    def checked(text: str) -> float:  # the range checked here, so that the error names the flag
        value = parse(text)
        try:
            row.check(value, flag)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    extra.setdefault("type", checked)
    extra.setdefault("default", default)
    note = f" (default {row.default_note})" if row.default_note else ""
    group.add_argument(flag, help=f"{help or row.help}, {row.range_text}{note}", **extra)


class _Formatter(argparse.HelpFormatter):
    """Help at the terminal's width: defaults shown, descriptions wrapped by paragraph, example lines (indented by
    two spaces) kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, "", argparse.SUPPRESS) or "default" in text or "%(default)" in text:
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        paragraph: list[str] = []
        for line in [*text.strip("\n").splitlines(), ""]:
            if line.startswith("  ") or not line.strip():
                if paragraph:
                    lines += textwrap.wrap(" ".join(paragraph), width, initial_indent=indent, subsequent_indent=indent,
                                           break_on_hyphens=False)
                    paragraph = []
                lines.append(indent + line if line.strip() else "")
            else:
                paragraph.append(line.strip())
        return "\n".join(lines).rstrip("\n")

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    """argparse with the lab's errors: one line with the closest choice and where the help is (``ConfigError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        message = re.sub(r"^argument (\S+): \1 ", r"\1 ", message)  # "argument --items: --items must be" once
        raise ConfigError(f"{message} (see {self.prog} --help)")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(choice) for choice in action.choices]
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{did_you_mean(str(value), choices)}; "
                                                 f"choose from {', '.join(choices)}")

    def subparser(self, command: str | None) -> _Parser:
        """The parser of ``command`` (a name or an alias), or this one."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                found: _Parser = action.choices[command]
                return found
        return self

    def unrecognized(self, extra: Sequence[str]) -> None:
        """The error for arguments this parser does not know, with the closest of its options."""
        options = [name for name in self._option_string_actions if name.startswith("--")]
        hint = did_you_mean(extra[0].split("=", 1)[0], options) if extra[0].startswith("-") else ""
        self.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


def _count(label: str, high: int) -> Callable[[str], int]:
    """An argparse type: a count as ``core.domain.numbers.parse_count`` reads it (10000, 10_000, 10k, 2.5M, 1e9)."""
    def parse(text: str) -> int:
        try:
            return parse_count(text, label, 1, high)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


VERSION = f"dynamodb-write-lab {core.__version__}"
START_HERE = f"""\
The DynamoDB write-concurrency lab: how fast Python writes to DynamoDB, and
which way of writing wins. Nothing leaves this machine unless you add --yes.

start here:
  python -m core run                  compare {len(STUDY_APPROACHES)} ways of writing 1,000 books
  python -m core run --network study-2022 --approaches threaded,async
                                      the same with the 2022 study's latency
  python -m core plan-load --items 10M --item-bytes 400
                                      how to load 10 million items on AWS
  python -m core proxy                a local DynamoDB for your own code
  python -m core COMMAND --help       a command's options and examples
"""
RUN_HELP = """\
Write the same seeded books with each approach, verify every item, and print
the items/s chart, the results table and which approach to use. Progress goes
to stderr, results to stdout. Exit 0 when every run verified, 1 when anything
was lost or failed, 2 for bad input.

examples:
  python -m core run
      the 2022 study's approaches, 1,000 books, on the embedded DynamoDB
  python -m core run --network study-2022 --items 2k --approaches async
      one approach at the 2022 study's latency
  python -m core run --capacity provisioned=1000 --retry-mode adaptive
      against a table that throttles, with client-side rate control
  python -m core run --target aws --region eu-west-1 --items 1000 --yes
      real DynamoDB: costs money (the estimate is printed first)
"""
PLAN_HELP = """\
How to load N items: each approach's best worker count, time and cost, and
DynamoDB's import from S3 for a new table (bulk-put for an existing one),
ranked: the recommendation and the command to run next first. Sends nothing.

examples:
  python -m core plan-load --items 10M --item-bytes 400
  python -m core plan-load --items 50M --item-bytes 400 --table existing \\
      --capacity on-demand:warm=20000 --deadline 2h
  python -m core plan-load --items 1e9 --item-bytes 100 --explain
  python -m core plan-load --items 10k --item-bytes 1000 --json
"""
PROXY_HELP = """\
A DynamoDB endpoint on this machine for your own code (the AWS CLI, boto3,
any SDK): the embedded dynalite, or any local engine behind it (--upstream),
with the lab's latency, faults, capacity model, HTTPS and signature checks. It
prints the lines to paste; Ctrl-C stops it and prints what the traffic met.

examples:
  python -m core proxy
  python -m core proxy --network study-2022 --faults throttle=0.1
  python -m core proxy --preset aws-like --capacity provisioned=5
  python -m core proxy --upstream http://127.0.0.1:8001 --port 8002
"""
CHECK_HELP = """\
Time a tiny bulk put on your AWS account: it lists what it creates and what
that costs (--yes goes ahead), creates a table and S3 objects, times the
start-up and the rate, reads the table back and deletes both. plan-load
--table existing then takes those figures instead of its assumptions.

examples:
  python -m core aws-check --s3-bucket my-bucket --dry-run
  python -m core aws-check --s3-bucket my-bucket --region eu-west-1 --yes
  python -m core aws-check --s3-bucket my-bucket --bulk-tier ACCELERATED
"""
REPORT_HELP = """\
What the traffic met so far in a running `python -m core proxy` (the proxy
prints the same on Ctrl-C): requests, capacity use, throttles, faults.

examples:
  python -m core proxy-report --url http://127.0.0.1:8000
  python -m core proxy-report --url https://127.0.0.1:8400
"""


def build_parser() -> _Parser:
    parser = _Parser(prog="python -m core", description=START_HERE, usage="%(prog)s COMMAND [options]")
    parser.add_argument("--version", action="version", version=VERSION)
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", required=True,
                                     parser_class=_Parser, prog=parser.prog)
    bench = commands.add_parser("run", help="write the same seeded books with each approach and compare",
                                description=RUN_HELP, usage="%(prog)s [options]")
    where = bench.add_argument_group("target")
    where.add_argument("--target", choices=KINDS, default="embedded",
                       help="where to write: embedded (dynalite on this machine), dynamodb-local, localstack, aws "
                            "(real DynamoDB) or custom (any URL: --endpoint-url)")
    where.add_argument("--endpoint-url", metavar="URL",
                       help="for localstack (default from AWS_ENDPOINT_URL/LOCALSTACK_HOST) and custom targets")
    where.add_argument("--region", default="us-east-1", help="the AWS region (the aws target; signing elsewhere)")
    where.add_argument("--profile", help="AWS profile for the aws and custom targets")
    where.add_argument("--yes", action="store_true",
                       help="write to a non-local endpoint, and run a long local plan without asking")
    load = bench.add_argument_group("workload")
    _limited(load, "--items", "items", type=_count("--items", MAX_ITEMS), metavar="N",
             help="books per approach and repeat (2000, 2_000, 2k, 1e6)")
    load.add_argument("--approaches", metavar="LIST",
                      help=f"comma-separated, from: {', '.join(APPROACHES)} (default: {','.join(STUDY_APPROACHES)}; "
                           f"a sweep: {','.join(SWEEP_APPROACHES)})" + "".join(
                          f"; unavailable here: {a.unavailable}" for a in APPROACHES.values() if a.unavailable))
    _limited(load, "--repeat", "repeats", metavar="N")
    _limited(load, "--warmup", "warm-up", metavar="N")
    _limited(load, "--seed", "seed")
    load.add_argument("--sweep", metavar="LEVELS",
                      help="items/s against concurrency instead of one run, for --approaches: e.g. "
                           "concurrency=1,4,16,64,256 (the ideal line C / L beside)")
    retries = bench.add_argument_group("concurrency and retries")
    _limited(retries, "--threads", "threads", metavar="N")
    _limited(retries, "--concurrency", "concurrency", metavar="N")
    _limited(retries, "--max-attempts", "max attempts", metavar="N")
    _limited(retries, "--request-timeout", "request timeout", metavar="S")
    retries.add_argument("--retry-mode", choices=RETRY_MODES, default="standard",
                         help="adaptive: client-side rate control fed by throttles (botocore's for the boto3 and "
                              "aiobotocore approaches, the lab's for the others)")
    conditions = bench.add_argument_group("conditions and capacity")
    _add_conditions(conditions)
    conditions.add_argument("--preset", choices=list(PRESETS), help="; ".join(
        f"{name}: {preset.description} (an explicit --network/--latency-ms/--jitter-ms or --capacity wins, off "
        "and none included)"
        for name, preset in PRESETS.items()))
    scale = bench.add_argument_group("scale-out")
    _limited(scale, "--workers", "workers", metavar="N",
             help="split the books into N shards written by N Dask worker processes")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask cluster's scheduler, e.g. "
                                                               "tcp://10.0.0.5:8786 (instead of a local cluster)")
    s3 = bench.add_argument_group("s3-import and bulk-put")
    s3.add_argument("--s3-bucket", metavar="NAME", help="the S3 bucket for the books (required on AWS, where the lab "
                                                        "never creates buckets; local engines: the lab's own)")
    s3.add_argument("--s3-prefix", default=DEFAULT_PREFIX, metavar="PREFIX",
                    help="key prefix under which each run puts its own folder of parts")
    s3.add_argument("--bulk-tier", default="STANDARD", type=str.upper, choices=TIERS,
                    help="bulk-put: PerformanceTier (its rate is an assumption: AWS publishes none)")
    s3.add_argument("--bulk-max-wru", type=INT, metavar="N", help=f"bulk-put: MaxWriteRequestUnits, at least "
                                                                  f"{MIN_MAX_WRU:,} (caps this operation only; "
                                                                  "default: DynamoDB's own rate)")
    s3.add_argument("--bulk-malformed", type=INT, default=0, metavar="N",
                    help="bulk-put: write N of the books as broken lines, to see them in the ERROR report")
    output = bench.add_argument_group("output")
    output.add_argument("--json", metavar="FILE", help="write the report as JSON to this file ('-': standard output)")
    output.add_argument("--csv", metavar="FILE", help="write one CSV row per run to this file ('-': standard output)")
    output.add_argument("--history", default="", metavar="FILE", help=HISTORY_HELP)
    output.add_argument("--dry-run", action="store_true",
                        help="check the plan, the outputs and the target's location, print the estimate, send "
                             "nothing")
    output.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        help="log to stderr (debug shows botocore's wire log; secrets are always masked)")
    bench.set_defaults(handler=_run)
    planner = commands.add_parser("plan-load", help="how to load N items: the approach, workers, time, cost and the "
                                                    "command to run next; sends nothing",
                                  description=PLAN_HELP, usage="%(prog)s --items N --item-bytes B [options]")
    planner.add_argument("--items", type=_count("--items", MAX_PLAN_ITEMS), required=True, metavar="N",
                         help="items to load, up to a trillion: 10000, 10_000, 10k, 2.5M, 1e9")
    _limited(planner, "--item-bytes", "item bytes", required=True, metavar="B")
    planner.add_argument("--table", choices=("new", "existing"), default="new",
                         help="new: the load creates the table (s3-import is possible); existing: it is there "
                              "(writers, bulk-put)")
    planner.add_argument("--capacity", default="on-demand", metavar="MODEL",
                         help="the table's capacity: on-demand, on-demand:warm=N,max=N, provisioned=WCU or off")
    planner.add_argument("--target", choices=KINDS, default="aws",
                         help="where the writers' measured figures come from")
    planner.add_argument("--endpoint-url", metavar="URL", help="for localstack and custom targets")
    planner.add_argument("--deadline", metavar="TIME",
                         help="finish by then: e.g. 45min, 2h, 3d (the workers it takes are shown)")
    _limited(planner, "--threads", "threads", metavar="N", help="threads per worker")
    _limited(planner, "--concurrency", "concurrency", metavar="N", help="requests in flight per worker")
    planner.add_argument("--retry-mode", choices=RETRY_MODES, default=DEFAULT_RETRY_MODE,
                         help="the writers' retries: adaptive (client-side rate control) writes more of a throttling "
                              "table's capacity")
    bulk = planner.add_argument_group("bulk-put (an existing table)")
    bulk.add_argument("--bulk-tier", default="STANDARD", type=str.upper, choices=TIERS, help="PerformanceTier")
    bulk.add_argument("--bulk-max-wru", type=INT, metavar="N", help=f"MaxWriteRequestUnits, at least {MIN_MAX_WRU:,}")
    bulk.add_argument("--bulk-rate", type=FLOAT, metavar="WRU_S",
                      help="the tier's rate in WRU/s, instead of the assumed range (AWS publishes none)")
    bulk.add_argument("--bulk-price-per-gb", type=FLOAT, metavar="USD",
                      help="USD per GB of bulk put bytes, instead of the assumed price (AWS publishes none)")
    shown = planner.add_argument_group("output")
    shown.add_argument("--history", default="", metavar="FILE", help=HISTORY_HELP)
    shown.add_argument("--explain", action="store_true",
                       help="also print each row's basis, the notes and the sources of every figure")
    shown.add_argument("--json", action="store_true", help="print the plan as JSON (everything --explain shows)")
    planner.set_defaults(handler=_plan_load)
    check = commands.add_parser("aws-check", help="time a tiny bulk put on your AWS account (a table and S3 objects "
                                                  "it creates and deletes) and store the figures for plan-load",
                                description=CHECK_HELP, usage="%(prog)s --s3-bucket NAME [options]")
    check.add_argument("--s3-bucket", required=True, help="a bucket of yours that DynamoDB can read (never created)")
    check.add_argument("--s3-prefix", default=DEFAULT_PREFIX, help="key prefix for the check's folder of objects")
    check.add_argument("--region", default="us-east-1", help="the AWS region of the table and the bucket")
    check.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    check.add_argument("--table", help="the table to create (it must not exist; default LabBulkCheck-<time>-<random>)")
    check.add_argument("--items", type=_count("--items", CHECK_MAX_ITEMS), default=DEFAULT_ITEMS, metavar="N",
                       help="books to bulk put (a check is tiny): 1000, 1k, 1e3")
    check.add_argument("--bulk-tier", default="STANDARD", type=str.upper, choices=TIERS, help="PerformanceTier")
    check.add_argument("--endpoint-url", help="DynamoDB elsewhere than AWS (the lab's emulation, LocalStack): the "
                                              "figures are stored as emulated, never used as AWS's")
    check.add_argument("--s3-endpoint-url", help="S3 elsewhere than AWS, with --endpoint-url (default: the same URL)")
    check.add_argument("--history", default="", metavar="FILE", help=HISTORY_HELP)
    check.add_argument("--yes", action="store_true", help="go ahead on AWS (the confirmation lists what it costs)")
    check.add_argument("--dry-run", action="store_true", help="print what would be created and its cost; send nothing")
    check.set_defaults(handler=_aws_check)
    proxy = commands.add_parser(
        "proxy", aliases=["emulator"], description=PROXY_HELP, usage="%(prog)s [options]",
        help="a DynamoDB for your own code on this machine, with latency, faults, capacity, HTTPS and signature "
             "checks; a report on Ctrl-C")
    proxy.add_argument("--port", type=INT, default=8000, help="port to listen on (0: any free port)")
    proxy.add_argument("--host", default="127.0.0.1", help="address to bind")
    proxy.add_argument("--upstream", metavar="URL",
                       help="front this DynamoDB engine on this machine instead of hosting dynalite, "
                            "e.g. http://127.0.0.1:8001 (DynamoDB Local, LocalStack, moto)")
    _add_conditions(proxy)
    proxy.add_argument("--preset", choices=list(PRESETS), help="; ".join(
        f"{name}: {preset.description}" for name, preset in PRESETS.items()))
    proxy.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA (its file: AWS_CA_BUNDLE)")
    proxy.add_argument("--check-signatures", action="store_true",
                       help="refuse requests whose SigV4 signature does not match: the keys of --profile, or "
                            "'ACCESS_KEY_ID SECRET' lines on stdin, else a test pair it prints")
    proxy.add_argument("--profile", help="with --check-signatures: check against this AWS profile's keys")
    proxy.set_defaults(handler=_proxy)
    report = commands.add_parser("proxy-report", help="what the traffic met in a running `python -m core proxy`",
                                 description=REPORT_HELP, usage="%(prog)s --url URL")
    report.add_argument("--url", required=True, help="the URL the proxy printed, e.g. https://127.0.0.1:8000")
    report.set_defaults(handler=_proxy_report)
    localstack = commands.add_parser("localstack", add_help=False,
                                     help="LocalStack's DynamoDB on this machine without Docker (127.0.0.1)")
    localstack.set_defaults(handler=None)  # main() hands its arguments to core.servers.localstack.main
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["localstack"]:  # its own parser (and --help)
        from core.servers.localstack import main as run_localstack

        return run_localstack(argv[1:])
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 0
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            parser.subparser(args.command).unrecognized(extra)
        return int(args.handler(args))
    except ConfigError as error:
        print(f"error: {logs.redact(str(error))}", file=sys.stderr)
        return 2
    except LabError as error:
        print(f"error: {logs.redact(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout stopped early (`| head`): quiet, as a program killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush has nowhere to fail
        return 141
