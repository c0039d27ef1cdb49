"""Latency hiding: how close the async writer gets to the ideal C / L at 25 ms of injected latency.

    python -m bench.latency_hiding [--latency-ms 22 --jitter-ms 6] [--items 4000]

Ideal items/s is min(C / L, the server's capacity, measured first); L is shown both as injected and as the round trip
measured at C = 1. Target: ratio >= 0.9 at C = 16, 64, 256.
"""

from __future__ import annotations

import argparse

from bench.common import lab, measure
from core.domain.books import generate_books
from core.domain.plan import Conditions
from core.writers import WriterOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=22.0)
    parser.add_argument("--jitter-ms", type=float, default=6.0)
    parser.add_argument("--items", type=int, default=4000)
    args = parser.parse_args()
    books = list(generate_books(args.items, seed=2))
    with lab() as (emulator, target):
        capacity = measure(emulator, target, "async", books, WriterOptions(concurrency=256)).items_per_second
        print(f"server capacity (async, no latency, C=256): {capacity:,.0f} items/s")
        emulator.set_conditions(Conditions(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms))
        mean_ms = args.latency_ms + args.jitter_ms / 2
        single = measure(emulator, target, "async", books[:200], WriterOptions(concurrency=1))
        round_trip = 1 / single.items_per_second
        print(f"round trip at C=1: {round_trip * 1000:.2f} ms (nominal mean {mean_ms:g} ms)")
        print(f"{'C':>5} {'items/s':>9} {'ideal(nominal)':>14} {'ratio':>6} {'ideal(round trip)':>17} {'ratio':>6}")
        for concurrency in (16, 64, 256):
            m = measure(emulator, target, "async", books, WriterOptions(concurrency=concurrency))
            nominal = min(concurrency / (mean_ms / 1000), capacity)
            measured = min(concurrency / round_trip, capacity)
            ratio = m.items_per_second / measured
            rate = m.items_per_second
            print(f"{concurrency:>5} {rate:>9,.0f} {nominal:>14,.0f} {rate / nominal:>6.2f} "
                  f"{measured:>17,.0f} {ratio:>6.2f}{'  met' if ratio >= 0.9 else '  NOT met'}{m.flag()}")


if __name__ == "__main__":
    main()
