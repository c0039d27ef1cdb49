"""The lab's page: pick a target, set the conditions and the plan, run the comparison, read it in Plotly.

Reads top to bottom like the page: sidebar (target, conditions), plan, run, results, the concurrency sweep, the
bulk-load planner, history. Only ``core`` is imported. The benchmark runs in a background thread
(``core.jobs.BackgroundRun``) that never touches Streamlit, held in the process's one registry (``core.jobs.RUNS``): any
session, a reloaded tab included, finds the running job there, polls its progress from its own script thread, can
cancel it and gets its result. Every failure is one readable line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import streamlit as st

from core import charts, export, jobs, logs, wording
from core.approaches import APPROACHES, STUDY_APPROACHES, bulk_puts, imports
from core.approaches import label as approach_label
from core.benchmark import Server, start_server
from core.bulkmodel import EMULATED, with_measured
from core.bulkwire import TIERS
from core.capacity import Capacity, parse_capacity
from core.emulator import Emulator
from core.endpoints import DEFAULT_REGION, LOCALSTACK_START, MANAGED, localstack_endpoint, off_machine
from core.environment import environment
from core.errors import ConfigError, LabError
from core.estimate import Estimate, forecast, short, span
from core.history import History
from core.model import (
    FAULT_LABELS,
    FAULTS,
    MAX_CONCURRENCY,
    MAX_ITEMS,
    MAX_THREADS,
    MAX_WORKERS,
    NETWORK_PRESETS,
    RETRY_MODES,
    Conditions,
    Plan,
    default_threads,
)
from core.planner import DEFAULT_RETRY_MODE, plan_load
from core.report import Report
from core.s3source import DEFAULT_PREFIX, needs_bucket
from core.sigv4 import Credentials
from core.sweep import DEFAULT_LEVELS, SweepResult, parse_sweep, plan_sweep
from core.targets import Target, aws_profiles, check_reachable, describe_caller, make_target

st.set_page_config(page_title="DynamoDB write-concurrency lab", layout="wide")
logs.install()
for _key, _value in {"report": None, "sweep": None, "run_error": None, "run_notice": None, "run_timing": None,
                     "aws_keys": None, "caller": None, "confirm_round": 0, "seen_job": None,
                     "started_job": None}.items():
    st.session_state.setdefault(_key, _value)

TARGETS = {"embedded": "Embedded (dynalite)", "dynamodb-local": "DynamoDB Local (AWS's)", "localstack": "LocalStack",
           "aws": "AWS", "custom": "Custom URL"}
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
    """A benchmark or sweep is running in this process (started from this session or any other)."""
    return jobs.RUNS.running is not None


@st.cache_resource
def machine() -> dict[str, Any]:
    """This machine's description, as reports store it (the estimate calibrates on runs of the same machine)."""
    return environment()


@st.cache_resource
def shared_emulator() -> Emulator:
    """The embedded DynamoDB, one for every session of this app; it stops when the app's process ends."""
    return Emulator().start()


@st.cache_resource
def shared_dynamodb_local() -> Server:
    """AWS's DynamoDB Local (Java), started on first use, shared by every session; it stops with the app."""
    server = start_server(Plan(target="dynamodb-local"))
    assert server is not None
    return server


def managed_server(kind: str) -> Server:
    """The server the lab runs for a managed target, restarted if it died (the page stays usable)."""
    start = shared_emulator if kind == "embedded" else shared_dynamodb_local
    server: Server = start()
    if not server.running:
        start.clear()
        server = start()
    return server


def open_history() -> History:
    return History(elsewhere="set LAB_HISTORY_PATH to another file")


# --- sidebar -----------------------------------------------------------------------------------------------------

