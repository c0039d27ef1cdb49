"""The lab's page: pick a target, set the conditions and the plan, run the comparison, read it in Plotly.

Reads top to bottom like the page: sidebar (target, conditions), plan, run, results, history. Only ``core`` is
imported. The benchmark runs in a background thread (``core.ui.BackgroundRun``) that never touches Streamlit; this
script thread polls its progress and renders it. Every failure is one readable line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from core import charts, export, logs, ui
from core.approaches import APPROACHES, STUDY_APPROACHES
from core.emulator import Emulator
from core.endpoints import localstack_endpoint
from core.errors import ConfigError, LabError
from core.estimate import estimate
from core.history import History
from core.model import (
    FAULT_LABELS,
    FAULTS,
    MAX_CONCURRENCY,
    MAX_ITEMS,
    MAX_THREADS,
    NETWORK_PRESETS,
    PRICE_NOTE,
    Conditions,
    Plan,
    Report,
    default_threads,
)
from core.sigv4 import Credentials
from core.targets import Target, aws_profiles, check_reachable, describe_caller, make_target

st.set_page_config(page_title="DynamoDB write-concurrency lab", layout="wide")
logs.install()
for _key, _value in {"job": None, "report": None, "run_error": None, "run_notice": None, "aws_keys": None,
                     "caller": None}.items():
    st.session_state.setdefault(_key, _value)

TARGETS = {"embedded": "Embedded (dynalite)", "localstack": "LocalStack", "aws": "AWS", "custom": "Custom URL"}
DEFAULT_CHAIN = "(default credential chain)"


@contextmanager
def guard(where: Any = st) -> Iterator[None]:
    """Show whatever goes wrong in the block as one readable line (never a traceback); the page carries on."""
    try:
        yield
    except LabError as error:
        where.error(str(error))
    except Exception as error:
        where.error(logs.redact(f"Something went wrong: {type(error).__name__}: {error}"))


def running() -> bool:
    return st.session_state.job is not None


@st.cache_resource
def shared_emulator() -> Emulator:
    """The embedded DynamoDB, one for every session of this app; it stops when the app's process ends."""
    return Emulator().start()


def embedded_emulator() -> Emulator:
    emulator = shared_emulator()
    if not emulator.running:  # it died (or was killed): start a new one, the page stays usable
        shared_emulator.clear()
        emulator = shared_emulator()
    return emulator


def open_history() -> History:
    return History(os.environ.get("LAB_HISTORY_PATH") or None, elsewhere="set LAB_HISTORY_PATH to another file")


# --- sidebar -----------------------------------------------------------------------------------------------------

def sidebar_target() -> tuple[dict[str, Any], Emulator | None]:
    """Where to write; returns the plan's target fields and, when embedded, the shared emulator."""
    bar = st.sidebar
    bar.header("Target")
    kind = bar.radio("Write to", list(TARGETS), format_func=TARGETS.__getitem__, key="target_kind",
                     disabled=running())
    fields: dict[str, Any] = {"target": kind}
    if kind == "embedded":
        with guard(bar):
            emulator = embedded_emulator()
            bar.success(f"Running at {emulator.endpoint_url}")
            bar.caption("dynalite in memory, started with the app and shared by its sessions")
            return fields, emulator
        return fields, None
    if kind == "localstack":
        fields["endpoint_url"] = bar.text_input("LocalStack URL", localstack_endpoint(), key="localstack_url",
                                                help="From AWS_ENDPOINT_URL or LOCALSTACK_HOST, as localstack-client "
                                                     "resolves it; http://localhost:4566 otherwise")
    elif kind == "custom":
        fields["endpoint_url"] = bar.text_input("Endpoint URL", "http://127.0.0.1:8000", key="custom_url",
                                                help="Any DynamoDB-compatible URL: moto, DynamoDB Local, a remote "
                                                     "LocalStack. Credentials from boto3's default chain.")
    else:
        aws_credentials(fields)
    fields["region"] = bar.text_input("Region", "us-east-1", key="region")
    with guard(bar):
        target_status(fields)
    return fields, None


