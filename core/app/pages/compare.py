"""Compare: the answer first (after a run), then the plan and Run, then every figure of the run."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import streamlit as st

from core.app import charts, export, jobs, wording
from core.app.formatting import item_rate, plural, short, span
from core.app.pages.common import (
    Shared,
    build_plan,
    form_defaults,
    form_value,
    guard,
    land,
    limit_help,
    machine,
    open_history,
    plan_estimate,
    running,
    shared,
    start,
    target_key,
    typed_keys,
    watch,
)
from core.app.verdict import DEFAULT_AWS_ITEMS, Verdict, aws_approaches, aws_spec, verdict
from core.domain.approaches import APPROACHES, bulk_puts, imports
from core.domain.approaches import label as approach_label
from core.domain.bulkmodel import EMULATED
from core.domain.bulkwire import TIERS
from core.domain.capacity import Capacity
from core.domain.endpoints import DEFAULT_REGION
from core.domain.errors import ConfigError, LabError
from core.domain.limits import LIMITS, MAX_PLAN_ITEMS
from core.domain.plan import RETRY_MODES, Plan
from core.domain.results import Report
from core.domain.s3source import DEFAULT_PREFIX, needs_bucket
from core.forecast.planner import plan_load


def aws_items() -> int:
    """The load the answer sizes on AWS: the Plan a load page's Items when valid, ten million otherwise."""
    try:
        return wording.parse_whole(str(st.session_state.get("load_items", "")), "Items", 1, MAX_PLAN_ITEMS)
    except ConfigError:
        return DEFAULT_AWS_ITEMS


def answer_of(report: Report) -> Verdict:
    """The verdict with its AWS line (the planner, calibrated on this machine's history)."""
    try:
        reports = open_history().reports()
    except LabError:
        reports = []
    names = aws_approaches(report)
    load = plan_load(aws_spec(aws_items()), reports, machine(), approaches=names) if names else None
    return verdict(report, load)


def answer(report: Report) -> None:
    """The answer sentence and the chart that shows it, above everything else."""
    said = answer_of(report)
    st.session_state.answer = said
    if said.approach is None or not report.clean:
        st.warning(said.sentence, icon=":material/info:")
    else:
        st.success(said.sentence, icon=":material/check_circle:")
    data = export.to_dict(report, detail=True, answer=said)
    reference = bool(st.session_state.get("reference", True))
    figure = charts.speedup_bar(data, reference=reference) if charts.has_sequential(data) else \
        charts.throughput_bar(data, reference=reference)
    figure.update_layout(height=330, margin={"t": 70, "b": 30})
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, config=charts.PNG_CONFIG, key="answer_chart")
    metrics(report, right)


def metrics(report: Report, where: Any) -> None:
    top = wording.headline(report)
    if top is None:
        return
    first, second = where.columns(2, border=True), where.columns(2, border=True)
    first[0].metric("Use", top.fastest, item_rate(top.fastest_rate), delta_color="off",
                    delta_arrow="off", help="Highest median items/s among the runs that wrote every book")
    first[1].metric("× sequential", f"{top.speedup:,.1f}×" if top.speedup else "–",
                    help="Speed-up of that approach over sequential, by items/s (needs a finished sequential run)")
    second[0].metric("Verified", f"{top.verified:,}", f"of {top.expected:,}, none lost" if not top.problems
                     else f"{top.problems:,} not written", delta_arrow="off",
                     delta_color="normal" if not top.problems else "inverse",
                     help="Books found in the tables with the attributes written, of those the runs were given")
    second[1].metric("Flagged", f"{top.flagged}/{len(report.runs)}",
                     help="Runs bounded by the server, the machine, a queue or the client's own CPU (the "
                          "verification table's bound column says which): their figure is not the approach's, and "
                          "the comparison with the 2022 study leaves them out")


