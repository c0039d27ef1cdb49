"""Estimate accuracy: the page's estimate ÷ the measured wall time, over a grid of plans (target 0.5-2x each).

    python -m bench.estimate_accuracy [--quick]

Runs every plan of the grid with ``benchmark.run`` on one embedded emulator (started once, as the page's is) and
times the whole run (resets, writes, verification). First a calibration run (300 books, every approach, not scored)
stands for a user's earlier runs. Each plan is then estimated twice before it runs: uncalibrated (the built-in
figures) and calibrated from the reports of the fault-free plans run before it in this process, exactly as the page
calibrates from its history. Faulty plans are small: their backoff is real (seconds per retry).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from core.app.export import to_dict
from core.domain.plan import NETWORK_PRESETS, Conditions, Plan
from core.forecast.estimate import forecast, short
from core.run.environment import environment
from core.run.runner import run
from core.servers.emulator import Emulator

STUDY = ("sequential", "threaded", "async")
BATCH = ("sequential-batch", "threaded-batch", "async-batch")
OTHERS = ("aiobotocore", "aiobotocore-batch")


def grid(quick: bool) -> list[tuple[str, Plan]]:
    plans = [
        ("default, 1,000 books", Plan(items=1_000)),
        ("300 books", Plan(items=300)),
        ("batches, 3,000 books", Plan(approaches=BATCH, items=3_000)),
        ("aiobotocore, 1,000 books", Plan(approaches=OTHERS, items=1_000)),
        ("same-region, 300 books", Plan(items=300, conditions=NETWORK_PRESETS["same-region"])),
        ("nearby-region, 200 books", Plan(items=200, conditions=NETWORK_PRESETS["nearby-region"])),
        ("study-2022, 60 books", Plan(items=60, conditions=NETWORK_PRESETS["study-2022"])),
        ("throttle 0.2, 200 books", Plan(items=200, conditions=Conditions(throttle=0.2))),
        ("error 0.1 + reset 0.05, 100 books", Plan(items=100, conditions=Conditions(error=0.1, reset=0.05))),
        ("batches, throttle 0.2, 500 books", Plan(approaches=BATCH, items=500, conditions=Conditions(throttle=0.2))),
        ("async, throttle 1.0 (breaker), 50 books", Plan(approaches=("async",), items=50,
                                                          conditions=Conditions(throttle=1.0))),
    ]
    if quick:
        return [p for p in plans if p[1].conditions.faults == {} or p[1].items <= 60][:6]
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fault-free plans only (under a minute)")
    args = parser.parse_args()
    machine = environment()
    history: list[dict[str, Any]] = []
    print(f"{'plan':<42} {'actual':>8} {'uncal.':>8} {'÷':>5} {'calib.':>8} {'÷':>5} {'range':>13}  in 0.5-2x")
    worst = 1.0
    with Emulator() as emulator:
        history.insert(0, to_dict(run(Plan(items=300, approaches=STUDY + BATCH + OTHERS), emulator=emulator)))
        for name, plan in grid(args.quick):
            bare = forecast(plan)
            calibrated = forecast(plan, history, machine)
            started = time.perf_counter()
            report = run(plan, emulator=emulator)
            actual = time.perf_counter() - started
            history.insert(0, to_dict(report))
            ratio = calibrated.ratio(actual)
            ok = 0.5 <= ratio <= 2.0
            worst = max(worst, ratio, 1 / ratio)
            inside = calibrated.low <= actual <= calibrated.high
            print(f"{name:<42} {actual:>7.1f}s {bare.seconds:>7.1f}s {bare.ratio(actual):>5.2f} "
                  f"{calibrated.seconds:>7.1f}s {ratio:>5.2f} {short(calibrated.low):>6}-{short(calibrated.high):<6} "
                  f" {'yes' if ok else 'NO'}{'' if inside else ' (outside the range)'}")
    print(f"worst calibrated estimate: {worst:.2f}x off")


if __name__ == "__main__":
    main()
