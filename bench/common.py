"""Shared pieces of the benchmarks: one emulator, fresh tables, a measured write with the server's CPU beside it.

Every figure a benchmark prints is a ratio of runs measured side by side in one process, one after another, on
the same machine: absolute times from different runs are never compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from core.domain.books import Book
from core.domain.plan import Conditions
from core.domain.results import SERVER_BOUND_CPU, RunReport, bounds
from core.servers.emulator import Emulator
from core.targets.monitor import cpu_sampler
from core.targets.tables import reset_table
from core.targets.target import Target, make_target
from core.writers import APPROACHES, WriterOptions, write


@dataclass(frozen=True)
class Measured:
    report: RunReport
    server_cpu: float  # mean % of one core during the run

    @property
    def server_bound(self) -> bool:
        return self.server_cpu >= SERVER_BOUND_CPU

    @property
    def cpu_us_per_item(self) -> float:
        return self.report.client_cpu_seconds / max(self.report.items, 1) * 1e6

    @property
    def items_per_second(self) -> float:
        return self.report.items_per_second

    def flag(self) -> str:
        """A figure's warning when the server, not the client, was the limit (``core.domain.results.bounds``, the lab's
        one rule, on the server's CPU: a client figure is what these benchmarks measure)."""
        reasons = bounds(server_cpu=self.server_cpu, host_cpu=None, client_busy=None, p50_ms=None, injected_ms=0.0)
        return "".join(f"  [{reason}; a client figure would be the server's]" for reason in reasons)


def best_of(runs: Sequence[Measured]) -> Measured:
    """The fastest of repeated runs (the least disturbed by the rest of a noisy machine)."""
    return max(runs, key=lambda run: run.items_per_second)


@contextmanager
def lab(conditions: Conditions | None = None) -> Iterator[tuple[Emulator, Target]]:
    with Emulator(conditions=conditions) as emulator:
        yield emulator, make_target("embedded", server_url=emulator.endpoint_url)


def measure(emulator: Emulator, target: Target, approach: str, books: Sequence[Book],
            options: WriterOptions | None = None) -> Measured:
    reset_table(target.client(), APPROACHES[approach].table)
    with cpu_sampler(emulator.pid, interval=0.1) as samples:
        report = write(approach, books, target, options)
    if not report.complete:
        raise SystemExit(f"{approach}: {report.items_failed} failed, {report.items_unknown} unknown: {report.failures}")
    return Measured(report, statistics.mean(samples) if samples else 0.0)


def side_by_side(first: tuple[Emulator, Target], second: tuple[Emulator, Target], approach: str,
                 books: Sequence[Book], repeat: int) -> tuple[Measured, Measured]:
    """``approach`` measured ``repeat`` times through each (server, target) pair, alternating, best of each."""
    runs: tuple[list[Measured], list[Measured]] = ([], [])
    for _ in range(repeat):
        for side, (server, target) in zip(runs, (first, second), strict=True):
            side.append(measure(server, target, approach, books))
    return best_of(runs[0]), best_of(runs[1])
