"""What every page shares: the session's state, the shared servers, the sidebar, and the background job's lifecycle.

The frame calls ``init_state`` and ``sidebar`` on every run; pages read the sidebar's answer with ``shared()``. The job
runs in ``core.app.jobs.BackgroundRun``, held in ``core.app.jobs.RUNS`` so any session finds it. Every failure is one
readable line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.app import jobs, wording
from core.app.formatting import span
from core.app.history import History
from core.domain.approaches import STUDY_APPROACHES
from core.domain.capacity import MAX_UNITS, Capacity, parse_capacity
from core.domain.endpoints import (
    DEFAULT_REGION,
    LOCALSTACK_START,
    MANAGED,
    is_local_url,
    localstack_endpoint,
    off_machine,
)
from core.domain.errors import ConfigError, LabError
from core.domain.limits import LIMITS
from core.domain.plan import FAULT_LABELS, FAULTS, NETWORK_PRESETS, PRESETS, RETRY_MODES, Conditions, Plan
from core.forecast.estimate import Estimate, forecast
from core.run.environment import environment
from core.run.runner import Server, start_server
from core.servers.emulator import Emulator
from core.servers.localstack import LocalStack
from core.targets.target import Target, aws_profiles, check_reachable, describe_caller, make_target
from core.wire import logs
from core.wire.sigv4 import Credentials

TARGETS = {"embedded": "Embedded (dynalite)", "dynamodb-local": "DynamoDB Local (AWS's)", "localstack": "LocalStack",
           "aws": "AWS", "custom": "Custom URL"}
TARGET_HELP = {
    "embedded": "dynalite (Node, in memory) started with the app on 127.0.0.1: the fastest to start, the default",
    "dynamodb-local": "Amazon's DynamoDB Local (Java, in memory), started by the lab on 127.0.0.1 on first use",
    "localstack": "LocalStack's DynamoDB (host mode, in memory): start it on the Engines page, or give its URL",
    "aws": "real DynamoDB in your account: costs money, asks for a confirmation before each run",
    "custom": "any DynamoDB-compatible URL (moto, a remote engine); off this machine it asks before writing",
}
DEFAULT_CHAIN = "(default credential chain)"
STARTED: set[str] = set()  # managed targets this process has started once (later looks need no progress)
STATE = {"report": None, "sweep": None, "run_error": None, "run_notice": None, "run_timing": None, "aws_keys": None,
         "caller": None, "confirm_round": 0, "seen_job": None, "started_job": None, "restored_job": None,
         "answer": None, "localstack_url_next": None}


def init_state() -> None:
    """Every key the pages read, set once per session before anything is drawn."""
    for key, value in STATE.items():
        st.session_state.setdefault(key, value)


@dataclass(frozen=True)
class Shared:
    """The sidebar's answer, which every page reads: the target's plan fields, the managed server (if any), the
    conditions (None when they do not add up), the preset, and why the target cannot take a run (None: it can)."""

    fields: dict[str, Any]
    server: Server | None
    network: tuple[Conditions, Capacity] | None
    preset: str
    unreachable: str | None = None

    @property
    def local(self) -> bool:
        return off_machine(self.fields["target"], self.fields.get("endpoint_url"),
                           self.fields.get("region", DEFAULT_REGION)) is None


def shared() -> Shared:
    """The sidebar's answer of this run (the frame draws the sidebar before the page)."""
    found: Shared | None = st.session_state.get("shared")
    return found if found is not None else Shared({"target": "embedded"}, None, None, wording.NO_PRESET)


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


@st.cache_resource(show_spinner=False)
def machine() -> dict[str, Any]:
    """This machine's description, as reports store it (the estimate calibrates on runs of the same machine)."""
    return environment()


@st.cache_resource(show_spinner=False)
def shared_emulator() -> Emulator:
    """The embedded DynamoDB, one for every session of this app; it stops when the app's process ends."""
    return Emulator().start()


