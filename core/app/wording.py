"""The page's words: reports, plans and history entries turned into the short texts and table rows the page shows.

Pure, no Streamlit here; the page lays these out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from core.app.formatting import approx_span, cost_span, item_rate, plural
from core.app.history import Entry
from core.app.verdict import verdict as run_verdict
from core.domain.approaches import STUDY_2022_ITEMS, STUDY_2022_SECONDS
from core.domain.approaches import label as approach_label
from core.domain.bulkwire import Tier
from core.domain.capacity import parse_capacity
from core.domain.endpoints import validate_kind
from core.domain.errors import ConfigError
from core.domain.limits import LIMITS, MAX_ITEM_BYTES, MAX_PLAN_ITEMS
from core.domain.numbers import parse_count
from core.domain.plan import FAULT_LABELS, NETWORK_PRESETS, PRESETS, Conditions, Plan, RetryMode
from core.domain.results import ProgressEvent, Report, RunResult, stored_bounds
from core.forecast.planner import DEFAULT_RETRY_MODE, LoadPlan, LoadSpec, parse_duration


def network_label(conditions: Conditions) -> str:
    named = next((name for name, preset in NETWORK_PRESETS.items()
                  if (preset.latency_ms, preset.jitter_ms) == (conditions.latency_ms, conditions.jitter_ms)), None)
    jitter = f" + up to {conditions.jitter_ms:g} ms" if conditions.jitter_ms else ""
    text = "no added latency" if not conditions.latency_ms and not conditions.jitter_ms else (
        f"{named or 'custom'} network: {conditions.latency_ms:g} ms{jitter}")
    faults = [f"{name} {value:.0%}" for name, value in conditions.faults.items()]
    return text + (f", faults: {', '.join(faults)}" if faults else "")


NO_PRESET = "none"
PRESET_CHOICES: tuple[str, ...] = (NO_PRESET, *PRESETS)


def preset_help() -> str:
    """The page's help text for its Preset choice: each preset and what it brings."""
    return "\n".join(f"- **{name}**: {preset.description}" for name, preset in PRESETS.items()) + (
        "\n\nA latency or table capacity chosen below wins over the preset's.")


def with_preset(plan: Plan, name: str) -> Plan:
    """``plan`` with the preset called ``name`` (``none``: unchanged); ``ConfigError`` when it does not fit the
    plan (the dress rehearsal needs a target on this machine)."""
    return plan if name == NO_PRESET else PRESETS[name].apply(plan)


def plan_where(plan: Plan) -> str:
    """The target and, on a target on this machine, its conditions and capacity model: 'embedded (no added
    latency)'; a dress rehearsal and a scale-out say so."""
    local = plan.off_machine is None
    place = "" if plan.target == "embedded" else f"{plan.endpoint_url or plan.region}, "
    said = [network_label(plan.conditions)] if local else []
    if plan.capacity.on:
        said.append(f"capacity {plan.capacity}")
    where = f"{plan.target} ({place}{', '.join(said)})" if said else f"{plan.target} ({place.rstrip(', ')})"
    return where + (" as an AWS dress rehearsal (preset aws-like: HTTPS, signatures checked)" if plan.rehearsal
                    else "") + (f" on {plural(plan.workers, 'Dask worker')}" if plan.workers > 1 else "") + (
        f" on the Dask cluster at {plan.scheduler}" if plan.scheduler else "")


def describe_plan(plan: Plan) -> str:
    """One line: books, approaches, target and conditions, repeats, seed."""
    return (f"{plural(plan.items, 'book')} × {plural(len(plan.approaches), 'approach', 'approaches')} on "
            f"{plan_where(plan)}, "
            f"{plural(plan.repeats, 'repeat')}, seed {plan.seed}")


def parse_whole(text: str, label: str, low: int, high: int) -> int:
    """A whole number typed into the page (10000, 10_000, 10k, 2.5M, 1e6), checked against its range:
    ``ConfigError`` says what to type (``core.domain.numbers.parse_count``, as the CLI's)."""
    return parse_count(text, label, low, high)


