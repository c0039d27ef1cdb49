"""Numbers as text, one way each: durations, counts, rates, bytes, money, plurals; for the page, the CLI and bench.

The few a lower layer needs for its own one-line messages live there (``core.forecast.words``: the planner's notes;
``core.wire.retry.exact_duration``: the clock-skew line) and are re-exported here, so every caller imports from
this module alone.
"""

from __future__ import annotations

from typing import Protocol

from core.forecast.words import count_words, gigabytes, money, plural, short
from core.wire.retry import exact_duration

__all__ = [
    "approx_span",
    "clock",
    "cost_span",
    "count_words",
    "duration",
    "exact_duration",
    "gigabytes",
    "item_rate",
    "money",
    "plural",
    "short",
    "span",
]


class Ranged(Protocol):
    """A time with its range (an ``Estimate``, a planner's ``LoadRow``), seconds."""

    @property
    def seconds(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...


class Priced(Protocol):
    """A cost with its range (a planner's ``LoadRow``), US dollars."""

    @property
    def cost_usd(self) -> float: ...
    @property
    def cost_low(self) -> float: ...
    @property
    def cost_high(self) -> float: ...


def duration(seconds: float) -> str:
    """A duration in words: 'under a second', 'about 12 s', 'about 4 min', 'about 3.5 h'."""
    if seconds < 1:
        return "under a second"
    if seconds < 120:
        return f"about {seconds:,.0f} s"
    if seconds < 3 * 3600:
        return f"about {seconds / 60:,.0f} min"
    return f"about {short(seconds)}"


def span(guess: Ranged) -> str:
    """'about 12 s (8 s-20 s)', with an en dash: an estimate in words with its range."""
    return f"{duration(guess.seconds)} ({short(guess.low)}–{short(guess.high)})"


def approx_span(guess: Ranged) -> str:
    """'~12 s (8 s-20 s)', with an en dash: the same, compact (a table cell)."""
    return f"~{short(guess.seconds)} ({short(guess.low)}–{short(guess.high)})"


def cost_span(cost: Priced) -> str:
    """'$0.22', or '$0.22 ($0.15-$0.31)' (an en dash) when the range shows at the cent."""
    if money(cost.cost_low) == money(cost.cost_high):
        return money(cost.cost_usd)
    return f"{money(cost.cost_usd)} ({money(cost.cost_low)}–{money(cost.cost_high)})"


def clock(seconds: float) -> str:
    """Elapsed time as a clock shows it: '4.2 s', '3:07', '1:02:09'."""
    if seconds < 60:
        return f"{max(seconds, 0.0):.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02}:{rest % 60:02}" if hours else f"{rest // 60}:{rest % 60:02}"


def item_rate(items_per_second: float) -> str:
    """'12,345 items/s'."""
    return f"{items_per_second:,.0f} items/s"