def aws_credentials(fields: dict[str, Any]) -> None:
    """A profile from the user's AWS config, or keys typed into password fields and never shown again."""
    bar = st.sidebar
    profiles: list[str] = []
    with guard(bar):  # a malformed ~/.aws/config is one line, and the default chain still works
        profiles = aws_profiles()
    profile = bar.selectbox("Profile", [DEFAULT_CHAIN, *profiles], key="profile",
                            help="From ~/.aws/config and ~/.aws/credentials; the default chain also reads "
                                 "AWS_PROFILE and AWS_ACCESS_KEY_ID")
    fields["profile"] = None if profile == DEFAULT_CHAIN else profile
    if st.session_state.aws_keys is not None:
        bar.info("Using the keys you typed (this session only; they override the profile).")
        if bar.button("Forget the typed keys"):
            st.session_state.update(aws_keys=None, caller=None)
            st.rerun()
        return
    with bar.expander("…or type keys"), st.form("keys", clear_on_submit=True, border=False):
        key_id = st.text_input("Access key ID", type="password")
        secret = st.text_input("Secret access key", type="password")
        token = st.text_input("Session token (optional)", type="password")
        st.caption("Kept in this browser session only; never shown again, never stored in the history or exports.")
        if st.form_submit_button("Use these keys"):
            if not (key_id and secret):
                st.error("Type both the access key ID and the secret access key.")
            else:
                logs.remember(secret, token)
                st.session_state.update(aws_keys=Credentials(key_id.strip(), secret.strip(), token.strip() or None),
                                        caller=None)
                st.rerun()


def typed_keys(kind: str) -> Credentials | None:
    return st.session_state.aws_keys if kind == "aws" else None


def target_status(fields: dict[str, Any]) -> None:
    """A live health badge for LocalStack and custom URLs; the caller identity for AWS, after a check."""
    try:
        target = make_target(fields["target"], endpoint_url=fields.get("endpoint_url"), region=fields["region"],
                             profile=fields.get("profile"), credentials=typed_keys(fields["target"]))
    except ConfigError:
        return  # the plan says what to fix, once
    if target.kind == "aws":
        aws_identity(target)
        return
    with st.sidebar:
        if not target.is_local:  # nothing is sent off this machine unasked
            if st.button("Check the endpoint", help="One ListTables call"):
                health_badge(target)
        elif running():
            health_badge(target)
        else:
            live_health_badge(target)


def health_badge(target: Target) -> None:
    try:
        check_reachable(target, timeout=2)
    except LabError as error:
        st.error(str(error))
        if target.kind == "localstack":
            st.code("docker compose up -d", language="bash")
        return
    st.success(f"Reachable at {target.endpoint_url}")
    st.caption(f"checked {dt.datetime.now():%H:%M:%S}" + (", again every 5 s" if target.is_local else ""))


live_health_badge = st.fragment(run_every=5)(health_badge)


def aws_identity(target: Target) -> None:
    bar = st.sidebar
    asked_for = (target.profile, target.region)
    if bar.button("Check credentials", help="Asks STS who you are (GetCallerIdentity, free)"):
        st.session_state.caller = {"for": asked_for, **describe_caller(target)}
    caller = st.session_state.caller
    if caller and caller["for"] == asked_for:
        bar.success(f"Account {caller['account']}\n\n{caller['arn']}")


