"""The estimate's built-in figures, measured: each writer's seconds per request and a plan's fixed costs.

    python -m bench.priors [--repeat 3] [--approaches sequential,async] [--items 2000] [--batch-items 5000]
                           [--engines]

On the embedded engine (dynalite, 127.0.0.1, no added latency), each writer run by ``core.run.runner.run`` as the page
runs it, the median of ``--repeat`` plans each:

- *floor*: the run's wall seconds per request at the plan's default parallelism (what ``Approach.floor_ms`` holds);
- *round trip*: one request alone, threads and concurrency 1 (``Approach.round_trip_ms``);
- *fixed costs*: the plan's wall time around ``run`` minus its writes (table reset, read-back, set-up), with few and
  many books, so the read-back's cost per 100 books and the rest per run come apart (``core.forecast.estimate``'s
  ``ADMIN_CALL_S``, ``VERIFY_CALL_S``, ``RUN_SETUP_S``).

Beside each figure, the one the lab holds now. Measure on a quiet machine: a busy one makes every figure slower, and
the estimate's calibration from the user's own history is what absorbs a machine's pace.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, replace

from core.domain.approaches import APPROACHES, WRITERS
from core.domain.plan import Plan
from core.domain.results import Report
from core.forecast import estimate as model
from core.run.runner import Server, run, start_server
from core.servers.emulator import Emulator
from core.targets.tables import reset_table
from core.targets.target import make_target


@dataclass(frozen=True)
class Timed:
    """One plan of one approach: its writes' seconds per request and the plan's seconds beyond its writes."""

    per_request: float
    fixed: float


def walled(plan: Plan, emulator: Server | None) -> tuple[Report, float]:
    """The plan's report and its wall time around ``run``."""
    started = time.perf_counter()
    report = run(plan, emulator=emulator)
    return report, time.perf_counter() - started


def beyond_writes(plan: Plan, emulator: Server | None) -> float:
    """The plan's seconds beyond its runs' writes."""
    report, wall = walled(plan, emulator)
    return wall - sum(result.report.seconds for result in report.runs)


def timed(plan: Plan, emulator: Server | None) -> Timed:
    report, wall = walled(plan, emulator)
    if len(report.runs) != 1 or not report.runs[0].report.complete or report.error:
        raise SystemExit(f"{plan.approaches[0]}: the run did not write every book ({report.error or 'see the report'})"
                         ": the figures would not be comparable")
    written = report.runs[0].report
    return Timed(written.seconds / max(written.requests, 1), wall - written.seconds)


