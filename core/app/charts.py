"""Plotly figures of a report: pure functions, a report in, a figure out.

Each takes a ``Report`` or its ``core.app.export.to_dict`` form (fresh or from the history). The latency and timeline
figures need the detail fields, which stored reports lack; ``has_capacity`` is False for reports without capacity
figures. The 2022 study's figures are only drawn as ratios or rates, hatched grey and named as the study's.
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

from core.app.export import to_dict
from core.app.verdict import conditions_text
from core.domain.approaches import STUDY_2022_ITEMS, STUDY_2022_SECONDS
from core.domain.approaches import label as approach_label
from core.domain.results import Report, speedup, stored_bounds
from core.run.sweep import SweepResult

OURS = "#2563eb"
OTHER = "#059669"  # the second report of a comparison
REFERENCE = "#9ca3af"
FAILED = "#dc2626"  # a bar whose runs did not all write and verify every book: red, cross-hatched, labelled FAIL
STUDY_NAME = f"the 2022 study's own figures (AWS, {STUDY_2022_ITEMS:,} books)"
FONT = {"size": 14}
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
PNG_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "lab-chart"}}

ReportLike = Report | Mapping[str, Any]


def as_data(report: ReportLike) -> Mapping[str, Any]:
    """The export dict of a report (with latency samples and timeline when it is a fresh ``Report``)."""
    return to_dict(report, detail=True) if isinstance(report, Report) else report


def _by_approach(data: Mapping[str, Any], every: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The finished runs by approach label: an interrupted run (cancelled before all its books were settled) is left
    out of the rate and time charts, as of the verdict, and so is a run that wrote nothing (it has no rate);
    ``every``: all runs (what the table saw, for the capacity charts)."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in data["runs"]:
        if not every and (run.get("interrupted") or not run["items_per_second"]):
            continue
        runs[approach_label(run["approach"])].append(run)  # an as-shipped approach says so on every chart
    return dict(runs)


def has_sequential(report: ReportLike) -> bool:
    """A finished sequential run and one other approach: the speed-ups can be drawn."""
    gains = speedups(report)
    return any(gain is not None for name, gain in gains.items() if name != "sequential")


def unflagged(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The report dict with only the runs no bound flags (``core.domain.results.stored_bounds``): what a comparison with
    the 2022 study counts."""
    return {**data, "runs": [run for run in data["runs"] if not stored_bounds(run, data["plan"])]}


def flagged_names(data: Mapping[str, Any]) -> dict[str, str]:
    """Approach label -> the first word of each bound flagging one of its runs ('queue-bound'), for bar labels."""
    flags: dict[str, set[str]] = defaultdict(set)
    for run in data["runs"]:
        for reason in stored_bounds(run, data["plan"]):
            flags[approach_label(run["approach"])].add(reason.split(":")[0])
    return {name: ", ".join(sorted(kinds)) for name, kinds in flags.items()}


def failed_run(run: Mapping[str, Any]) -> bool:
    """A stored run that did not write and verify every book (the table's FAIL): ``clean`` when the export has it,
    else its counts (books failed, unknown, not sent; lost, mismatched, unexpected; not read back)."""
    if "clean" in run:
        return not run["clean"]
    check = run["verification"]
    return bool(run.get("failed_items") or run.get("unknown_items") or run.get("not_sent_items")
                or check.get("lost") or check.get("mismatched") or check.get("unexpected")
                or not check.get("checked", True))


def failed_names(data: Mapping[str, Any]) -> set[str]:
    """Approach labels with a charted run that FAILED (interrupted runs are not charted, so not counted)."""
    return {name for name, runs in _by_approach(data).items() if any(failed_run(run) for run in runs)}