def sidebar_target() -> tuple[dict[str, Any], Server | None]:
    """Where to write; returns the plan's target fields and, for a managed target, its shared server."""
    bar = st.sidebar
    bar.header("Target")
    kind = bar.radio("Write to", list(TARGETS), format_func=TARGETS.__getitem__, key="target_kind",
                     disabled=running())
    fields: dict[str, Any] = {"target": kind}
    if kind in MANAGED:
        with guard(bar):
            server = managed_server(kind)
            bar.success(f"Running at {server.endpoint_url}")
            bar.caption("dynalite in memory, started with the app and shared by its sessions" if kind == "embedded"
                        else "Amazon's DynamoDB Local (Java, in memory), started by the lab on 127.0.0.1 only, "
                             "shared by the app's sessions; installed by npm under Amazon's DynamoDB Local licence")
            return fields, server
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
            st.code("\n".join(LOCALSTACK_START), language="bash")
        return
    st.success(f"Reachable at {target.endpoint_url}")
    st.caption(f"checked {dt.datetime.now():%H:%M:%S}" + (", again every 5 s" if target.is_local else ""))


live_health_badge = st.fragment(run_every=5)(health_badge)


def aws_identity(target: Target) -> None:
    bar = st.sidebar
    asked_for = (target.profile, target.region)
    if bar.button("Check credentials", help="Asks STS who you are (GetCallerIdentity, free)"):
        target.credentials()  # none at all is said as such ("no AWS credentials found"), before asking AWS
        st.session_state.caller = {"for": asked_for, **describe_caller(target)}
    caller = st.session_state.caller
    if caller and caller["for"] == asked_for:
        bar.success(f"Account {caller['account']}\n\n{caller['arn']}")


def conditions() -> tuple[Conditions, Capacity] | None:
    """Network conditions, faults and the table's capacity model, injected by the lab's server or proxy on this
    machine (None when they do not add up)."""
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
        typed = (left.text_input("Latency (ms)", "25", key="latency_ms", disabled=running()),
                 right.text_input("Jitter (ms)", "5", key="jitter_ms", disabled=running()))
        try:
            latency = wording.parse_number(typed[0], "Latency (ms)", 0, 60_000)
            jitter = wording.parse_number(typed[1], "Jitter (ms)", 0, 60_000)
        except ConfigError as problem:
            bar.error(str(problem))
            return None
    faulty = any(st.session_state.get(name, 0.0) for name in FAULTS)
    hints = {"throttle": "400 ProvisionedThroughputExceededException; batches hold items back",
             "reset": "Closed without an answer, half the time after the write happened"}
    with bar.expander("Faults (probability per write)", expanded=faulty):
        faults = {name: st.slider(FAULT_LABELS[name], 0.0, 1.0, 0.0, 0.01, key=name, disabled=running(),
                                  help=hints.get(name)) for name in FAULTS}
    mode = bar.selectbox("Table capacity", ["off", "on-demand", "provisioned"], key="capacity_mode",
                         disabled=running(), help="Throttle as DynamoDB does: write units per started KB, partitions "
                                                  "of 1,000 WRU/s, a new on-demand table's 4,000 WRU/s, or a "
                                                  "provisioned table's WCU with 300 s of burst (see the README)")
    wcu = bar.text_input("Provisioned WCU", "1000", key="capacity_wcu", disabled=running()) \
        if mode == "provisioned" else ""
    try:
        capacity = parse_capacity(f"provisioned={wcu.strip()}" if mode == "provisioned" else mode)
        return Conditions(latency, jitter, **faults), capacity
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


def preset_choice() -> str:
    """The run's preset (the AWS dress rehearsal), on a target on this machine."""
    return str(st.sidebar.selectbox("Preset", wording.PRESET_CHOICES, key="preset", disabled=running(),
                                    help=wording.preset_help()))


