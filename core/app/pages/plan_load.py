"""Plan a load: each approach's best worker count, time and cost for N items, with what each figure rests on.

Nothing is sent.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core.app import wording
from core.app.pages.common import guard, machine, open_history, shared
from core.domain.bulkmodel import with_measured
from core.domain.bulkwire import TIERS
from core.domain.errors import ConfigError
from core.domain.limits import MAX_PLAN_ITEMS
from core.domain.plan import RETRY_MODES
from core.forecast.planner import DEFAULT_RETRY_MODE, plan_load

TOP = 5  # rows shown before "show all"

where = shared()
st.title("Plan a bulk load")
st.caption("How should I load N items? Each approach's best worker count, time and cost, and S3 import for a new "
           "table. The writers' figures are calibrated on this machine's runs in the history; nothing is sent.")
with guard():
    chosen = where.fields["target"]
    targets = ["aws"] if chosen == "aws" else ["aws", chosen]
    planned = st.radio("Plan for", targets, key="load_target", horizontal=True,
                       format_func=lambda kind: "AWS" if kind == "aws" else f"the sidebar's target ({kind})",
                       help="Where the writers' client figures come from (measured runs there calibrate them); on a "
                            "target on this machine the capacity is the lab's proxy model")
    cols = st.columns([2, 2, 2, 3, 2, 2])
    items = cols[0].text_input("Items", "10,000,000", key="load_items",
                               help=f"1 to {MAX_PLAN_ITEMS:,} (a trillion); commas and underscores allowed")
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
                               help="adaptive: client-side rate control, which writes more of a throttling table's "
                                    "capacity (measured: 0.89-1.04 of it, against 0.33-0.93 standard)")
    tier, max_wru = "STANDARD", 0
    if table == "existing":
        bulk = st.columns(2)
        tier = bulk[0].radio("Bulk put tier", TIERS, key="load_bulk_tier", horizontal=True,
                             help="bulk-put's PerformanceTier: its rate and price are assumptions (AWS publishes "
                                  "none)")
        max_wru = bulk[1].number_input("Bulk put max WRU (0: DynamoDB's default)", 0, 10**9, 0, step=1024,
                                       key="load_bulk_max_wru", help="MaxWriteRequestUnits, at least 1,024")
    spec = None
    try:
        spec = wording.load_spec(items, size, table, capacity, deadline, planned,
                                 where.fields.get("endpoint_url") if planned == chosen else None, retry_mode,
                                 bulk_tier=tier, bulk_max_wru=int(max_wru) or None)
    except ConfigError as problem:
        st.error(str(problem))
    if spec is not None:
        kept = open_history()
        spec = replace(spec, bulk=with_measured(spec.bulk, kept.checks(), spec.bulk_tier))  # aws-check's figures
        plan = plan_load(spec, kept.reports(), machine())
        st.success(f"**Recommended:** {plan.recommendation}")
        every = st.toggle(f"All {len(plan.rows)} ways, with what each rests on", key="load_all",
                          help=f"Otherwise the {TOP} best, without the basis column")
        st.table(wording.load_plan_rows(plan, basis=every, most=None if every else TOP), hide_index=True,
                 border="horizontal")
        st.caption(f"{spec.wru_per_item} WRU per item, {spec.total_wru:,} WRU in all. Writers' figures: "
                   f"{plan.history}. " + " ".join(f"{note[0].upper()}{note[1:]}." for note in plan.notes))
        with st.expander("Sources", key="load_sources"):
            st.markdown("\n".join(f"- {wording.linked(source)}" for source in plan.sources))
