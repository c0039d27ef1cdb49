"""Adaptive client-side rate control: hold the writes just under what the table takes, probe up when it stops refusing.

Contract: ``AdaptiveRate`` is a small pure object (the clock is injected; it never sleeps) shared by every worker of a
run, thread-safe. It counts in units (items written: one write request unit each for the lab's books, which are
under 1 KB), not in requests, because a batch of 25 and the retry of its 3 held-back items cost the table very
differently. The retry loop asks ``acquire(units)`` before every send and gets a ``Grant``: when ``granted`` it waits
``wait`` seconds (often 0) and sends, otherwise it waits ``wait`` seconds and asks again. Every answer to a granted
send is fed back with ``record(grant, accepted, refused)``: the units the table wrote and the units it refused for
capacity (a throttled PutItem: 0 and 1; a BatchWriteItem with 3 of 25 items in ``UnprocessedItems``: 22 and 3, a
partial throttle); an answer that is neither (5xx, timeout) is recorded as 0 and 0.

It starts from botocore's ``adaptive`` retry mode (a token bucket whose rate follows a CUBIC curve after each
throttle), changed where that failed against the lab's capacity model with a 64-coroutine batch writer (botocore's
curve, fed one throttle per answer of 64 in flight, fell to its floor of 0.5 requests/s and crawled back):

- Slow start until the first refusal: no rate limit, but at most ``start`` units in flight, a limit that grows by
  ``growth`` x the units accepted (x1.25 per round trip by default), so the first overload of a table (which
  accepts one second of burst, then its capacity) is met by a few sends, not by all 64 at once. An unthrottled run
  pays a few round trips.
- A refusal sets ``w_max`` to the goodput (units the table accepted in the last ``window`` seconds, per second):
  while a table refuses, what it accepts is its capacity, whatever the client sent (botocore uses the send rate,
  retries included). The first refusal divides by the whole window, so a young run's burst is not taken for its
  capacity. The allowed rate becomes ``beta`` x ``w_max`` (``w_max`` never above the allowed rate;
  at least ``MIN_RATE``).
- One cut per round trip: each grant carries the epoch it was given in, and a cut starts a new epoch. A refusal of
  a send granted before the last cut says nothing about the new rate and is ignored (64 sends in flight would
  otherwise cut 64 times for one overload), and so is one within ``cooldown`` seconds of the cut: the table's
  emptied buckets still refuse the first sends at the new rate (cutting again there halved the rate of a fresh
  on-demand table for nothing).
- A bounded queue: a grant is given only when the debt it leaves is within ``horizon`` seconds at the current rate;
  the others are told to come back when the debt is paid, so a cut takes effect within ``horizon`` seconds however
  many workers wait (a plain token bucket hands every waiter a slot at the old rate: 1.6 s of sends for 64 batches
  of 25 at 1,000 units/s), and an overload costs the sends of one horizon and one round trip.
- After a cut the allowed rate follows ``w_max x (1 + scale x (t - K)^3)``, ``K = cbrt((1 - beta) / scale)``: the
  curve is relative to ``w_max``, so it is back at ``w_max`` after ``K`` seconds whatever the table's size, stays
  near it, then probes beyond (a table that grows, as on-demand tables do, is followed); never above twice the units
  sent in the last window, and beyond ``w_max`` never above ``ramp`` (1.5) x the goodput: an on-demand table takes
  up to double its previous peak, so a probe that grows by less than that is not refused for growing.

Sends are spaced at the allowed rate with up to ``burst`` seconds' worth at once (at least one unit's worth).
Defaults (beta 0.8, scale 0.1, window 1 s, horizon 0.02 s, burst 0.1 s, start 100 units, growth 0.25, cooldown
0.2 s, ramp 1.5) were chosen with tests/unit/test_ratecontrol.py's simulation of the lab's writer against a token-bucket
table, then with ``python -m bench.capacity`` against the capacity model (figures in docs/conditions.md).
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
                current = self.rate if self.enabled else sent
                self.w_max = min(goodput, current) if goodput > 0 else current
                self.rate = max(self.beta * self.w_max, MIN_RATE)
                if not self.enabled:
                    self.enabled, self.tokens, self._refilled = True, 0.0, now
                self.epoch += 1
                self.last_cut = now
            elif self.enabled:
                grown = self.w_max * (1 + self.scale * (now - self.last_cut - self.k) ** 3)
                ceiling = min(2 * sent, max(self.w_max, self.ramp * goodput))
                self.rate = max(min(grown, ceiling), MIN_RATE)
