"""The numbers a user types, in one table: each input's range, default, unit and help, read by ``Plan`` and
``Conditions``, the writers' options, the planner's ``LoadSpec``, the CLI's options and the page's fields.

A consumer never writes a bound or a default of its own: it reads the row (``LIMITS["threads"]``) and checks with
``Limit.check``, which raises ``ConfigError`` with one line naming the input, its range and the value given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def default_threads() -> int:
    """ThreadPoolExecutor's default worker count, which the study ran with."""
    return min(32, (os.cpu_count() or 1) + 4)


def _number(value: float) -> str:
    """10,000,000 or 0.1: grouped, never in e-notation."""
    return f"{int(value):,}" if value == int(value) else f"{value:,}"


@dataclass(frozen=True)
class Limit:
    """One input: ``name`` (the field, as the messages say it), ``label`` (the page's), ``low``..``high`` inclusive,
    ``default`` (None: no default, the input is optional or required), ``unit``, a short ``help`` and whether the
    value is ``whole``."""

    name: str
    label: str
    low: float
    high: float
    default: float | None
    unit: str = ""
    help: str = ""
    whole: bool = True
    default_note: str = ""  # how the default is said when it depends on the machine: 'min(32, cpu+4)'

    @property
    def range_text(self) -> str:
        """'1 to 4,096' or '0 to 60,000 ms'."""
        high = "2**63-1" if self.high == MAX_SEED else _number(self.high)
        return f"{_number(self.low)} to {high}" + (f" {self.unit}" if self.unit else "")

    @property
    def default_text(self) -> str:
        """The default as a field shows it: '100', '10', '0.5' (empty without one)."""
        return "" if self.default is None else _number(self.default)

    def contains(self, value: float) -> bool:
        return not isinstance(value, bool) and self.low <= value <= self.high

    def check(self, value: float, name: str | None = None) -> None:
        """``ConfigError`` unless ``low <= value <= high``: '{name} must be between 1 and 512, got 0'; ``name``: how
        the caller's user typed it (the CLI's flag, the page's label), else the field's name."""
        from core.domain.errors import ConfigError

        if not self.contains(value):
            given = _number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
            raise ConfigError(f"{name or self.name} must be between {self.range_text.replace(' to ', ' and ', 1)}, "
                              f"got {given}")


MAX_ITEMS = 10_000_000
MAX_THREADS = 512
MAX_CONCURRENCY = 4096
MAX_WORKERS = 256
MAX_LATENCY_MS = 60_000  # also server.js's bound (the proxy checks what it is sent)
MAX_PLAN_ITEMS = 10**12
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
MAX_SEED = 2**63 - 1  # any seed works; this one fits a signed 64-bit integer (SQLite's, the history's)

_ROWS = (
    Limit("items", "Books", 1, MAX_ITEMS, 1_000, "", "seeded fake books per approach and repeat, under 1 KB each"),
    Limit("repeats", "Repeats", 1, 50, 1, "", "runs per approach (the chart and the verdict take the median)"),
    Limit("warm-up", "Warm-up", 0, 100_000, 0, "items", "items written (and discarded) before measuring"),
    Limit("seed", "Seed", 0, MAX_SEED, 0, "", "seed of the fake books: the same seed, the same books"),
    Limit("threads", "Threads", 1, MAX_THREADS, default_threads(), "", "threads of the threaded approaches",
          default_note="min(32, cpu+4)"),
    Limit("concurrency", "Async concurrency", 1, MAX_CONCURRENCY, 100, "",
          "requests in flight at once for the async approaches"),
    Limit("max attempts", "Max attempts", 1, 100, 10, "", "attempt budget per request, every approach"),
    Limit("request timeout", "Request timeout", 0.1, 300, 10.0, "s", "seconds per request", whole=False),
    Limit("latency_ms", "Latency (ms)", 0, MAX_LATENCY_MS, 0, "ms",
          "mean latency the lab's server adds to every request", whole=False),
    Limit("jitter_ms", "Jitter (ms)", 0, MAX_LATENCY_MS, 0, "ms", "extra uniform random latency per request",
          whole=False),
    Limit("workers", "Workers", 1, MAX_WORKERS, 1, "", "shards written by this many Dask worker processes"),
    Limit("plan items", "Items", 1, MAX_PLAN_ITEMS, None, "", "items to load"),
    Limit("item bytes", "Item size (bytes)", 1, MAX_ITEM_BYTES, None, "", "DynamoDB size of one item"),
)

LIMITS: dict[str, Limit] = {row.name: row for row in _ROWS}
