"""Plotly figures of a report: pure functions, a report's export dict in, a figure out.

Contract: every function takes the dict of ``core.export.to_dict`` (fresh or from the history), so one code path
draws both; the latency and timeline figures need ``to_dict(report, detail=True)``. No I/O.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

import plotly.graph_objects as go

from core.benchmark import STUDY_2022_ITEMS, STUDY_2022_SECONDS

OURS = "#2563eb"
REFERENCE = "#9ca3af"
REFERENCE_NAME = f"2022 study (real AWS, {STUDY_2022_ITEMS:,} books)"
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")


def _by_approach(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in data["runs"]:
        runs[run["approach"]].append(run)
    return dict(runs)


def medians(data: dict[str, Any], field: str) -> dict[str, float]:
    """Median of ``field`` per approach, in plan order."""
    return {name: statistics.median(r[field] for r in runs) for name, runs in _by_approach(data).items()}


def speedups(data: dict[str, Any]) -> dict[str, float | None]:
    """Median seconds of ``sequential`` / median seconds of each approach (None without a sequential run)."""
    seconds = medians(data, "seconds")
    base = seconds.get("sequential")
    return {name: (base / value if base and value else None) for name, value in seconds.items()}


def _label(speedup: float | None) -> str:
    return f"{speedup:,.1f}×" if speedup is not None else ""


def _layout(fig: go.Figure, title: str, axis: str, log: bool) -> go.Figure:
    fig.update_layout(title=title, barmode="group", template="plotly_white", height=420,
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 60, "b": 40},
                      uniformtext={"minsize": 10, "mode": "show"})
    fig.update_traces(cliponaxis=False, selector={"type": "bar"})
    fig.update_yaxes(title=axis, type="log" if log else "linear")
    return fig


def seconds_bar(data: dict[str, Any], log: bool = False, reference: bool = True) -> go.Figure:
    """Seconds per approach (median of repeats, whiskers min..max), speed-up labels, the study's bars beside."""
    runs = _by_approach(data)
    seconds = medians(data, "seconds")
    gains = speedups(data)
    names = list(seconds)
    low = [seconds[n] - min(r["seconds"] for r in runs[n]) for n in names]
    high = [max(r["seconds"] for r in runs[n]) - seconds[n] for n in names]
    fig = go.Figure(go.Bar(
        name=f"this lab ({data['plan']['items']:,} books, {data['plan']['target']}; labels: speed-up vs sequential)",
        x=names,
        y=[seconds[n] for n in names], marker_color=OURS, text=[_label(gains[n]) for n in names],
        textposition="outside", error_y={"type": "data", "array": high, "arrayminus": low, "visible": True}))
    if reference:
        fig.add_trace(go.Bar(name=REFERENCE_NAME, x=list(STUDY_2022_SECONDS), y=list(STUDY_2022_SECONDS.values()),
                             marker={"color": REFERENCE, "pattern": {"shape": "/"}},
                             text=[f"{s:,.2f} s" for s in STUDY_2022_SECONDS.values()], textposition="outside"))
    return _layout(fig, "Seconds to write every book (lower is better)", "seconds", log)


def throughput_bar(data: dict[str, Any], log: bool = False) -> go.Figure:
    """Items per second per approach (median of repeats), speed-up labels."""
    rates = medians(data, "items_per_second")
    gains = speedups(data)
    names = list(rates)
    fig = go.Figure(go.Bar(name="items/s (labels: speed-up vs sequential)", x=names, y=[rates[n] for n in names],
                           marker_color=OURS, text=[_label(gains[n]) for n in names], textposition="outside"))
    return _layout(fig, "Items written per second (higher is better)", "items/s", log)


def latency_box(data: dict[str, Any], log: bool = False) -> go.Figure:
    """Per-request latency distribution per approach (all repeats pooled)."""
    fig = go.Figure()
    for index, (name, runs) in enumerate(_by_approach(data).items()):
        samples = [ms for r in runs for ms in r.get("latency_samples_ms", [])]
        fig.add_trace(go.Box(name=name, y=samples, marker_color=PALETTE[index % len(PALETTE)], boxpoints=False))
    fig.update_layout(showlegend=False)
    return _layout(fig, "Latency per request", "milliseconds", log)


def timeline(data: dict[str, Any]) -> go.Figure:
    """Items acknowledged over time, one line per approach (first repeat)."""
    fig = go.Figure()
    for index, (name, runs) in enumerate(_by_approach(data).items()):
        points = runs[0].get("timeline", [])
        fig.add_trace(go.Scatter(name=name, x=[p[0] for p in points], y=[p[1] for p in points], mode="lines",
                                 line={"color": PALETTE[index % len(PALETTE)], "width": 2}))
    fig.update_xaxes(title="seconds since the run started")
    return _layout(fig, "Items written over time", "items acknowledged", False)


def comparison(first: dict[str, Any], second: dict[str, Any], labels: tuple[str, str], log: bool = False
               ) -> go.Figure:
    """Two reports side by side: median seconds per approach."""
    fig = go.Figure()
    for data, label, color in ((first, labels[0], OURS), (second, labels[1], "#16a34a")):
        seconds = medians(data, "seconds")
        fig.add_trace(go.Bar(name=label, x=list(seconds), y=list(seconds.values()), marker_color=color,
                             text=[f"{v:,.2f} s" for v in seconds.values()], textposition="outside"))
    return _layout(fig, "Seconds per approach, two runs compared", "seconds", log)