def plan_form(where: Shared) -> Plan | None:
    """The plan's inputs; returns the validated plan, or None after saying what to fix."""
    with st.container(border=True):
        top = st.columns([5, 2, 2, 2], vertical_alignment="bottom")
        approaches = top[0].multiselect(
            "Approaches", list(APPROACHES), default=form_value("approaches"), key="approaches", disabled=running(),
            placeholder="Pick one or more approaches", format_func=approach_label,
            help="\n".join(f"- **{a.label}**: {a.description}" + (f" (unavailable here: {a.unavailable})"
                                                                 if a.unavailable else "")
                            for name, a in APPROACHES.items()))
        values: dict[str, Any] = {"approaches": approaches}
        defaults = form_defaults()
        values["items"] = top[1].text_input(LIMITS["items"].label, defaults["items"], key="items",
                                            disabled=running(), help=limit_help("items"))
        values["repeats"] = top[2].text_input(LIMITS["repeats"].label, defaults["repeats"], key="repeats",
                                              disabled=running(), help=limit_help("repeats"))
        values["concurrency"] = top[3].text_input(LIMITS["concurrency"].label, defaults["concurrency"],
                                                  key="concurrency", disabled=running(),
                                                  help=limit_help("concurrency"))
        more = any(str(form_value(key)) != str(value) for key, value in
                   (("threads", form_value("threads") if "threads" not in st.session_state else None),
                    *((key, defaults[key]) for key in ("workers", "scheduler", "seed", "retry_mode"))))
        with st.expander("More: threads, seed, retry mode, scale-out (Dask)", expanded=more, key="more_expander"):
            cols = st.columns([1, 1, 2, 1, 3])
            values["threads"] = cols[0].text_input(LIMITS["threads"].label, form_value("threads"), key="threads",
                                                   disabled=running(), help=limit_help("threads"))
            values["seed"] = cols[1].text_input(LIMITS["seed"].label, defaults["seed"], key="seed",
                                                disabled=running(), help=limit_help("seed", "Same seed, same books"))
            values["retry_mode"] = cols[2].radio(
                "Retry mode", RETRY_MODES, horizontal=True, key="retry_mode", disabled=running(),
                help="adaptive: client-side rate control fed by throttles (botocore's for the boto3 and aiobotocore "
                     "approaches, the lab's for the others)")
            values["workers"] = cols[3].text_input(LIMITS["workers"].label, defaults["workers"], key="workers",
                                                   disabled=running(),
                                                   help=limit_help("workers", "Shards written by this many Dask worker "
                                                                              "processes (1: this one)"))
            values["scheduler"] = cols[4].text_input("Scheduler", "", key="scheduler", disabled=running(),
                                                     placeholder="empty: a local cluster of the workers",
                                                     help="tcp://HOST:8786 of an existing Dask cluster")
        extra = s3_inputs(approaches, where.fields)
    plan, problems = build_plan(values, extra, where)
    for line in problems:  # said on the page, every one; Run stays disabled until they are fixed
        st.error(line)
    return plan