def parse_number(text: str, label: str, low: float, high: float) -> float:
    """A decimal number typed into the page, checked against its range."""
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # nan fails too
        raise ConfigError(f"{label} must be a number from {low:,g} to {high:,g}, got {text.strip()!r}")
    return value


def progress_text(event: ProgressEvent | None, approach: str, repeats: int) -> str:
    if event is None:
        return f"{approach}: waiting"
    repeat = f" (repeat {event.repeat + 1}/{repeats})" if repeats > 1 else ""
    phase = {"reset": "resetting its table", "warmup": "warming up", "write": "writing",
             "verify": "verifying", "done": "done"}.get(event.phase, event.phase)
    workers = (" · per worker: " + ", ".join(f"{rate:,.0f}" for rate in event.worker_rates) + " items/s") \
        if event.per_worker else ""
    if event.detail:  # s3-import: uploading parts, or the import's own progress
        return f"{approach}{repeat}: {event.detail}"
    return (f"{approach}{repeat}: {phase} · {event.done:,}/{event.total:,} items · "
            f"{item_rate(event.items_per_second)}{workers}")


def progress_fraction(event: ProgressEvent | None, repeats: int = 1) -> float:
    """How far one approach is, over all its repeats (writing is most of it, verifying the rest)."""
    if event is None:
        return 0.0
    within = 1.0 if event.phase == "done" else min(event.done / max(event.total, 1), 1.0) * (
        0.95 if event.phase == "verify" else 0.9)
    return min((event.repeat + within) / max(repeats, 1), 1.0)


@dataclass(frozen=True)
class Headline:
    """The metrics row: the approach the verdict recommends and its items/s, its speed-up vs sequential (by items/s),
    items verified, runs server-bound."""

    fastest: str
    fastest_rate: float
    speedup: float | None
    verified: int
    expected: int
    problems: int  # books with a problem (``Report.issues``: lost, failed, unknown, not sent, ...)
    flagged: int  # runs whose figure a bound flags (``RunResult.bounds``)


def headline(report: Report) -> Headline | None:
    """The metrics row, from the verdict (None when no run was made): a cancelled or failed approach is never
    "fastest"."""
    if not report.runs:
        return None
    said = run_verdict(report)
    problems = sum(issue.count for issue in report.issues() if issue.books)
    return Headline(approach_label(said.approach) if said.approach else "none finished", said.items_per_second,
                    said.speedup, sum(r.verification.found for r in report.runs),
                    sum(r.verification.expected for r in report.runs), problems,
                    sum(bool(r.bounds(report.plan)) for r in report.runs))


SIGNATURE_ERRORS = ("InvalidSignatureException", "IncompleteSignatureException", "MissingAuthenticationTokenException",
                    "UnrecognizedClientException")


def rehearsal_summary(report: Report) -> str:
    """What the dress rehearsal checked: HTTPS and every signature, and how many the proxy refused."""
    requests = sum(r.report.requests for r in report.runs)
    refused = sum(count for r in report.runs for code, count in r.report.errors.items() if code in SIGNATURE_ERRORS)
    return ("Dress rehearsal: every request went over HTTPS (a throwaway CA) and the lab's proxy checked its SigV4 "
            f"signature as AWS does: {plural(requests, 'request')}, "
            + ("none refused." if not refused else f":red[**{refused:,} refused**] (see Why items failed)."))


def _bad(count: int) -> str:
    return f":red[**{count:,}**]" if count else "0"


def verdict(result: RunResult) -> str:
    """'verified' or what went wrong, as a green or red Markdown badge (st.table renders Markdown)."""
    issues = result.issues()
    if not issues:
        return ":green-background[verified]"
    said = [str(issue) if issue.books else issue.kind for issue in issues]
    return f":red-background[{', '.join(said)}]"


