"""Client CPU per item for every approach, embedded target, no latency.

    python -m bench.cpu_per_item [--items 6000]

Books are generated before the clock starts (generation costs the same for every approach and is printed
separately). Targets: async <= 0.12 x sequential's CPU per item; async-batch <= 0.01 x.
"""

from __future__ import annotations

import argparse
import time

from bench.common import lab, measure
from core.domain.books import generate_books
from core.writers import APPROACHES, WriterOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6000)
    args = parser.parse_args()
    started = time.process_time()
    books = list(generate_books(args.items, seed=1))
    generation = (time.process_time() - started) / args.items * 1e6
    print(f"book generation: {generation:.1f} us CPU per book (not counted below)")
    with lab() as (emulator, target):
        results = {name: measure(emulator, target, name, books, WriterOptions(concurrency=64))
                   for name in APPROACHES}
    base = results["sequential"].cpu_us_per_item
    print(f"{'approach':<18} {'CPU us/item':>11} {'x sequential':>12} {'items/s':>9}")
    for name, m in results.items():
        print(f"{name:<18} {m.cpu_us_per_item:>11.1f} {m.cpu_us_per_item / base:>12.3f} "
              f"{m.items_per_second:>9,.0f}{m.flag()}")
    for name, target_ratio in (("async", 0.12), ("async-batch", 0.01)):
        ratio = results[name].cpu_us_per_item / base
        verdict = "met" if ratio <= target_ratio else "NOT met"
        print(f"target {name} <= {target_ratio} x sequential: {ratio:.3f} -> {verdict}")


if __name__ == "__main__":
    main()
