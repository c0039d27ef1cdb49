"""A table's write capacity as the conditions proxy models it: off, on-demand, or provisioned.

Pure. ``parse_capacity`` reads ``--capacity`` text (``off``, ``on-demand``, ``on-demand:warm=N,max=N``,
``provisioned=WCU``) and raises ``ConfigError`` showing those forms; ``str(capacity)`` gives the text back and
``Capacity.as_dict()`` is what the proxy receives. The rules themselves are applied by
``core/servers/emulator/capacity.js``: one WRU per started KB written, 1,000 WRU/s (and one second of burst) per
partition, on-demand allowance double the previous peak (from 4,000, capped by ``max`` and 40,000), provisioned a
token bucket holding 300 s of burst.

``capacity_use`` turns one table's figures from the proxy into a ``CapacityUse``. Its goodput ÷ capacity of 1.0 means
the writer took all the table could give over the phase, burst included: a fresh table's stored burst cannot make a
short run look like many times its capacity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.domain.errors import ConfigError
from core.domain.numbers import whole
from core.paths import CAPACITY_RULES

Mode = Literal["off", "on-demand", "provisioned"]
# DynamoDB's published numbers the proxy applies (core/servers/emulator/capacity.js) and the planner models, in one file
# both languages read:
_RULES: dict[str, int] = json.loads(CAPACITY_RULES.read_text())
MAX_UNITS = _RULES["max_units"]  # the default per-table write quota (WRU/s); the model's upper bound for every setting
NEW_ON_DEMAND_UNITS = _RULES["new_on_demand_units"]  # WRU/s a new on-demand table takes at once
PARTITION_UNITS = _RULES["partition_units"]  # WRU/s one partition serves
BURST_SECONDS = _RULES["burst_seconds"]  # unused provisioned capacity kept as burst


def partitions(units: float) -> int:
    """The partitions a table of ``units`` WRU/s has (provisioned WCU, or an on-demand allowance): ceil(units /
    1,000), at least one (core/servers/emulator/capacity.js ``resize`` applies the same rule)."""
    return max(1, math.ceil(units / PARTITION_UNITS))


FORMS = f"off, on-demand, on-demand:warm=N,max=N or provisioned=WCU (N and WCU from 1 to {MAX_UNITS})"


@dataclass(frozen=True)
class Capacity:
    """A table's capacity mode and its numbers (WCU for provisioned; warm and max WRU/s for on-demand)."""

    mode: Mode = "off"
    wcu: int | None = None
    warm: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("off", "on-demand", "provisioned"):
            raise ConfigError(f"unknown capacity mode {self.mode!r}: use {FORMS}")
        for name in ("wcu", "warm", "max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= MAX_UNITS):
                raise ConfigError(f"capacity {name} must be a whole number from 1 to {MAX_UNITS:,}, got {value!r}")
        if (self.mode == "provisioned") != (self.wcu is not None):
            raise ConfigError(f"provisioned capacity needs its WCU, and only it: use {FORMS}")
        if self.mode != "on-demand" and (self.warm is not None or self.max is not None):
            raise ConfigError(f"warm and max apply to on-demand capacity only: use {FORMS}")
        if self.warm is not None and self.max is not None and self.warm > self.max:
            raise ConfigError(f"on-demand warm throughput {self.warm} is above its maximum {self.max}")

    @property
    def on(self) -> bool:
        return self.mode != "off"

    def as_dict(self) -> dict[str, str | int]:
        """The JSON the proxy takes: the mode and the numbers that are set."""
        out: dict[str, str | int] = {"mode": self.mode}
        for name in ("wcu", "warm", "max"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def __str__(self) -> str:
        if self.mode == "provisioned":
            return f"provisioned={self.wcu}"
        options = ",".join(f"{name}={getattr(self, name)}" for name in ("warm", "max") if getattr(self, name))
        return f"{self.mode}:{options}" if options else self.mode


def parse_capacity(text: str) -> Capacity:
    """``off`` | ``on-demand`` | ``on-demand:warm=N,max=N`` | ``provisioned=WCU`` -> Capacity."""
    text = text.strip()
    if text == "off":
        return Capacity()
    if text == "on-demand":
        return Capacity(mode="on-demand")
    if text.startswith("provisioned="):
        return Capacity(mode="provisioned", wcu=_units("wcu", text.partition("=")[2]))
    if text.startswith("on-demand:"):
        numbers: dict[str, int] = {}
        for part in text.partition(":")[2].split(","):
            name, equals, value = part.strip().partition("=")
            if name not in ("warm", "max") or not equals:
                raise ConfigError(f"bad on-demand option {part.strip()!r}: use {FORMS}")
            if name in numbers:
                raise ConfigError(f"on-demand option {name} is given twice: give it once")
            numbers[name] = _units(name, value)
        return Capacity(mode="on-demand", warm=numbers.get("warm"), max=numbers.get("max"))
    raise ConfigError(f"bad capacity {text!r}: use {FORMS}")


def _units(name: str, value: str) -> int:
    try:
        number = whole(value)
    except ValueError:
        raise ConfigError(f"capacity {name} must be a whole number from 1 to {MAX_UNITS:,}, got {value!r}") from None
    if not 1 <= number <= MAX_UNITS:
        raise ConfigError(f"capacity {name} must be a whole number from 1 to {MAX_UNITS:,}, got {number:,}")
    return number


@dataclass(frozen=True)
class CapacityUse:
    """What one approach's write phase did to its table under the capacity model, as the proxy counted it.

    ``series``: (seconds since the writes started, WRU the table took in that whole second), for the seconds that
    saw writes; ``capacity_line``: (seconds since the start, WRU/s) where the table's capacity was set or changed
    (provisioned WCU, or the on-demand allowance); ``throttles``: items (write requests) refused, by
    ThrottlingReason; ``requests``: write requests the table saw, of which ``refused`` were refused whole (sent,
    nothing written: wasted) and ``partial`` batches wrote part and returned the rest as UnprocessedItems;
    ``offered_wru``: the most the table could have taken over the phase (see the module docstring); ``burst_wru``:
    the burst it held when the writes started; ``complete`` False when the proxy no longer kept the phase's first
    seconds (a very long run).
    """

    setting: str
    seconds: float
    consumed_wru: int
    offered_wru: float
    burst_wru: int
    requests: int
    refused: int
    partial: int
    throttles: Mapping[str, int] = field(default_factory=dict)
    series: tuple[tuple[float, int], ...] = ()
    capacity_line: tuple[tuple[float, float], ...] = ()
    complete: bool = True

    @property
    def goodput(self) -> float:
        """WRU written per second over the write phase (the mean consumed WRU/s)."""
        return self.consumed_wru / self.seconds if self.seconds > 0 else 0.0

    @property
    def peak(self) -> int:
        """The most WRU the table took in one second, never below the mean (``goodput``): a write phase under a
        second has no whole second, and its one bucket holds less than its rate."""
        return max(max((wru for _, wru in self.series), default=0), math.ceil(self.goodput))

    @property
    def capacity(self) -> float:
        """The table's capacity line averaged over the write phase, WRU/s."""
        return _integral(self.capacity_line, self.seconds) / self.seconds if self.seconds > 0 else \
            (self.capacity_line[0][1] if self.capacity_line else 0.0)

    @property
    def goodput_ratio(self) -> float | None:
        """WRU written ÷ what the table offered over the phase (burst included); None when it offered nothing."""
        return self.consumed_wru / self.offered_wru if self.offered_wru > 0 else None

    @property
    def waste(self) -> float:
        """Requests refused whole (sent for nothing) as a share of all the write requests."""
        return self.refused / self.requests if self.requests else 0.0

    def summary(self) -> str:
        """One line: consumed WRU/s (mean, peak) against capacity, goodput ÷ capacity, throttles, waste."""
        ratio = "-" if self.goodput_ratio is None else f"{self.goodput_ratio:.2f}"
        burst = f" + {self.burst_wru:,} WRU burst at the start" if self.burst_wru else ""
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in sorted(self.throttles.items()))
        partial = f", {self.partial:,} batches partly refused" if self.partial else ""
        cut = " (the first seconds were no longer kept)" if not self.complete else ""
        return (f"{self.goodput:,.0f} WRU/s mean, {self.peak:,} peak vs capacity {self.capacity:,.0f} WRU/s{burst}; "
                f"goodput ÷ capacity {ratio}; writes throttled {sum(self.throttles.values()):,}"
                f"{f' ({reasons})' if reasons else ''}; wasted {self.waste:.1%} of {self.requests:,} requests"
                f"{partial}{cut}")

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the exports and the history, with the derived figures beside (rounded)."""
        data = asdict(self)
        data["throttles"] = dict(self.throttles)
        data["series"] = [[round(t, 3), wru] for t, wru in self.series]
        data["capacity_line"] = [[round(t, 3), round(wru, 3)] for t, wru in self.capacity_line]
        data.update(goodput=round(self.goodput, 2), peak=self.peak, capacity=round(self.capacity, 2),
                    goodput_ratio=None if self.goodput_ratio is None else round(self.goodput_ratio, 4),
                    waste=round(self.waste, 4))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CapacityUse:
        """The inverse of ``as_dict`` (the derived figures are recomputed, not read)."""
        return cls(setting=str(data["setting"]), seconds=float(data["seconds"]),
                   consumed_wru=int(data["consumed_wru"]), offered_wru=float(data["offered_wru"]),
                   burst_wru=int(data["burst_wru"]), requests=int(data["requests"]), refused=int(data["refused"]),
                   partial=int(data["partial"]), throttles={str(k): int(v) for k, v in data["throttles"].items()},
                   series=tuple((float(t), int(w)) for t, w in data["series"]),
                   capacity_line=tuple((float(t), float(w)) for t, w in data["capacity_line"]),
                   complete=bool(data.get("complete", True)))


def capacity_use(setting: Capacity, table: Mapping[str, Any] | None, started: float, seconds: float) -> CapacityUse:
    """One table's figures from the proxy (its entry in ``stats(since=started)["capacity"]["tables"]``, None when
    the table saw no write) over a write phase that began at ``started`` (unix seconds) and lasted ``seconds``."""
    table = table or {}
    rows: Sequence[Sequence[float]] = table.get("seconds") or []
    default = float((setting.wcu or 0) if setting.mode == "provisioned" else setting.warm or NEW_ON_DEMAND_UNITS)
    first = rows[0] if rows else (started, table.get("capacity_wru_per_second", default),
                                  partitions(default), default if setting.mode == "on-demand" else
                                  default * BURST_SECONDS)

    def since(second: float) -> float:
        return max(0.0, float(second) - started)

    line: list[tuple[float, float]] = []
    parts: list[tuple[float, float]] = []
    for index, row in enumerate(rows or [first]):
        at = since(row[0]) if index else 0.0  # the table's first figures held from the start: it was set up before
        if not line or line[-1][1] != float(row[1]):
            line.append((at, float(row[1])))
        if not parts or parts[-1][1] != float(row[2]):
            parts.append((at, float(row[2]) * PARTITION_UNITS))
    burst = int(first[3])
    by_table = burst + _integral(line, seconds)
    by_partitions = parts[0][1] + _integral(parts, seconds)
    return CapacityUse(
        setting=str(setting), seconds=seconds, consumed_wru=int(table.get("consumed_wru", 0)),
        offered_wru=float(min(by_table, by_partitions)), burst_wru=burst, requests=int(table.get("requests", 0)),
        refused=int(table.get("refused_requests", 0)), partial=int(table.get("partial_requests", 0)),
        throttles={str(k): int(v) for k, v in (table.get("throttles") or {}).items()},
        series=tuple((since(s), int(wru)) for s, wru in table.get("consumed_wru_per_second") or []),
        capacity_line=tuple(line), complete=bool(table.get("complete", True)))


def _integral(steps: Sequence[tuple[float, float]], until: float) -> float:
    """The area under a step line [(from time, value), ...] from 0 to ``until`` (the first value from 0)."""
    total = 0.0
    for index, (start, value) in enumerate(steps):
        begin = 0.0 if index == 0 else min(start, until)
        end = steps[index + 1][0] if index + 1 < len(steps) else until
        total += value * max(0.0, min(end, until) - begin)
    return total
