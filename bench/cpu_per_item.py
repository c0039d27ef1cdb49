"""Client CPU per item for every approach, embedded target, no latency.

    python -m bench.cpu_per_item [--items 6000] [--write-docs]

Books are generated before the clock starts (generation costs the same for every approach and is printed
separately). Targets: async <= 0.12 x sequential's CPU per item; async-batch <= 0.01 x. ``--write-docs`` writes the
table into docs/performance.md (its ``bench.cpu_per_item`` section).
"""

from __future__ import annotations

import argparse
import time

from bench.common import Measured, lab, measure
from bench.docs import stamp, write_section
from core.domain.approaches import APPROACHES, LAB_WRITERS
from core.domain.books import generate_books
from core.writers import WriterOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6000)
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args()
    started = time.process_time()
    books = list(generate_books(args.items, seed=1))
    generation = (time.process_time() - started) / args.items * 1e6
    print(f"book generation: {generation:.1f} us CPU per book (not counted below)")
    with lab() as (emulator, target):
        results = {name: measure(emulator, target, name, books, WriterOptions(concurrency=64))
                   for name in LAB_WRITERS if not APPROACHES[name].unavailable}  # the lab's loop: fair ones
    base = results["sequential"].cpu_us_per_item
    print(f"{'approach':<18} {'CPU us/item':>11} {'x sequential':>12} {'items/s':>9}")
    for name, m in results.items():
        print(f"{name:<18} {m.cpu_us_per_item:>11.1f} {m.cpu_us_per_item / base:>12.3f} "
              f"{m.items_per_second:>9,.0f}{m.flag()}")
    for name, target_ratio in (("async", 0.12), ("async-batch", 0.01)):
        ratio = results[name].cpu_us_per_item / base
        verdict = "met" if ratio <= target_ratio else "NOT met"
        print(f"target {name} <= {target_ratio} x sequential: {ratio:.3f} -> {verdict}")
    if args.write_docs:
        command = "python -m bench.cpu_per_item --write-docs" + ("" if args.items == 6000 else f" --items {args.items}")
        write_section("docs/performance.md", "cpu_per_item", table(results) + "\n" + stamp(command))


def table(results: dict[str, Measured]) -> str:
    """docs/performance.md's table: each approach's client CPU per item, its ratio to sequential's, its items/s."""
    base = results["sequential"].cpu_us_per_item
    lines = ["| approach | CPU µs/item | × sequential | items/s |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {m.cpu_us_per_item:,.1f} | {m.cpu_us_per_item / base:.3f} | {m.items_per_second:,.0f}"
              f"{' (server-bound)' if m.server_bound else ''} |" for name, m in results.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