def s3_inputs(approaches: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    """s3-import's and bulk-put's bucket and prefix: asked whenever the plan needs them (``needs_bucket``: AWS or a
    URL off this machine, where the lab never creates buckets; on this machine it uses a bucket of its own); and
    bulk-put's tier and MaxWriteRequestUnits whenever it is chosen."""
    chosen = [name for name in approaches if name in APPROACHES]
    bulk: dict[str, Any] = {}
    if any(bulk_puts(name) for name in chosen):
        cols = st.columns(2)
        bulk["bulk_tier"] = cols[0].radio("Bulk put tier", TIERS, key="bulk_tier", horizontal=True,
                                          disabled=running(), help=f"PerformanceTier; {EMULATED} on this machine")
        max_wru = cols[1].number_input("Bulk put max WRU (0: DynamoDB's default)", 0, 10**9, 0, step=1024,
                                       key="bulk_max_wru", disabled=running(),
                                       help="MaxWriteRequestUnits, at least 1,024: caps this operation only")
        bulk["bulk_max_wru"] = int(max_wru) or None
    if not any(imports(name) or bulk_puts(name) for name in chosen) or not needs_bucket(
            fields["target"], fields.get("endpoint_url"), fields.get("region") or DEFAULT_REGION):
        return bulk
    cols = st.columns(2)
    bucket = cols[0].text_input("S3 bucket (s3-import, bulk-put)", "", key="s3_bucket", disabled=running(),
                                placeholder="a bucket of yours in the region",
                                help="The books go there as gzipped DynamoDB JSON, then ImportTable reads them; the "
                                     "parts are left there afterwards (the page says where)")
    prefix = cols[1].text_input("S3 prefix", DEFAULT_PREFIX, key="s3_prefix", disabled=running(),
                                help="Each run puts its parts in a folder of its own under this prefix")
    return {**bulk, "s3_bucket": bucket.strip() or None, "s3_prefix": prefix.strip()}


def run_section(plan: Plan | None, where: Shared) -> None:
    """Before a run: Run, the estimate, the cost and a confirmation off this machine. During: progress, in whichever
    session looks (a reload reattaches)."""
    job = jobs.RUNS.current
    if job is not None and job.running:
        if job.what == "run":
            watch(job)
        else:
            st.info(f"A {job.what} is running ({job.title}): the Sweep page shows it; Run waits for it.")
        return
    if job is not None and job.what == "run" and job.id == st.session_state.started_job \
            and st.session_state.seen_job != job.id:
        land(job, job.snapshot())  # it ended before this session's next look (e.g. a target that refused at once)
    error = st.session_state.run_error
    if error and error["for"] == target_key(where.fields):
        st.error(error["text"])
    confirmed = plan is not None and confirmation(plan)
    left, right = st.columns([1, 6], vertical_alignment="center")
    clicked = left.button("Run", type="primary", disabled=not confirmed, key="run", width="stretch")
    guess = None
    if plan is not None:
        guess = plan_estimate(plan)
        right.caption(f"Estimated duration: **{span(guess)}** · {wording.describe_plan(plan)}  \n{guess.basis}")
        cores = os.cpu_count() or 1
        if plan.workers > cores and plan.scheduler is None:
            st.warning(f"{plan.workers} workers on this machine's {cores} cores: they share the cores, so past "
                       f"{cores} they add start-up time, not speed.")
        for note in (plan.import_note, plan.bulk_note):
            if note:
                st.info(note)
        if guess.warning:
            st.warning(f"Before you run: {guess.warning}.")
    else:
        right.caption("Run waits for the fields above (and in the sidebar) to be fixed.")
    if clicked and plan is not None:
        job = jobs.plan_job(plan, where.server, typed_keys(plan.target), record=open_history().append, estimate=guess)
        start(job, where.fields)


def confirmation(plan: Plan) -> bool:
    """Nothing is written off this machine without a tick, asked again for every run; AWS shows the cost."""
    where = plan.off_machine
    if where is None:
        return True
    if plan.target == "aws":
        st.warning(f"This run writes {plan.writes:,} items to real DynamoDB: estimated cost "
                   f"**{plan.cost_usd:,.4f} USD**: {plan.cost_text}, plus the reads that verify them.")
    else:
        st.warning(f"{where} is not on this machine: the run writes there.")
    return st.checkbox("I understand: this run writes to AWS and may cost money" if plan.target == "aws"
                       else "Write to this endpoint", key=f"confirm-{st.session_state.confirm_round}")


def details(report: Report) -> None:
    """Every figure of the run, below the answer and the plan."""
    st.subheader("The run in detail")
    st.caption(f"{wording.describe_plan(report.plan)} · {dt.datetime.fromtimestamp(report.created):%Y-%m-%d %H:%M:%S}")
    if report.error:
        st.error(report.error)
    if report.cancelled:
        st.warning(wording.cancel_summary(report))
    if report.plan.rehearsal:
        st.info(wording.rehearsal_summary(report))
    for note in dict.fromkeys(note for run in report.runs for note in run.report.notes):  # once each, in order
        st.info(note)
    if st.session_state.run_notice:
        st.warning(st.session_state.run_notice)
    timing = st.session_state.run_timing
    if timing is not None:
        guess, actual = timing
        if report.cancelled or report.error:
            st.caption(f"Estimated {span(guess)} for the whole plan; it stopped after **{short(actual)}** (no "
                       "estimate ÷ actual for a plan that did not finish)")
        else:
            st.caption(f"Estimated {span(guess)}; the run took **{short(actual)}** (estimate ÷ actual = "
                       f"{guess.ratio(actual):.2f}; the estimate was {guess.basis})")
    said = st.session_state.answer
    data = export.to_dict(report, detail=True, answer=said)
    switches = st.columns([1, 2, 3])
    log = switches[0].toggle("Log scale", key="log_scale")
    reference = switches[1].toggle("The 2022 study's figures", value=True, key="reference",
                                   help="Published figures: real AWS, 10,000 books, one unrepeated run; drawn as "
                                        "speed-ups and items/s beside ours, never as seconds on our axis")
    figures = {"seconds": charts.seconds_bar(data, log=log),
               "throughput": charts.throughput_bar(data, log=log, reference=reference),
               "latency": charts.latency_box(data, log=log), "timeline": charts.timeline(data)}
    if charts.has_sequential(data):
        figures["speedup"] = charts.speedup_bar(data, log=log, reference=reference)
    else:
        st.caption("No finished sequential run in this plan: add sequential to see speed-ups.")
    names = list(figures)
    for row in (names[:2], names[2:4], names[4:]):
        for column, name in zip(st.columns(2), row, strict=False):
            column.plotly_chart(figures[name], config=charts.PNG_CONFIG, key=f"{name}_chart")
    if charts.has_capacity(data):
        figures.update(capacity_section(data, log))
    if reference:
        with st.expander("This lab and the 2022 study, as numbers", key="study_expander"):
            st.table(wording.study_rows(report), hide_index=True, border="horizontal")
            left_out = report.flagged_text()
            st.caption("The study wrote 10,000 books to real AWS from one machine in 2022; compare the speed-ups "
                       "(a ratio within each experiment), not the seconds. This lab's figures count only runs no "
                       "bound flags" + (f" ({left_out})." if left_out else "."))
    verification(report)
    downloads(report, list(figures.values()), said)


def capacity_section(data: dict[str, Any], log: bool) -> dict[str, Any]:
    """Consumed capacity against the table's line, and the waste per approach (runs with the capacity model on)."""
    st.markdown(f"#### Table capacity: {Capacity(**data['plan']['capacity'])}")
    figures = {"capacity": charts.capacity_timeline(data, log=log), "waste": charts.waste_bar(data)}
    for column, name in zip(st.columns(2), figures, strict=True):
        column.plotly_chart(figures[name], config=charts.PNG_CONFIG, key=f"{name}_chart")
    st.table(wording.capacity_rows(data), hide_index=True, border="horizontal")
    st.caption(wording.CAPACITY_COLUMNS)
    return figures


def verification(report: Report) -> None:
    st.markdown("#### Verification")
    issues = report.issues()
    kinds = {issue.kind for issue in issues}
    if not issues:
        st.success(f"Verified: every run wrote all {plural(report.plan.items, 'book')}, none lost.")
    elif any(issue.written_wrong for issue in issues):
        st.error("Not every book was written and verified: the red cells say what is missing.")
    elif "not verified" in kinds:
        st.error("A table could not be read back, so its run is not verified (the reason is above).")
    elif "unchecked" in kinds:
        st.warning("The verification was cancelled before every book was read back: whether the books not "
                   "checked are on the table is unknown.")
    elif "interrupted" in kinds:
        st.info("Every book the cancelled runs wrote was verified; the runs stopped before writing the rest.")
    st.table(wording.verification_rows(report), hide_index=True, border="horizontal")
    st.caption(wording.VERIFICATION_COLUMNS)
    left_out = report.flagged_text()
    if left_out:
        st.info("Runs with a bound were limited by the server, the machine, a queue or the client's own CPU, not by "
                f"the approach alone; the comparison with the 2022 study counts only the others ({left_out}).")
    reasons = [f"{approach_label(r.approach)}: {reason}" for r in report.runs for reason in r.report.failures]
    if reasons:
        with st.expander(f"Why items failed ({len(reasons)})", key="failures_expander"):
            st.markdown("\n".join(f"- {reason}" for reason in reasons))


def downloads(report: Report, figures: list[Any], said: Verdict | None) -> None:
    stamp = dt.datetime.fromtimestamp(report.created).strftime("%Y%m%d-%H%M%S")
    cols = st.columns([1, 1, 1, 3], vertical_alignment="center")
    cols[0].download_button("CSV", export.to_csv(report), f"lab-{stamp}.csv", "text/csv", on_click="ignore",
                            icon=":material/download:", width="stretch")
    cols[1].download_button("JSON", export.to_json(report, said), f"lab-{stamp}.json", "application/json",
                            on_click="ignore", icon=":material/download:", width="stretch")
    cols[2].download_button("Charts (HTML)", lambda: charts.standalone_html(figures, f"Lab run {stamp}"),
                            f"lab-{stamp}.html", "text/html", on_click="ignore", icon=":material/download:",
                            width="stretch")
    cols[3].caption("Each chart downloads as PNG from the camera icon in its toolbar; the HTML works offline.")


where = shared()
st.title("Compare the ways to write")
report: Report | None = st.session_state.report
if report is None:
    st.caption("Which way should Python write to DynamoDB, and how long will your load take? Pick a target in the "
               "sidebar (Embedded needs nothing), choose the approaches and press **Run**: every approach writes the "
               "same seeded books, each is read back and verified, and the answer comes first. The study it "
               "reproduces: *DynamoDB Write Concurrency In Python* (2022: sequential 832.65 s, threads 71.23 s, "
               "async 11.06 s for 10,000 books).")
else:
    with guard():
        answer(report)
plan: Plan | None = None
with guard():
    plan = plan_form(where)
    run_section(plan, where)
if report is not None:
    with guard():
        details(report)
