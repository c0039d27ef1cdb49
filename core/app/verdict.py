"""The answer to "which way should I write, and how long will my load take?": one ``Verdict`` for every view.

Pure. ``verdict(report, load)`` names the fastest approach by median items/s among the runs that finished and wrote
something (interrupted runs are listed, never chosen or compared), its speed-up over ``sequential`` by items/s, the
conditions and the bound that limits the figure; with ``load`` (the planner's answer) what N items would take on AWS.
The CLI, the page and the exports all show its sentence, so they never disagree.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from core.app.formatting import count_words, item_rate, money, plural, short
from core.domain.approaches import (
    APPROACHES,
    LAB_WRITERS,
    STUDY_2022_ITEMS,
    STUDY_2022_SECONDS,
    parallelism,
)
from core.domain.approaches import label as approach_label
from core.domain.capacity import Capacity
from core.domain.plan import NETWORK_PRESETS, Conditions, Plan
from core.domain.results import CLIENT_BOUND_CPU, Issue, Report, RunResult, client_busy, speedup
from core.domain.s3source import SEEDED_ITEM_BYTES
from core.forecast.planner import LoadPlan, LoadSpec

BASELINE = "sequential"
STUDY_NETWORK = "study-2022"
STUDY_ROUND_TRIP_MS = STUDY_2022_SECONDS[BASELINE] / STUDY_2022_ITEMS * 1000  # ~83 ms per sequential put
DEFAULT_AWS_ITEMS = 10_000_000  # the load the planner is asked about when the user gives none
ENGINES = {"embedded": "dynalite", "dynamodb-local": "DynamoDB Local", "localstack": "LocalStack"}


def interrupted(result: RunResult, plan: Plan) -> bool:
    """The run stopped before all of the plan's books were settled (cancelled, or the target went away); a run an
    as-shipped library ended (``RunReport.ended``) is over, not interrupted."""
    return result.report.taken < plan.items and result.report.ended is None


def finished(report: Report) -> tuple[RunResult, ...]:
    """The runs that settled every book of the plan: the only ones charted and compared."""
    return tuple(run for run in report.runs if not interrupted(run, report.plan))


def interrupted_text(result: RunResult, plan: Plan) -> str:
    """'sequential #1: 67 of 2,000 books' for an interrupted run."""
    return f"{approach_label(result.approach)} #{result.repeat + 1}: {result.report.taken:,} of {plan.items:,} books"


def rates(report: Report) -> dict[str, float]:
    """Median items/s per approach over its finished runs that wrote something, in the plan's order."""
    runs = finished(report)
    out = {}
    for name in report.plan.approaches:
        values = [run.report.items_per_second for run in runs if run.approach == name]
        if values and statistics.median(values) > 0:
            out[name] = statistics.median(values)
    return out


def speedups(report: Report, baseline: str = BASELINE) -> dict[str, float | None]:
    """Each approach's median items/s ÷ the baseline's (None without a finished baseline run, or for the baseline
    alone)."""
    by_rate = rates(report)
    return {name: speedup(by_rate, name, baseline) for name in by_rate}


def conditions_text(plan: Plan) -> str:
    """Where and under what the run wrote: 'embedded, study-2022 latency (75 ms + up to 10 ms per request)'."""
    return ", ".join([plan.target, in_effect(plan.conditions, plan.capacity)]
                     + ([f"{plan.workers} workers"] if plan.workers > 1 else []))


def in_effect(c: Conditions, capacity: Capacity) -> str:
    """The conditions a server adds: 'study-2022 latency (75 ms + up to 10 ms per request), throttle 10%, capacity
    provisioned=5', or 'no added latency'."""
    preset = next((name for name, p in NETWORK_PRESETS.items()
                   if name != "none" and (p.latency_ms, p.jitter_ms) == (c.latency_ms, c.jitter_ms)), None)
    if c.latency_ms or c.jitter_ms:
        latency = f"{c.latency_ms:g} ms" + (f" + up to {c.jitter_ms:g} ms" if c.jitter_ms else "") + " per request"
        parts = [f"{preset} latency ({latency})" if preset else f"{latency} added"]
    else:
        parts = ["no added latency"]
    parts += [f"{name} {value:.0%}" for name, value in c.faults.items()]
    if capacity.on:
        parts.append(f"capacity {capacity}")
    return ", ".join(parts)


