"""The lab's page: pick a target, see its status and the lab's tables."""

from __future__ import annotations

import streamlit as st

from core.emulator import Emulator
from core.errors import LabError
from core.tables import list_lab_tables
from core.targets import KINDS, Target, localstack_endpoint, make_target


@st.cache_resource
def embedded_emulator() -> Emulator:
    """The embedded DynamoDB, shared by every session of this app and stopped when the app exits."""
    return Emulator().start()


def choose_target() -> Target:
    kind = st.sidebar.radio("Target", KINDS, format_func=str.capitalize, key="target_kind")
    region = st.sidebar.text_input("Region", "us-east-1", key="region")
    if kind == "embedded":
        return make_target("embedded", region=region, embedded_url=embedded_emulator().endpoint_url)
    if kind == "localstack":
        url = st.sidebar.text_input("LocalStack URL", localstack_endpoint(), key="localstack_url")
        return make_target("localstack", endpoint_url=url, region=region)
    if kind == "custom":
        url = st.sidebar.text_input("Endpoint URL", "http://127.0.0.1:8000", key="custom_url")
        return make_target("custom", endpoint_url=url, region=region)
    return make_target("aws", region=region)


st.set_page_config(page_title="DynamoDB write-concurrency lab", layout="wide")
st.title("DynamoDB write-concurrency lab")
st.caption("How fast can Python write to DynamoDB, and which way of writing wins?")

try:
    target = choose_target()
except LabError as error:
    st.error(str(error))
    st.stop()

st.subheader(f"Target: {target.label}")
try:
    tables = list_lab_tables(target.client(max_attempts=1, timeout=3))
    st.success(f"Reachable. Lab tables present: {', '.join(tables) or 'none yet'}")
except Exception as error:
    st.error(f"{target.label} is not reachable: {type(error).__name__}: {error}")