def verification_rows(report: Report) -> list[dict[str, str]]:
    """One row per run for the verification table; problems in red, clean runs green."""
    return [{"approach": approach_label(r.approach), "repeat": str(r.repeat + 1),
             "written": f"{r.verification.found:,}/{r.verification.expected:,}",
             "lost": _bad(r.verification.lost), "unexpected": _bad(r.verification.unexpected),
             "mismatched": _bad(r.verification.mismatched), "recovered": f"{r.verification.recovered:,}",
             "failed": _bad(r.report.items_failed), "unknown": _bad(r.report.items_unknown),
             "not sent": _bad(r.report.items_not_sent),
             "retries": f"{r.report.retries:,}", "throttled": f"{r.report.throttled:,}",
             "server CPU": "–" if r.server_cpu_percent is None else f"{r.server_cpu_percent:.0f}%",
             "bound": " ".join(f":orange-badge[{reason}]" for reason in r.bounds(report.plan)) or "–",
             "verdict": verdict(r)} for r in report.runs]


def conditions_label(conditions: Mapping[str, float]) -> str:
    """'no added latency' or '22 ms + 6 ms, throttle 20%' from a stored plan's conditions."""
    latency, jitter = conditions.get("latency_ms", 0.0), conditions.get("jitter_ms", 0.0)
    parts = [(f"{latency:g} ms" + (f" + {jitter:g} ms" if jitter else "")) if latency or jitter
             else "no added latency"]
    parts += [f"{name} {conditions[name]:.0%}" for name in FAULT_LABELS if conditions.get(name)]
    return ", ".join(parts)


def _entry_state(entry: Entry) -> str:
    return "cancelled" if entry.cancelled else "verified" if entry.clean else "incomplete"


def entry_conditions(entry: Entry) -> str:
    """An entry's conditions, capacity model, preset and workers: '22 ms + 6 ms, capacity on-demand, aws-like'."""
    parts = [conditions_label(entry.conditions)]
    if entry.capacity != "off":
        parts.append(f"capacity {entry.capacity}")
    if entry.rehearsal:
        parts.append("preset aws-like")
    if entry.workers > 1:
        parts.append(plural(entry.workers, "worker"))
    return ", ".join(parts)


def history_label(entry: Entry) -> str:
    return (f"{dt.datetime.fromtimestamp(entry.created):%Y-%m-%d %H:%M} · {entry.target}, "
            f"{entry_conditions(entry)} · {plural(entry.items, 'book')} · {', '.join(entry.approaches)} · "
            f"{entry.seconds:,.1f} s writing · {_entry_state(entry)} · run {entry.id}")


def run_name(data: Mapping[str, Any]) -> str:
    """A stored run's short name for a comparison: '2026-12-06 21:14, 500 books on embedded'."""
    created = dt.datetime.fromtimestamp(float(data.get("created") or 0))
    return f"{created:%Y-%m-%d %H:%M}, {plural(int(data['plan']['items']), 'book')} on {data['plan']['target']}"


def comparison_warning(first: Mapping[str, Any], second: Mapping[str, Any]) -> str | None:
    """What makes two stored runs' seconds not comparable (other book counts), or None."""
    a, b = int(first["plan"]["items"]), int(second["plan"]["items"])
    if a == b:
        return None
    return (f"The runs wrote different book counts ({a:,} and {b:,}): compare their items/s, not their seconds "
            "(seconds grow with the books).")


def history_rows(entries: list[Entry]) -> list[dict[str, str]]:
    badge = {"verified": ":green-background[verified]", "incomplete": ":red-background[incomplete]",
             "cancelled": ":orange-background[cancelled]"}
    return [{"when": f"{dt.datetime.fromtimestamp(e.created):%Y-%m-%d %H:%M:%S}",
             "target": e.target, "conditions": entry_conditions(e), "books": f"{e.items:,}",
             "approaches": ", ".join(e.approaches), "seconds writing": f"{e.seconds:,.1f}",
             "verified": badge[_entry_state(e)]} for e in entries]