def bound_text(report: Report, name: str) -> str:
    """What limits the figure of approach ``name`` in this report, in one clause."""
    plan, runs = report.plan, [run for run in finished(report) if run.approach == name]
    throttled = sum(run.report.throttled for run in runs)
    flags = [reason for run in runs for reason in run.bounds(plan)]
    if any(reason.startswith("server-bound") for reason in flags):
        return ("bound by the server: the engine used a whole CPU core, so this is the engine's limit, not the "
                "approach's")
    if throttled:
        return f"bound by the table's capacity ({throttled:,} requests throttled)"
    if flags:  # queue-, machine- or client-bound under injected latency (``RunResult.bounds``, the one rule)
        return f"flagged: {flags[0]}"
    cpu = max((busy for run in runs if (busy := client_busy(run.report.client_cpu_seconds, run.report.seconds,
                                                            plan.workers)) is not None), default=0.0)
    if cpu >= CLIENT_BOUND_CPU:
        return f"bound by this machine: the writer kept {cpu:.0%} of a CPU core busy"
    latency = plan.conditions.latency_ms
    if latency:
        chosen = APPROACHES.get(name)
        flight = parallelism(chosen, plan.threads, plan.concurrency) if chosen is not None else 1
        return f"bound by the round trip: {flight:,} request(s) in flight at {latency:g} ms each"
    if plan.target == "aws":
        return "bound by the round trip to AWS"
    engine = ENGINES.get(plan.target, "the engine at the custom URL")
    return f"bound by the local engine ({engine} on this machine answered, not DynamoDB)"


def aws_spec(items: int = DEFAULT_AWS_ITEMS, item_bytes: int = SEEDED_ITEM_BYTES) -> LoadSpec:
    """The planner's question behind the verdict's AWS line: ``items`` of the run's kind (a seeded book's size by
    default) into an existing on-demand table on AWS."""
    return LoadSpec(items=items, item_bytes=item_bytes, table="existing", target="aws")


def aws_approaches(report: Report) -> tuple[str, ...]:
    """The report's approaches the planner models (the lab's writers: not s3-import nor the as-shipped ones)."""
    return tuple(name for name in report.plan.approaches if name in LAB_WRITERS)


def aws_text(load: LoadPlan, approach: str) -> str:
    """'10 million items on AWS would take ~41 min (15 min-61 min) with async x 6 workers, $6.25': the planner's row
    for ``approach`` (its best row when it does not model it, said so)."""
    row = next((r for r in load.rows if r.approach == approach and r.possible), load.best)
    how = "s3-import" if row.label == "s3-import" else \
        f"{row.approach} x {plural(row.workers, 'worker')}"
    other = "" if row.approach == approach else \
        f" (the AWS line plans the lab's writers, not {approach_label(approach)})"
    return (f"{count_words(load.spec.items)} items on AWS would take ~{short(row.seconds)} "
            f"({short(row.low)}–{short(row.high)}) with {how}, {money(row.cost_usd)}{other}")


def gap_text(report: Report, name: str) -> str | None:
    """Why a study approach's speed-up here is under half the study's at a lower latency (None otherwise): the
    study's ratio comes from its round trips to AWS."""
    gains = speedups(report)
    study = name if name in STUDY_2022_SECONDS and name != BASELINE else "async" if "async" in gains else None
    ours = gains.get(study) if study is not None else None
    if study is None or ours is None:
        return None
    theirs = STUDY_2022_SECONDS[BASELINE] / STUDY_2022_SECONDS[study]
    if ours >= theirs / 2 or report.plan.conditions.latency_ms >= NETWORK_PRESETS[STUDY_NETWORK].latency_ms:
        return None
    trips = [run.report.latency.p50 for run in finished(report) if run.approach == BASELINE]
    here = f", a round trip took {statistics.median(trips):,.1f} ms here" if trips else ""
    fix = (f'; the network preset {STUDY_NETWORK} (Network "{STUDY_NETWORK}", --network {STUDY_NETWORK}) '
           "reproduces it") if report.plan.off_machine is None else ""
    return (f"{approach_label(study)} is {ours:,.1f}x {BASELINE} here against the 2022 study's {theirs:,.0f}x: the "
            f"study's ratio comes from ~{STUDY_ROUND_TRIP_MS:.0f} ms round trips to AWS, where waiting dominates"
            f"{here}{fix}")


