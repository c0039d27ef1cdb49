"""The lab's page: pick a target, set the conditions and the plan, run the comparison, read it in Plotly.

Reads top to bottom like the page: sidebar (target, conditions), plan, run, results, history. Only ``core`` is
imported; the benchmark runs in a background thread (core.ui) and this script thread renders its progress.
"""

from __future__ import annotations

import datetime as dt
import os

import streamlit as st

from core import charts, export, logs
from core.benchmark import WRU_PRICE_USD, Plan, Report, estimate, estimated_cost_usd
from core.emulator import NETWORK_PRESETS, Conditions, Emulator
from core.errors import LabError
from core.history import History
from core.sigv4 import Credentials
from core.targets import aws_profiles, check_reachable, describe_caller, localstack_endpoint, make_target
from core.ui import BackgroundRun
from core.writers import APPROACHES, STUDY_APPROACHES, default_threads

st.set_page_config(page_title="DynamoDB write-concurrency lab", layout="wide")
logs.install()
for key, value in {"job": None, "report": None, "aws_keys": None, "confirmed": False, "caller": None}.items():
    st.session_state.setdefault(key, value)

TARGETS = {"embedded": "Embedded (dynalite)", "localstack": "LocalStack", "aws": "AWS", "custom": "Custom URL"}


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


def history() -> History:
    return History(os.environ.get("LAB_HISTORY_PATH") or None)


def sidebar_target() -> tuple[dict[str, object], Emulator | None]:
    """The target picker; returns the plan's target fields and the emulator when embedded."""
    sidebar = st.sidebar
    sidebar.header("Target")
    kind = sidebar.radio("Write to", list(TARGETS), format_func=TARGETS.__getitem__, key="target_kind")
    region = sidebar.text_input("Region", "us-east-1", key="region")
    fields: dict[str, object] = {"target": kind, "region": region}
    if kind == "embedded":
        emulator = embedded_emulator()
        sidebar.success(f"Running at {emulator.endpoint_url}")
        return fields, emulator
    if kind == "localstack":
        fields["endpoint_url"] = sidebar.text_input("LocalStack URL", localstack_endpoint(), key="localstack_url")
    elif kind == "custom":
        fields["endpoint_url"] = sidebar.text_input("Endpoint URL", "http://127.0.0.1:8000", key="custom_url")
    else:
        aws_credentials(fields)
    return fields, None


def aws_credentials(fields: dict[str, object]) -> None:
    sidebar = st.sidebar
    profiles = ["(default chain)", *aws_profiles()]
    profile = sidebar.selectbox("Profile", profiles, key="profile")
    fields["profile"] = None if profile == "(default chain)" else profile
    with sidebar.expander("…or type keys (kept in this session only, never shown again)"):
        with st.form("keys", clear_on_submit=True):
            key_id = st.text_input("Access key ID", type="password")
            secret = st.text_input("Secret access key", type="password")
            token = st.text_input("Session token (optional)", type="password")
            if st.form_submit_button("Use these keys") and key_id and secret:
                st.session_state.aws_keys = Credentials(key_id, secret, token or None)
                logs.remember(secret, token)
        if st.session_state.aws_keys is not None:
            st.caption(f"Using typed keys {st.session_state.aws_keys.access_key[:4]}…")
            if st.button("Forget typed keys"):
                st.session_state.aws_keys = None


def target_status(fields: dict[str, object]) -> None:
    """A live badge for LocalStack and custom targets, the caller identity for AWS."""
    target = make_target(str(fields["target"]), endpoint_url=fields.get("endpoint_url"),  # type: ignore[arg-type]
                         region=str(fields["region"]), profile=fields.get("profile"),  # type: ignore[arg-type]
                         credentials=st.session_state.aws_keys)
    if target.kind == "aws":
        if st.sidebar.button("Check identity"):
            st.session_state.caller = describe_caller(target)
        if st.session_state.caller:
            st.sidebar.info(f"Account {st.session_state.caller['account']}\n\n{st.session_state.caller['arn']}")
        return
    try:
        check_reachable(target, timeout=2)
        st.sidebar.success("Reachable")
    except LabError as error:
        st.sidebar.error(str(error))


