"""What the CLI draws (with ``rich``): the progress of a run, the items/s chart, the results table and the verdict.

``console(stream)`` is the one way to make a console: it honours ``COLUMNS``, ``NO_COLOR`` and ``TERM=dumb``, and
draws ASCII when the stream's encoding cannot draw the bars. ``RunProgress`` redraws lines on a terminal and prints
plain periodic lines elsewhere. Interrupted runs are marked in the table and left out of the chart and speed-ups;
finished runs that FAILED are charted, marked FAIL.
Renderers are pure; ``text`` renders one to a plain string.
"""

from __future__ import annotations

import io
import os
import statistics
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Column, Table
from rich.text import Text

from core.app.formatting import approx_span, clock, cost_span, count_words, item_rate, short
from core.app.verdict import BASELINE, Verdict, finished, interrupted, rates
from core.domain.approaches import STUDY_2022_ITEMS, STUDY_2022_SECONDS
from core.domain.approaches import label as approach_label
from core.domain.results import ProgressEvent, Report, RunResult
from core.forecast.planner import BULK, TEXT_WIDTH, TIE_WITHIN, LoadPlan, command_lines, next_step, ties

MAX_WIDTH = 100  # tables and charts fold to fit this many columns (or the terminal, when narrower)
PLAIN_EVERY = 5.0  # seconds between two plain progress lines of one write phase


def _columns() -> int | None:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        return None


def console(stream: TextIO, force_terminal: bool | None = None) -> Console:
    """A console on ``stream`` (see the module's contract)."""
    made = Console(file=stream, highlight=False, force_terminal=force_terminal, soft_wrap=False)
    if not made.is_terminal:
        made = Console(file=stream, highlight=False, width=_columns() or MAX_WIDTH, soft_wrap=False)
    return made


def width_of(out: Console) -> int:
    """The width a table or chart may take on ``out``: the console's, at most ``MAX_WIDTH``."""
    return min(out.width, MAX_WIDTH)


def text(renderable: RenderableType, width: int = MAX_WIDTH) -> str:
    """``renderable`` as plain text (no colour), ``width`` columns wide, without trailing spaces."""
    out = Console(file=io.StringIO(), width=width, color_system=None, highlight=False, soft_wrap=False)
    out.print(renderable)
    file = out.file
    assert isinstance(file, io.StringIO)
    return "\n".join(line.rstrip() for line in file.getvalue().splitlines())


# --- progress -------------------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """One approach's progress line: the run it shows and its write rate (frozen when the write ends)."""

    task: TaskID | None
    repeat: int = 0
    rate: float = 0.0
    settled: int = 0
    last_line: float = field(default=-1e9)


