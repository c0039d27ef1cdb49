"""The command line: ``python -m core run`` (the benchmark) and ``python -m core emulator``.

Contract: ``main(argv)`` returns the exit code: 0 when every run verified with nothing lost or failed, 1 when
anything was lost or failed (or a target failed), 2 for bad input, printed as one line on stderr; no traceback.
Progress goes to stderr; the chart and table to stdout.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from core import logs
from core.benchmark import (
    STUDY_2022_ITEMS,
    STUDY_2022_SECONDS,
    Plan,
    ProgressEvent,
    Report,
    estimate,
    estimated_cost_usd,
    run,
)
from core.emulator import NETWORK_PRESETS, Conditions, Emulator
from core.errors import ConfigError, LabError
from core.export import to_csv, to_json
from core.history import History
from core.targets import KINDS, is_local_url
from core.writers import APPROACHES, STUDY_APPROACHES, default_threads


def parse_faults(text: str) -> dict[str, float]:
    """``throttle=0.3,error=0.05,reset=0.02`` -> {"throttle": 0.3, ...}."""
    faults: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in ("throttle", "error", "reset") or not value:
            raise ConfigError(f"bad --faults entry {part!r}: use throttle=P,error=P,reset=P with P from 0 to 1")
        try:
            faults[name] = float(value)
        except ValueError:
            raise ConfigError(f"bad --faults value {value!r} for {name}: expected a number from 0 to 1") from None
    return faults


def conditions_from(args: argparse.Namespace) -> Conditions:
    base = NETWORK_PRESETS[args.network]
    return Conditions(
        latency_ms=base.latency_ms if args.latency_ms is None else args.latency_ms,
        jitter_ms=base.jitter_ms if args.jitter_ms is None else args.jitter_ms,
        **parse_faults(args.faults or ""),
    )


def plan_from(args: argparse.Namespace) -> Plan:
    approaches = tuple(a.strip() for a in args.approaches.split(",") if a.strip())
    return Plan(target=args.target, endpoint_url=args.endpoint_url, region=args.region, profile=args.profile,
                approaches=approaches, items=args.items, seed=args.seed, repeats=args.repeat, warmup=args.warmup,
                threads=args.threads, concurrency=args.concurrency, conditions=conditions_from(args),
                max_attempts=args.max_attempts, request_timeout=args.request_timeout)


class ProgressBar:
    """One line on stderr, redrawn from whatever thread reports progress."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.lock, self.last = stream, threading.Lock(), 0.0

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.phase == "write" and now - self.last < 0.2 and event.done < event.total:
            return
        with self.lock:
            self.last = now
            filled = int(30 * event.done / max(event.total, 1))
            self.stream.write(f"\r{event.approach:<18} #{event.repeat + 1} {event.phase:<6} "
                              f"[{'█' * filled}{'·' * (30 - filled)}] {event.done:>8,}/{event.total:,} "
                              f"{event.items_per_second:>8,.0f} items/s")
            if event.phase == "done":
                self.stream.write("\n")
            self.stream.flush()


def bar_chart(report: Report, width: int = 40) -> str:
    """Seconds per approach as a terminal bar chart, the study's published bars beside ours."""
    rows = [(s.approach, s.seconds_median) for s in report.summaries()]
    if report.plan.items == STUDY_2022_ITEMS:
        rows += [(f"2022 study: {name}", seconds) for name, seconds in STUDY_2022_SECONDS.items()]
    longest = max((seconds for _, seconds in rows), default=1.0) or 1.0
    label = max((len(name) for name, _ in rows), default=10)
    return "\n".join(f"{name:>{label}}: {'▇' * max(1, round(width * seconds / longest))} {seconds:,.2f} s"
                     for name, seconds in rows)


