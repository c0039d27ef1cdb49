"""Plotly figures of a report: pure functions, a report in, a figure out.

Contract: every function takes a report as the dict of ``core.export.to_dict`` (fresh or from the history) or as
a ``Report`` (turned into ``to_dict(report, detail=True)``), so one code path draws both. The latency and
timeline figures need the detail fields (``latency_samples_ms``, ``timeline``), which stored reports lack; the
history comparison uses only what is stored (seconds, items/s, latency percentiles). No I/O.
"""

from __future__ import annotations

import datetime as dt
import html
import statistics
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.approaches import STUDY_2022_ITEMS, STUDY_2022_SECONDS
from core.export import to_dict
from core.model import Report, speedup

OURS = "#2563eb"
OTHER = "#059669"  # the second report of a comparison
REFERENCE = "#9ca3af"
REFERENCE_NAME = f"2022 study (AWS, {STUDY_2022_ITEMS:,} books)"
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
PNG_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "lab-chart"}}

ReportLike = Report | Mapping[str, Any]


def as_data(report: ReportLike) -> Mapping[str, Any]:
    """The export dict of a report (with latency samples and timeline when it is a fresh ``Report``)."""
    return to_dict(report, detail=True) if isinstance(report, Report) else report


def _by_approach(data: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in data["runs"]:
        runs[run["approach"]].append(run)
    return dict(runs)


def medians(report: ReportLike, field: str) -> dict[str, float]:
    """Median of ``field`` per approach (over repeats), in the order the runs were made."""
    return {name: statistics.median(r[field] for r in runs) for name, runs in _by_approach(as_data(report)).items()}


def speedups(report: ReportLike) -> dict[str, float | None]:
    """Median seconds of ``sequential`` / median seconds of each approach (None without a sequential run)."""
    seconds = medians(report, "seconds")
    return {name: speedup(seconds, name) for name in seconds}


def _labels(data: Mapping[str, Any]) -> list[str]:
    """Bar labels: the speed-up vs sequential (or the seconds without one), 'server-bound' when it applies."""
    bound = {name for name, runs in _by_approach(data).items() if any(r.get("server_bound") for r in runs)}
    seconds = medians(data, "seconds")
    out = []
    for name, gain in speedups(data).items():
        label = f"{gain:,.1f}×" if gain is not None else f"{seconds[name]:,.2f} s"
        out.append(label + ("<br>server-bound" if name in bound else ""))
    return out


def _layout(fig: go.Figure, title: str, subtitle: str, axis: str, log: bool) -> go.Figure:
    fig.update_layout(title={"text": title, "subtitle": {"text": subtitle}}, barmode="group",
                      template="plotly_white", height=440, legend={"orientation": "h", "y": -0.18},
                      margin={"t": 80, "b": 40, "l": 60, "r": 40}, uniformtext={"minsize": 10, "mode": "show"})
    fig.update_traces(cliponaxis=False, selector={"type": "bar"})
    fig.update_yaxes(type="log" if log else "linear")
    fig.update_layout(yaxis_title=axis)
    return fig


def seconds_bar(report: ReportLike, log: bool = False, reference: bool = True) -> go.Figure:
    """Seconds per approach (median of repeats, whiskers min..max) labelled with the speed-up vs sequential; with
    ``reference``, the 2022 study's published bars beside, hatched grey, on a right-hand axis of their own unless
    our run wrote the study's 10,000 books too."""
    data = as_data(report)
    runs = _by_approach(data)
    seconds = medians(data, "seconds")
    names = list(seconds)
    plan = data["plan"]
    fig = go.Figure(go.Bar(
        name=f"this lab ({plan['items']:,} books, {plan['target']})", x=names, y=[seconds[n] for n in names],
        marker_color=OURS, text=_labels(data), textposition="outside", offsetgroup="lab",
        error_y={"type": "data", "visible": True, "color": "#1e3a8a", "thickness": 1,
                 "array": [max(r["seconds"] for r in runs[n]) - seconds[n] for n in names],
                 "arrayminus": [seconds[n] - min(r["seconds"] for r in runs[n]) for n in names]},
        hovertemplate="%{x}: %{y:,.3f} s (median)<extra>this lab</extra>"))
    subtitle = "median of repeats; labels: speed-up vs sequential"
    if reference:
        same_axis = plan["items"] == STUDY_2022_ITEMS
        fig.add_trace(go.Bar(
            name=REFERENCE_NAME, x=list(STUDY_2022_SECONDS), y=list(STUDY_2022_SECONDS.values()),
            marker={"color": REFERENCE, "pattern": {"shape": "/", "fgcolor": "#4b5563"}}, offsetgroup="study",
            text=[f"{s:,.2f} s" for s in STUDY_2022_SECONDS.values()], textposition="outside",
            yaxis="y" if same_axis else "y2", hovertemplate="%{x}: %{y:,.2f} s<extra>2022 study</extra>"))
        if not same_axis:
            subtitle += "; the 2022 study on the right-hand axis"
            fig.update_layout(yaxis2={"title": {"text": "2022 study, seconds", "font": {"color": "#6b7280"}},
                                      "overlaying": "y", "side": "right", "showgrid": False, "tickmode": "auto",
                                      "rangemode": "tozero", "tickfont": {"color": "#6b7280"}})
    fig = _layout(fig, "Seconds to write every book (lower is better)", subtitle, "seconds", log)
    fig.update_layout(yaxis={"rangemode": "tozero"})
    return fig


def throughput_bar(report: ReportLike, log: bool = False) -> go.Figure:
    """Items per second per approach (median of repeats), labelled with the speed-up vs sequential."""
    data = as_data(report)
    rates = medians(data, "items_per_second")
    fig = go.Figure(go.Bar(name="items/s", x=list(rates), y=list(rates.values()), marker_color=OURS,
                           text=_labels(data), textposition="outside", showlegend=False,
                           hovertemplate="%{x}: %{y:,.0f} items/s<extra></extra>"))
    return _layout(fig, "Items written per second (higher is better)",
                   "median of repeats; labels: speed-up vs sequential", "items/s", log)


def latency_box(report: ReportLike, log: bool = False) -> go.Figure:
    """Per-request latency distribution per approach (a sample of every repeat, pooled)."""
    fig = go.Figure()
    for index, (name, runs) in enumerate(_by_approach(as_data(report)).items()):
        samples = [ms for r in runs for ms in r.get("latency_samples_ms", [])]
        fig.add_trace(go.Box(name=name, y=samples, marker_color=PALETTE[index % len(PALETTE)], boxpoints=False))
    fig.update_layout(showlegend=False)
    return _layout(fig, "Latency per request", "box: p25-p75, line: median; one request may carry 25 items",
                   "milliseconds", log)


def timeline(report: ReportLike) -> go.Figure:
    """Items acknowledged over time, one line per approach (its first repeat)."""
    fig = go.Figure()
    for index, (name, runs) in enumerate(_by_approach(as_data(report)).items()):
        points = runs[0].get("timeline", [])
        fig.add_trace(go.Scatter(name=name, x=[p[0] for p in points], y=[p[1] for p in points], mode="lines",
                                 line={"color": PALETTE[index % len(PALETTE)], "width": 2}))
    fig.update_xaxes(title="seconds since the writes started")
    return _layout(fig, "Items written over time", "steeper is faster", "items acknowledged", False)


def report_label(report: ReportLike) -> str:
    """A short name for a report: when it ran, how many books, where."""
    data = as_data(report)
    created = dt.datetime.fromtimestamp(float(data.get("created") or 0))
    return f"{created:%Y-%m-%d %H:%M} · {data['plan']['items']:,} books · {data['plan']['target']}"


def comparison(report_a: ReportLike, report_b: ReportLike, labels: tuple[str, str] | None = None,
               log: bool = False) -> go.Figure:
    """Two reports side by side from what the history stores: seconds, items/s and latency (p50, whisker p95)."""
    first, second = as_data(report_a), as_data(report_b)
    names = labels or (report_label(first), report_label(second))
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07, subplot_titles=(
        "Seconds (lower is better)", "Items/s (higher is better)", "Latency ms: p50, whisker to p95"))
    for data, name, color in ((first, names[0], OURS), (second, names[1], OTHER)):
        runs = _by_approach(data)
        p50 = {n: statistics.median(r["latency_ms"]["p50"] for r in rs) for n, rs in runs.items()}
        p95 = {n: statistics.median(r["latency_ms"]["p95"] for r in rs) for n, rs in runs.items()}
        common = {"name": name, "legendgroup": name, "marker_color": color, "x": list(runs)}
        seconds, rates = medians(data, "seconds"), medians(data, "items_per_second")
        fig.add_trace(go.Bar(y=list(seconds.values()), text=[f"{v:,.2f} s" for v in seconds.values()],
                             textposition="outside", **common), row=1, col=1)
        fig.add_trace(go.Bar(y=list(rates.values()), showlegend=False, **common), row=1, col=2)
        fig.add_trace(go.Bar(y=list(p50.values()), showlegend=False, **common,
                             error_y={"type": "data", "symmetric": False, "visible": True,
                                      "array": [p95[n] - p50[n] for n in p50], "arrayminus": [0.0] * len(p50)}),
                      row=1, col=3)
    fig.update_layout(title={"text": "Two runs compared"}, barmode="group", template="plotly_white", height=440,
                      legend={"orientation": "h", "y": -0.18}, margin={"t": 80, "b": 40, "l": 60, "r": 40})
    fig.update_traces(cliponaxis=False, selector={"type": "bar"})
    fig.update_yaxes(type="log" if log else "linear")
    return fig


def standalone_html(figures: list[go.Figure], title: str) -> str:
    """One self-contained HTML page holding the figures (plotly.js inlined once), for the chart download."""
    parts = [figure.to_html(full_html=False, include_plotlyjs=index == 0, config=PNG_CONFIG)
             for index, figure in enumerate(figures)]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>")
