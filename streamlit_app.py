"""The lab's page: a multipage Streamlit app that composes the session's state, the shared sidebar and the pages.

Only ``core`` is imported; the benchmark runs in a background thread that never touches Streamlit.
"""

from __future__ import annotations

import streamlit as st

from core.app.pages import common
from core.wire import logs

st.set_page_config(page_title="DynamoDB write-concurrency lab", layout="wide")
logs.install()
common.init_state()
common.keep_widgets()
common.show_running_plan()
# Emoji icons: a page icon named ":material/…" is fetched from fonts.gstatic.com, off this machine.
pages = st.navigation([
    st.Page("core/app/pages/compare.py", title="Compare", icon="⚡", default=True),
    st.Page("core/app/pages/sweep.py", title="Sweep", icon="📈"),
    st.Page("core/app/pages/plan_load.py", title="Plan a load", icon="🧮"),
    st.Page("core/app/pages/history.py", title="History", icon="🕘"),
    st.Page("core/app/pages/engines.py", title="Engines", icon="🗄️"),
])
common.sidebar()
pages.run()
