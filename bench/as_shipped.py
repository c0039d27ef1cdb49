"""What users call, as shipped, against a throttling table: boto3, PynamoDB, awswrangler beside the lab's writers.

    nice -n 10 python -m bench.as_shipped [--items 20000] [--wcu 1000] [--on-demand-items 20000]

On the embedded server with the capacity model: each as-shipped approach, then ``threaded-batch`` (botocore's adaptive
mode) and ``async-batch`` (the lab's rate control), on ``provisioned=WCU`` (burst spent where it can be) and on a fresh
``on-demand`` table (or the highest rate the engine carries, said so). Rows as ``bench.capacity.Row``, plus books lost
(verified by reading back) and the exception that ended a run. Figures, never assertions (the load average is printed).
"""

from __future__ import annotations

import os
import time

from bench.capacity import HEADER, arguments, on_demand, run
from core.domain.approaches import APPROACHES, SHIPPED
from core.domain.capacity import Capacity
from core.domain.plan import RetryMode
from core.servers.emulator import Emulator
from core.targets.target import make_target

LAB: tuple[tuple[str, RetryMode, str], ...] = (
    ("threaded-batch", "adaptive", "adaptive (botocore)"),
    ("async-batch", "adaptive", "adaptive (lab)"),
)


def rows() -> tuple[tuple[str, RetryMode, str], ...]:
    """The as-shipped approaches that can run here (the others are named as skipped), then the lab's two."""
    shipped: list[tuple[str, RetryMode, str]] = []
    for name in SHIPPED:
        reason = APPROACHES[name].unavailable
        if reason:
            print(f"  skipped: {reason}")
        else:
            shipped.append((name, "standard", "as shipped"))
    return (*shipped, *LAB)


def main() -> None:
    args = arguments(__doc__)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, embedded dynalite, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, niceness {os.nice(0)}; threads 8 (threaded-batch, one "
          "batch_writer per thread), 64 coroutines (async-batch); awswrangler: its os.cpu_count() threads")
    chosen = rows()
    with Emulator() as server:
        target = make_target("embedded", server_url=server.endpoint_url)
        print(f"\nprovisioned={args.wcu} WCU, {args.items:,} books per run")
        print(HEADER)
        for name, mode, label in chosen:
            row = run(server, target, name, mode, label, Capacity("provisioned", wcu=args.wcu), args.items, args.wcu)
            print(row.line(), flush=True)
        if args.on_demand_items:
            on_demand(server, target, args.on_demand_items, chosen)
        server.set_capacity(Capacity())


if __name__ == "__main__":
    main()