def plan_form(fields: dict[str, Any], network: tuple[Conditions, Capacity] | None,
              preset: str = wording.NO_PRESET) -> Plan | None:
    """The plan's inputs; returns the validated plan, or None after showing what to fix."""
    st.subheader("Plan")
    with st.container(border=True):
        approaches = st.multiselect(
            "Approaches", list(APPROACHES), default=list(STUDY_APPROACHES), key="approaches", disabled=running(),
            placeholder="Pick one or more approaches", format_func=approach_label,
            help="\n".join(f"- **{a.label}**: {a.description}" + (f" (unavailable here: {a.unavailable})"
                                                                 if a.unavailable else "")
                            for name, a in APPROACHES.items()))
        if approaches:
            st.caption(" · ".join(f"**{approach_label(name)}**: {APPROACHES[name].description}" for name in approaches))
            if any(APPROACHES[name].shipped for name in approaches):
                shipped = [f"{name}: {APPROACHES[name].shipped}" for name in approaches if APPROACHES[name].shipped]
                st.caption("**As shipped**: the library's own retries at their defaults, none of the lab's retry loop "
                           "(what your code meets, not the fair comparison): " + "; ".join(shipped))
        cols = st.columns(5)
        typed = {
            "items": cols[0].text_input("Books", "1000", key="items", disabled=running(),
                                        help=f"Seeded fake books, under 1 KB each, written by every approach "
                                             f"(1 to {MAX_ITEMS:,})"),
            "threads": cols[1].text_input("Threads", str(default_threads()), key="threads", disabled=running(),
                                          help=f"Workers of the threaded approaches, 1 to {MAX_THREADS}; default "
                                               "min(32, cpu + 4)"),
            "concurrency": cols[2].text_input("Async concurrency", "100", key="concurrency", disabled=running(),
                                              help=f"Requests in flight at once for the async approaches, 1 to "
                                                   f"{MAX_CONCURRENCY:,}"),
            "repeats": cols[3].text_input("Repeats", "1", key="repeats", disabled=running(),
                                          help="Each approach runs this many times (1 to 50); charts show the median"),
            "seed": cols[4].text_input("Seed", "0", key="seed", disabled=running(), help="Same seed, same books")}
        retry_mode = st.radio("Retry mode", RETRY_MODES, horizontal=True, key="retry_mode", disabled=running(),
                              help="adaptive: client-side rate control fed by throttles (botocore's for the boto3 "
                                   "and aiobotocore approaches, the lab's for the others)")
        s3 = s3_inputs(approaches, fields)
        with st.expander("Scale out (Dask)"):
            typed["workers"] = st.text_input("Workers", "1", key="workers", disabled=running(),
                                             help="Shards written by this many Dask worker processes (1: this one)")
            scheduler = st.text_input("Scheduler", "", key="scheduler", disabled=running(),
                                      placeholder="tcp://HOST:8786 (empty: a local cluster of the workers above)")
    limits = {"items": ("Books", 1, MAX_ITEMS), "threads": ("Threads", 1, MAX_THREADS),
              "concurrency": ("Async concurrency", 1, MAX_CONCURRENCY), "repeats": ("Repeats", 1, 50),
              "seed": ("Seed", 0, 2**31 - 1), "workers": ("Workers", 1, MAX_WORKERS)}
    numbers: dict[str, int] = {}
    problems = []
    for name, (label, low, high) in limits.items():
        try:
            numbers[name] = wording.parse_whole(typed[name], label, low, high)
        except ConfigError as bad:
            problems.append(str(bad))
    if not approaches:
        problems.append("No approach chosen: pick one or more approaches above.")
    for line in problems:  # said on the page, every one; Run stays disabled until they are fixed
        st.error(line)
    if problems or network is None:
        return None
    try:
        return wording.with_preset(Plan(
            approaches=tuple(approaches), conditions=network[0], capacity=network[1], items=numbers["items"],
            threads=numbers["threads"], concurrency=numbers["concurrency"], repeats=numbers["repeats"],
            seed=numbers["seed"], retry_mode=retry_mode, workers=numbers["workers"],
            scheduler=scheduler.strip() or None, **s3, **fields), preset)
    except ConfigError as problem:
        st.error(str(problem))
        return None


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