def books_text(runs: tuple[RunResult, ...] | list[RunResult]) -> str:
    """The runs' book problems summed: '8 failed, 2 not sent' (empty when there are none)."""
    return ", ".join(str(issue) for issue in Report(Plan(), {}, tuple(runs)).issues() if issue.books)


def problem_lines(report: Report) -> list[str]:
    """One line per problem of the plan (``Report.issues``), as the CLI prints them after its table: why it stopped,
    the books not written and verified, and the interruption (empty: a clean run). Without a run (stopped or
    interrupted before any wrote a book): why, and one line saying nothing was written and what did not run."""
    if not report.runs:
        how = "interrupted before any run wrote a book" if report.cancelled else "no run was made"
        return [*([report.error] if report.error else []),
                f"{how}: nothing was written; not run: {', '.join(report.not_run())}"]
    issues = report.issues()
    lines = [issue.reason for issue in issues if issue.kind in ("stopped", "halted") and issue.reason]
    books: list[Issue] = [issue for issue in issues if issue.books]
    if books:
        lines.append("some items were lost, failed or left unknown: "
                     f"{', '.join(map(str, books))} (see the table above)")
    if any(issue.kind == "interrupted" for issue in issues):
        lines.append("the run was interrupted: the table above shows what was done (rows marked INTERRUPTED)")
    return lines


@dataclass(frozen=True)
class Verdict:
    """The answer after a run. ``approach`` None: no run finished (``sentence`` says so). ``aws``: what the user's
    load would take on AWS (None without the planner's answer); ``gap``: why the speed-up is far from the study's."""

    approach: str | None
    items_per_second: float
    speedup: float | None
    conditions: str
    bound: str
    interrupted: tuple[str, ...]
    sentence: str
    items: int = 0
    seconds: float = 0.0
    aws: str | None = None
    gap: str | None = None


def verdict(report: Report, load: LoadPlan | None = None) -> Verdict:
    """The one sentence the CLI, the page and the exports print after a run (see the module's contract); ``load``:
    the planner's answer to ``aws_spec`` for the AWS line (restricted to ``aws_approaches`` where it models them)."""
    plan, by_rate = report.plan, rates(report)
    conditions = conditions_text(plan)
    partial = tuple(interrupted_text(run, plan) for run in report.runs if interrupted(run, plan))
    never = report.not_run()
    left_out = (f" Interrupted, left out: {'; '.join(partial)}." if partial else "") + (
        f" Never ran: {', '.join(map(approach_label, never))}." if never else "")
    if not by_rate:
        why = report.error or next((reason for run in report.runs for reason in run.report.failures), None)
        return Verdict(None, 0.0, None, conditions, "", partial,
                       f"No approach finished, so there is no answer yet (on {conditions})"
                       + (f": {why}." if why else ".") + left_out)
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
    runs = [run for run in finished(report) if run.approach == best]
    items = int(statistics.median(run.report.items_ok for run in runs))
    seconds = float(statistics.median(run.report.seconds for run in runs))
    bound = bound_text(report, best)
    aws = aws_text(load, best) if load is not None and load.rows else None
    gap = gap_text(report, best)
    caveat = "" if best in clean else \
        f" Its runs lost, failed or left items unknown ({books_text(runs)}): see the table."
    sentence = (f"Use {approach_label(best)}: {item_rate(by_rate[best])}{versus}, on {conditions}, "
                f"{items:,} books in {short(seconds)}; {bound}."
                + (f" {aws[0].upper()}{aws[1:]}." if aws else "") + (f" {gap[0].upper()}{gap[1:]}." if gap else "")
                + f"{caveat}{left_out}")
    return Verdict(best, by_rate[best], gain, conditions, bound, partial, sentence, items, seconds, aws, gap)
