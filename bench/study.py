"""The 2022 study's conditions: 10,000 books, ~80 ms per request (the `study-2022` preset), every approach.

    python -m bench.study [--items 10000] [--json FILE] [--write-docs]

Prints our seconds beside the study's and the speed-ups in items/s over sequential. Targets: async >= 75 x and
async-batch >= 600 x. Takes about 15 minutes. ``--write-docs`` writes the table into the README.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from bench.docs import stamp, write_section
from core.app.export import to_json
from core.app.terminal import RunProgress, console
from core.domain.approaches import STUDY_2022_SECONDS
from core.domain.plan import NETWORK_PRESETS, Plan
from core.run.runner import run
from core.writers import APPROACHES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write-docs", action="store_true", help="write the table into the README")
    args = parser.parse_args()
    import sys

    plan = Plan(items=args.items, approaches=tuple(APPROACHES), conditions=NETWORK_PRESETS["study-2022"])
    with RunProgress(console(sys.stderr), plan.items, len(plan.approaches)) as progress:
        report = run(plan, progress=progress)
    if args.json:
        args.json.write_text(to_json(report))
    rates = {r.approach: r.report.items_per_second for r in report.runs}
    print(f"{'approach':<18} {'ours (s)':>9} {'2022 study (s)':>14} {'items/s':>9} {'x sequential':>12}  verified")
    for result in report.runs:
        name, r = result.approach, result.report
        study = STUDY_2022_SECONDS.get(name)
        print(f"{name:<18} {r.seconds:>9.2f} {study if study else '':>14} {r.items_per_second:>9,.1f} "
              f"{r.items_per_second / rates['sequential']:>12.1f}  {result.verification.found:,}/{plan.items:,}"
              f"{'  [server-bound]' if result.server_bound else ''}")
    for name, target in (("async", 75), ("async-batch", 600)):
        ratio = rates[name] / rates["sequential"]
        print(f"target {name} >= {target} x sequential: {ratio:.0f} x -> {'met' if ratio >= target else 'NOT met'}")
    if args.write_docs:
        rows = [Row(r.approach, r.report.seconds, r.report.items_per_second, r.verification.found,
                    r.bounds(report.plan)) for r in report.runs]
        command = "python -m bench.study --write-docs" + ("" if args.items == 10_000 else f" --items {args.items}")
        write_section("README.md", "study", table(rows, plan.items) + "\n" + stamp(command))


@dataclass(frozen=True)
class Row:
    """One run in the README's table."""

    approach: str
    seconds: float
    rate: float  # items/s
    found: int  # books verified on the table
    bounds: tuple[str, ...]  # why the figure is not the writer's own (``RunResult.bounds``), empty when it is


# Runs whose time is not a client's writing, said beside them
NOT_WRITES = {"s3-import": "moto's ImportTable on this machine", "bulk-put": "emulated by the lab: an assumed rate"}


def table(rows: list[Row], items: int) -> str:
    """The README's table: each run beside the study's seconds, with what bounds it (a flagged run measured its
    server, queue or machine, not the approach)."""
    base = next(row.rate for row in rows if row.approach == "sequential")
    lines = ["| approach | 2022 study, real AWS (s) | ours (s) | items/s | × sequential | verified | bound |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        study = STUDY_2022_SECONDS.get(row.approach)
        ratio = row.rate / base
        bound = "; ".join(reason.split(":")[0] for reason in row.bounds) or NOT_WRITES.get(row.approach, "–")
        lines.append(f"| {APPROACHES[row.approach].label} | {study if study else '–'} | {row.seconds:.2f} | "
                     f"{row.rate:,.{1 if row.rate < 100 else 0}f} | {ratio:,.{1 if ratio < 100 else 0}f} | "
                     f"{row.found:,}/{items:,} | {bound} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