@st.cache_resource(show_spinner=False)
def shared_dynamodb_local() -> Server:
    """AWS's DynamoDB Local (Java), started on first use, shared by every session; it stops with the app."""
    server = start_server(Plan(target="dynamodb-local"))
    assert server is not None
    return server


@st.cache_resource(show_spinner=False)
def shared_localstack() -> LocalStack:
    """Host-mode LocalStack started from the Engines page, shared by every session; it stops with the app."""
    engine = LocalStack()
    engine.start(timeout=180)
    return engine


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


def typed_keys(kind: str) -> Credentials | None:
    return st.session_state.aws_keys if kind == "aws" else None


def target_key(fields: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies the chosen target: an error of one target is not shown once another is chosen."""
    return fields["target"], fields.get("endpoint_url")


# --- the sidebar -------------------------------------------------------------------------------------------------

def sidebar() -> Shared:
    """Target, preset and conditions: drawn by the frame on every page; their answer is kept for the page."""
    fields: dict[str, Any] = {"target": "embedded"}
    server: Server | None = None
    network: tuple[Conditions, Capacity] | None = None
    preset = wording.NO_PRESET
    unreachable: str | None = None
    with guard(st.sidebar):
        fields, server, unreachable = sidebar_target()
        local = off_machine(fields["target"], fields.get("endpoint_url"), fields.get("region", DEFAULT_REGION)) is None
        preset = preset_choice() if local else wording.NO_PRESET
        network = conditions() if local else (Conditions(), Capacity())
    answer = Shared(fields, server, network, preset, unreachable)
    st.session_state.shared = answer
    return answer


def sidebar_target() -> tuple[dict[str, Any], Server | None, str | None]:
    """Where to write; returns the plan's target fields, for a managed target its shared server, and why the target
    cannot take a run (None: it can)."""
    bar = st.sidebar
    bar.header("Target")
    kind = bar.radio("Write to", list(TARGETS), format_func=TARGETS.__getitem__, key="target_kind",
                     disabled=running(), captions=[TARGET_HELP[name].split(":")[0] for name in TARGETS],
                     help="\n".join(f"- **{TARGETS[name]}**: {TARGET_HELP[name]}" for name in TARGETS)
                          + "\n\nThe Engines page says more, and starts or stops the engines.")
    fields: dict[str, Any] = {"target": kind}
    if kind in MANAGED:
        name = "dynalite" if kind == "embedded" else "DynamoDB Local"
        try:
            if kind not in STARTED:
                with bar.status(f"Starting {name} on 127.0.0.1…", expanded=False) as status:
                    server = managed_server(kind)
                    status.update(label=f"{name} started", state="complete")
                STARTED.add(kind)
            else:
                server = managed_server(kind)
        except LabError as error:
            bar.error(str(error))
            return fields, None, str(error)
        bar.success(f"Running at {server.endpoint_url}")
        bar.caption(TARGET_HELP[kind])
        return fields, server, None
    if st.session_state.localstack_url_next:  # a LocalStack started on the Engines page
        st.session_state.localstack_url = st.session_state.localstack_url_next
        st.session_state.localstack_url_next = None
    if kind == "localstack":
        fields["endpoint_url"] = bar.text_input("LocalStack URL", localstack_endpoint(), key="localstack_url",
                                                help="From AWS_ENDPOINT_URL or LOCALSTACK_HOST, as localstack-client "
                                                     "resolves it; http://localhost:4566 otherwise. The Engines page "
                                                     "starts one and puts its URL here.")
    elif kind == "custom":
        fields["endpoint_url"] = bar.text_input("Endpoint URL", "http://127.0.0.1:8000", key="custom_url",
                                                help="Any DynamoDB-compatible URL: moto, DynamoDB Local, a remote "
                                                     "LocalStack. Credentials from boto3's default chain.")
    else:
        aws_credentials(fields)
    fields["region"] = bar.text_input("Region", "us-east-1", key="region")
    unreachable = None
    with guard(bar):
        unreachable = target_status(fields)
    return fields, None, unreachable


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
    with bar.expander("…or type keys", key="keys_expander"), st.form("keys", clear_on_submit=True, border=False):
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


def target_status(fields: dict[str, Any]) -> str | None:
    """A live health badge for LocalStack and custom URLs on this machine; the caller identity for AWS, after a
    check. Returns why a target on this machine cannot take a run (None: it can, or it is not checked)."""
    try:
        target = make_target(fields["target"], endpoint_url=fields.get("endpoint_url"), region=fields["region"],
                             profile=fields.get("profile"), credentials=typed_keys(fields["target"]))
    except ConfigError:
        return None  # the plan says what to fix, once
    if target.kind == "aws":
        aws_identity(target)
        return None
    with st.sidebar:
        if not target.is_local:  # nothing is sent off this machine unasked
            if st.button("Check the endpoint", help="One ListTables call"):
                health_badge(target)
            return None
        if running():
            return health_badge(target)
        problem = reachability(target)
        live_health_badge(target)
        return problem


def reachability(target: Target) -> str | None:
    try:
        check_reachable(target, timeout=2)
    except LabError as error:
        return str(error)
    return None


def health_badge(target: Target) -> str | None:
    problem = reachability(target)
    if problem is not None:
        st.error(problem)
        if target.kind == "localstack":
            st.caption("Start it on the Engines page, or in a terminal:")
            st.code("\n".join(LOCALSTACK_START), language="bash")
        return problem
    st.success(f"Reachable at {target.endpoint_url}")
    st.caption(f"checked {dt.datetime.now():%H:%M:%S}" + (", again every 5 s" if target.is_local else ""))
    return None


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


def apply_preset() -> None:
    """The preset's network and capacity, put into their widgets (what the run uses is what the sidebar shows)."""
    chosen = PRESETS.get(st.session_state.preset)
    if chosen is not None:
        st.session_state.network = chosen.network
        st.session_state.capacity_mode = chosen.capacity.mode


def preset_choice() -> str:
    """The run's preset (the AWS dress rehearsal), on a target on this machine; choosing it sets the conditions."""
    return str(st.sidebar.selectbox("Preset", wording.PRESET_CHOICES, key="preset", disabled=running(),
                                    on_change=apply_preset, help=wording.preset_help()))


def preset_label(name: str) -> str:
    preset = NETWORK_PRESETS.get(name)
    if preset is None:
        return "custom latency"
    return f"{name} ({preset.latency_ms:g} ms + up to {preset.jitter_ms:g} ms)" if preset.latency_ms else name


def conditions() -> tuple[Conditions, Capacity] | None:
    """Network conditions, faults and the table's capacity model, injected by the lab's server or proxy on this
    machine (None when they do not add up; the reason is shown where the field is, and on the page)."""
    bar = st.sidebar
    bar.header("Conditions")
    preset = bar.selectbox("Network", [*NETWORK_PRESETS, "custom"], format_func=preset_label, key="network",
                           disabled=running(), help="Latency the lab's server adds to every request; study-2022 is "
                                                    "close to the study's ~83 ms per put, and reproduces its ratios")
    base = NETWORK_PRESETS.get(preset, Conditions())
    latency, jitter = base.latency_ms, base.jitter_ms
    if preset == "custom":
        left, right = bar.columns(2)
        typed = (left.text_input(LIMITS["latency_ms"].label, "25", key="latency_ms", disabled=running(),
                                 help=limit_help("latency_ms")),
                 right.text_input(LIMITS["jitter_ms"].label, "5", key="jitter_ms", disabled=running(),
                                  help=limit_help("jitter_ms")))
        try:
            latency, jitter = (wording.parse_number(text, LIMITS[name].label, LIMITS[name].low, LIMITS[name].high)
                               for text, name in zip(typed, ("latency_ms", "jitter_ms"), strict=True))
        except ConfigError as bad:
            bar.error(str(bad))
            st.session_state.sidebar_problem = str(bad)
            return None
    faulty = any(st.session_state.get(name, 0.0) for name in FAULTS)
    hints = {"throttle": "400 ProvisionedThroughputExceededException; batches hold items back",
             "reset": "Closed without an answer, half the time after the write happened"}
    with bar.expander("Faults (probability per write)", expanded=faulty, key="faults_expander"):
        faults = {name: st.slider(FAULT_LABELS[name], 0.0, 1.0, 0.0, 0.01, key=name, disabled=running(),
                                  help=hints.get(name)) for name in FAULTS}
    mode = bar.selectbox("Table capacity", ["off", "on-demand", "provisioned"], key="capacity_mode",
                         disabled=running(), help="Throttle as DynamoDB does: write units per started KB, partitions "
                                                  "of 1,000 WRU/s, a new on-demand table's 4,000 WRU/s, or a "
                                                  "provisioned table's WCU with 300 s of burst (docs/conditions.md)")
    wcu = bar.text_input("Provisioned WCU", "1000", key="capacity_wcu", disabled=running()) \
        if mode == "provisioned" else ""
    try:
        units = wording.parse_whole(wcu, "Provisioned WCU", 1, MAX_UNITS) if mode == "provisioned" else 0
        capacity = parse_capacity(f"provisioned={units}" if mode == "provisioned" else mode)
    except ConfigError as error:
        bar.error(str(error))
        st.session_state.sidebar_problem = str(error)
        return None
    st.session_state.sidebar_problem = None
    return Conditions(latency, jitter, **faults), capacity


# --- the background job --------------------------------------------------------------------------------------------

def plan_estimate(plan: Plan) -> Estimate:
    """The plan's estimate, calibrated from the history of this machine and target (uncalibrated without one)."""
    try:
        reports = open_history().reports()
    except LabError:
        reports = []
    return forecast(plan, reports, machine())


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


def watch(job: jobs.BackgroundRun, where: Any = st) -> None:
    """Poll the background job from this script thread until it ends (any session may watch, and cancel); the
    worker never calls Streamlit. When it ends, its result lands in every session that was watching."""
    with where.container(border=True):
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
                            run_notice=snap.notice, run_timing=timing, answer=None)