def conditions() -> Conditions | None:
    """Network conditions and faults, injected by the embedded server (None when they do not add up)."""
    bar = st.sidebar
    bar.header("Conditions")

    def preset_label(name: str) -> str:
        preset = NETWORK_PRESETS.get(name)
        if preset is None:
            return "custom latency"
        return f"{name} ({preset.latency_ms:g} ms + up to {preset.jitter_ms:g} ms)" if preset.latency_ms else name

    preset = bar.selectbox("Network", [*NETWORK_PRESETS, "custom"], format_func=preset_label, key="network",
                           disabled=running(), help="Latency the embedded server adds to every request; "
                                                    "study-2022 is close to the study's ~83 ms per put")
    base = NETWORK_PRESETS.get(preset, Conditions())
    latency, jitter = base.latency_ms, base.jitter_ms
    if preset == "custom":
        left, right = bar.columns(2)
        latency = left.number_input("Latency (ms)", 0.0, 60_000.0, 25.0, 5.0, key="latency_ms", disabled=running())
        jitter = right.number_input("Jitter (ms)", 0.0, 60_000.0, 5.0, 1.0, key="jitter_ms", disabled=running())
    faulty = any(st.session_state.get(name, 0.0) for name in FAULTS)
    hints = {"throttle": "400 ProvisionedThroughputExceededException; batches hold items back",
             "reset": "Closed without an answer, half the time after the write happened"}
    with bar.expander("Faults (probability per write)", expanded=faulty):
        faults = {name: st.slider(FAULT_LABELS[name], 0.0, 1.0, 0.0, 0.01, key=name, disabled=running(),
                                  help=hints.get(name)) for name in FAULTS}
    try:
        return Conditions(latency, jitter, **faults)
    except ConfigError as problem:
        bar.error(str(problem))
        return None


# --- main column -------------------------------------------------------------------------------------------------

def header() -> None:
    st.title("DynamoDB write-concurrency lab")
    st.caption("How fast can Python write to DynamoDB, and which way wins? This lab reproduces and extends the 2022 "
               "study *DynamoDB Write Concurrency In Python* (Jamie Hargreaves: sequential boto3 832.65 s, threads "
               "71.23 s, async aiohttp 11.06 s for 10,000 books): one seeded set of books, written in several ways, "
               "every item read back and verified.")


def plan_form(fields: dict[str, Any], network: Conditions | None) -> Plan | None:
    """The plan's inputs; returns the validated plan, or None after showing what to fix."""
    st.subheader("Plan")
    with st.container(border=True):
        approaches = st.multiselect(
            "Approaches", list(APPROACHES), default=list(STUDY_APPROACHES), key="approaches", disabled=running(),
            placeholder="Pick one or more approaches",
            help="\n".join(f"- **{name}**: {a.description}" + (f" (unavailable here: {a.unavailable})"
                                                                 if a.unavailable else "")
                            for name, a in APPROACHES.items()))
        if approaches:
            st.caption(" · ".join(f"**{name}**: {APPROACHES[name].description}" for name in approaches))
        cols = st.columns(5)
        items = cols[0].number_input("Books", 1, MAX_ITEMS, 1_000, 100, key="items", disabled=running(),
                                     help="Seeded fake books, under 1 KB each, written by every approach")
        threads = cols[1].number_input("Threads", 1, MAX_THREADS, default_threads(), key="threads",
                                       disabled=running(),
                                       help="Workers of the threaded approaches; default min(32, cpu + 4)")
        concurrency = cols[2].number_input("Async concurrency", 1, MAX_CONCURRENCY, 100, key="concurrency",
                                           disabled=running(),
                                           help="Requests in flight at once for the async approaches")
        repeats = cols[3].number_input("Repeats", 1, 50, 1, key="repeats", disabled=running(),
                                       help="Each approach runs this many times; charts show the median")
        seed = cols[4].number_input("Seed", 0, 2**31 - 1, 0, key="seed", disabled=running(),
                                    help="Same seed, same books")
    if network is None:
        return None
    if not approaches:
        st.error("No approach chosen: pick one or more approaches above.")
        return None
    try:
        return Plan(approaches=tuple(approaches), items=int(items), repeats=int(repeats), threads=int(threads),
                    concurrency=int(concurrency), seed=int(seed), conditions=network, **fields)
    except ConfigError as problem:
        st.error(str(problem))
        return None


def duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    return f"about {seconds:,.0f} s" if seconds < 120 else f"about {seconds / 60:,.0f} min"