def summary_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """A stored report's runs in short: approach, seconds, items/s, latency p50/p95, retries, verification and what
    bounded the figure (``stored_bounds``: old reports too)."""
    rows = []
    for run_data in data["runs"]:
        check = run_data["verification"]
        rows.append({"approach": approach_label(run_data["approach"]), "repeat": str(run_data["repeat"] + 1),
                     "seconds": f"{run_data['seconds']:,.2f}", "items/s": f"{run_data['items_per_second']:,.0f}",
                     "p50 ms": f"{run_data['latency_ms']['p50']:,.1f}",
                     "p95 ms": f"{run_data['latency_ms']['p95']:,.1f}",
                     "retries": f"{run_data['retries']:,}", "written": f"{check['found']:,}/{check['expected']:,}"
                     if check.get("checked", True) else "not verified",
                     "not sent": f"{run_data.get('not_sent_items', 0):,}",  # absent from reports stored before
                     "bound": "; ".join(stored_bounds(run_data, data["plan"])) or "–"})
    return rows


def capacity_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """The runs' capacity use (runs without it left out): WRU/s mean and peak against capacity, goodput ÷ capacity,
    requests and the share wasted, writes throttled by reason."""
    rows = []
    for run_data in data["runs"]:
        use = run_data.get("capacity")
        if not use:
            continue
        ratio = use["goodput_ratio"]
        rows.append({"approach": approach_label(run_data["approach"]), "repeat": str(run_data["repeat"] + 1),
                     "WRU/s mean": f"{use['goodput']:,.0f}", "WRU/s peak": f"{use['peak']:,}",
                     "capacity WRU/s": f"{use['capacity']:,.0f}",
                     "goodput ÷ capacity": "–" if ratio is None else f"{ratio:.2f}",
                     "requests": f"{use['requests']:,}", "wasted": f"{use['waste']:.1%}",
                     "throttled (by reason)": ", ".join(f"{reason.removeprefix('TableWrite')} {count:,}"
                                                        for reason, count in sorted(use["throttles"].items()))
                                              or "none"})
    return rows


CAPACITY_COLUMNS = (
    "**WRU/s mean**: write request units the table took per second over the write phase (the goodput) · **peak**: "
    "the most in one second · **capacity**: the table's line (provisioned WCU, or the on-demand allowance) · "
    "**goodput ÷ capacity**: WRU written ÷ what the table offered in the phase, its burst included (1.0: the writer "
    "took all it could give) · **wasted**: requests refused whole, sent for nothing · **throttled**: writes (items) "
    "refused, by ThrottlingReason")


VERIFICATION_COLUMNS = (
    "**written**: books found in the table with exactly the attributes written, of those the run was given · "
    "**lost**: acknowledged by the server, yet absent · **unexpected**: present, but never given to this run · "
    "**mismatched**: present with other attributes · **recovered**: reported failed or unknown by the writer, "
    "yet present (a write whose answer was lost) · **failed**: refused for good · **unknown**: an attempt got no "
    "answer, so it may be written · **not sent**: the run stopped before sending it (cancelled, or the server "
    "died) · **retries**, **throttled**: extra attempts, and how many were throttled")


def cancel_summary(report: Report) -> str:
    """What a cancelled (or stopped) plan did: each run's books written, and the approaches that never ran."""
    done = [f"{approach_label(r.approach)}{f' (repeat {r.repeat + 1})' if report.plan.repeats > 1 else ''} wrote "
            f"{r.verification.found:,} of {report.plan.items:,} books" for r in report.runs]
    missing = report.not_run()
    parts = ["; ".join(done) if done else "no approach wrote anything"]
    if missing:
        parts.append(f"{', '.join(missing)} did not run")
    return "Cancelled: " + "; ".join(parts) + ". Figures below cover only what was written before the cancel."