def _marker(data: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """Our bars' colour: the lab's blue, a FAILED approach's red and cross-hatched."""
    failed = failed_names(data)
    return {"color": [FAILED if name in failed else OURS for name in names],
            "pattern": {"shape": ["x" if name in failed else "" for name in names], "fgcolor": "#7f1d1d"}}


FAIL_NOTE = "FAIL (red, hatched): a run with books failed, unknown, not sent or lost"


def _fail_note(data: Mapping[str, Any]) -> str:
    """'; FAIL (red, hatched): ...' for a subtitle when a bar is marked FAIL, else empty."""
    return f"; {FAIL_NOTE}" if failed_names(data) else ""


def medians(report: ReportLike, field: str) -> dict[str, float]:
    """Median of ``field`` per approach (over repeats), in the order the runs were made."""
    return {name: statistics.median(r[field] for r in runs) for name, runs in _by_approach(as_data(report)).items()}


def speedups(report: ReportLike) -> dict[str, float | None]:
    """Median items/s of each approach ÷ median items/s of ``sequential`` (None without a sequential run): the CLI's
    and the verdict's speed-up (``core.domain.results.speedup``)."""
    rates = medians(report, "items_per_second")
    return {name: speedup(rates, name) for name in rates}


def _labels(data: Mapping[str, Any], field: str) -> list[str]:
    """Bar labels: each bar's own value ('2.63 s', or '4,312/s'), 'FAIL' when one of its runs failed, and the bounds
    that flag its runs ('queue-bound') when any does."""
    bound, failed = flagged_names(data), failed_names(data)
    out = []
    for name, value in medians(data, field).items():
        text = f"{value:,.2f} s" if field == "seconds" else f"{value:,.0f}/s"
        out.append(("FAIL " if name in failed else "") + text + (f"<br>{bound[name]}" if name in bound else ""))
    return out


def _layout(fig: go.Figure, title: str, subtitle: str, axis: str, log: bool) -> go.Figure:
    fig.update_layout(title={"text": title, "subtitle": {"text": subtitle}}, barmode="group",
                      template="plotly_white", height=440, legend={"orientation": "h", "y": -0.18},
                      margin={"t": 90, "b": 40, "l": 70, "r": 40}, uniformtext={"minsize": 12, "mode": "show"},
                      font=FONT)
    fig.update_traces(cliponaxis=False, selector={"type": "bar"})
    fig.update_yaxes(type="log" if log else "linear")
    fig.update_layout(yaxis_title=axis)
    return fig


def seconds_bar(report: ReportLike, log: bool = False) -> go.Figure:
    """Seconds per approach (median of repeats, whiskers min..max) labelled with the speed-up vs sequential. The
    2022 study's seconds are not drawn here (other books, other machine, real AWS): see ``speedup_bar``."""
    data = as_data(report)
    runs = _by_approach(data)
    seconds = medians(data, "seconds")
    names = list(seconds)
    plan = data["plan"]
    fig = go.Figure(go.Bar(
        name=f"this lab ({plan['items']:,} books, {plan['target']})", x=names, y=[seconds[n] for n in names],
        marker=_marker(data, names), text=_labels(data, "seconds"), textposition="outside", offsetgroup="lab",
        showlegend=False,
        error_y={"type": "data", "visible": True, "color": "#1e3a8a", "thickness": 1,
                 "array": [max(r["seconds"] for r in runs[n]) - seconds[n] for n in names],
                 "arrayminus": [seconds[n] - min(r["seconds"] for r in runs[n]) for n in names]},
        hovertemplate="%{x}: %{y:,.3f} s (median)<extra>this lab</extra>"))
    fig = _layout(fig, "Seconds to write every book (lower is better)",
                  "median of repeats, whiskers min–max; labels: seconds" + _fail_note(data), "seconds", log)
    fig.update_layout(yaxis={"rangemode": "tozero"})
    return fig


def _study_bar(values: list[float], text: list[str], hover: str) -> go.Bar:
    return go.Bar(name=STUDY_NAME, x=list(STUDY_2022_SECONDS), y=values, text=text, textposition="outside",
                  marker={"color": REFERENCE, "pattern": {"shape": "/", "fgcolor": "#4b5563"}}, offsetgroup="study",
                  hovertemplate=f"%{{x}}: {hover}<extra>the 2022 study's own figure</extra>")


def study_speedups() -> dict[str, float]:
    """The study's speed-ups over its sequential run: 1x, 11.7x, 75.3x."""
    base = STUDY_2022_SECONDS["sequential"]
    return {name: base / seconds for name, seconds in STUDY_2022_SECONDS.items()}


def speedup_bar(report: ReportLike, log: bool = False, reference: bool = True) -> go.Figure:
    """Speed-up over sequential per approach, ours beside the 2022 study's on one axis: like compared with like
    (a ratio within each experiment), whatever the books, machine or target. Beside the study's (``reference``),
    ours count only the runs no bound flags; the subtitle names the approaches left out."""
    data = as_data(report)
    counted = unflagged(data) if reference else data
    ours = {name: gain for name, gain in speedups(counted).items() if gain is not None}
    left_out = sorted(set(flagged_names(data)) - set(_by_approach(counted))) if reference else []
    failed = failed_names(counted)
    fig = go.Figure(go.Bar(name=f"this lab ({data['plan']['items']:,} books, {data['plan']['target']})",
                           x=list(ours), y=list(ours.values()), marker=_marker(counted, list(ours)), offsetgroup="lab",
                           text=[("FAIL " if name in failed else "") + f"{g:,.1f}×" for name, g in ours.items()],
                           textposition="outside",
                           hovertemplate="%{x}: %{y:,.1f}× sequential<extra>this lab</extra>"))
    if reference and ours:  # the study's bars alone would read as ours
        theirs = study_speedups()
        fig.add_trace(_study_bar(list(theirs.values()), [f"{g:,.1f}×" for g in theirs.values()], "%{y:,.1f}×"))
    subtitle = ("items/s of each approach ÷ items/s of sequential (medians), within each experiment" if ours
                else "no sequential run in this plan: add sequential to compare speed-ups")
    if left_out:
        subtitle += f"; left out, every run flagged by a bound: {', '.join(left_out)}"
    subtitle += _fail_note(counted) if ours else ""
    return _layout(fig, "Speed-up over sequential (higher is better)", subtitle, "× sequential", log)


def throughput_bar(report: ReportLike, log: bool = False, reference: bool = False) -> go.Figure:
    """Items per second per approach (median of repeats), labelled with its items/s; with
    ``reference``, the 2022 study's items/s (its 10,000 books ÷ its seconds, real AWS) beside, hatched grey."""
    data = as_data(report)
    rates = medians(data, "items_per_second")
    fig = go.Figure(go.Bar(name=f"this lab ({data['plan']['items']:,} books, {data['plan']['target']})",
                           x=list(rates), y=list(rates.values()), marker=_marker(data, list(rates)), offsetgroup="lab",
                           text=_labels(data, "items_per_second"), textposition="outside", showlegend=reference,
                           hovertemplate="%{x}: %{y:,.0f} items/s<extra>this lab</extra>"))
    if reference:
        theirs = [STUDY_2022_ITEMS / seconds for seconds in STUDY_2022_SECONDS.values()]
        fig.add_trace(_study_bar(theirs, [f"{v:,.0f}/s" for v in theirs], "%{y:,.0f} items/s"))
    return _layout(fig, "Items written per second (higher is better)",
                   "median of repeats; labels: items/s" + _fail_note(data), "items/s", log)


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
    fig.update_layout(title={"text": "Two runs compared"}, barmode="group", template="plotly_white", height=460,
                      font=FONT, legend={"orientation": "h", "y": -0.18}, margin={"t": 80, "b": 40, "l": 60, "r": 40})
    fig.update_traces(cliponaxis=False, selector={"type": "bar"})
    fig.update_yaxes(type="log" if log else "linear")
    return fig


def standalone_html(figures: list[go.Figure], title: str) -> str:
    """One self-contained HTML page holding the figures (plotly.js inlined once), for the chart download."""
    parts = [figure.to_html(full_html=False, include_plotlyjs=index == 0, config=PNG_CONFIG)
             for index, figure in enumerate(figures)]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>")


def sweep_chart(result: SweepResult) -> go.Figure:
    """Items/s against concurrency (log-log) per approach, with Little's law's ideal C ÷ L (L measured at the lowest
    concurrency), the highest throughput measured (the server's capacity when its CPU saturated) and each
    approach's knee: the last concurrency that kept up with C ÷ L."""
    fig = go.Figure()
    levels = list(result.plan.levels)
    trip = result.round_trip_s
    if trip:
        fig.add_trace(go.Scatter(name=f"ideal C ÷ L (L = {trip * 1000:,.1f} ms)", x=levels,
                                 y=[level / trip for level in levels], mode="lines",
                                 line={"color": REFERENCE, "dash": "dash", "width": 2},
                                 hovertemplate="C = %{x}: %{y:,.0f} items/s<extra>C ÷ L</extra>"))
    for index, name in enumerate(result.plan.approaches):
        points = result.of(name)
        color = PALETTE[index % len(PALETTE)]
        fig.add_trace(go.Scatter(
            name=name, x=[p.concurrency for p in points], y=[p.items_per_second for p in points],
            mode="lines+markers", line={"color": color, "width": 3}, marker={"size": 9},
            customdata=[[p.server_cpu_percent or 0.0] for p in points],
            hovertemplate="C = %{x}: %{y:,.0f} items/s, server CPU %{customdata[0]:.0f}%<extra>" + name + "</extra>"))
        knee = result.knee(name)
        if knee is not None:
            fig.add_trace(go.Scatter(
                name=f"{name} knee (C = {knee.concurrency})", x=[knee.concurrency], y=[knee.items_per_second],
                mode="markers",
                marker={"symbol": "star", "size": 18, "color": color, "line": {"color": "#111827", "width": 1}},
                hovertemplate="stops scaling after C = %{x}<extra>" + name + "</extra>"))
    top = result.capacity
    if top:
        label = "server capacity (CPU saturated)" if result.server_saturated else "highest measured"
        fig.add_trace(go.Scatter(name=f"{label}: {top:,.0f} items/s", x=[levels[0], levels[-1]], y=[top, top],
                                 mode="lines", line={"color": "#dc2626", "dash": "dot", "width": 2},
                                 hovertemplate="%{y:,.0f} items/s<extra>" + label + "</extra>"))
    fig.update_layout(
        title={"text": "Where concurrency stops paying: items/s against requests in flight",
               "subtitle": {"text": f"{conditions_text(result.plan.base)}; threads = concurrency = C; log-log"}},
        template="plotly_white", height=480, font=FONT, legend={"orientation": "h", "y": -0.2},
        margin={"t": 90, "b": 40, "l": 70, "r": 40})
    fig.update_xaxes(type="log", title="concurrency C (threads or requests in flight)", tickvals=levels)
    fig.update_yaxes(type="log", title="items/s")
    return fig


CAPACITY_LINE = "#dc2626"


def _capacity_runs(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each approach's first run that has capacity figures: its ``capacity`` dict."""
    out: dict[str, dict[str, Any]] = {}
    for name, runs in _by_approach(data, every=True).items():
        use = next((r["capacity"] for r in runs if r.get("capacity")), None)
        if use is not None:
            out[name] = use
    return out


def has_capacity(report: ReportLike) -> bool:
    """Whether any run of the report has capacity figures (the capacity model was on)."""
    return any(run.get("capacity") for run in as_data(report)["runs"])


def _per_second(series: list[list[float]], seconds: float) -> tuple[list[float], list[float]]:
    """A run's (second, WRU) points with the seconds that saw no write filled in as 0, up to the phase's end."""
    xs: list[float] = []
    ys: list[float] = []
    for t, wru in series:
        while xs and t - xs[-1] > 1.5:  # a second with no write at all: the table took nothing
            xs.append(xs[-1] + 1.0)
            ys.append(0.0)
        xs.append(t)
        ys.append(wru)
    if xs and seconds - xs[-1] > 1.0:
        xs.append(xs[-1] + 1.0)
        ys.append(0.0)
    return xs, ys


def capacity_timeline(report: ReportLike, log: bool = False) -> go.Figure:
    """Consumed WRU per second over each approach's write phase (its first repeat with figures), with the table's
    capacity as a line: one line when every table had the same (provisioned), else one per approach, dashed in its
    colour (on-demand allowances grow with each table's own peak)."""
    data = as_data(report)
    uses = _capacity_runs(data)
    fig = go.Figure()
    lines = {_line_key(use) for use in uses.values()}
    shared = len(lines) == 1
    end = max((use["seconds"] for use in uses.values()), default=1.0)
    for index, (name, use) in enumerate(uses.items()):
        color = PALETTE[index % len(PALETTE)]
        xs, ys = _per_second(use["series"], use["seconds"])
        fig.add_trace(go.Scatter(name=name, x=xs, y=ys, mode="lines+markers", line={"color": color, "width": 2,
                                                                                     "shape": "hv"},
                                 marker={"size": 5}, legendgroup=name,
                                 hovertemplate="%{x:.0f} s: %{y:,.0f} WRU<extra>" + name + "</extra>"))
        if not shared:
            fig.add_trace(_line_trace(use, end, f"{name}: capacity", {"color": color, "dash": "dash", "width": 2},
                                      name))
    if shared and uses:
        first = next(iter(uses.values()))
        fig.add_trace(_line_trace(first, end, f"table capacity ({first['setting']})",
                                  {"color": CAPACITY_LINE, "dash": "dot", "width": 3}, None))
    fig.update_xaxes(title="seconds since the writes started")
    return _layout(fig, "Consumed write capacity over time",
                   "WRU the table took each second against its capacity line; above the line: burst",
                   "WRU per second", log)


def _line_key(use: Mapping[str, Any]) -> str:
    return repr([tuple(point) for point in use["capacity_line"]])


def _line_trace(use: Mapping[str, Any], end: float, name: str, line: dict[str, Any], group: str | None) -> go.Scatter:
    points = [list(point) for point in use["capacity_line"]] or [[0.0, use["capacity"]]]
    xs = [point[0] for point in points] + [max(end, points[-1][0])]
    ys = [point[1] for point in points] + [points[-1][1]]
    return go.Scatter(name=name, x=xs, y=ys, mode="lines", line={**line, "shape": "hv"}, legendgroup=group,
                      hovertemplate="%{y:,.0f} WRU/s<extra>" + name + "</extra>")


def waste_bar(report: ReportLike) -> go.Figure:
    """Per approach (its first repeat with figures): wasted requests (refused whole) as a share of all its write
    requests, and the writes throttled by ThrottlingReason, stacked; a run that was never throttled says so in
    words rather than drawing empty panels."""
    uses = _capacity_runs(as_data(report))
    names = list(uses)
    reasons = sorted({reason for use in uses.values() for reason in use["throttles"]})
    title = "Throttling and waste per approach"
    if not reasons and not any(use["waste"] for use in uses.values()):
        fig = go.Figure()
        fig.add_annotation(text="No write was throttled and no request wasted:<br>the table had room for every "
                                "approach.", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                           font={"size": 16})
        fig.update_layout(title={"text": title}, template="plotly_white", height=440, font=FONT,
                          xaxis={"visible": False}, yaxis={"visible": False})
        return fig
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.22, subplot_titles=(
        "Wasted requests (%)", "Throttled writes, by reason"))
    fig.add_trace(go.Bar(name="wasted requests", x=names, y=[100 * uses[n]["waste"] for n in names],
                         marker_color=CAPACITY_LINE, showlegend=False,
                         text=[f"{100 * uses[n]['waste']:.1f}% of {uses[n]['requests']:,}" for n in names],
                         textposition="outside",
                         hovertemplate="%{x}: %{y:.1f}% of its requests refused whole<extra></extra>"), row=1, col=1)
    for index, reason in enumerate(reasons):
        fig.add_trace(go.Bar(name=reason, x=names, y=[uses[n]["throttles"].get(reason, 0) for n in names],
                             marker_color=PALETTE[(index + 2) % len(PALETTE)],
                             hovertemplate="%{x}: %{y:,} writes<extra>" + reason + "</extra>"), row=1, col=2)
    fig.update_layout(title={"text": title,
                             "subtitle": {"text": "a request refused whole wrote nothing; a batch partly refused "
                                                  "returned the rest as UnprocessedItems"}},
                      barmode="stack", template="plotly_white", height=440, font=FONT,
                      legend={"orientation": "h", "y": -0.18}, margin={"t": 120, "b": 40, "l": 70, "r": 40})
    fig.update_yaxes(title="% of requests", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title="writes", rangemode="tozero", row=1, col=2)
    fig.update_traces(cliponaxis=False, selector={"type": "bar"})
    return fig
