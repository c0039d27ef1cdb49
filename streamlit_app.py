"""The lab's page: a multipage Streamlit app. This frame only composes: the session's state, the sidebar every page
shares (target and conditions), and the pages in app_pages/ (Compare, Sweep, Plan a load, History, Engines).

Only ``core`` and ``app_pages`` are imported; the benchmark runs in a background thread that never touches Streamlit
(``app_pages/common.py`` says how the pages share it).
"""

from __future__ import annotations

import streamlit as st

from app_pages import common
from core.wire import logs

st.set_page_config(page_title="DynamoDB write-concurrency lab", layout="wide")
logs.install()
common.init_state()
common.keep_widgets()
common.show_running_plan()
pages = st.navigation([
    st.Page("app_pages/compare.py", title="Compare", icon=":material/speed:", default=True),
    st.Page("app_pages/sweep.py", title="Sweep", icon=":material/stacked_line_chart:"),
    st.Page("app_pages/plan_load.py", title="Plan a load", icon=":material/calculate:"),
    st.Page("app_pages/history.py", title="History", icon=":material/history:"),
    st.Page("app_pages/engines.py", title="Engines", icon=":material/dns:"),
])
common.sidebar()
pages.run()
