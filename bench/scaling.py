"""Scale-out: items/s against Dask workers (1, 2, 4, 8) per approach, under the study-2022 latency and with none.

    python -m bench.scaling [--approaches sequential,threaded,async] [--workers 1,2,4,8] [--scale 1.0]

One embedded emulator and one warmed-up ``LocalCluster``; each point is one verified ``run_sharded`` on a reset table,
each worker writing the same number of books (weak scaling). Per point: items/s and its ratio to 1 worker, the shards'
start spread, the emulator's CPU and, under latency, Little's law. Target: under study-2022, sequential and threaded
with 8 workers >= 7 x 1 worker. ``--model-only`` prints how many workers a 40,000 WRU/s table needs (no Dask).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence

from bench.common import lab, measure
from core.domain.approaches import APPROACHES, parallelism
from core.domain.books import generate_books
from core.domain.plan import NETWORK_PRESETS, Conditions
from core.domain.results import SERVER_BOUND_CPU
from core.run.scaleout import ShardedRun, dask_client, run_sharded
from core.servers.emulator import Emulator
from core.targets.monitor import cpu_sampler
from core.targets.tables import reset_table
from core.targets.target import Target
from core.targets.verify import verify
from core.writers import WriterOptions

# Books per worker at --scale 1: about ten seconds a point under study-2022 (75 ms + uniform(0, 10) ms), so shards
# that start a little apart on a loaded machine barely move the run's wall clock.
PER_WORKER = {"latency": {"sequential": 120, "threaded": 720, "async": 2000, "sequential-batch": 500,
                          "threaded-batch": 3000, "async-batch": 6000, "aiobotocore": 2000,
                          "aiobotocore-batch": 6000},
              "none": {"sequential": 500, "threaded": 1000, "async": 2000, "sequential-batch": 2000,
                       "threaded-batch": 3000, "async-batch": 6000, "aiobotocore": 2000,
                       "aiobotocore-batch": 6000}}
IN_REGION_MS = 8.0  # a client in the table's own AWS region (the latency model's nominal AWS figure)
TABLE_WRU = 40_000  # the paper model's table: 40,000 write request units per second (1 KB puts: items/s)


def in_flight(name: str, options: WriterOptions) -> int:
    """Items one worker keeps in flight: requests in flight x items per request."""
    chosen = APPROACHES[name]
    return parallelism(chosen, options.threads, options.concurrency) * (25 if chosen.batch else 1)


def point(emulator: Emulator, target: Target, client: object, name: str, workers: int, items: int,
          options: WriterOptions) -> tuple[ShardedRun, float]:
    table = APPROACHES[name].table
    reset_table(target.client(), table)
    with cpu_sampler(emulator.pid, interval=0.1) as samples:
        run = run_sharded(name, items, 7, workers, target, options, client=client)
    check = verify(target.client(), table, run.books(), run.report)
    if not (run.report.complete and check.ok):
        raise SystemExit(f"{name} x{workers}: not clean: {run.report.failures} {check}")
    return run, statistics.mean(samples) if samples else 0.0


def sweep(emulator: Emulator, target: Target, client: object, approaches: Sequence[str], counts: Sequence[int],
          conditions: Conditions, label: str, scale: float, options: WriterOptions) -> dict[str, float]:
    """One table of points; returns each approach's client CPU per item (us) at 1 worker."""
    emulator.set_conditions(conditions)
    latency_s = (conditions.latency_ms + conditions.jitter_ms / 2) / 1000
    kind = "latency" if latency_s else "none"
    print(f"\n== {label}: latency {conditions.latency_ms:g} ms + uniform(0, {conditions.jitter_ms:g}) ms ==")
    head = (f"{'approach':<18} {'workers':>7} {'items':>6} {'items/s':>9} {'x 1 worker':>10} {'server CPU':>10} "
            f"{'spread':>8} {'shards x':>9}")
    print(head + (f" {'Little bound':>12} {'of bound':>8}" if latency_s else ""))
    cpu: dict[str, float] = {}
    for name in approaches:
        base = None
        for workers in counts:
            items = max(workers, round(PER_WORKER[kind][name] * scale) * workers)
            run, server = point(emulator, target, client, name, workers, items, options)
            rate = run.report.items_per_second
            base = base or rate
            if workers == counts[0]:
                cpu[name] = run.report.client_cpu_seconds / run.report.items * 1e6
            spread = max(r.started_at for r in run.shards) - min(r.started_at for r in run.shards)
            own = sum(r.report.items_per_second for r in run.shards)
            line = (f"{name:<18} {workers:>7} {items:>6} {rate:>9,.0f} {rate / base:>10.2f} {server:>9.0f}% "
                    f"{spread:>7.2f}s {own / base:>9.2f}")
            if latency_s:
                bound = workers * in_flight(name, options) / latency_s
                line += f" {bound:>12,.0f} {rate / bound:>8.2f}"
            if server >= SERVER_BOUND_CPU:
                line += "  [server-bound: the emulator's one core is the limit, not the client]"
            print(line, flush=True)
            if latency_s and name in ("sequential", "threaded") and workers == 8:
                verdict = "met" if rate / base >= 7 else "NOT met"
                print(f"  target {name}: 8 workers >= 7 x 1 worker: {rate / base:.2f} -> {verdict}", flush=True)
    return cpu


