"""History: every run kept on this machine, and two of them compared."""

from __future__ import annotations

import streamlit as st

from core.app import charts, wording
from core.app.formatting import plural
from core.app.pages.common import guard, open_history

st.title("History")
with guard():
    store = open_history()
    entries = store.entries()
    for line in store.skipped_lines():
        st.warning(line, icon=":material/warning:")
    if not entries:
        st.caption(f"No runs yet: every run is kept in {store.path}. Run one on the Compare page.")
    else:
        st.caption(f"{plural(len(entries), 'run')} kept in {store.path}; the latest:")
        st.table(wording.history_rows(entries[:10]), hide_index=True, border="horizontal")
        labels = {entry.id: wording.history_label(entry) for entry in entries}
        st.subheader("Compare two runs")
        left, right = st.columns(2)
        first_id = left.selectbox("First run", list(labels), format_func=labels.__getitem__, key="compare_first",
                                  index=None, placeholder="A run from the history")
        second_id = right.selectbox("Second run", [i for i in labels if i != first_id],
                                    format_func=labels.__getitem__, key="compare_second", index=None,
                                    placeholder="Another run")
        if first_id is not None and second_id is not None:
            first, second = store.load(first_id), store.load(second_id)
            names = (wording.run_name(first), wording.run_name(second))
            if names[0] == names[1]:
                names = (f"{names[0]} (first)", f"{names[1]} (second)")
            warning = wording.comparison_warning(first, second)
            if warning:
                st.warning(warning)
            st.plotly_chart(charts.comparison(first, second, names), config=charts.PNG_CONFIG,
                            key="comparison_chart")
            for data, name, entry_id in zip((first, second), names, (first_id, second_id), strict=True):
                st.markdown(f"**{name}** · {labels[entry_id].split(' · ', 1)[1]}")
                st.table(wording.summary_rows(data), hide_index=True, border="horizontal")
