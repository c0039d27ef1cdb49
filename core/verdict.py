"""The answer to "which way should I write?" after a run: one ``Verdict`` (and its sentence) that the CLI, the page
and the exports all show, so that they never disagree.

Contract: pure, no I/O. ``verdict(report)`` names the approach with the highest median items/s among the runs that
finished (an ``interrupted`` run, stopped before all of its books were settled, is left out of the choice and of
every speed-up, and is listed with its counts), its speed-up over ``sequential`` by items/s (never by seconds: a
partial run writes fewer books), the conditions it ran under and the bound that limits the figure.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from core.approaches import APPROACHES, parallelism
from core.approaches import label as approach_label
from core.model import NETWORK_PRESETS, Plan
from core.report import Report, RunResult

BASELINE = "sequential"
CLIENT_BOUND_CPU = 0.9  # client CPU seconds per second of writing: one core busy (the GIL allows about one)


def interrupted(result: RunResult, plan: Plan) -> bool:
    """The run stopped before all of the plan's books were settled (cancelled, or the target went away)."""
    return result.report.items < plan.items


def finished(report: Report) -> tuple[RunResult, ...]:
    """The runs that settled every book of the plan: the only ones charted and compared."""
    return tuple(run for run in report.runs if not interrupted(run, report.plan))


def interrupted_text(result: RunResult, plan: Plan) -> str:
    """'sequential #1: 67 of 2,000 books' for an interrupted run."""
    return f"{approach_label(result.approach)} #{result.repeat + 1}: {result.report.items:,} of {plan.items:,} books"


def rates(report: Report) -> dict[str, float]:
    """Median items/s per approach over its finished runs, in the plan's order."""
    runs = finished(report)
    out = {}
    for name in report.plan.approaches:
        values = [run.report.items_per_second for run in runs if run.approach == name]
        if values:
            out[name] = statistics.median(values)
    return out


def speedups(report: Report, baseline: str = BASELINE) -> dict[str, float | None]:
    """Each approach's median items/s ÷ the baseline's (None without a finished baseline run, or for the baseline
    alone)."""
    by_rate = rates(report)
    base = by_rate.get(baseline)
    return {name: (rate / base if base and len(by_rate) > 1 else None) for name, rate in by_rate.items()}


def conditions_text(plan: Plan) -> str:
    """Where and under what the run wrote: 'embedded, study-2022 latency (75 ms + up to 10 ms per request)'."""
    c = plan.conditions
    preset = next((name for name, p in NETWORK_PRESETS.items()
                   if name != "none" and (p.latency_ms, p.jitter_ms) == (c.latency_ms, c.jitter_ms)), None)
    if c.latency_ms or c.jitter_ms:
        latency = f"{c.latency_ms:g} ms + up to {c.jitter_ms:g} ms per request"
        parts = [f"{plan.target}, {preset} latency ({latency})" if preset else f"{plan.target}, {latency} added"]
    else:
        parts = [f"{plan.target}, no added latency"]
    parts += [f"{name} {value:.0%}" for name, value in c.faults.items()]
    if plan.capacity.on:
        parts.append(f"capacity {plan.capacity}")
    if plan.workers > 1:
        parts.append(f"{plan.workers} workers")
    return ", ".join(parts)


def bound_text(report: Report, name: str) -> str:
    """What limits the figure of approach ``name`` in this report, in one clause."""
    plan, runs = report.plan, [run for run in finished(report) if run.approach == name]
    throttled = sum(run.report.throttled for run in runs)
    if any(run.server_bound for run in runs):
        return ("bound by the server: the engine used a whole CPU core, so this is the engine's limit, not the "
                "approach's")
    if throttled:
        return f"bound by the table's capacity ({throttled:,} requests throttled)"
    cpu = max((run.report.client_cpu_seconds / run.report.seconds for run in runs if run.report.seconds > 0),
              default=0.0)
    if cpu >= CLIENT_BOUND_CPU:
        return f"bound by this machine: the writer kept {cpu:.0%} of a CPU core busy"
    latency = plan.conditions.latency_ms
    if latency:
        chosen = APPROACHES.get(name)
        flight = parallelism(chosen, plan.threads, plan.concurrency) if chosen is not None else 1
        return f"bound by the round trip: {flight:,} request(s) in flight at {latency:g} ms each"
    return ("bound by the local engine (the study's ratios come from ~80 ms round trips: "
            "--network study-2022 reproduces them)")


@dataclass(frozen=True)
class Verdict:
    """The answer after a run. ``approach`` None: no run finished (``sentence`` says so)."""

    approach: str | None
    items_per_second: float
    speedup: float | None
    conditions: str
    bound: str
    interrupted: tuple[str, ...]
    sentence: str


def verdict(report: Report) -> Verdict:
    """The one sentence the CLI, the page and the exports print after a run (see the module's contract)."""
    plan, by_rate = report.plan, rates(report)
    conditions = conditions_text(plan)
    partial = tuple(interrupted_text(run, plan) for run in report.runs if interrupted(run, plan))
    left_out = f" Interrupted, left out: {'; '.join(partial)}." if partial else ""
    if not by_rate:
        return Verdict(None, 0.0, None, conditions, "", partial,
                       f"No approach finished, so there is no answer yet (on {conditions}).{left_out}")
    clean = {name for name in by_rate
             if all(run.clean for run in finished(report) if run.approach == name)}
    pool = [name for name in by_rate if name in clean] or list(by_rate)
    best = max(pool, key=lambda name: by_rate[name])
    gain = speedups(report).get(best)
    if gain is not None:
        versus = f", {gain:,.1f}x {BASELINE} by items/s"
    elif best == BASELINE and len(by_rate) > 1:
        versus = ", faster than every other approach here"
    elif len(by_rate) > 1:
        versus = f", no finished {BASELINE} run to compare with"
    else:
        versus = ", the only approach that finished"
    bound = bound_text(report, best)
    caveat = "" if best in clean else " Its runs lost, failed or left items unknown: see the table."
    sentence = (f"Use {approach_label(best)}: {by_rate[best]:,.0f} items/s{versus}, on {conditions}; {bound}."
                f"{caveat}{left_out}")
    return Verdict(best, by_rate[best], gain, conditions, bound, partial, sentence)
