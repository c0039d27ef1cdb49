"""The planner against real runs of this lab on this machine: its estimate ÷ the measured write time (target 0.5-2x).

    python -m bench.planner [--sizes 2000,20000] [--approaches async,async-batch] [--capacities off,provisioned=1000]

On one embedded emulator: an unscored calibration plan stands for a user's history, then for each size, capacity and
approach the planner's one-worker estimate (``writer_estimate``) is scored against a real ``core.run.runner.run``'s
write seconds. Capacity runs allow 30 attempts per request so throttles do not fail items.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

from core.app.export import to_dict
from core.app.formatting import short
from core.domain.books import generate_books
from core.domain.capacity import parse_capacity
from core.domain.plan import Plan
from core.forecast.planner import LoadSpec, writer_estimate
from core.run.environment import environment
from core.run.runner import run
from core.servers.emulator import Emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--approaches", default="async,async-batch")
    parser.add_argument("--capacities", default="off,provisioned=1000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    approaches = tuple(args.approaches.split(","))
    capacities = [parse_capacity(text) for text in args.capacities.split(",")]
    machine = environment()
    book_bytes = round(statistics.mean(book.size for book in generate_books(10_000, seed=0)))
    print(f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.python_version()}, "
          f"{os.cpu_count()} cores, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}; embedded "
          f"dynalite {machine['packages'].get('dynalite')}; books of {book_bytes} bytes on average (1 WRU each)")
    print(f"{'capacity':<17} {'approach':<12} {'items':>7} {'planned':>9} {'actual':>9} {'÷':>5} "
          f"{'range':>15}  in 0.5-2x  bound")
    history: list[dict[str, Any]] = []
    worst = 1.0
    with Emulator() as emulator:
        calibration = Plan(items=2_000, warmup=200, repeats=3, approaches=approaches)
        history.insert(0, to_dict(run(calibration, emulator=emulator)))
        for capacity in capacities:
            for items in sizes:
                plan = Plan(items=items, approaches=approaches, capacity=capacity,
                            max_attempts=30 if capacity.on else 10)
                spec = LoadSpec(items, book_bytes, "new", capacity, target="embedded", threads=plan.threads,
                                concurrency=plan.concurrency)
                rows = {name: writer_estimate(spec, name, 1, history, machine) for name in approaches}
                report = run(plan, emulator=emulator)
                if not report.clean:
                    raise SystemExit(f"{capacity} x {items}: the run was not clean: {report.error or 'see runs'}")
                history.insert(0, to_dict(report))
                for result in report.runs:
                    row = rows[result.approach]
                    actual = result.report.seconds
                    ratio = row.seconds / actual
                    worst = max(worst, ratio, 1 / ratio)
                    inside = row.low <= actual <= row.high
                    print(f"{capacity!s:<17} {result.approach:<12} {items:>7,} {row.seconds:>8.2f}s "
                          f"{actual:>8.2f}s {ratio:>5.2f} {short(row.low):>7}–{short(row.high):<7} "
                          f"{'yes' if 0.5 <= ratio <= 2 else 'NO':>9}{'' if inside else ' (outside the range)'}  "
                          f"{row.bound}", flush=True)
    print(f"worst: {worst:.2f}x off")


if __name__ == "__main__":
    main()