class RunProgress:
    """Progress of a plan (``runs`` runs of ``items`` books) from any thread: per approach and overall (see the
    module's contract). Use as a context manager; call it with each ``ProgressEvent``."""

    def __init__(self, out: Console, items: int, runs: int, clock: Callable[[], float] = time.monotonic,
                 every: float = PLAIN_EVERY) -> None:
        self.out, self.items, self.runs, self.clock, self.every = out, items, max(runs, 1), clock, every
        self.live = out.is_interactive
        self.lock = threading.Lock()
        self.started = clock()
        self.lines: dict[str, _Run] = {}
        self.finished_items = 0  # books settled by the runs that ended
        self.ended = 0
        self.begun: set[tuple[str, int]] = set()  # the runs past their table's reset: (approach, repeat)
        self._phases: set[tuple[str, int, str]] = set()
        self._dashboard: str | None = None
        self.bar = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=2)),
            BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=6)),
            TextColumn("{task.fields[count]}", table_column=Column(no_wrap=True, justify="right")),
            TextColumn("{task.fields[rate]}", table_column=Column(no_wrap=True, justify="right")),
            TextColumn("{task.fields[times]}", table_column=Column(no_wrap=True, justify="right")),
            console=out, expand=True, auto_refresh=self.live, transient=False)
        self.total_task = self.bar.add_task("overall", total=items * self.runs, count="", rate="", times="",
                                            visible=False) if self.live else None

    def __enter__(self) -> RunProgress:
        if self.live:
            self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.live:
            self.bar.stop()

    def __call__(self, event: ProgressEvent) -> None:
        with self.lock:
            if event.phase != "reset":  # a run starts with its warm-up or write; a reset writes nothing
                self.begun.add((event.approach, event.repeat))
            if event.dashboard and event.dashboard != self._dashboard:
                self._dashboard = event.dashboard
                self.out.print(f"Dask dashboard: {event.dashboard}")
            line = self.lines.get(event.approach)
            if line is None:
                line = _Run(self.bar.add_task("", total=max(event.total, 1), count="", rate="", times="")
                            if self.live else None, event.repeat)
                self.lines[event.approach] = line
            position = self._position()
            if line.repeat != event.repeat:
                line.repeat, line.rate, line.settled = event.repeat, 0.0, 0
            if event.phase == "write" or event.measured is not None:
                line.rate = event.items_per_second
            if event.phase in ("write", "verify", "done"):
                line.settled = event.done
            if event.phase == "done":
                self.ended += 1
                self.finished_items += event.done
                line.settled = 0
            if self.live:
                self._draw(event, line)
            else:
                self._plain(event, line, position)

    def _position(self) -> str:
        """'run 2 of 3' (the runs started so far, a reset not counted), or '3 runs done'."""
        if self.ended >= self.runs:
            return f"{self.runs} runs done"
        started = min(len(self.begun), self.runs)
        return f"run {started} of {self.runs}" if started else f"no run started yet, {self.runs} planned"

    def _overall(self) -> tuple[int, float, float, float | None]:
        done = self.finished_items + sum(line.settled for line in self.lines.values())
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.items * self.runs - done) / rate if rate > 0 else None
        return done, elapsed, rate, left

    def _draw(self, event: ProgressEvent, line: _Run) -> None:
        assert line.task is not None and self.total_task is not None
        stage = event.detail.split(":")[0] if event.detail else event.phase
        workers = f" ({len(event.per_worker)} workers)" if event.per_worker else ""
        left = (event.total - event.done) / line.rate if event.phase == "write" and line.rate > 0 else 0.0
        times = clock(event.elapsed) + (f", {clock(left)} left" if event.phase == "write" else "")
        self.bar.update(line.task, description=f"{approach_label(event.approach)} #{event.repeat + 1} {stage}"
                        f"{workers}", completed=event.done, total=max(event.total, 1),
                        count=f"{event.done:,}/{event.total:,}", rate=item_rate(line.rate), times=times)
        done, elapsed, rate, remaining = self._overall()
        self.bar.update(self.total_task, visible=True, description=f"overall, {self._position()}", completed=done,
                        count=f"{done:,}/{self.items * self.runs:,}", rate=item_rate(rate),
                        times=clock(elapsed)
                        + (f", {clock(remaining)} left" if remaining is not None and done and remaining > 0
                           else ""))

    def _plain(self, event: ProgressEvent, line: _Run, position: str) -> None:
        now = self.clock()
        name = f"{approach_label(event.approach)} #{event.repeat + 1}"
        if event.detail:  # s3-import: each stage once (uploading, then each import status)
            stage = (event.approach, event.repeat, "detail:" + event.detail.split(":")[0])
            if stage not in self._phases:
                self._phases.add(stage)
                self.out.print(f"{name}: {event.detail}")
        key = (event.approach, event.repeat, event.phase)
        first = key not in self._phases
        periodic = event.phase == "write" and now - line.last_line >= self.every
        if not (first or periodic) or event.phase == "reset":
            return
        self._phases.add(key)
        line.last_line = now
        if event.phase == "write" and first:
            self.out.print(f"{name} write ({position}): {event.total:,} items")
            return
        workers = (" (" + " ".join(f"{rate:,.0f}" for rate in event.worker_rates) + " items/s per worker)"
                   if event.per_worker else "")
        facts = f"{event.done:,}/{event.total:,} items, {clock(event.elapsed)}"
        if line.rate > 0:
            facts += f", {item_rate(line.rate)}"
        if event.phase == "write" and line.rate > 0 and event.done < event.total:
            facts += f", {clock((event.total - event.done) / line.rate)} left"
        if event.phase == "done":
            done, elapsed, _, _ = self._overall()
            facts += f"; overall {done:,}/{self.items * self.runs:,} items in {clock(elapsed)}"
        self.out.print(f"{name} {event.phase} ({position}): {facts}{workers}")


# --- results ---------------------------------------------------------------------------------------------------------