# --- the form's state across pages and reloads ----------------------------------------------------------------------

KEPT = ("target_kind", "localstack_url", "custom_url", "region", "profile", "preset", "network", "latency_ms",
        "jitter_ms", *FAULTS, "capacity_mode", "capacity_wcu", "approaches", "items", "threads", "concurrency",
        "repeats", "seed", "retry_mode", "workers", "scheduler", "s3_bucket", "s3_prefix", "bulk_tier",
        "bulk_max_wru", "sweep_levels", "sweep_items", "load_items", "load_bytes", "load_table", "load_capacity",
        "load_deadline", "load_retry_mode", "load_target", "load_bulk_tier", "load_bulk_max_wru", "log_scale",
        "reference")


def keep_widgets() -> None:
    """Widgets of a page not drawn in this run keep their values (Streamlit forgets an undrawn widget's state)."""
    for key in KEPT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def plan_widgets(plan: Plan) -> dict[str, Any]:
    """The widget values that draw ``plan`` (a running job's, shown in a session that did not start it)."""
    conditions = plan.conditions
    network = next((name for name, preset in NETWORK_PRESETS.items()
                    if (preset.latency_ms, preset.jitter_ms) == (conditions.latency_ms, conditions.jitter_ms)),
                   "custom")
    values: dict[str, Any] = {
        "target_kind": plan.target, "approaches": list(plan.approaches), "items": str(plan.items),
        "threads": str(plan.threads), "concurrency": str(plan.concurrency), "repeats": str(plan.repeats),
        "seed": str(plan.seed), "retry_mode": plan.retry_mode, "workers": str(plan.workers),
        "scheduler": plan.scheduler or "", "network": network, "capacity_mode": plan.capacity.mode,
        "preset": next((name for name in PRESETS if plan.rehearsal), wording.NO_PRESET),
        **{name: float(getattr(conditions, name)) for name in FAULTS}}
    if network == "custom":
        values.update(latency_ms=f"{conditions.latency_ms:g}", jitter_ms=f"{conditions.jitter_ms:g}")
    if plan.capacity.mode == "provisioned":
        values["capacity_wcu"] = str(plan.capacity.wcu)
    if plan.target == "localstack" and plan.endpoint_url:
        values["localstack_url"] = plan.endpoint_url
    if plan.target == "custom" and plan.endpoint_url:
        values["custom_url"] = plan.endpoint_url
    if plan.target != "embedded":
        values["region"] = plan.region
    return values