def median_of(repeat: int, plan: Plan, emulator: Server | None) -> Timed:
    runs = [timed(plan, emulator) for _ in range(repeat)]
    return Timed(statistics.median(t.per_request for t in runs), statistics.median(t.fixed for t in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="plans per figure; each figure is their median")
    parser.add_argument("--approaches", default=",".join(WRITERS),
                        help="writers to measure, comma-separated (default: every writer installed here)")
    parser.add_argument("--items", type=int, default=2_000, help="books for the PutItem writers' floor")
    parser.add_argument("--batch-items", type=int, default=5_000, help="books for the batch writers' floor")
    parser.add_argument("--engines", action="store_true",
                        help="also DynamoDB Local's and LocalStack's pace and floor (Java 17 and the host-mode "
                             "LocalStack: ./lab.sh setup dev)")
    args = parser.parse_args()
    if args.repeat < 1 or args.items < 100 or args.batch_items < 500:
        parser.error("--repeat must be at least 1, --items at least 100 and --batch-items at least 500")
    names = [name.strip() for name in args.approaches.split(",") if name.strip()]
    if unknown := [name for name in names if name not in WRITERS]:
        parser.error(f"--approaches: {', '.join(unknown)} is not a writer; choose among {', '.join(WRITERS)}")
    with Emulator() as emulator:
        print("embedded dynalite, 127.0.0.1, no added latency; median of", args.repeat, "plans each")
        print(f"{'approach':<28} {'floor ms':>9} {'(holds)':>8} {'round trip ms':>14} {'(holds)':>8}")
        for name in names:
            chosen = APPROACHES[name]
            if chosen.unavailable:
                print(f"{name:<28} unavailable: {chosen.unavailable}")
                continue
            items = args.batch_items if chosen.batch else args.items
            floor = median_of(args.repeat, Plan(approaches=(name,), items=items), emulator)
            alone = median_of(args.repeat, Plan(approaches=(name,), items=max(items // 5, 100), threads=1,
                                                concurrency=1), emulator)
            print(f"{name:<28} {floor.per_request * 1000:>9.2f} {chosen.floor_ms:>8.2f} "
                  f"{alone.per_request * 1000:>14.2f} {chosen.round_trip_ms:>8.2f}", flush=True)
        fixed_costs(args.repeat, emulator)
        scale_out(args.repeat, emulator)
    if args.engines:
        engine_pace(args.repeat)


def fixed_costs(repeat: int, emulator: Emulator) -> None:
    """A plan's costs beyond its writes: one approach with few and with many books (the read-back's slope), then
    two approaches (a run's share, the rest the plan's); the table reset timed alone (its admin calls)."""
    few, many = 100, 3_000
    one = median_of(repeat, Plan(approaches=("async-batch",), items=few), emulator)
    large = median_of(repeat, Plan(approaches=("async-batch",), items=many), emulator)
    per_100 = (large.fixed - one.fixed) / ((many - few) / model.VERIFY_KEYS)
    two = statistics.median(beyond_writes(Plan(approaches=("async-batch", "async"), items=few), emulator)
                            for _ in range(repeat))
    per_run = two - one.fixed
    reset = statistics.median(_reset_seconds(emulator) for _ in range(repeat))
    read_back = per_100 * few / model.VERIFY_KEYS
    print(f"\nfixed costs (async-batch, then async beside it, {few} books): the table reset {reset:.3f} s "
          f"({reset / model.RESET_CALLS * 1000:.1f} ms per admin call if {model.RESET_CALLS}; holds "
          f"{model.ADMIN_CALL_S * 1000:.1f}), a run's other set-up {per_run - reset - read_back:.3f} s (holds "
          f"{model.RUN_SETUP_S}), the plan's own {one.fixed - per_run:.3f} s (holds {model.PLAN_SETUP_S}), the "
          f"read-back {per_100 * 1000:.1f} ms per 100 books (holds {model.VERIFY_CALL_S * 1000:.1f})")


def scale_out(repeat: int, emulator: Emulator) -> None:
    """A scaled-out plan's start-up (its LocalCluster and its workers' imports): the wall time of a tiny plan on 2
    and on 4 workers beyond the same plan on one, fitted as a fixed part and a part per worker."""
    def wall(workers: int) -> float:
        return walled(Plan(approaches=("async-batch",), items=200, workers=workers), emulator)[1]

    one, two, four = (statistics.median(wall(w) for _ in range(repeat)) for w in (1, 2, 4))
    per_worker = (four - two) / 2
    print(f"scale-out start-up: {two - one:.2f} s on 2 workers, {four - one:.2f} s on 4: "
          f"{two - one - 2 * per_worker:.2f} s + {per_worker:.2f} s per worker (holds {model.SCALE_OUT_S} + "
          f"{model.SCALE_OUT_PER_WORKER_S})")


def engine_pace(repeat: int) -> None:
    """The local engines against the priors (dynalite's), each warm (after one plan): the client-bound approaches'
    seconds per request ÷ the priors' are the engine's pace (``ENGINE_PACE``); the most parallel approaches' seconds
    per request, where the engine is the limit, are its own floor (``ENGINE_FLOOR_MS``: PutItem, BatchWriteItem)."""
    from core.servers.localstack import LocalStack

    dynamodb_local = start_server(Plan(target="dynamodb-local"))
    assert dynamodb_local is not None
    try:
        engine_figures(repeat, Plan(target="dynamodb-local"), dynamodb_local)
    finally:
        dynamodb_local.stop()
    with LocalStack() as stack:
        engine_figures(repeat, Plan(target="localstack", endpoint_url=stack.endpoint_url), None)


def engine_figures(repeat: int, where: Plan, server: Server | None) -> None:
    """One engine's figures (``where``: a plan naming the target) against the priors."""
    names = ("sequential", "threaded", "async", "sequential-batch", "threaded-batch", "async-batch")
    run(replace(where, approaches=names, items=500), emulator=server)  # warm: the JVM compiles, the tables exist
    ms: dict[str, float] = {}
    for name in names:
        chosen = APPROACHES[name]
        plan = replace(where, approaches=(name,), items=2_500 if chosen.batch else 1_000)
        ms[name] = median_of(repeat, plan, server).per_request * 1000
        print(f"{where.target:<15} {name:<12} {ms[name]:6.2f} ms per request: {ms[name] / chosen.floor_ms:.2f} x the "
              "prior", flush=True)
    pace = statistics.median(ms[name] / APPROACHES[name].floor_ms for name in ("sequential", "threaded"))
    print(f"{where.target}: pace {pace:.2f} x the priors (holds {model.ENGINE_PACE.get(where.target, 1.0)}), its own "
          f"floor {ms['async']:.2f} ms per PutItem and {ms['async-batch']:.2f} per BatchWriteItem (holds "
          f"{model.ENGINE_FLOOR_MS.get(where.target, (0.0, 0.0))}); one request alone takes "
          f"{ms['sequential'] - APPROACHES['sequential'].round_trip_ms:.2f} ms beyond the priors' round trip (holds "
          f"{model.NOMINAL_LATENCY_MS[where.target]} ms of latency, and the pace)")


def _reset_seconds(emulator: Emulator) -> float:
    target = make_target("embedded", server_url=emulator.endpoint_url)
    client = target.client()
    started = time.perf_counter()
    reset_table(client, APPROACHES["async"].table)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