def paper_model(cpu_us: dict[str, float], options: WriterOptions, latency_ms: float) -> None:
    """Workers a 40,000 WRU/s table needs: each worker is one core, limited by its CPU per item or by Little's
    law at ``latency_ms`` (the table accepts 40,000 1-KB puts a second; past that it throttles)."""
    print(f"\n== paper model: a {TABLE_WRU:,} WRU/s table at {latency_ms:g} ms mean latency, one core per worker ==")
    print(f"{'approach':<18} {'CPU us/item':>11} {'CPU-bound/s':>11} {'latency-bound/s':>15} {'per worker':>10} "
          f"{'workers':>7}  a worker is bound by")
    for name, us in cpu_us.items():
        cpu_rate = 1e6 / us
        latency_rate = in_flight(name, options) / (latency_ms / 1000)
        per_worker = min(cpu_rate, latency_rate)
        needed = max(1, -(-TABLE_WRU // int(per_worker)))
        bound = "the table (one worker outruns it)" if per_worker >= TABLE_WRU else \
            ("its CPU" if cpu_rate <= latency_rate else "latency (add concurrency or workers)")
        print(f"{name:<18} {us:>11.0f} {cpu_rate:>11,.0f} {latency_rate:>15,.0f} {per_worker:>10,.0f} {needed:>7,}  "
              f"{bound}")


def model_only(options: WriterOptions, items: int = 3000) -> None:
    """The paper model for every approach, from client CPU per item measured as bench.cpu_per_item does."""
    books = list(generate_books(items, seed=1))
    with lab() as (emulator, target):
        cpu = {name: measure(emulator, target, name, books, options).cpu_us_per_item for name in APPROACHES}
    for latency_ms in (IN_REGION_MS, NETWORK_PRESETS["study-2022"].latency_ms + NETWORK_PRESETS["study-2022"].jitter_ms
                       / 2):
        paper_model(cpu, options, latency_ms)


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approaches", default="sequential,threaded,async")
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--none-workers", default="1,2", help="worker counts of the no-latency sweep")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the books per worker")
    parser.add_argument("--threads", type=int, default=WriterOptions().threads)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--model-only", action="store_true",
                        help="measure every approach's client CPU per item in this process (no Dask) and print "
                             "the paper model only")
    args = parser.parse_args()
    if args.model_only:
        model_only(WriterOptions(threads=args.threads, concurrency=args.concurrency))
        return
    approaches = [a.strip() for a in args.approaches.split(",") if a.strip()]
    counts = sorted({int(w) for w in args.workers.split(",")})
    none_counts = sorted({int(w) for w in args.none_workers.split(",")})
    options = WriterOptions(threads=args.threads, concurrency=args.concurrency)
    study = NETWORK_PRESETS["study-2022"]
    started = time.monotonic()
    with lab() as (emulator, target), dask_client(max(counts + none_counts)) as client:
        client.wait_for_workers(max(counts + none_counts), timeout=300)
        for name in approaches:  # warm-up: imports and first client in every worker, off the clock
            point(emulator, target, client, name, max(counts + none_counts), max(counts + none_counts), options)
        sweep(emulator, target, client, approaches, counts, study, "study-2022", args.scale, options)
        cpu = sweep(emulator, target, client, approaches, none_counts, Conditions(), "no latency", args.scale,
                    options)
    for latency_ms in (study.latency_ms + study.jitter_ms / 2, IN_REGION_MS):
        paper_model(cpu, options, latency_ms)
    print(f"\n(total {time.monotonic() - started:.0f} s; threads={options.threads}, "
          f"concurrency={options.concurrency}; load average {load_average()} on {os.cpu_count()} cores: other "
          "processes competing for the CPU stretch every wake-up, and more workers wake up more often)")


if __name__ == "__main__":
    main()