def run_section(plan: Plan | None, emulator: Emulator | None) -> None:
    """Before a run: the estimate, the cost and a confirmation off this machine, the Run button. During: progress."""
    if st.session_state.job is not None:
        watch(st.session_state.job)
        return
    if st.session_state.run_error:
        st.error(st.session_state.run_error)
    confirmed = plan is not None and confirmation(plan)
    left, right = st.columns([1, 6], vertical_alignment="center")
    clicked = left.button("Run", type="primary", disabled=not confirmed, key="run", width="stretch")
    if plan is not None:
        right.caption(f"Estimated duration: {duration(estimate(plan))} ({ui.describe_plan(plan)})")
    if clicked and plan is not None:
        job = ui.BackgroundRun(plan, emulator, typed_keys(plan.target), record=open_history().append)
        st.session_state.update(job=job, run_error=None, run_notice=None)
        st.session_state.pop("confirm", None)  # every run off this machine asks again
        st.rerun()


def confirmation(plan: Plan) -> bool:
    """Nothing is written off this machine without a tick, asked again for every run; AWS shows the cost."""
    where = plan.off_machine
    if where is None:
        return True
    if plan.target == "aws":
        st.warning(f"This run writes {plan.writes:,} items to real DynamoDB: estimated cost "
                   f"**{plan.cost_usd:,.4f} USD** of on-demand writes ({PRICE_NOTE}), "
                   f"plus the reads that verify them.")
    else:
        st.warning(f"{where} is not on this machine: the run writes there.")
    return st.checkbox("I understand: this run writes to AWS and may cost money" if plan.target == "aws"
                       else "Write to this endpoint", key="confirm")


def watch(job: ui.BackgroundRun) -> None:
    """Poll the background run from this script thread until it ends; the worker never calls Streamlit."""
    with st.container(border=True):
        head = st.empty()
        bars = {name: st.progress(0.0, text=ui.progress_text(None, name, job.plan.repeats))
                for name in job.plan.approaches}
        if st.button("Cancel", key="cancel", disabled=job.cancel_event.is_set()):
            job.cancel()
    while True:
        snap = job.snapshot()
        for name, bar in bars.items():
            event = snap.events.get(name)
            bar.progress(ui.progress_fraction(event, job.plan.repeats),
                         text=ui.progress_text(event, name, job.plan.repeats))
        state = "cancelling, the current request batch finishes first…" if job.cancel_event.is_set() else "running"
        head.markdown(f"**{state.capitalize()}** · {snap.elapsed:,.0f} s · {ui.describe_plan(job.plan)}")
        if not snap.running:
            break
        job.wait(0.2)
    st.session_state.update(job=None, report=snap.report, run_error=snap.error, run_notice=snap.notice)
    st.rerun()


def results() -> None:
    report: Report | None = st.session_state.report
    if report is None:
        return
    st.subheader("Results")
    st.caption(f"{ui.describe_plan(report.plan)} · {dt.datetime.fromtimestamp(report.created):%Y-%m-%d %H:%M:%S}")
    if report.error:
        st.error(report.error)
    if report.cancelled:
        st.warning("Cancelled: the results below cover the runs that were made.")
    if st.session_state.run_notice:
        st.warning(st.session_state.run_notice)
    top = ui.headline(report)
    if top is None:
        return
    cols = st.columns(4, border=True)
    cols[0].metric("Fastest approach", top.fastest, f"{top.fastest_seconds:,.2f} s", delta_color="off",
                   delta_arrow="off")
    cols[1].metric("Speed-up vs sequential", f"{top.speedup:,.1f}×" if top.speedup else "–",
                   help="Of the fastest approach: median seconds of sequential ÷ its median seconds")
    cols[2].metric("Items verified", f"{top.verified:,}/{top.expected:,}",
                   "none lost" if not top.problems else f"{top.problems:,} not written", delta_arrow="off",
                   delta_color="normal" if not top.problems else "inverse")
    cols[3].metric("Server-bound runs", f"{top.server_bound}/{len(report.runs)}",
                   help="Runs that saturated the embedded server's CPU: their figure is the emulator's limit")
    data = export.to_dict(report, detail=True)
    switches = st.columns([1, 2, 3])
    log = switches[0].toggle("Log scale", key="log_scale")
    reference = switches[1].toggle("The 2022 study's bars", value=True, key="reference",
                                   help="Published figures: real AWS, 10,000 books, one unrepeated run")
    figures = {"seconds": charts.seconds_bar(data, log=log, reference=reference),
               "throughput": charts.throughput_bar(data, log=log),
               "latency": charts.latency_box(data, log=log), "timeline": charts.timeline(data)}
    for row in (("seconds", "throughput"), ("latency", "timeline")):
        for column, name in zip(st.columns(2), row, strict=True):
            column.plotly_chart(figures[name], config=charts.PNG_CONFIG, key=f"{name}_chart")
    verification(report)
    downloads(report, list(figures.values()))


