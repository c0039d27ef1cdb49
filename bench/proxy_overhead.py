"""The conditions proxy's cost: the same writes to dynalite directly and through a proxy in front of it.

    python -m bench.proxy_overhead [--items 3000] [--repeat 3]

The proxy has no conditions set, so the figure is the extra loopback hop alone. Runs alternate; the medians and their
ratio are printed.
"""

from __future__ import annotations

import argparse

from bench.common import side_by_side
from core.domain.books import generate_books
from core.servers.emulator import Emulator
from core.targets.target import make_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    books = list(generate_books(args.items, seed=3))
    with Emulator() as engine, Emulator(upstream=engine.endpoint_url) as proxy:
        direct = make_target("embedded", server_url=engine.endpoint_url)
        proxied = make_target("embedded", server_url=proxy.endpoint_url)
        print(f"{'approach':<14} {'direct/s':>9} {'proxied/s':>9} {'ratio':>6}")
        for approach in ("sequential", "async", "async-batch"):
            a, b = side_by_side((engine, direct), (engine, proxied), approach, books, args.repeat)
            print(f"{approach:<14} {a.items_per_second:>9,.0f} {b.items_per_second:>9,.0f} "
                  f"{b.items_per_second / a.items_per_second:>6.2f}{b.flag()}")


if __name__ == "__main__":
    main()
