"""Writers against a table with DynamoDB's capacity rules: goodput against capacity, and wasted requests.

    python -m bench.capacity [--items 20000] [--wcu 1000] [--on-demand-items 20000]

On the embedded server with the capacity model: async-batch with the lab's rate control, async-batch in standard
mode, and threaded-batch with botocore's ``adaptive`` mode, on ``provisioned=WCU`` at its sustained rate (its burst
spent first when the partitions allow it; the bench says which) and on a fresh ``on-demand`` table (or the highest
provisioned rate the engine carries, said so). Per row: items/s, goodput ÷ capacity, requests, wasted share, items
lost (read back) and the server's CPU. Target: the rate control at >= 0.9 x capacity, <= 5 % wasted, nothing lost.
Figures, never assertions (the load average is printed).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from dataclasses import dataclass

from core.domain.books import generate_books
from core.domain.capacity import NEW_ON_DEMAND_UNITS, PARTITION_UNITS, Capacity
from core.domain.plan import RetryMode
from core.domain.results import SERVER_BOUND_CPU
from core.servers.emulator import Emulator
from core.targets.monitor import cpu_sampler
from core.targets.tables import reset_table
from core.targets.target import Target, make_target
from core.targets.verify import verify
from core.wire.retry import RetryPolicy
from core.writers import APPROACHES, WriterOptions, write

ROWS: tuple[tuple[str, RetryMode, str], ...] = (
    ("async-batch", "adaptive", "adaptive (lab)"),
    ("async-batch", "standard", "standard"),
    ("threaded-batch", "adaptive", "adaptive (botocore)"),
)
SEED, START = 3, 1_000_000
MAX_DRAIN_SECONDS = 600  # a longer drain is not run: the row then says its burst was not drained


@dataclass(frozen=True)
class Row:
    label: str
    items_per_second: float
    capacity: float
    requests: int
    wasted: float
    lost: int
    cpu: float
    note: str = ""

    def line(self) -> str:
        bound = "  server-bound" if self.cpu >= SERVER_BOUND_CPU else ""
        return (f"  {self.label:<40} {self.items_per_second:>8,.0f} {self.items_per_second / self.capacity:>10.2f} "
                f"{self.requests:>9,} {self.wasted:>7.1%} {self.lost:>5,} {self.cpu:>9.0f}%{bound}{self.note}")


HEADER = (f"  {'approach, retry mode':<40} {'items/s':>8} {'÷ capacity':>10} {'requests':>9} {'wasted':>7} "
          f"{'lost':>5} {'server CPU':>10}")


def arguments(doc: str | None) -> argparse.Namespace:
    """The options of the capacity benches (this one and bench.as_shipped): books per run and the table's WCU."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="books per provisioned run")
    parser.add_argument("--wcu", type=int, default=1_000, help="the provisioned table's WCU")
    parser.add_argument("--on-demand-items", type=int, default=20_000, help="books per on-demand run (0: skip)")
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, embedded dynalite, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; writers: 64 coroutines (async-batch), 8 threads (threaded-batch)")
    with Emulator() as server:
        target = make_target("embedded", server_url=server.endpoint_url)
        provisioned = Capacity("provisioned", wcu=args.wcu)
        print(f"\nprovisioned={args.wcu} WCU, {args.items:,} books per run")
        print(HEADER)
        for name, mode, label in ROWS:
            row = run(server, target, name, mode, label, provisioned, args.items, args.wcu)
            print(row.line(), flush=True)
        if args.on_demand_items:
            on_demand(server, target, args.on_demand_items)
        server.set_capacity(Capacity())


