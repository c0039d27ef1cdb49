"""Adaptive client-side rate control: slow down when the table throttles, probe back up when it stops.

Contract: ``AdaptiveRate`` is a small pure object (the clock is injected; it never sleeps). The retry loop asks
``reserve()`` before every send and waits the seconds it returns; every HTTP answer is fed back through
``record(throttled)``. Thread-safe: one object is shared by every worker of a run.

It is botocore's ``adaptive`` retry mode (``botocore/retries/adaptive.py``, ``throttling.py``, ``bucket.py``),
written as a scheduler instead of a blocking token bucket so that the sync, threaded and async drivers all use it:

- Off until the first throttle: an unthrottled run pays nothing.
- The send rate is measured over 0.5 s buckets with exponential smoothing (0.8), as botocore's ``RateClocker``;
  unlike botocore, a throttle before the first bucket closes uses the rate measured so far (botocore uses 0 and
  drops to its floor of 0.5 requests/s, from which the cubic curve takes minutes to climb back).
- On a throttle, the allowed rate becomes ``beta`` (0.7) x the current one (the measured rate, or the allowed one
  when lower), and that rate is remembered as ``w_max``, the CUBIC window's last maximum.
- On a success, the allowed rate follows the CUBIC curve ``scale x (t - K)^3 + w_max`` with ``scale`` 0.4 and
  ``K = cbrt(w_max x (1 - beta) / scale)``: back to ``w_max`` after ``K`` seconds, then beyond, but never above
  twice the measured rate.
- Sends are spaced ``1 / rate`` apart (a virtual clock, like a token bucket refilled at ``rate``), with a burst of up
  to one second's worth (at least one request), and a floor of 0.5 requests per second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MIN_RATE = 0.5


class AdaptiveRate:
    def __init__(self, clock: Callable[[], float] = time.monotonic, beta: float = 0.7, scale: float = 0.4,
                 smoothing: float = 0.8, bucket_seconds: float = 0.5) -> None:
        self.clock, self.beta, self.scale = clock, beta, scale
        self.smoothing, self.bucket_seconds = smoothing, bucket_seconds
        self.enabled = False
        self.rate = 0.0  # allowed sends per second, once enabled
        self.measured = 0.0  # smoothed sends per second
        self.w_max = 0.0
        self.last_throttle = clock()
        self._bucket = self._bucket_of(clock())
        self._count = self._seen = 0
        self._first = clock()
        self._next = clock()  # the earliest time the next send may go
        self._lock = threading.Lock()

    def _bucket_of(self, now: float) -> float:
        return (now // self.bucket_seconds) * self.bucket_seconds

    def _measure(self, now: float) -> None:
        bucket = self._bucket_of(now)
        self._count += 1
        self._seen += 1
        if bucket > self._bucket:
            current = self._count / (bucket - self._bucket)
            self.measured = current * (1 - self.smoothing) + self.measured * self.smoothing
            self._count, self._bucket = 0, bucket
        elif not self.measured and now > self._first:  # before the first bucket closes: the rate so far
            self.measured = self._seen / max(now - self._first, self.bucket_seconds / 10)

    @property
    def _k(self) -> float:
        return float((self.w_max * (1 - self.beta) / self.scale) ** (1 / 3))

    def reserve(self) -> float:
        """Seconds to wait before the next send (0 when rate control is off or a token is there); reserves it."""
        with self._lock:
            if not self.enabled:
                return 0.0
            now = self.clock()
            rate = max(self.rate, MIN_RATE)
            burst = max(1.0, rate) / rate  # one second's worth of sends, at least one send
            start = max(self._next, now - burst + 1 / rate)
            self._next = start + 1 / rate
            return max(0.0, start - now)

    def record(self, throttled: bool) -> None:
        """Feed one answer back: a throttle lowers the allowed rate, a success lets it grow along the curve."""
        with self._lock:
            now = self.clock()
            self._measure(now)
            if throttled:
                current = self.measured if not self.enabled else min(self.measured, self.rate)
                self.enabled = True
                self.w_max, self.last_throttle = current, now
                self.rate = max(current * self.beta, MIN_RATE)
            elif self.enabled:
                grown = self.scale * (now - self.last_throttle - self._k) ** 3 + self.w_max
                self.rate = max(min(grown, 2 * self.measured), MIN_RATE)