def target_key(fields: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies the chosen target: an error of one target is not shown once another is chosen."""
    return fields["target"], fields.get("endpoint_url")


def plan_estimate(plan: Plan) -> Estimate:
    """The plan's estimate, calibrated from the history of this machine and target (uncalibrated without one)."""
    try:
        reports = open_history().reports()
    except LabError:
        reports = []
    return forecast(plan, reports, machine())


def run_section(plan: Plan | None, emulator: Server | None, fields: dict[str, Any]) -> None:
    """Before a run: the estimate, the cost and a confirmation off this machine, the Run button. During: progress,
    in whichever session looks (a reload reattaches)."""
    job = jobs.RUNS.current
    if job is not None and job.running:
        watch(job)
        return
    if job is not None and job.id == st.session_state.started_job and st.session_state.seen_job != job.id:
        land(job, job.snapshot())  # it ended before this session's next look (e.g. a target that refused at once)
    error = st.session_state.run_error
    if error and error["for"] == target_key(fields):
        st.error(error["text"])
    confirmed = plan is not None and confirmation(plan)
    left, right = st.columns([1, 6], vertical_alignment="center")
    clicked = left.button("Run", type="primary", disabled=not confirmed, key="run", width="stretch")
    guess = None
    if plan is not None:
        guess = plan_estimate(plan)
        right.caption(f"Estimated duration: **{span(guess)}** · {wording.describe_plan(plan)}  \n{guess.basis}")
        if plan.import_note:
            st.info(plan.import_note)
        if plan.bulk_note:
            st.info(plan.bulk_note)
        if guess.warning:
            st.warning(f"Before you run: {guess.warning}.")
    if clicked and plan is not None:
        job = jobs.plan_job(plan, emulator, typed_keys(plan.target), record=open_history().append, estimate=guess)
        start(job, fields)


def start(job: jobs.BackgroundRun, fields: dict[str, Any]) -> None:
    """Start a job in the process's registry; every run off this machine asks for its confirmation again."""
    st.session_state.confirm_round += 1  # a new, unticked confirmation box next time
    try:
        jobs.RUNS.start(job)
        st.session_state.started_job = job.id
    except LabError as problem:
        st.session_state.run_error = {"for": target_key(fields), "text": str(problem)}
    else:
        st.session_state.update(run_error=None, run_notice=None)
    st.rerun()


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


def watch(job: jobs.BackgroundRun) -> None:
    """Poll the background job from this script thread until it ends (any session may watch, and cancel); the
    worker never calls Streamlit. When it ends, its result lands in every session that was watching."""
    with st.container(border=True):
        head = st.empty()
        bars = {name: st.progress(0.0, text=wording.progress_text(None, name, job.repeats)) for name in job.lanes}
        if st.button("Cancel", key="cancel", disabled=job.cancel_event.is_set()):
            job.cancel()
        if job.estimate is not None:
            st.caption(f"Estimated {span(job.estimate)}")
    while True:
        snap = job.snapshot()
        for name, bar in bars.items():
            event = snap.events.get(name)
            bar.progress(wording.progress_fraction(event, job.repeats),
                         text=wording.progress_text(event, name, job.repeats))
        state = "cancelling, the requests in flight finish first…" if job.cancel_event.is_set() else "running"
        dashboard = next((e.dashboard for e in snap.events.values() if e.dashboard), None)
        head.markdown(f"**{job.what.capitalize()} {state}** · {snap.elapsed:,.0f} s · {job.title}"
                      + (f" · [Dask dashboard]({dashboard})" if dashboard else ""))
        if not snap.running:
            break
        job.wait(0.2)
    land(job, snap)
    st.rerun()


def land(job: jobs.BackgroundRun, snap: jobs.Snapshot) -> None:
    """A finished job's result, into this session (once)."""
    if st.session_state.seen_job == job.id:
        return
    st.session_state.seen_job = job.id
    where = (job.plan.target, job.plan.endpoint_url)
    error = {"for": where, "text": snap.error} if snap.error else None
    if snap.sweep is not None or job.what == "sweep":
        st.session_state.update(sweep=snap.sweep or st.session_state.sweep, run_error=error)
        return
    timing = (job.estimate, snap.elapsed) if job.estimate is not None and snap.report is not None else None
    st.session_state.update(report=snap.report or st.session_state.report, run_error=error,
                            run_notice=snap.notice, run_timing=timing)


def results() -> None:
    report: Report | None = st.session_state.report
    if report is None:
        return
    st.subheader("Results")
    st.caption(f"{wording.describe_plan(report.plan)} · {dt.datetime.fromtimestamp(report.created):%Y-%m-%d %H:%M:%S}")
    if report.error:
        st.error(report.error)
    if report.cancelled:
        st.warning(wording.cancel_summary(report))
    for note in dict.fromkeys(note for run in report.runs for note in run.report.notes):  # once each, in order
        st.info(note)
    if st.session_state.run_notice:
        st.warning(st.session_state.run_notice)
    timing = st.session_state.run_timing
    if timing is not None:
        guess, actual = timing
        st.caption(f"Estimated {span(guess)}; the run took **{short(actual)}** (estimate ÷ actual = "
                   f"{guess.ratio(actual):.2f}; the estimate was {guess.basis})")
    top = wording.headline(report)
    if top is None:
        return
    cols = st.columns(4, border=True)
    cols[0].metric("Fastest approach", top.fastest, f"{top.fastest_seconds:,.2f} s", delta_color="off",
                   delta_arrow="off")
    cols[1].metric("Speed-up vs sequential", f"{top.speedup:,.1f}×" if top.speedup else "–",
                   help="Of the fastest approach: median seconds of sequential ÷ its median seconds (needs "
                        "sequential and one other approach)")
    cols[2].metric("Items verified", f"{top.verified:,}/{top.expected:,}",
                   "none lost" if not top.problems else f"{top.problems:,} not written", delta_arrow="off",
                   delta_color="normal" if not top.problems else "inverse",
                   help="Books found in the tables with the attributes written, of those the runs were given")
    cols[3].metric("Server-bound runs", f"{top.server_bound}/{len(report.runs)}",
                   help="Runs that saturated the embedded server's CPU: their figure is the emulator's limit")
    data = export.to_dict(report, detail=True)
    switches = st.columns([1, 2, 3])
    log = switches[0].toggle("Log scale", key="log_scale")
    reference = switches[1].toggle("The 2022 study's figures", value=True, key="reference",
                                   help="Published figures: real AWS, 10,000 books, one unrepeated run; drawn as "
                                        "speed-ups and items/s beside ours, never as seconds on our axis")
    figures = {"seconds": charts.seconds_bar(data, log=log),
               "speedup": charts.speedup_bar(data, log=log, reference=reference),
               "throughput": charts.throughput_bar(data, log=log, reference=reference),
               "latency": charts.latency_box(data, log=log), "timeline": charts.timeline(data)}
    for row in (("seconds", "speedup"), ("throughput", "latency"), ("timeline",)):
        for column, name in zip(st.columns(2), row, strict=False):
            column.plotly_chart(figures[name], config=charts.PNG_CONFIG, key=f"{name}_chart")
    if charts.has_capacity(data):
        figures.update(capacity_section(data, log))
    if reference:
        with st.expander("This lab and the 2022 study, as numbers"):
            st.table(wording.study_rows(report), hide_index=True, border="horizontal")
            st.caption("The study wrote 10,000 books to real AWS from one machine in 2022; compare the speed-ups "
                       "(a ratio within each experiment), not the seconds.")
    verification(report)
    downloads(report, list(figures.values()))


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
    problems = any(r.verification.lost or r.verification.unexpected or r.verification.mismatched
                   or r.report.items_failed or r.report.items_unknown for r in report.runs)
    unchecked = any(not r.verification.checked for r in report.runs)
    if report.clean:
        st.success(f"Verified: every run wrote all {wording.plural(report.plan.items, 'book')}, none lost.")
    elif problems:
        st.error("Not every book was written and verified: the red cells say what is missing.")
    elif unchecked:
        st.error("A table could not be read back, so its run is not verified (the reason is above).")
    elif report.cancelled:
        st.info("Every book the cancelled runs wrote was verified; the runs stopped before writing the rest.")
    st.table(wording.verification_rows(report), hide_index=True, border="horizontal")
    st.caption(wording.VERIFICATION_COLUMNS)
    if any(r.server_bound for r in report.runs):
        st.info("Runs marked server-bound saturated the embedded server's CPU: their figure is the emulator's "
                "limit, not the client's.")
    reasons = [f"{approach_label(r.approach)}: {reason}" for r in report.runs for reason in r.report.failures]
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


def sweep_section(plan: Plan | None, emulator: Server | None, fields: dict[str, Any]) -> None:
    """Items/s against concurrency for threaded and async under the chosen conditions, beside C ÷ L."""
    st.subheader("Concurrency sweep: why async wins")
    st.caption("Little's law: throughput = requests in flight ÷ latency, until the server or the client runs out. "
               "The sweep runs threaded (threads = C) and async (C requests in flight) at each concurrency C under "
               "the chosen target and network, and draws the ideal C ÷ L, the highest throughput measured and where "
               "each approach stops scaling.")
    left, right, button = st.columns([3, 2, 1], vertical_alignment="bottom")
    levels_text = left.text_input("Concurrency levels", ", ".join(map(str, DEFAULT_LEVELS)), key="sweep_levels",
                                  disabled=running(), help="Whole numbers, e.g. 1, 4, 16, 64, 256")
    most_text = right.text_input("Books per level, at most", "2000", key="sweep_items", disabled=running(),
                                 help="Each level writes 20 rounds of C books (at least 50), capped here")
    sweep_plan = None
    try:
        levels = parse_sweep(levels_text)
        most = wording.parse_whole(most_text, "Books per level", 1, MAX_ITEMS)
        if plan is not None:
            sweep_plan = plan_sweep(plan, levels, most_items=most)
    except ConfigError as problem:
        st.error(str(problem))
    local = plan is not None and plan.off_machine is None
    if plan is not None and not local:
        st.caption("The sweep writes many small runs: it runs on targets on this machine only.")
    if sweep_plan is not None and local:
        guess = sum(forecast(step, (), machine()).seconds for step in sweep_plan.steps)
        st.caption(f"{len(sweep_plan.steps)} levels × {len(sweep_plan.approaches)} approaches, "
                   f"{duration_words(guess)} uncalibrated")
    clicked = button.button("Run sweep", key="run_sweep", disabled=sweep_plan is None or not local or running(),
                            width="stretch")
    if clicked and sweep_plan is not None:
        start(jobs.sweep_job(sweep_plan, emulator, typed_keys(sweep_plan.base.target)), fields)
    result: SweepResult | None = st.session_state.sweep
    if result is None:
        return
    if result.cancelled:
        st.warning("The sweep was cancelled: the chart shows the levels measured before.")
    if result.error:
        st.error(result.error)
    if result.points:
        st.plotly_chart(charts.sweep_chart(result), config=charts.PNG_CONFIG, key="sweep_chart")
        st.markdown("\n".join(f"- {line}" for line in result.summary().splitlines()))


def bulk_load_section(fields: dict[str, Any]) -> None:
    """The planner: how to load N items into a new or existing table, each approach's time and cost with sources."""
    st.subheader("Plan a bulk load")
    with st.expander("How should I load N items? Each approach's best worker count, time and cost, and S3 import "
                     "for a new table (nothing is sent)"):
        chosen = fields["target"]
        where = ["aws"] if chosen == "aws" else ["aws", chosen]
        planned = st.radio("Plan for", where, key="load_target", horizontal=True,
                           format_func=lambda kind: "AWS" if kind == "aws" else f"this page's target ({kind})",
                           help="Where the writers' client figures come from (measured runs there calibrate them); "
                                "on a target on this machine the capacity is the lab's proxy model")
        cols = st.columns([2, 2, 2, 3, 2, 2])
        items = cols[0].text_input("Items", "10,000,000", key="load_items", help="Up to 10**12")
        size = cols[1].text_input("Item size (bytes)", "100", key="load_bytes",
                                  help="DynamoDB's size of one item: names + values, up to 400 KB")
        table = cols[2].radio("Table", ["new", "existing"], key="load_table", horizontal=True,
                              help="Only a new table can be loaded by S3 import")
        capacity = cols[3].text_input("Capacity", "on-demand", key="load_capacity",
                                      help="on-demand, on-demand:warm=N,max=N, provisioned=WCU or off")
        deadline = cols[4].text_input("Deadline", "", key="load_deadline", placeholder="e.g. 2h",
                                      help="Optional: the workers it takes to finish by then, e.g. 45min, 2h, 3d")
        retry_mode = cols[5].radio("Retry mode", RETRY_MODES, key="load_retry_mode",
                                   index=RETRY_MODES.index(DEFAULT_RETRY_MODE), horizontal=True,
                                   help="adaptive: client-side rate control, which writes more of a throttling "
                                        "table's capacity (measured: 0.89-1.04 of it, against 0.33-0.93 standard)")
        tier, max_wru = "STANDARD", 0
        if table == "existing":
            bulk = st.columns(2)
            tier = bulk[0].radio("Bulk put tier", TIERS, key="load_bulk_tier", horizontal=True,
                                 help="bulk-put's PerformanceTier: its rate and price are assumptions (AWS publishes "
                                      "none)")
            max_wru = bulk[1].number_input("Bulk put max WRU (0: DynamoDB's default)", 0, 10**9, 0, step=1024,
                                           key="load_bulk_max_wru", help="MaxWriteRequestUnits, at least 1,024")
        try:
            spec = wording.load_spec(items, size, table, capacity, deadline, planned,
                                     fields.get("endpoint_url") if planned == chosen else None, retry_mode,
                                     bulk_tier=tier, bulk_max_wru=int(max_wru) or None)
        except ConfigError as problem:
            st.error(str(problem))
            return
        kept = open_history()
        spec = replace(spec, bulk=with_measured(spec.bulk, kept.checks(), spec.bulk_tier))  # aws-check's figures
        plan = plan_load(spec, kept.reports(), machine())
        st.markdown(f"**Recommended:** {plan.recommendation}")
        st.table(wording.load_plan_rows(plan), hide_index=True, border="horizontal")
        st.caption(f"{spec.wru_per_item} WRU per item, {spec.total_wru:,} WRU in all. Writers' figures: "
                   f"{plan.history}. " + " ".join(f"{note[0].upper()}{note[1:]}." for note in plan.notes))
        st.markdown("**Sources**\n" + "\n".join(f"- {source}" for source in plan.sources))


def duration_words(seconds: float) -> str:
    return f"about {short(seconds)}" if seconds >= 1 else "under a second"


def history() -> None:
    st.subheader("History")
    store = open_history()
    entries = store.entries()
    for line in store.skipped_lines():
        st.warning(line, icon=":material/warning:")
    if not entries:
        st.caption(f"No runs yet: every run is kept in {store.path}.")
        return
    st.caption(f"{wording.plural(len(entries), 'run')} kept in {store.path}; the latest:")
    st.table(wording.history_rows(entries[:5]), hide_index=True, border="horizontal")
    labels = {entry.id: wording.history_label(entry) for entry in entries}
    st.markdown("**Compare two runs**")
    left, right = st.columns(2)
    first_id = left.selectbox("First run", list(labels), format_func=labels.__getitem__, key="compare_first",
                              index=None, placeholder="A run from the history")
    second_id = right.selectbox("Second run", [i for i in labels if i != first_id], format_func=labels.__getitem__,
                                key="compare_second", index=None, placeholder="Another run")
    if first_id is None or second_id is None:
        return
    chosen = (first_id, second_id)
    first, second = (store.load(entry_id) for entry_id in chosen)
    names = (f"#{chosen[0]}", f"#{chosen[1]}")
    st.plotly_chart(charts.comparison(first, second, names), config=charts.PNG_CONFIG, key="comparison_chart")
    for data, name, entry_id in zip((first, second), names, chosen, strict=True):
        st.markdown(f"**Run {name}** · {labels[entry_id].split(' · ', 1)[1]}")
        st.table(wording.summary_rows(data), hide_index=True, border="horizontal")


header()
target_fields: dict[str, Any] = {"target": "embedded"}
emulator: Server | None = None
plan: Plan | None = None
with guard():
    target_fields, emulator = sidebar_target()
    local = off_machine(target_fields["target"], target_fields.get("endpoint_url"), target_fields.get("region",
                        DEFAULT_REGION)) is None
    preset = preset_choice() if local else wording.NO_PRESET
    network = conditions() if local else (Conditions(), Capacity())
    plan = plan_form(target_fields, network, preset)
    run_section(plan, emulator, target_fields)
    results()
with guard():
    sweep_section(plan, emulator, target_fields)
with guard():
    bulk_load_section(target_fields)
with guard():
    history()