def results_table(report: Report) -> str:
    header = (f"{'approach':<18} {'#':>2} {'seconds':>9} {'items/s':>9} {'speed-up':>8} {'p50 ms':>8} "
              f"{'p95 ms':>8} {'p99 ms':>8} {'retries':>7} {'throttled':>9}  verification")
    lines = [header, "-" * len(header)]
    baseline = {s.approach: s.seconds_median for s in report.summaries()}.get("sequential")
    for result in report.runs:
        r, v, lat = result.report, result.verification, result.report.latency
        speedup = f"{baseline / r.seconds:.1f}x" if baseline and r.seconds else "-"
        check = (f"{'OK' if result.clean else 'FAIL'} found {v.found:,}/{v.expected:,} lost {v.lost}"
                 f" failed {r.items_failed} unknown {r.items_unknown}"
                 + (f" recovered {v.recovered}" if v.recovered else "")
                 + ("  [server-bound]" if result.server_bound else ""))
        lines.append(f"{r.approach:<18} {result.repeat + 1:>2} {r.seconds:>9.2f} {r.items_per_second:>9,.0f} "
                     f"{speedup:>8} {lat.p50:>8.2f} {lat.p95:>8.2f} {lat.p99:>8.2f} {r.retries:>7,} "
                     f"{r.throttled:>9,}  {check}")
        lines.extend(f"{'':<21}! {reason}" for reason in r.failures)
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    if args.log_level:
        logs.configure(args.log_level)
    plan = plan_from(args)
    history = History(args.history) if args.history != "off" else None  # fails before anything is written
    for path in (args.json, args.csv):
        if path and not Path(path).parent.exists():
            raise ConfigError(f"cannot write {path}: folder {Path(path).parent} does not exist")
    local = plan.target == "embedded" or is_local_url(plan.endpoint_url or "")
    if not local and not args.yes:
        where = plan.endpoint_url or f"AWS {plan.region}"
        cost = f" (about ${estimated_cost_usd(plan):.4f} of on-demand writes)" if plan.target == "aws" else ""
        raise ConfigError(f"{where} is not a local endpoint: add --yes to write there{cost}")
    print(f"Plan: {plan.items:,} books x {len(plan.approaches)} approaches x {plan.repeats} on {plan.target}; "
          f"estimated {estimate(plan):,.0f} s", file=sys.stderr)
    report = run(plan, progress=ProgressBar(sys.stderr))
    print(bar_chart(report))
    print()
    print(results_table(report))
    if args.json:
        Path(args.json).write_text(to_json(report))
    if args.csv:
        Path(args.csv).write_text(to_csv(report))
    if history is not None:
        history.append(report)
    if report.error:
        print(f"error: {report.error}", file=sys.stderr)
        return 1
    if not report.clean:
        print("error: some items were lost, failed or left unknown (see the table above)", file=sys.stderr)
        return 1
    return 0


def _emulator(args: argparse.Namespace) -> int:
    emulator = Emulator(port=args.port, host=args.host, conditions=conditions_from(args), upstream=args.upstream)
    emulator.start()
    what = f"Conditions proxy in front of {emulator.upstream}" if emulator.upstream else "Embedded DynamoDB (dynalite)"
    print(f"{what} at {emulator.endpoint_url}  pid {emulator.pid}  (Ctrl-C stops it)", flush=True)
    print(f"  aws dynamodb list-tables --endpoint-url {emulator.endpoint_url} --region us-east-1", flush=True)
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        emulator.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def _add_conditions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", choices=list(NETWORK_PRESETS), default="none",
                        help="latency preset injected by the embedded server")
    parser.add_argument("--latency-ms", type=float, help="fixed latency per request (overrides the preset)")
    parser.add_argument("--jitter-ms", type=float, help="extra uniform random latency per request")
    parser.add_argument("--faults", help="fault probabilities, e.g. throttle=0.3,error=0.05,reset=0.02")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see python -m core {self.prog.split()[-1]} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="The DynamoDB write-concurrency lab.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    bench = commands.add_parser("run", help="write the same seeded books with each approach and compare")
    bench.add_argument("--target", choices=KINDS, default="embedded")
    bench.add_argument("--endpoint-url", help="for localstack (default from AWS_ENDPOINT_URL/LOCALSTACK_HOST) "
                                              "and custom targets")
    bench.add_argument("--region", default="us-east-1")
    bench.add_argument("--profile", help="AWS profile for the aws and custom targets")
    bench.add_argument("--items", type=int, default=1_000)
    bench.add_argument("--approaches", default=",".join(STUDY_APPROACHES),
                       help=f"comma-separated, from: {', '.join(APPROACHES)}")
    bench.add_argument("--repeat", type=int, default=1)
    bench.add_argument("--warmup", type=int, default=0, help="items written (and discarded) before measuring")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--threads", type=int, default=default_threads())
    bench.add_argument("--concurrency", type=int, default=100)
    bench.add_argument("--max-attempts", type=int, default=10, help="attempt budget per request, every approach")
    bench.add_argument("--request-timeout", type=float, default=10.0, help="seconds per request")
    _add_conditions(bench)
    bench.add_argument("--json", help="write the report as JSON to this file")
    bench.add_argument("--csv", help="write one CSV row per run to this file")
    bench.add_argument("--history", default=None, help="SQLite history file (default: user data dir; 'off')")
    bench.add_argument("--yes", action="store_true", help="allow writing to a non-local endpoint")
    bench.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       help="log to stderr (debug shows botocore's wire log; secrets are always masked)")
    bench.set_defaults(handler=_run)
    emulator = commands.add_parser("emulator", help="run the embedded DynamoDB (dynalite) in the foreground")
    emulator.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    emulator.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    emulator.add_argument("--upstream", help="front this DynamoDB engine on this machine instead of hosting dynalite, "
                                             "e.g. http://127.0.0.1:8001 (DynamoDB Local, LocalStack, moto)")
    _add_conditions(emulator)
    emulator.set_defaults(handler=_emulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
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
