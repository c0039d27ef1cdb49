"""The 2022 study's conditions: 10,000 books, ~80 ms per request (the `study-2022` preset), every approach.

    python -m bench.study [--items 10000] [--json FILE]

Prints our seconds beside the study's (real AWS, 2022) and the speed-ups in items/s over sequential, measured in
this one run. Targets: async >= 75 x and async-batch >= 600 x sequential's items/s. Takes about 15 minutes:
sequential alone pays 10,000 round trips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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


if __name__ == "__main__":
    main()
