"""Adaptive client-side rate control: hold the writes just under what the table takes, probe up when it stops refusing.

``AdaptiveRate`` is shared by every worker of a run and thread-safe; its clock is injected and it never sleeps. It
counts units (items written), not requests. Before each send call ``acquire(units)``: wait the ``Grant``'s ``wait``,
then send if ``granted``, else ask again. Feed every answer back with ``record(grant, accepted, refused)``: units
written and units refused for capacity (a 5xx or timeout is 0 and 0).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MIN_RATE = 1.0  # units per second: the floor of a table that refuses everything


@dataclass(frozen=True)
class Grant:
    """The answer to ``acquire``: wait ``wait`` seconds, then send (``granted``) or ask again; the grant's epoch."""

    wait: float
    epoch: int
    granted: bool = True
    units: int = 0  # slow start: units in flight under this grant until its answer is recorded


class AdaptiveRate:
    """botocore's ``adaptive`` mode measured in units: slow start until the first refusal, then a cut to ``beta`` x the
    goodput, regrowth along a CUBIC curve relative to ``w_max``, and grants queued at most ``horizon`` seconds ahead.

    Raises ``ValueError`` for a parameter out of range. Sends are spaced at the allowed rate, ``burst`` seconds' worth
    at once; ``MIN_RATE`` is the floor.
    """

    # Defaults chosen with tests/unit/test_ratecontrol.py's simulated table, then ``python -m bench.capacity``.
    def __init__(self, clock: Callable[[], float] = time.monotonic, beta: float = 0.8, scale: float = 0.1,
                 window: float = 1.0, horizon: float = 0.02, burst: float = 0.1, start: int = 100,
                 growth: float = 0.25, poll: float = 0.005, cooldown: float = 0.2, ramp: float = 1.5) -> None:
        if not (0 < beta < 1 and min(scale, window, horizon, burst, start, growth, poll) > 0):
            raise ValueError("AdaptiveRate needs 0 < beta < 1 and positive scale, window, horizon, burst, start, "
                             "growth and poll")
        self.clock, self.beta, self.scale = clock, beta, scale
        self.window, self.horizon, self.burst = window, horizon, burst
        self.growth, self.poll, self.cooldown, self.ramp = growth, poll, cooldown, ramp
        self.in_flight_limit = float(start)  # slow start: units allowed in flight before the first refusal
        self.in_flight = 0
        self.enabled = False
        self.rate = 0.0  # allowed units per second, once enabled
        self.w_max = 0.0
        self.epoch = 0  # counts the cuts
        self.last_cut = clock()
        self.tokens = 0.0  # units that may go now; negative: the debt of grants already given
        self._refilled = clock()
        self._answers: deque[tuple[float, int, int]] = deque()  # (time, units accepted, units sent) in the window
        self._accepted = self._sent = 0
        self._first = clock()
        self._lock = threading.Lock()

    @property
    def k(self) -> float:
        """Seconds after a cut at which the curve is back at ``w_max``."""
        return float(((1 - self.beta) / self.scale) ** (1 / 3))

    def _span(self, now: float) -> float:
        return min(self.window, max(now - self._first, self.window / 10))

    def goodput(self, now: float | None = None) -> float:
        """Units accepted per second over the last window."""
        with self._lock:
            return self._accepted / self._span(self.clock() if now is None else now)

    def _refill(self, now: float) -> None:
        if now > self._refilled:
            self.tokens = min(self.tokens + (now - self._refilled) * self.rate, max(self.rate * self.burst, 1.0))
        self._refilled = max(self._refilled, now)

    def acquire(self, units: int = 1) -> Grant:
        """A grant to send ``units`` now (``wait`` 0) or after ``wait`` seconds (reserved), or none yet (``granted``
        False: the debt is beyond ``horizon``; come back in ``wait`` seconds). Rate control off: always now."""
        with self._lock:
            if not self.enabled:  # slow start: bound the units in flight, not the rate
                if self.in_flight and self.in_flight + units > self.in_flight_limit:
                    return Grant(self.poll, self.epoch, granted=False)
                self.in_flight += units
                return Grant(0.0, self.epoch, units=units)
            now = self.clock()
            self._refill(now)
            rate = max(self.rate, MIN_RATE)
            debt = units - self.tokens  # what is owed once these units are granted
            if debt <= 0:
                self.tokens -= units
                return Grant(0.0, self.epoch)
            # a plain token bucket would hand every waiter a slot at the old rate: a cut acts within ``horizon``
            if self.tokens >= 0 or debt <= rate * self.horizon:  # a grant with a reserved slot
                self.tokens -= units
                return Grant(debt / rate, self.epoch)
            return Grant(max(-self.tokens / rate, 1 / rate), self.epoch, granted=False)  # come back once it is paid

    def record(self, grant: Grant, accepted: int, refused: int) -> None:
        """Feed one answer back: ``refused`` > 0 (a throttle, or a batch's held-back items) may cut the allowed rate,
        anything else lets it grow along the curve."""
        with self._lock:
            now = self.clock()
            self.in_flight = max(0, self.in_flight - grant.units)
            if not self.enabled and not refused:
                self.in_flight_limit += self.growth * accepted
            self._answers.append((now, accepted, accepted + refused))
            self._accepted += accepted
            self._sent += accepted + refused
            while self._answers and self._answers[0][0] <= now - self.window:
                _, old_accepted, old_sent = self._answers.popleft()
                self._accepted -= old_accepted
                self._sent -= old_sent
            span = self._span(now)
            goodput, sent = self._accepted / span, self._sent / span
            if refused > 0:
                if self.enabled and (grant.epoch < self.epoch or now - self.last_cut < self.cooldown):
                    return  # granted before the last cut (its refusal is the old rate's), or the table still refills
                self._refill(now)
                if not self.enabled:  # the first refusal: a young run's burst is not its capacity
                    goodput = self._accepted / self.window
                # while a table refuses, what it accepts is its capacity, whatever was sent (botocore: the send rate)
                current = self.rate if self.enabled else sent
                self.w_max = min(goodput, current) if goodput > 0 else current
                self.rate = max(self.beta * self.w_max, MIN_RATE)
                if not self.enabled:
                    self.enabled, self.tokens, self._refilled = True, 0.0, now
                self.epoch += 1
                self.last_cut = now
            elif self.enabled:
                grown = self.w_max * (1 + self.scale * (now - self.last_cut - self.k) ** 3)
                # an on-demand table takes up to double its peak: probing by ``ramp`` (< 2) is never refused for growing
                ceiling = min(2 * sent, max(self.w_max, self.ramp * goodput))
                self.rate = max(min(grown, ceiling), MIN_RATE)