def study_rows(report: Report) -> list[dict[str, str]]:
    """Our seconds, items/s and speed-up beside the 2022 study's published ones, per approach of the study; ours count
    only the runs no bound flags (``Report.unflagged``)."""
    report = report.unflagged()
    summaries = {s.approach: s for s in report.summaries()}
    rows = []
    base = STUDY_2022_SECONDS["sequential"]
    for name, seconds in STUDY_2022_SECONDS.items():
        ours = summaries.get(name)
        gain = report.speedup(name) if ours else None
        rows.append({"approach": name,
                     "this lab: seconds": f"{ours.seconds_median:,.2f}" if ours else "–",
                     "this lab: items/s": f"{ours.items_per_second_median:,.0f}" if ours else "–",
                     "this lab: speed-up": f"{gain:,.1f}×" if gain else "–",
                     "2022 study: seconds": f"{seconds:,.2f}",
                     "2022 study: items/s": f"{STUDY_2022_ITEMS / seconds:,.0f}",
                     "2022 study: speed-up": f"{base / seconds:,.1f}×"})
    return rows


# --- the bulk-load planner ----------------------------------------------------------------------------------------

def load_spec(items: str, item_bytes: str, table: str, capacity: str, deadline: str, target: str,
              endpoint_url: str | None, retry_mode: str = DEFAULT_RETRY_MODE, *, bulk_tier: str = "STANDARD",
              bulk_max_wru: int | None = None) -> LoadSpec:
    """The planner's question from the page's text fields (an empty deadline: none); ``ConfigError`` otherwise."""
    return LoadSpec(items=parse_whole(items, LIMITS["plan items"].label, 1, MAX_PLAN_ITEMS),
                    item_bytes=parse_whole(item_bytes, LIMITS["item bytes"].label, 1, MAX_ITEM_BYTES),
                    table="new" if table == "new" else "existing", capacity=parse_capacity(capacity),
                    target=validate_kind(target), endpoint_url=endpoint_url,
                    deadline_s=parse_duration(deadline) if deadline.strip() else None,
                    retry_mode=cast(RetryMode, retry_mode),  # LoadSpec checks it
                    bulk_tier=cast(Tier, bulk_tier), bulk_max_wru=bulk_max_wru)


def load_plan_rows(plan: LoadPlan, basis: bool = True, most: int | None = None) -> list[dict[str, str]]:
    """The planner's ranked rows as the page's table shows them (the first ``most``), each with what it rests on
    when ``basis``."""
    deadline = plan.spec.deadline_s is not None
    return [{"#": str(i), "Approach": row.approach, "Workers": str(row.workers),
             "Time (range)": approx_span(row) if row.possible else "-", "Cost USD (range)": cost_span(row),
             "Bound by": row.bound, **({"For the deadline": row.deadline_note or ""} if deadline else {}),
             **({"Based on": row.basis} if basis else {})} for i, row in enumerate(plan.rows[:most], 1)]


_LINKABLE = re.compile(r"(?<![\w/.])((?:github\.com|docs\.aws\.amazon\.com|aws\.amazon\.com)/[\w./#%?=&-]*[\w/#])")
_AWS_PAGE = re.compile(r"(?<![\w/.])(S3DataImport\.[\w.]+\.html)")
_REPO_PATH = re.compile(r"(?<![\w/.`])((?:core|bench|docs|tests)/[\w./-]+\.(?:py|md|js))")


def linked(source: str) -> str:
    """A planner source as Markdown: web addresses as links, AWS guide pages linked, repository paths as code."""
    text = _LINKABLE.sub(lambda m: f"[{m.group(1)}](https://{m.group(1)})", source)
    text = _AWS_PAGE.sub(lambda m: f"[{m.group(1)}](https://docs.aws.amazon.com/amazondynamodb/latest/"
                                   f"developerguide/{m.group(1)})", text)
    return _REPO_PATH.sub(lambda m: f"`{m.group(1)}`", text)