def show_running_plan() -> None:
    """A session that finds a run it did not start (a reload, another tab) shows that run's plan in its widgets,
    once per job, before any widget is drawn."""
    job = jobs.RUNS.running
    if job is None or job.what != "run" or st.session_state.restored_job == job.id \
            or st.session_state.started_job == job.id:
        return
    st.session_state.restored_job = job.id
    for key, value in plan_widgets(job.plan).items():
        st.session_state[key] = value


# --- the plan, from the Compare page's fields (drawn there, read from the session elsewhere) -------------------------

NUMBERS = ("items", "threads", "concurrency", "repeats", "seed", "workers")  # the Compare form's rows of LIMITS


def limit_help(name: str, text: str | None = None) -> str:
    """A field's help: ``text`` (else the row's own) and the range ``LIMITS`` allows, with the default's note."""
    row = LIMITS[name]
    note = f"; default {row.default_note}" if row.default_note else ""
    return f"{text or row.help[0].upper() + row.help[1:]} ({row.range_text}){note}"


def form_defaults() -> dict[str, Any]:
    """The Compare form's values before the user types anything (the numbers' from ``LIMITS``)."""
    return {"approaches": list(STUDY_APPROACHES), **{name: LIMITS[name].default_text for name in NUMBERS},
            "retry_mode": RETRY_MODES[0], "scheduler": ""}