def conditions() -> Conditions:
    """Network conditions and faults, injected by the embedded server."""
    sidebar = st.sidebar
    sidebar.header("Conditions")
    preset = sidebar.selectbox("Network", [*NETWORK_PRESETS, "custom"], key="network",
                               help="Latency added by the embedded server to every request")
    base = NETWORK_PRESETS.get(preset, Conditions())
    latency, jitter = base.latency_ms, base.jitter_ms
    if preset == "custom":
        latency = sidebar.number_input("Latency (ms)", 0.0, 60_000.0, 25.0, key="latency_ms")
        jitter = sidebar.number_input("Jitter (ms)", 0.0, 60_000.0, 5.0, key="jitter_ms")
    with sidebar.expander("Faults"):
        throttle = st.slider("Throttle", 0.0, 1.0, 0.0, 0.01, key="throttle")
        error = st.slider("500 errors", 0.0, 1.0, 0.0, 0.01, key="error")
        reset = st.slider("Connection resets", 0.0, 1.0, 0.0, 0.01, key="reset")
    return Conditions(latency, jitter, throttle, error, reset)


def plan_form(fields: dict[str, object], network: Conditions) -> Plan:
    st.subheader("Plan")
    left, middle, right = st.columns([3, 1, 1])
    approaches = left.multiselect("Approaches", list(APPROACHES), default=list(STUDY_APPROACHES), key="approaches",
                                  format_func=lambda name: f"{name} — {APPROACHES[name].description}")
    items = middle.number_input("Books", 1, 1_000_000, 1_000, step=100, key="items")
    repeats = right.number_input("Repeats", 1, 50, 1, key="repeats")
    threads = middle.number_input("Threads", 1, 512, default_threads(), key="threads")
    concurrency = right.number_input("Async concurrency", 1, 4096, 100, key="concurrency")
    seed = left.number_input("Seed", 0, 2**31, 0, key="seed")
    return Plan(approaches=tuple(approaches), items=int(items), repeats=int(repeats), threads=int(threads),
                concurrency=int(concurrency), seed=int(seed), conditions=network, **fields)  # type: ignore[arg-type]


def run_section(plan: Plan, emulator: Emulator | None) -> None:
    """Estimate, confirmation (AWS), run button, live progress and cancel."""
    job: BackgroundRun | None = st.session_state.job
    if job is None:
        note = f"Estimated duration: about {estimate(plan):,.0f} s."
        if plan.target == "aws":
            note += (f" Estimated cost: ${estimated_cost_usd(plan):,.4f} of on-demand writes "
                     f"({WRU_PRICE_USD * 1e6:.3f} USD per million WRU, us-east-1, since Nov 2024).")
        st.caption(note)
        confirmed = plan.target != "aws" or st.checkbox("I understand this run writes to AWS and costs money",
                                                        key="confirm_aws")
        if st.button("Run", type="primary", disabled=not confirmed):
            st.session_state.job = BackgroundRun(plan, emulator, st.session_state.aws_keys)
            st.session_state.pop("confirm_aws", None)  # every AWS run asks again
            st.rerun()
        return
    if st.button("Cancel", key="cancel"):
        job.cancel()
    bars = {name: st.progress(0.0, text=name) for name in job.plan.approaches}
    status = st.empty()
    while True:
        snap = job.snapshot()
        for name, event in snap.events.items():
            bars[name].progress(min(event.done / max(event.total, 1), 1.0),
                                text=f"{name}: {event.phase} {event.done:,}/{event.total:,} · "
                                     f"{event.items_per_second:,.0f} items/s")
        status.caption(f"Running for {snap.elapsed:,.0f} s" + (" — cancelling…" if job.cancel_event.is_set() else ""))
        if not snap.running:
            break
        job.wait(0.25)
    st.session_state.job = None
    if snap.error:
        st.session_state.report = None
        st.error(snap.error)
        return
    if snap.report is not None:
        st.session_state.report = snap.report
        history().append(snap.report)
    st.rerun()


def results(report: Report) -> None:
    data = export.to_dict(report, detail=True)
    st.subheader("Results")
    if report.error:
        st.error(report.error)
    if report.cancelled:
        st.warning("The run was cancelled: the results below are partial.")
    summaries = report.summaries()
    fastest = min(summaries, key=lambda s: s.seconds_median)
    verified = sum(r.verification.found for r in report.runs)
    expected = sum(r.verification.expected for r in report.runs)
    speedup = report.speedup(fastest.approach)
    cols = st.columns(4)
    cols[0].metric("Fastest", fastest.approach, help=f"median {fastest.seconds_median:,.2f} s")
    cols[1].metric("Speed-up vs sequential", f"{speedup:,.1f}×" if speedup else "–")
    cols[2].metric("Items verified", f"{verified:,}/{expected:,}")
    cols[3].metric("Lost", f"{sum(r.verification.lost for r in report.runs):,}")
    log = st.toggle("Log scale", key="log_scale")
    left, right = st.columns(2)
    left.plotly_chart(charts.seconds_bar(data, log=log, reference=st.session_state.get("reference", True)),
                      use_container_width=True, key="seconds_chart")
    right.plotly_chart(charts.throughput_bar(data, log=log), use_container_width=True, key="throughput_chart")
    st.checkbox("Show the 2022 study's bars", value=True, key="reference")
    left, right = st.columns(2)
    left.plotly_chart(charts.latency_box(data, log=log), use_container_width=True, key="latency_chart")
    right.plotly_chart(charts.timeline(data), use_container_width=True, key="timeline_chart")
    verification_table(report)
    downloads(report, data)


