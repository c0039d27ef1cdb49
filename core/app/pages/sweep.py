"""Sweep: items/s against concurrency for threaded and async under the sidebar's target and conditions."""

from __future__ import annotations

import streamlit as st

from core.app import charts, jobs, wording
from core.app.formatting import duration
from core.app.pages.common import (
    build_plan,
    form_defaults,
    form_value,
    guard,
    land,
    machine,
    running,
    shared,
    start,
    typed_keys,
    watch,
)
from core.domain.errors import ConfigError
from core.domain.limits import MAX_ITEMS
from core.forecast.estimate import forecast
from core.run.sweep import DEFAULT_LEVELS, SweepResult, parse_sweep, plan_sweep

where = shared()
st.title("Concurrency sweep: why async wins")
st.caption("Little's law: throughput = requests in flight ÷ latency, until the server or the client runs out. The "
           "sweep runs threaded (threads = C) and async (C requests in flight) at each concurrency C on the sidebar's "
           "target and network, and draws the ideal C ÷ L, the highest throughput measured and where each approach "
           "stops scaling. Try Network study-2022 in the sidebar to see the study's gap.")
with guard():
    left, right, button = st.columns([3, 2, 1], vertical_alignment="bottom")
    levels_text = left.text_input("Concurrency levels", ", ".join(map(str, DEFAULT_LEVELS)), key="sweep_levels",
                                  disabled=running(), help="Whole numbers, e.g. 1, 4, 16, 64, 256")
    most_text = right.text_input("Books per level, at most", "2000", key="sweep_items", disabled=running(),
                                 help="Each level writes 20 rounds of C books (at least 50), capped here")
    base, problems = build_plan({key: form_value(key) for key in form_defaults()}, {}, where)
    sweep_plan = None
    try:
        levels = parse_sweep(levels_text, example="1, 4, 16, 64, 256 in Concurrency levels")
        most = wording.parse_whole(most_text, "Books per level", 1, MAX_ITEMS)
        if base is not None:
            sweep_plan = plan_sweep(base, levels, most_items=most)
    except ConfigError as problem:
        problems.insert(0, str(problem))
    for line in problems:
        st.error(line)
    job = jobs.RUNS.current
    busy = job is not None and job.running
    clicked = button.button("Run sweep", key="run_sweep", type="primary", width="stretch",
                            disabled=sweep_plan is None or running())
    if sweep_plan is not None:
        guess = sum(forecast(step, (), machine()).seconds for step in sweep_plan.steps)
        st.caption(f"{len(sweep_plan.steps)} levels × {len(sweep_plan.approaches)} approaches, {duration(guess)} "
                   "uncalibrated")
    if clicked and sweep_plan is not None:
        start(jobs.sweep_job(sweep_plan, where.server, typed_keys(sweep_plan.base.target)), where.fields)
    progress, shown = st.container(), st.empty()  # the chart's place is cleared before any progress is drawn
    if busy and job is not None:
        if job.what == "sweep":
            watch(job, progress)  # here, under the button; the old chart is gone while the new one is measured
        else:
            progress.info(f"A run is in progress ({job.title}): the Compare page shows it; the sweep waits for it.")
    elif job is not None and job.what == "sweep" and st.session_state.seen_job != job.id \
            and job.id == st.session_state.started_job:
        land(job, job.snapshot())
    result: SweepResult | None = st.session_state.sweep
    if result is not None and not busy:
        with shown.container():
            if result.cancelled:
                st.warning("The sweep was cancelled: the chart shows the levels measured before.")
            if result.error:
                st.error(result.error)
            if result.points:
                st.plotly_chart(charts.sweep_chart(result), config=charts.PNG_CONFIG, key="sweep_chart")
                st.markdown("\n".join(f"- {line}" for line in result.summary().splitlines()))