def verification(report: Report) -> None:
    st.markdown("#### Verification")
    if report.clean:
        st.success(f"Verified: every run wrote all {report.plan.items:,} books, none lost.")
    else:
        st.error("Not every book was written and verified: the red cells say what is missing.")
    st.table(ui.verification_rows(report), hide_index=True, border="horizontal")
    if any(r.server_bound for r in report.runs):
        st.info("Runs marked server-bound saturated the embedded server's CPU: their figure is the emulator's "
                "limit, not the client's.")
    reasons = [f"{r.approach}: {reason}" for r in report.runs for reason in r.report.failures]
    if reasons:
        with st.expander(f"Why items failed ({len(reasons)})"):
            st.markdown("\n".join(f"- {reason}" for reason in reasons))


def downloads(report: Report, figures: list[Any]) -> None:
    stamp = dt.datetime.fromtimestamp(report.created).strftime("%Y%m%d-%H%M%S")
    cols = st.columns([1, 1, 1, 3], vertical_alignment="center")
    cols[0].download_button("CSV", export.to_csv(report), f"lab-{stamp}.csv", "text/csv", on_click="ignore",
                            icon=":material/download:", width="stretch")
    cols[1].download_button("JSON", export.to_json(report), f"lab-{stamp}.json", "application/json",
                            on_click="ignore", icon=":material/download:", width="stretch")
    cols[2].download_button("Charts (HTML)", lambda: charts.standalone_html(figures, f"Lab run {stamp}"),
                            f"lab-{stamp}.html", "text/html", on_click="ignore", icon=":material/download:",
                            width="stretch")
    cols[3].caption("Each chart downloads as PNG from the camera icon in its toolbar; the HTML works offline.")


def history() -> None:
    st.subheader("History")
    store = open_history()
    entries = store.entries()
    if not entries:
        st.caption(f"No runs yet: every run is kept in {store.path}.")
        return
    st.caption(f"{len(entries)} run{'s' if len(entries) > 1 else ''} kept in {store.path}; the latest:")
    st.table(ui.history_rows(entries[:5]), hide_index=True, border="horizontal")
    labels = {entry.id: ui.history_label(entry) for entry in entries}
    chosen = st.multiselect("Pick two runs to compare them side by side", list(labels), format_func=labels.__getitem__,
                            max_selections=2, key="compare", placeholder="Two runs from the history")
    if len(chosen) < 2:
        return
    first, second = (store.load(entry_id) for entry_id in chosen)
    names = (f"#{chosen[0]}", f"#{chosen[1]}")
    st.plotly_chart(charts.comparison(first, second, names), config=charts.PNG_CONFIG, key="comparison_chart")
    for column, data, name in zip(st.columns(2), (first, second), names, strict=True):
        with column:
            st.markdown(f"**Run {name}** · {charts.report_label(data)}")
            st.table(ui.summary_rows(data), hide_index=True, border="horizontal")


header()
with guard():
    target_fields, emulator = sidebar_target()
    network = conditions() if target_fields["target"] == "embedded" else Conditions()
    plan = plan_form(target_fields, network)
    run_section(plan, emulator)
    results()
with guard():
    history()