def chart(report: Report, width: int = MAX_WIDTH, ascii_only: bool = False) -> RenderableType:
    """Items/s per approach (median of its finished runs) as bars, the 2022 study's beside them for its book count
    (then ours count only the runs no bound flags, and the others are named below the bars); interrupted runs are
    left out (named below the bars); an approach with a finished run that FAILED (``RunResult.clean`` false: books
    failed, unknown, not sent or lost) is labelled FAIL, its bar red and drawn with another glyph."""
    study = report.plan.items == STUDY_2022_ITEMS
    counted = report.unflagged() if study else report
    by_rate = rates(counted)
    failed = {run.approach for run in finished(counted) if not run.clean}
    rows = [(approach_label(name) + (" FAIL" if name in failed else ""), rate) for name, rate in by_rate.items()]
    if study:
        rows += [(f"2022 study: {name}", STUDY_2022_ITEMS / seconds) for name, seconds in STUDY_2022_SECONDS.items()]
    if not rows:
        return Text("no finished run to chart")
    label = max(len(name) for name, _ in rows)
    figure = max(len(item_rate(rate)) for _, rate in rows)
    room = max(4, width - label - figure - 4)
    top = max(rate for _, rate in rows) or 1.0
    glyph, broken = ("#", "x") if ascii_only else ("▇", "▒")
    lines = Text("items/s (higher is faster; the median of each approach's finished runs)\n", style="bold")
    for name, rate in rows:
        fail = name.endswith(" FAIL")
        lines.append(f"{name:>{label}}: ")
        lines.append((broken if fail else glyph) * max(1, round(room * rate / top)),
                     style="red" if fail else "dim" if name.startswith("2022") else "cyan")
        lines.append(f" {item_rate(rate)}\n")
    if failed:
        lines.append("FAIL: a run with books failed, unknown, not sent or lost (see the check table)\n", style="red")
    left_out = report.flagged_text() if study else None
    if left_out:
        lines.append(f"{left_out}\n", style="yellow")
    lines.rstrip()
    return lines


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _check(result: RunResult, report: Report) -> Text:
    if interrupted(result, report.plan):
        return Text("INTERRUPTED", style="bold yellow")
    return Text("OK", style="bold green") if result.clean else Text("FAIL", style="bold red")


def _grid(*heads: str) -> Table:
    """A results table: the first column (the approach) folds, the figures never wrap."""
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    grid.add_column(heads[0], overflow="fold", min_width=12)
    for head in heads[1:]:
        grid.add_column(head, justify="left" if head == "check" else "right", no_wrap=True)
    return grid


def table(report: Report) -> RenderableType:
    """Speed (one row per run, and a median row per approach that ran more than once), then verification in its own
    columns (OK, FAIL or INTERRUPTED); footnotes below for what a row cannot hold (reasons, notes, counts)."""
    by_rate = rates(report)
    base = by_rate.get(BASELINE)
    speed = _grid("approach", "#", "seconds", "items/s", "speed-up", "p50\nms", "p95\nms", "p99\nms",
                  "retries", "throt-\ntled")
    check = _grid("approach", "#", "check", "found", "lost", "failed", "unknown", "not\nsent", "server\nCPU")
    notes = [Text(f"speed-up: items/s ÷ {BASELINE}'s median items/s")] if base and len(by_rate) > 1 else []

    def gain(rate: float) -> str:
        return f"{rate / base:,.1f}x" if base and len(by_rate) > 1 else "-"

    for name in dict.fromkeys(r.approach for r in report.runs):
        runs = [r for r in report.runs if r.approach == name]
        for result in runs:
            r, v, lat = result.report, result.verification, result.report.latency
            partial = interrupted(result, report.plan)
            who = (approach_label(name), str(result.repeat + 1))
            speed.add_row(*who, f"{r.seconds:,.2f}", f"{r.items_per_second:,.0f}",
                          "-" if partial else gain(r.items_per_second), _ms(lat.p50), _ms(lat.p95), _ms(lat.p99),
                          f"{r.retries:,}", f"{r.throttled:,}")
            cpu = "-" if result.server_cpu_percent is None else f"{result.server_cpu_percent:.0f}%" + (
                " bound" if result.server_bound else "")
            check.add_row(*who, _check(result, report), f"{v.found:,}/{v.expected:,}" if v.checked else
                          "not verified", f"{v.lost:,}", f"{r.items_failed:,}", f"{r.items_unknown:,}",
                          f"{r.items_not_sent:,}", cpu)
            named = " #".join(who)
            flags = result.bounds(report.plan)
            if flags:
                notes.append(Text(f"{named}: flagged: {'; '.join(flags)}", style="yellow"))
            if partial:
                notes.append(Text(f"{named}: INTERRUPTED after {r.taken:,} of {report.plan.items:,} books; left out "
                                  "of the chart and the speed-ups", style="yellow"))
            extra = [f"{issue.count:,} not checked, unknown (verification cut short)" if issue.kind == "unchecked"
                     else str(issue) for issue in result.issues()
                     if issue.kind in ("unexpected", "mismatched", "missing", "unchecked")]
            extra += [f"{v.recovered:,} recovered"] if v.recovered else []
            if extra:
                notes.append(Text(f"{named}: {', '.join(extra)}"))
            notes.extend(Text(f"{named}: ! {reason}", style="red") for reason in r.failures)
            notes.extend(Text(f"{named}: note: {note}") for note in r.notes)
        whole = [r for r in runs if not interrupted(r, report.plan)]
        if len(whole) > 1:
            rate = statistics.median(r.report.items_per_second for r in whole)
            speed.add_row(Text(f"{approach_label(name)}", style="bold"), "med",
                          f"{statistics.median(r.report.seconds for r in whole):,.2f}", f"{rate:,.0f}", gain(rate),
                          *[""] * 5, style="bold")
    if report.not_run():
        notes.append(Text(f"not run: {', '.join(report.not_run())}"))
    return Group(speed, *notes[:1], Text(""), check, *notes[1:])


