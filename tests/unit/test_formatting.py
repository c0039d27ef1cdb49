"""Every formatter of ``core.app.formatting``, table-driven: the texts the CLI, the page and the docs show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.app import formatting as fmt
from core.forecast.estimate import Estimate
from core.forecast.planner import LoadRow


def row(seconds: float = 12.2, low: float = 8.0, high: float = 20.0, cost: float = 0.221, cost_low: float = 0.2205,
        cost_high: float = 0.2214) -> LoadRow:
    return LoadRow("async", 1, seconds, low, high, cost, cost_low, cost_high, "client", "basis")


CASES: list[tuple[Callable[..., str], tuple[Any, ...], str]] = [
    # short: a duration in a few characters
    (fmt.short, (0.4,), "0.4 s"),
    (fmt.short, (12.2,), "12 s"),
    (fmt.short, (119,), "119 s"),
    (fmt.short, (7200,), "120 min"),
    (fmt.short, (4 * 3600,), "4.0 h"),
    (fmt.short, (3 * 86_400,), "3.0 days"),
    (fmt.short, (6945.8 * 3600,), "289 days"),
    # duration: in words
    (fmt.duration, (0.4,), "under a second"),
    (fmt.duration, (12.2,), "about 12 s"),
    (fmt.duration, (600,), "about 10 min"),
    (fmt.duration, (4 * 3600,), "about 4.0 h"),
    # clock: elapsed, as a clock shows it
    (fmt.clock, (-0.1,), "0.0 s"),
    (fmt.clock, (4.24,), "4.2 s"),
    (fmt.clock, (187,), "3:07"),
    (fmt.clock, (3729,), "1:02:09"),
    # exact_duration: whole hours, minutes and seconds (the clock-skew line)
    (fmt.exact_duration, (0,), "0 s"),
    (fmt.exact_duration, (-330,), "5 min 30 s"),
    (fmt.exact_duration, (3725,), "1 h 2 min 5 s"),
    (fmt.exact_duration, (7200,), "2 h"),
    # span and approx_span: a time with its range
    (fmt.span, (Estimate(12.2, 8.0, 20.0, {}, "", 0),), "about 12 s (8 s–20 s)"),
    (fmt.span, (Estimate(0.3, 0.2, 0.5, {}, "", 0),), "under a second (0.2 s–0.5 s)"),
    (fmt.approx_span, (row(),), "~12 s (8 s–20 s)"),
    (fmt.approx_span, (row(7200, 3600, 3 * 86_400),), "~120 min (60 min–3.0 days)"),
    # counts
    (fmt.count_words, (10_000,), "10 thousand"),
    (fmt.count_words, (10_000_000,), "10 million"),
    (fmt.count_words, (1_000_000_000,), "1 billion"),
    (fmt.count_words, (1_500_000,), "1.5 million"),
    (fmt.count_words, (1_234,), "1,234"),
    (fmt.count_words, (999,), "999"),
    (fmt.plural, (1, "book"), "1 book"),
    (fmt.plural, (0, "book"), "0 books"),
    (fmt.plural, (1_000, "book"), "1,000 books"),
    (fmt.plural, (1, "approach", "approaches"), "1 approach"),
    (fmt.plural, (2, "approach", "approaches"), "2 approaches"),
    (fmt.plural, (1, "gzipped part"), "1 gzipped part"),
    (fmt.plural, (3, "S3 PUT"), "3 S3 PUTs"),
    # rates
    (fmt.item_rate, (12_345.6,), "12,346 items/s"),
    (fmt.item_rate, (0.4,), "0 items/s"),
    # bytes
    (fmt.gigabytes, (12.5,), "12.50 GB"),
    (fmt.gigabytes, (0.004,), "4.10 MB"),
    (fmt.gigabytes, (0.0001,), "0.10 MB"),
    (fmt.gigabytes, (5e-6,), "5 KB"),
    (fmt.gigabytes, (1e-9,), "1 bytes"),
    # money
    (fmt.money, (1234.5,), "$1,234.50"),
    (fmt.money, (0.221,), "$0.22"),
    (fmt.money, (0.0046,), "$0.0046"),
    (fmt.cost_span, (row(),), "$0.22"),  # the range does not show at the cent
    (fmt.cost_span, (row(cost=0.22, cost_low=0.15, cost_high=0.31),), "$0.22 ($0.15–$0.31)"),
]


@pytest.mark.parametrize(("formatter", "args", "text"), CASES,
                         ids=[f"{f.__name__}{args}" for f, args, _ in CASES])
def test_formatter(formatter: Callable[..., str], args: tuple[Any, ...], text: str) -> None:
    assert formatter(*args) == text


def test_no_gigabyte_figure_rounds_to_zero() -> None:
    assert all("0.00" not in fmt.gigabytes(gib) for gib in (1e-6, 1e-5, 0.001, 0.0099))


def test_every_formatter_has_a_case() -> None:
    assert {f.__name__ for f, _, _ in CASES} == set(fmt.__all__)