def on_demand(server: Emulator, target: Target, items: int,
              rows: tuple[tuple[str, RetryMode, str], ...] = ROWS) -> None:
    """The fresh on-demand table, or the highest provisioned rate the engine carries when it cannot take 4,000; one
    line per row (approach, retry mode, label)."""
    engine = run(server, target, "async-batch", "standard", "standard", Capacity(), items, 1)
    print(f"\nthe engine, no capacity model: async-batch {engine.items_per_second:,.0f} items/s "
          f"(server {engine.cpu:.0f}% CPU{', server-bound' if engine.cpu >= SERVER_BOUND_CPU else ''})")
    if engine.items_per_second >= NEW_ON_DEMAND_UNITS:
        capacity, units = Capacity("on-demand"), NEW_ON_DEMAND_UNITS
        print(f"fresh on-demand table (takes {NEW_ON_DEMAND_UNITS:,} WRU/s at once, then double its peak; "
              f"÷ capacity is against {NEW_ON_DEMAND_UNITS:,}), {items:,} books per run")
    else:
        units = max(PARTITION_UNITS, math.floor(engine.items_per_second / PARTITION_UNITS) * PARTITION_UNITS)
        capacity = Capacity("provisioned", wcu=units)
        print(f"the engine cannot carry {NEW_ON_DEMAND_UNITS:,} WRU/s here: instead provisioned={units}, the highest "
              f"multiple of {PARTITION_UNITS:,} WCU it carries, {items:,} books per run")
    print(HEADER)
    for name, mode, label in rows:
        row = run(server, target, name, mode, label, capacity, items, units)
        stats = server.stats().get("capacity", {}).get("tables", {}).get(APPROACHES[name].table, {})
        grown = stats.get("capacity_wru_per_second")
        note = f"  (table grew to {grown:,} WRU/s)" if capacity.mode == "on-demand" and grown else ""
        print(Row(row.label, row.items_per_second, units, row.requests, row.wasted, row.lost, row.cpu,
                  row.note + note).line(), flush=True)


def run(server: Emulator, target: Target, name: str, mode: RetryMode, label: str, capacity: Capacity, items: int,
        units: float) -> Row:
    """One approach on a new table with ``capacity`` (burst used up first where it can be), verified."""
    table = APPROACHES[name].table
    server.set_capacity(Capacity())
    reset_table(target.client(), table)
    server.set_capacity(capacity)  # the table starts afresh, burst full
    note = drain_burst(server, target, name, capacity, items) if capacity.mode == "provisioned" else ""
    books = generate_books(items, seed=SEED, start=START)
    options = WriterOptions(threads=8, concurrency=64, retry_mode=mode, policy=RetryPolicy(max_attempts=30))
    with cpu_sampler(server.pid) as samples:
        report = write(name, books, target, options)
    check = verify(target.client(max_attempts=3), table, generate_books(items, seed=SEED, start=START), report)
    wasted = report.throttled / report.requests if report.requests else 0.0
    lost = check.lost + check.missing + (items - report.items)
    if report.failures:  # e.g. an as-shipped library that gave up: the exception that ended it
        note += f"  ({report.failures[0].split(':')[0]})"
    return Row(f"{name}, {label}", report.items_ok / report.seconds if report.seconds else 0.0,
               units, report.requests, wasted, lost, statistics.mean(samples) if samples else 0.0, note)


def drain_burst(server: Emulator, target: Target, name: str, capacity: Capacity, items: int) -> str:
    """Use up the table's burst, or say why it cannot be spent. Draining writes the run's own books again, so the
    table then holds exactly what the measured run writes and its verification stays exact."""
    wcu = capacity.wcu or 0
    partitions = -(-wcu // PARTITION_UNITS)
    if partitions * PARTITION_UNITS <= wcu:
        return f"  (burst unspendable: {partitions} partition(s) x {PARTITION_UNITS:,} WRU/s <= {wcu:,} WCU)"
    table = APPROACHES[name].table
    spend = partitions * PARTITION_UNITS - wcu
    seconds = 300 * wcu / spend
    if seconds > MAX_DRAIN_SECONDS:
        return f"  (burst NOT drained: {300 * wcu:,} WRU at {spend:,} WRU/s net would take {seconds:,.0f} s)"
    print(f"  draining {name}'s burst ({300 * wcu:,} WRU at {spend:,} WRU/s net): about {seconds:,.0f} s", flush=True)
    previous = math.inf
    while True:  # passes of the run's books until the burst is under one second's worth or stops going down
        write(name, generate_books(items, seed=SEED, start=START), target,
              WriterOptions(threads=8, concurrency=64, policy=RetryPolicy(max_attempts=30)))
        left = _burst(server, table)
        if left <= wcu or left >= previous:
            return f"  (burst left before the run: {left:,.0f} WRU)"
        previous = left


def _burst(server: Emulator, table: str) -> float:
    tables = server.stats().get("capacity", {}).get("tables", {})
    return float(tables[table]["burst_wru"])


if __name__ == "__main__":
    main()