def verification_table(report: Report) -> None:
    rows = [{"approach": r.approach, "repeat": r.repeat + 1, "expected": r.verification.expected,
             "found": r.verification.found, "lost": r.verification.lost, "unexpected": r.verification.unexpected,
             "mismatched": r.verification.mismatched, "recovered": r.verification.recovered,
             "failed": r.report.items_failed, "unknown": r.report.items_unknown,
             "retries": r.report.retries, "server-bound": "yes" if r.server_bound else "",
             "verdict": "verified" if r.clean else "INCOMPLETE"} for r in report.runs]
    if report.clean:
        st.success(f"Verified: every run wrote all {report.plan.items:,} books, none lost.")
    else:
        st.error("Not every item was written and verified: see the table.")
    st.dataframe(rows, hide_index=True, use_container_width=True)
    if any(r.server_bound for r in report.runs):
        st.info("Runs marked server-bound saturated the embedded server's CPU: their figure is the emulator's "
                "limit, not the client's.")
    for result in report.runs:
        for reason in result.report.failures:
            st.caption(f"{result.approach}: {reason}")


def downloads(report: Report, data: dict[str, object]) -> None:
    stamp = dt.datetime.fromtimestamp(report.created).strftime("%Y%m%d-%H%M%S")
    cols = st.columns(3)
    cols[0].download_button("Download CSV", export.to_csv(report), f"lab-{stamp}.csv", "text/csv")
    cols[1].download_button("Download JSON", export.to_json(report), f"lab-{stamp}.json", "application/json")
    chart = charts.seconds_bar(data).to_html(include_plotlyjs="cdn")  # type: ignore[arg-type]
    cols[2].download_button("Download chart (HTML; PNG from its camera icon)", chart, f"lab-{stamp}.html",
                            "text/html")


def history_section() -> None:
    st.subheader("History")
    entries = history().entries()
    if not entries:
        st.caption("No runs yet: every run is kept here.")
        return
    labels = {e.id: (f"#{e.id} {dt.datetime.fromtimestamp(e.created):%Y-%m-%d %H:%M} · {e.target} · "
                     f"{e.items:,} books · {', '.join(e.approaches)} · {'verified' if e.clean else 'incomplete'}")
              for e in entries}
    chosen = st.multiselect("Pick two runs to compare", list(labels), format_func=labels.__getitem__,
                            max_selections=2, key="compare")
    if len(chosen) == 2:
        first, second = (history().load(i) for i in chosen)
        st.plotly_chart(charts.comparison(first, second, (f"#{chosen[0]}", f"#{chosen[1]}")),
                        use_container_width=True, key="comparison_chart")
        left, right = st.columns(2)
        for column, data, entry_id in ((left, first, chosen[0]), (right, second, chosen[1])):
            column.caption(f"Run #{entry_id}")
            column.dataframe([{k: r[k] for k in ("approach", "seconds", "items_per_second", "retries")}
                              for r in data["runs"]], hide_index=True, use_container_width=True)


st.title("DynamoDB write-concurrency lab")
st.caption("How fast can Python write to DynamoDB, and which way of writing wins? The 2022 study's three "
           "approaches and more, on one seeded data set, every item verified.")
try:
    target_fields, emulator = sidebar_target()
    network = conditions() if target_fields["target"] == "embedded" else Conditions()
    if target_fields["target"] != "embedded":
        target_status(target_fields)
    plan = plan_form(target_fields, network)
    run_section(plan, emulator)
    if st.session_state.report is not None:
        results(st.session_state.report)
    history_section()
except LabError as error:
    st.error(str(error))
except Exception as error:
    st.error(logs.redact(f"Something went wrong: {type(error).__name__}: {error}"))