def verdict_text(answer: Verdict) -> Text:
    """The verdict's sentence (``core.app.verdict``), the one the page and the exports carry."""
    return Text(answer.sentence, style="bold" if answer.approach else "bold yellow")


def results_table(report: Report, width: int = MAX_WIDTH) -> str:
    """The results table as plain text ``width`` columns wide (``table``)."""
    return text(table(report), width)


# --- the bulk-load plan (plan-load) -----------------------------------------------------------------------------

def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False, break_long_words=False) or [""]


def _table(header: list[str], body: list[list[str]], width: int, fixed: int = 3) -> list[str]:
    """A text table that fits ``width``: the columns after the first ``fixed`` fold (word-wrapped), the widest one
    narrowed first, none below its header's longest word."""
    rows = [header, *body]
    widths = [max(len(line[i]) for line in rows) for i in range(len(header))]
    least = [max(max(map(len, header[i].split())), min(10, max(len(word) for line in body
                                                                for word in line[i].split() or [""])))
             for i in range(len(header))]  # a header's words whole; a cell's up to 10 characters
    while sum(widths) + 2 * (len(widths) - 1) > width:
        foldable = [i for i in range(fixed, len(widths)) if widths[i] > least[i]]
        if not foldable:
            break
        widest = max(foldable, key=lambda i: (widths[i], i))
        widths[widest] -= 1
    lines = []
    for cells in [header, ["-" * w for w in widths], *body]:
        folded = [textwrap.wrap(cell, w, break_on_hyphens=False) or [""] for cell, w in zip(cells, widths, strict=True)]
        for k in range(max(len(f) for f in folded)):
            parts = [(f[k] if k < len(f) else "").ljust(w) for f, w in zip(folded, widths, strict=True)]
            lines.append("  ".join(parts).rstrip())
    return lines


def table_text(plan: LoadPlan, explain: bool = False, width: int = TEXT_WIDTH) -> str:
    """The plan as the CLI prints it, within ``width`` columns: the question, the recommendation, its ties and the
    command to run next, the ranked rows; with ``explain`` each row's basis, the notes and the sources."""
    spec = plan.spec
    deadline = f", deadline {short(spec.deadline_s)}" if spec.deadline_s is not None else ""
    head = (f"Load {count_words(spec.items)} items of {spec.item_bytes:,} bytes ({spec.wru_per_item} WRU each, "
            f"{spec.total_wru:,} WRU) into {'a new' if spec.table == 'new' else 'an existing'} table, capacity "
            f"{spec.capacity}, target {spec.target}{deadline}")
    lines = [*_wrap(head, width), "", *_wrap(f"Recommended: {plan.recommendation}", width)]
    tied = ties(plan)
    if tied:
        lines += _wrap(f"Tied with it (within {TIE_WITHIN:.0%} of its time and cost): "
                       f"{', '.join(row.approach for row in tied)}", width)
    doing, command = next_step(plan)
    lines += [*_wrap(f"Next: {doing}:", width), *command_lines(command, width), ""]
    columns = ["#", "approach", "workers", "time (range)", "cost USD (range)", "bound"]
    if spec.deadline_s is not None:
        columns.append("for the deadline")
    body = [[str(i), row.approach, str(row.workers), approx_span(row) if row.possible else "-", cost_span(row),
             row.bound] + ([row.deadline_note or ""] if spec.deadline_s is not None else [])
            for i, row in enumerate(plan.rows, 1)]
    lines += _table(columns, body, width)
    if not explain:
        bulk = "".join(f"; bulk-put's figures: {spec.bulk.source}" for row in plan.rows if row.approach == BULK)
        lines += ["", *_wrap(f"Writers' figures: {plan.history}{bulk}. Each row's basis, the notes and the sources: "
                             "add --explain", width)]
        return "\n".join(lines)
    lines += ["", "Based on:"]
    for row in plan.rows:
        lines += _wrap(f"{row.approach}: {row.basis}", width, "  ")
    lines += _wrap(f"writers' runs: {plan.history}", width, "  ")
    for note in plan.notes:
        lines += _wrap(f"note: {note}", width, "  ")
    lines += ["", "Sources:"]
    for source in plan.sources:
        lines += _wrap(f"- {source}", width, "  ")
    return "\n".join(lines)