def form_value(key: str) -> Any:
    """A Compare field's value in this session (its default when never drawn)."""
    return st.session_state.get(key, form_defaults()[key])


def build_plan(values: dict[str, Any], extra: dict[str, Any], where: Shared) -> tuple[Plan | None, list[str]]:
    """The validated plan from the form's values and the sidebar's answer, or None and every problem, one line
    each (the sidebar's own included, so the main column says why Run is disabled)."""
    numbers: dict[str, int] = {}
    problems = []
    for name in NUMBERS:
        row = LIMITS[name]
        try:
            numbers[name] = wording.parse_whole(str(values[name]), row.label, int(row.low), int(row.high))
        except ConfigError as bad:
            problems.append(str(bad))
    if not values["approaches"]:
        problems.append("No approach chosen: pick one or more approaches above.")
    if where.network is None:
        said = st.session_state.get("sidebar_problem") or "see there"
        problems.append(f"The sidebar's conditions need fixing: {said}")
    if where.unreachable:
        problems.append(f"The target cannot take a run: {where.unreachable}")
    scheduler = str(values["scheduler"]).strip() or None
    if scheduler is not None and where.local and not is_local_url(
            scheduler if "://" in scheduler else f"tcp://{scheduler}"):
        problems.append(f"The scheduler {scheduler} is off this machine while the target is on it: its workers "
                        "could not reach 127.0.0.1; leave Scheduler empty for a local cluster")
    if problems or where.network is None:
        return None, problems
    try:
        plan = wording.with_preset(Plan(
            approaches=tuple(values["approaches"]), conditions=where.network[0], capacity=where.network[1],
            items=numbers["items"], threads=numbers["threads"], concurrency=numbers["concurrency"],
            repeats=numbers["repeats"], seed=numbers["seed"], retry_mode=values["retry_mode"],
            workers=numbers["workers"], scheduler=scheduler, **extra, **where.fields), where.preset)
    except ConfigError as problem:
        return None, [str(problem)]
    return plan, []
