"""Memory: peak RSS of an async-batch run (writing and verifying) for 10,000 and for 1,000,000 books.

    python -m bench.memory [--small 10000] [--large 1000000]

Each size runs in a fresh process on its own emulator (the server's memory is not counted). Target: peak RSS at the
large size <= 1.5 x at the small size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def child(items: int) -> None:
    from core.domain.plan import Plan
    from core.run.runner import run

    report = run(Plan(items=items, approaches=("async-batch",), concurrency=32))
    result = report.runs[0]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"items": items, "peak_mib": peak_kib / 1024, "seconds": result.report.seconds,
                      "found": result.verification.found, "server_bound": result.server_bound}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    peaks = {}
    for items in (args.small, args.large):
        out = subprocess.run([sys.executable, "-m", "bench.memory", "--child", str(items)], check=True,
                             capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        peaks[items] = result["peak_mib"]
        print(f"{items:>10,} books: peak RSS {result['peak_mib']:.1f} MiB, write {result['seconds']:.1f} s, "
              f"verified {result['found']:,}")
    ratio = peaks[args.large] / peaks[args.small]
    print(f"ratio {ratio:.2f} (target <= 1.5): {'met' if ratio <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
