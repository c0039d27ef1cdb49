"""A table's write capacity as the conditions proxy models it: off, on-demand, or provisioned.

Contract: pure, no I/O. ``parse_capacity`` reads the text a user types (``--capacity``): ``off`` (no model, the
default), ``on-demand``, ``on-demand:warm=N,max=N`` (either or both) or ``provisioned=WCU``; anything else is a
``ConfigError`` whose one line shows the accepted forms. ``Capacity.as_dict()`` is what the proxy receives
(``--capacity`` at start, ``POST /__lab/capacity`` at run time); ``str(capacity)`` gives back the text form. The
rules the proxy applies (core/emulator/capacity.js):

- Write request units: one per started KB of each item written (a batch: the sum); a delete counts one.
- Partitions: a stable hash of the partition key picks one; each takes 1,000 WRU/s (with one second of burst).
  Provisioned: ceil(WCU / 1,000) partitions. On-demand: ceil(allowance / 1,000).
- ``on-demand``: a new table takes up to 4,000 WRU/s at once (``warm``: that many instead); its allowance then
  follows DynamoDB's published rule, double the previous peak (the highest WRU consumed in one second), capped
  by ``max`` (MaxWriteRequestUnits) and by the account's per-table quota of 40,000 WRU/s.
- ``provisioned=WCU``: a token bucket refilled at WCU per second that keeps up to 300 s of unused capacity as
  burst (a new table starts with its burst full: a simplification, the real service's starting burst is not
  published).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import ConfigError

Mode = Literal["off", "on-demand", "provisioned"]
MAX_UNITS = 40_000  # DynamoDB's default per-table write quota (WRU/s); the model's upper bound for every setting
# The published rules the proxy applies (core/emulator/capacity.js has its own copy) and the planner models:
NEW_ON_DEMAND_UNITS = 4_000  # WRU/s a new on-demand table takes at once
PARTITION_UNITS = 1_000  # WRU/s one partition serves
BURST_SECONDS = 300  # unused provisioned capacity kept as burst
FORMS = "off, on-demand, on-demand:warm=N,max=N or provisioned=WCU (N and WCU from 1 to 40000)"


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
                raise ConfigError(f"capacity {name} must be a whole number from 1 to {MAX_UNITS}, got {value!r}")
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
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"capacity {name} must be a whole number from 1 to {MAX_UNITS}, got {value!r}") from None
    if not 1 <= number <= MAX_UNITS:
        raise ConfigError(f"capacity {name} must be a whole number from 1 to {MAX_UNITS}, got {number}")
    return number
