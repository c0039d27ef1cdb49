"""Exports of a ``Report``: JSON (plan, environment, runs) and CSV (one row per run, the same fields).

Pure; a report holds no credentials, so neither does an export. ``as_shipped`` marks runs that are not the fair
comparison; ``capacity`` is None (blank in the CSV) when the capacity model was off and absent from older stored
reports; ``interrupted`` marks a run stopped before all its books were settled. The JSON carries the verdict's sentence.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from core.app.verdict import Verdict, interrupted, verdict
from core.domain.approaches import APPROACHES
from core.domain.approaches import label as approach_label
from core.domain.plan import Plan
from core.domain.results import Report, RunResult

CSV_FIELDS = ("approach", "repeat", "table", "items", "seconds", "items_per_second", "requests", "retries",
              "throttled", "errors", "failed_items", "unknown_items", "not_sent_items", "latency_ms_p50",
              "latency_ms_p95", "latency_ms_p99", "latency_ms_max", "client_cpu_seconds", "server_cpu_percent",
              "server_bound", "host_cpu_percent", "bounds", "expected", "found", "lost", "unexpected", "mismatched",
              "recovered", "unchecked", "checked", "capacity", "consumed_wru", "goodput_wru_per_second",
              "peak_wru_per_second", "capacity_wru_per_second", "goodput_ratio", "capacity_requests",
              "refused_requests", "waste", "throttle_reasons", "label", "as_shipped", "interrupted", "cancelled")


MAX_CHART_SAMPLES = 2_000
EXPORT_HEAD = 4_096  # bytes of a file ``is_export`` needs
_JSON_HEAD = re.compile(rb'\s*\{\s*"plan"\s*:')


def run_dict(run: RunResult, plan: Plan, detail: bool = False) -> dict[str, Any]:
    """One run as plain data; ``detail`` adds a sample of latencies and the timeline (for charts). ``interrupted``:
    the run stopped before all of the plan's books were settled (left out of charts and speed-ups)."""
    report, check, latency = run.report, run.verification, run.report.latency
    extra: dict[str, Any] = {}
    if detail:
        samples = report.latencies_ms
        step = max(1, -(-len(samples) // MAX_CHART_SAMPLES))  # ceiling: at most MAX_CHART_SAMPLES kept
        extra = {"latency_samples_ms": [round(v, 3) for v in samples[::step]],
                 "timeline": [[round(t, 3), n] for t, n in report.timeline]}
    return {
        "approach": report.approach, "label": approach_label(report.approach),
        "as_shipped": bool(report.approach in APPROACHES and APPROACHES[report.approach].shipped),
        "repeat": run.repeat, "interrupted": interrupted(run, plan), "clean": run.clean, "table": report.table,
        "items": report.items,
        "seconds": round(report.seconds, 4), "items_per_second": round(report.items_per_second, 2),
        "requests": report.requests, "retries": report.retries, "throttled": report.throttled,
        "errors": dict(report.errors), "failed_items": report.items_failed, "unknown_items": report.items_unknown,
        "not_sent_items": report.items_not_sent,
        "latency_ms": {"p50": round(latency.p50, 3), "p95": round(latency.p95, 3), "p99": round(latency.p99, 3),
                       "max": round(latency.max, 3)},
        "client_cpu_seconds": round(report.client_cpu_seconds, 4),
        "server_cpu_percent": None if run.server_cpu_percent is None else round(run.server_cpu_percent, 1),
        "server_bound": run.server_bound,
        "host_cpu_percent": None if run.host_cpu_percent is None else round(run.host_cpu_percent, 1),
        "bounds": list(run.bounds(plan)),
        "failures": list(report.failures),
        "notes": list(report.notes),
        "verification": {"expected": check.expected, "found": check.found, "lost": check.lost,
                         "unexpected": check.unexpected, "mismatched": check.mismatched,
                         "recovered": check.recovered, "unchecked": check.unchecked,
                         "checked": check.checked},  # False: the table could not be read back, nothing counted
        "capacity": None if run.capacity_use is None else run.capacity_use.as_dict(),
        **extra,
    }


def to_dict(report: Report, detail: bool = False, answer: Verdict | None = None) -> dict[str, Any]:
    """The report as plain data with its verdict's sentence (``answer``: the page's, with its AWS line; else the
    report's own)."""
    return {"plan": report.plan.as_dict(), "environment": report.environment, "created": report.created,
            "cancelled": report.cancelled, "error": report.error, "verdict": (answer or verdict(report)).sentence,
            "runs": [run_dict(run, report.plan, detail) for run in report.runs]}


def to_json(report: Report, answer: Verdict | None = None) -> str:
    return json.dumps(to_dict(report, answer=answer), indent=2, ensure_ascii=False)


def csv_row(run: dict[str, Any], cancelled: bool = False) -> dict[str, Any]:
    """One run as a CSV row: ``repeat`` counts from 1 as the page shows it; ``cancelled``: the plan was cancelled."""
    row = {key: run[key] for key in CSV_FIELDS if key in run}
    row["repeat"] = run["repeat"] + 1
    row["cancelled"] = cancelled
    row["errors"] = ";".join(f"{code}={count}" for code, count in sorted(run["errors"].items()))
    row["bounds"] = "; ".join(run.get("bounds") or ())
    row.update({f"latency_ms_{k}": v for k, v in run["latency_ms"].items()})
    row.update(run["verification"])
    use = run.get("capacity")
    if use:
        row.update(capacity=use["setting"], consumed_wru=use["consumed_wru"], goodput_wru_per_second=use["goodput"],
                   peak_wru_per_second=use["peak"], capacity_wru_per_second=use["capacity"],
                   goodput_ratio=use["goodput_ratio"], capacity_requests=use["requests"],
                   refused_requests=use["refused"], waste=use["waste"],
                   throttle_reasons=";".join(f"{reason}={n}" for reason, n in sorted(use["throttles"].items())))
    return row


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for run in to_dict(report)["runs"]:
        writer.writerow(csv_row(run, report.cancelled))
    return out.getvalue()


def is_export(head: bytes) -> bool:
    """The first ``EXPORT_HEAD`` bytes of a file are those of a JSON or CSV export (the only files an export may
    write over)."""
    return bool(_JSON_HEAD.match(head)) or head.startswith(",".join(CSV_FIELDS[:2]).encode() + b",")
