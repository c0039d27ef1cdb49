"""Frozen results: what one writer run did (``RunReport``) and what verification found (``Verification``).

Contract: plain immutable values, no I/O; safe to export (they never hold credentials).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> LatencySummary:
        values = sorted(samples_ms)
        return cls(len(values), percentile(values, 50), percentile(values, 95), percentile(values, 99),
                   values[-1] if values else 0.0)


@dataclass(frozen=True)
class RunReport:
    """One writer run. Items end in exactly one of: ok (acknowledged), failed (refused for good) or unknown
    (no answer after the last attempt: may or may not be written)."""

    approach: str
    table: str
    items: int
    seconds: float
    requests: int
    retries: int
    throttled: int
    errors: Mapping[str, int]
    items_ok: int
    items_failed: int
    items_unknown: int
    latencies_ms: tuple[float, ...] = field(repr=False)  # per request; a uniform sample when there are many
    client_cpu_seconds: float
    timeline: tuple[tuple[float, int], ...] = field(repr=False)  # (seconds since start, items done)
    failures: tuple[str, ...] = ()  # the first few distinct reasons, one line each
    failed_isbns: tuple[str, ...] = field(default=(), repr=False)  # at most a bounded number
    unknown_isbns: tuple[str, ...] = field(default=(), repr=False)
    halted: str | None = None  # why the circuit breaker gave up on the target, one line
    notes: tuple[str, ...] = ()  # facts about the run to show beside it (e.g. s3-import ran on moto), one line each

    @property
    def items_per_second(self) -> float:
        return self.items_ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def latency(self) -> LatencySummary:
        return LatencySummary.of(self.latencies_ms)

    @property
    def complete(self) -> bool:
        return self.items_ok == self.items and not self.items_failed and not self.items_unknown


@dataclass(frozen=True)
class Verification:
    """A table read back and compared with the regenerated books.

    expected: books the run was given; found: of those, present with exactly the attributes written;
    mismatched: present with other attributes; lost: acknowledged but absent; missing: absent and reported failed or
    unknown (not lost, but not written); unexpected: present but never given; recovered: reported failed or unknown,
    yet present. ``checked`` False: the table could not be read back (the reason is the report's error), so
    nothing above was counted.
    """

    expected: int
    found: int
    lost: int
    unexpected: int
    mismatched: int
    recovered: int
    missing: int = 0
    checked: bool = True

    @classmethod
    def not_checked(cls, expected: int) -> Verification:
        return cls(expected, 0, 0, 0, 0, 0, 0, checked=False)

    @property
    def ok(self) -> bool:
        return self.checked and self.found == self.expected and not (self.lost or self.unexpected or self.mismatched)
