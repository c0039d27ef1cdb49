"""Writers against a table with DynamoDB's capacity rules: goodput against capacity, and wasted requests.

    python -m bench.capacity [--items 20000] [--wcu 1000] [--approaches async-batch,threaded-batch]

For each approach and retry mode (standard, adaptive) in one run, on the embedded server with the capacity model
``provisioned=WCU`` whose 300 s of burst is used up first (so the figure is the sustained rate): items/s, goodput
÷ capacity (every seeded book is one WRU), throttled requests and wasted requests (sent and refused) as a share of
all requests, and verification. Target (issue 12): async-batch with adaptive control >= 0.9 x capacity with <= 5 %
wasted, nothing lost. The server's own CPU is printed: when it nears 100 % of a core the engine, not the table's
capacity, was the limit.
"""

from __future__ import annotations

import argparse
import statistics

from core.books import generate_books
from core.capacity import Capacity
from core.emulator import Emulator
from core.model import RetryMode
from core.monitor import cpu_sampler
from core.retry import RetryPolicy
from core.tables import reset_table
from core.targets import Target, make_target
from core.verify import verify
from core.writers import APPROACHES, WriterOptions, write


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--wcu", type=int, default=1_000)
    parser.add_argument("--approaches", default="async-batch,threaded-batch")
    args = parser.parse_args()
    modes: tuple[RetryMode, ...] = ("standard", "adaptive")
    print(f"{args.items:,} books per run, provisioned={args.wcu} WCU with its burst used up first, embedded dynalite")
    print(f"{'approach':<16} {'mode':<9} {'items/s':>8} {'÷ capacity':>10} {'requests':>9} {'wasted':>7} "
          f"{'server CPU':>10}  verification")
    with Emulator() as server:
        target = make_target("embedded", server_url=server.endpoint_url)
        for name in args.approaches.split(","):
            for mode in modes:
                table = APPROACHES[name].table
                server.set_capacity(Capacity())
                reset_table(target.client(), table)
                server.set_capacity(Capacity("provisioned", wcu=args.wcu))  # the table starts afresh, burst full
                drain_burst(target, name, args.wcu, args.items)
                books = generate_books(args.items, seed=3, start=1_000_000)
                options = WriterOptions(threads=8, concurrency=64, retry_mode=mode,
                                        policy=RetryPolicy(max_attempts=30))
                with cpu_sampler(server.pid) as samples:
                    report = write(name, books, target, options)
                check = verify(target.client(max_attempts=3), table,
                               generate_books(report.items, seed=3, start=1_000_000), report)
                wasted = report.throttled / report.requests if report.requests else 0.0
                cpu = statistics.mean(samples) if samples else 0.0
                print(f"{name:<16} {mode:<9} {report.items_per_second:>8,.0f} "
                      f"{report.items_per_second / args.wcu:>10.2f} {report.requests:>9,} {wasted:>7.1%} "
                      f"{cpu:>9.0f}%  found {check.found:,}/{check.expected:,}, lost {check.lost}")
        server.set_capacity(Capacity())


def drain_burst(target: Target, name: str, wcu: int, items: int) -> None:
    """Use up the table's 300 s of burst (300 x WCU write units) by writing the run's own books over and over: the
    table then holds exactly what the measured run writes again, so its verification stays exact."""
    for _ in range(-(-(300 * wcu + wcu) // items)):
        write(name, generate_books(items, seed=3, start=1_000_000), target,
              WriterOptions(threads=8, concurrency=64, policy=RetryPolicy(max_attempts=30)))


if __name__ == "__main__":
    main()
