"""The dress rehearsal's cost: the same writes through a plain conditions proxy and through the rehearsal's proxy.

    python -m bench.rehearsal_overhead [--items 3000] [--repeat 3]

Both proxies front one embedded dynalite with no latency or capacity model, so the figure is TLS plus one SigV4
verification per request. Runs alternate; the best of each, their ratio and the proxy's CPU are printed.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from bench.common import side_by_side
from core.domain.books import generate_books
from core.servers.emulator import Emulator, rehearsal_endpoint
from core.targets.target import LOCAL_CREDENTIALS, make_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    books = list(generate_books(args.items, seed=3))
    with Emulator() as engine, Emulator(upstream=engine.endpoint_url) as plain, \
            rehearsal_endpoint(engine.endpoint_url, [LOCAL_CREDENTIALS]) as rehearsal:
        http = make_target("custom", endpoint_url=plain.endpoint_url, credentials=LOCAL_CREDENTIALS)
        https = replace(make_target("custom", endpoint_url=rehearsal.endpoint_url, credentials=LOCAL_CREDENTIALS),
                        ca_bundle=rehearsal.ca_bundle)
        print(f"{'approach':<14} {'plain/s':>9} {'rehearsal/s':>11} {'ratio':>6}  proxy CPU plain / rehearsal")
        for approach in ("sequential", "threaded", "async", "async-batch", "aiobotocore"):
            a, b = side_by_side((plain, http), (rehearsal, https), approach, books, args.repeat)
            print(f"{approach:<14} {a.items_per_second:>9,.0f} {b.items_per_second:>11,.0f} "
                  f"{b.items_per_second / a.items_per_second:>6.2f}  {a.server_cpu:.0f}% / {b.server_cpu:.0f}%")


if __name__ == "__main__":
    main()
