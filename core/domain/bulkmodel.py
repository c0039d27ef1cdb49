"""What the lab assumes about DynamoDB's bulk put where AWS publishes nothing, and what it costs.

Pure. ``BulkAssumptions`` holds each unpublished figure (tier rates, prices, start-up, capacity draw), each
overridable (``--bulk-rate``, ``--bulk-price-per-gb``) and labelled with its ``source``: every view of a derived figure
must say which parts are assumed. ``with_measured`` replaces the assumed start-up and rate by the newest
``MeasuredBulk`` from AWS (``python -m core aws-check``); a check against an emulation is ``emulated`` and never used.
``proxy_settings`` is what the lab's proxy emulates with; ``EMULATED`` is the line every view of an emulated run shows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any

from core.domain.bulkwire import MIN_MAX_WRU, TIERS, Tier
from core.domain.errors import ConfigError

EMULATED = "bulk put emulated by the lab: its duration is an assumption, not a measurement"
# Assumed (not published): each tier's write rate in WRU per second, low..high. STANDARD: a background load about as
# fast as a table's default on-demand peak of 4,000 WRU/s (that figure is published: a new on-demand table's warm
# throughput); ACCELERATED: ten times that.
ASSUMED_RATES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {"STANDARD": (1_000.0, 4_000.0), "ACCELERATED": (10_000.0, 40_000.0)})
# Assumed: from StartBulkPutItems to the first item written (an import from S3 takes minutes to start).
ASSUMED_STARTUP_S = (60.0, 600.0)
# Assumed: USD per GB (2**30 bytes) of bulk put bytes, us-east-1: STANDARD at ImportTable's published 0.15 USD/GB,
# ACCELERATED at twice that.
ASSUMED_PRICE_PER_GB: Mapping[str, float] = MappingProxyType({"STANDARD": 0.15, "ACCELERATED": 0.30})
# Assumed: the bulk put's writes are charged to the table's capacity and compete with foreground writes.
ASSUMED_SHARES_CAPACITY = True
# The emulation's own start-up: short, so offline runs stay quick (its duration is an assumption either way).
EMULATED_STARTUP_S = 0.5


@dataclass(frozen=True)
class BulkAssumptions:
    """The figures a bulk put's time and cost rest on; ``source`` says whether they are assumed or measured."""

    rates: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(ASSUMED_RATES))
    startup_s: tuple[float, float] = ASSUMED_STARTUP_S
    price_per_gb: Mapping[str, float] = field(default_factory=lambda: dict(ASSUMED_PRICE_PER_GB))
    shares_capacity: bool = ASSUMED_SHARES_CAPACITY
    source: str = "assumed (AWS publishes no tier rate, start-up time or price yet)"

    def __post_init__(self) -> None:
        for tier in TIERS:
            low, high = self.rates.get(tier, (0.0, 0.0))
            if not 0 < low <= high:
                raise ConfigError(f"the {tier} bulk put rate must be a range of WRU/s above 0, got {low}..{high} "
                                  "(--bulk-rate)")
            if not self.price_per_gb.get(tier, -1.0) >= 0:
                raise ConfigError(f"the {tier} bulk put price must be 0 or more USD per GB (--bulk-price-per-gb)")
        if not 0 <= self.startup_s[0] <= self.startup_s[1]:
            raise ConfigError(f"the bulk put start-up must be a range of seconds, got {self.startup_s}")

    def with_rate(self, tier: str, rate: float) -> BulkAssumptions:
        """The assumptions with ``tier``'s rate set to ``rate`` WRU/s (one figure: the range collapses to it)."""
        if not rate > 0:
            raise ConfigError(f"--bulk-rate must be above 0 WRU/s, got {rate}")
        return replace(self, rates={**self.rates, tier: (rate, rate)},
                       source=f"{tier} rate {rate:,.0f} WRU/s given (--bulk-rate); the rest {self.source}")

    def with_price(self, tier: str, usd_per_gb: float) -> BulkAssumptions:
        if not usd_per_gb >= 0:
            raise ConfigError(f"--bulk-price-per-gb must be 0 or more, got {usd_per_gb}")
        return replace(self, price_per_gb={**self.price_per_gb, tier: usd_per_gb})

    def rate(self, tier: str, max_wru: int | None = None) -> tuple[float, float]:
        """WRU/s the operation writes at, low..high: the tier's rate, capped by ``MaxWriteRequestUnits``."""
        low, high = self.rates[tier]
        cap = float(max_wru) if max_wru else math.inf
        return min(low, cap), min(high, cap)

    def seconds(self, items: int, item_wru: int, tier: str, max_wru: int | None = None) -> tuple[float, float]:
        """Seconds from StartBulkPutItems to the end, low..high, for ``items`` of ``item_wru`` each."""
        low, high = self.rate(tier, max_wru)
        return self.startup_s[0] + items * item_wru / high, self.startup_s[1] + items * item_wru / low

    def cost(self, bulk_put_bytes: int, tier: str) -> float:
        """USD for ``bulk_put_bytes`` (GB = 2**30 bytes) at the tier's price (assumed unless measured)."""
        return bulk_put_bytes / 2**30 * self.price_per_gb[tier]

    def cost_line(self, bulk_put_bytes: int, tier: str) -> str:
        return (f"about ${self.cost(bulk_put_bytes, tier):,.4f} for {bulk_put_bytes / 2**30:,.4f} GB of bulk put bytes "
                f"at {self.price_per_gb[tier]:.2f} USD/GB, {tier}: an assumed price (AWS publishes none yet)")

    def proxy_settings(self, startup_s: float = EMULATED_STARTUP_S) -> dict[str, Any]:
        """The emulation's settings (core/servers/emulator/bulkput.js): each tier at the top of its rate range."""
        return {"rates": {tier: self.rates[tier][1] for tier in TIERS}, "startup_s": startup_s,
                "shares_capacity": self.shares_capacity}


def check_max_wru(value: int | None) -> int | None:
    """``--bulk-max-wru``: None (DynamoDB's default rate) or at least ``MIN_MAX_WRU``."""
    if value is not None and (isinstance(value, bool) or value < MIN_MAX_WRU):
        raise ConfigError(f"--bulk-max-wru must be at least {MIN_MAX_WRU:,} (DynamoDB's minimum), got {value}")
    return value


def check_tier(value: str) -> Tier:
    for tier in TIERS:
        if tier == str(value).upper():
            return tier
    raise ConfigError(f"--bulk-tier must be one of {', '.join(TIERS)}, got {value!r}")


Range = tuple[float, float | None]  # low, high (None: the high end was not measured)
MEASURED_STATUSES = ("COMPLETED",)  # the only ending whose figures the planner may take


@dataclass(frozen=True)
class MeasuredBulk:
    """One bulk put timed by ``python -m core aws-check``: each figure a range (low, high) between two polls of
    DescribeBulkOperation, seconds counted from StartBulkPutItems. ``emulated``: the check ran against another
    endpoint than AWS's (``endpoint``): those figures are never taken as AWS's."""

    created: float  # epoch seconds
    region: str
    tier: str
    items: int
    status: str
    startup_s: tuple[float, float]  # StartBulkPutItems -> the first ProcessedItemCount > 0
    end_s: tuple[float, float]  # StartBulkPutItems -> a terminal status
    items_per_second: Range  # while processing: from the first item to the end
    bytes_per_second: Range  # ProcessedInputBytes (the S3 input as stored: gzipped) per second, likewise
    wru_per_second: Range  # the items' write units (1 per started KB of each) per second, likewise
    emulated: bool
    endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.tier not in TIERS or not isinstance(self.items, int) or self.items < 1:
            raise ConfigError(f"a measured bulk put needs a tier and items, got {self.tier!r}, {self.items!r}")
        for name in ("startup_s", "end_s", "items_per_second", "bytes_per_second", "wru_per_second"):
            low, high = getattr(self, name)
            if not (isinstance(low, (int, float)) and math.isfinite(low) and low >= 0
                    and (high is None or (isinstance(high, (int, float)) and low <= high < math.inf))):
                raise ConfigError(f"a measured bulk put's {name} must be a range low <= high, got {low!r}, {high!r}")

    @property
    def on_aws(self) -> bool:
        """Measured on AWS (not emulated, no custom endpoint): the only figures the planner may use."""
        return not self.emulated and self.endpoint is None

    @property
    def date(self) -> str:
        return dt.datetime.fromtimestamp(self.created, dt.UTC).date().isoformat()

    @property
    def where(self) -> str:
        return f"on AWS on {self.date} ({self.region}, {self.tier})" if self.on_aws else \
            f"emulated at {self.endpoint} on {self.date} ({self.tier}): not AWS's figures"

    @property
    def line(self) -> str:
        """The figures in one line."""
        return (f"start-up {_span(self.startup_s)}, {_rate(self.items_per_second, 'items')}, "
                f"{_rate(self.wru_per_second, 'WRU')}, {_rate(self.bytes_per_second, 'input bytes')} while "
                f"processing, {_span(self.end_s)} to {self.status} ({self.items:,} items {self.where})")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeasuredBulk:
        """A stored check; ``ConfigError`` when it is not one (a field missing or of another type)."""
        try:
            startup, end = _pair(data["startup_s"]), _pair(data["end_s"])
            if startup[1] is None or end[1] is None:
                raise ValueError("start-up and end need both ends")
            endpoint = data.get("endpoint")
            return cls(float(data["created"]), str(data["region"]), str(data["tier"]), data["items"],
                       str(data["status"]), (startup[0], startup[1]), (end[0], end[1]),
                       _pair(data["items_per_second"]), _pair(data["bytes_per_second"]),
                       _pair(data["wru_per_second"]), emulated=data["emulated"] is not False,
                       endpoint=None if endpoint is None else str(endpoint))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"not a measured bulk put ({type(error).__name__}: {error})") from None


def _pair(value: Any) -> tuple[float, float | None]:
    low, high = value
    return float(low), None if high is None else float(high)


def _span(seconds: tuple[float, float]) -> str:
    return f"{seconds[0]:,.1f}–{seconds[1]:,.1f} s"


def _rate(rate: Range, unit: str) -> str:
    return f"{rate[0]:,.0f}–{rate[1]:,.0f} {unit}/s" if rate[1] is not None else f"at least {rate[0]:,.0f} {unit}/s"


@dataclass(frozen=True)
class Poll:
    """One answer of the operation: seconds since StartBulkPutItems was sent, what it had processed, its status."""

    seconds: float
    items: int
    input_bytes: int
    terminal: bool


def measure(polls: Sequence[Poll], *, wru: int, created: float, region: str, tier: str, status: str,
            emulated: bool, endpoint: str | None = None) -> MeasuredBulk | None:
    """The figures the polls bracket (None when no poll saw an item processed or none saw the end). ``polls`` in
    time order, the first being StartBulkPutItems' own answer; ``wru``: the write units of every item processed.
    Start-up lies between the last poll with nothing processed (or the start) and the first with something; the end
    between the last poll still running and the first terminal one; the rate's low end is what was processed over
    the widest window, its high end over the narrowest (unknown when one poll saw both the first item and the end)."""
    first = next((i for i, poll in enumerate(polls) if poll.items > 0), None)
    done = next((i for i, poll in enumerate(polls) if poll.terminal), None)
    if first is None or done is None or done < first:
        return None
    last_idle = polls[first - 1].seconds if first > 0 else 0.0
    last_running = polls[done - 1].seconds if done > 0 else 0.0
    final = polls[done]
    widest = final.seconds - last_idle
    narrowest = last_running - polls[first].seconds

    def rate(amount: float) -> Range:
        return amount / widest if widest > 0 else 0.0, amount / narrowest if narrowest > 0 else None

    return MeasuredBulk(created, region, tier, final.items, status, (last_idle, polls[first].seconds),
                        (last_running, final.seconds), rate(final.items), rate(final.input_bytes), rate(wru),
                        emulated, endpoint)


def with_measured(assumptions: BulkAssumptions, checks: Sequence[MeasuredBulk], tier: str) -> BulkAssumptions:
    """The assumptions with ``tier``'s start-up and rate taken from the newest check measured on AWS for that tier
    (COMPLETED), said so in ``source``; unchanged when there is none. Emulated checks are never taken; the price
    stays assumed (a check does not see the bill)."""
    chosen = max((c for c in checks if c.on_aws and c.tier == tier and c.status in MEASURED_STATUSES
                  and c.wru_per_second[0] > 0), key=lambda c: c.created, default=None)
    if chosen is None:
        return assumptions
    low, high = chosen.wru_per_second
    assumed_high = assumptions.rates[tier][1]
    upper = "" if high is not None else \
        f" (its upper end {max(low, assumed_high):,.0f} WRU/s assumed: one poll saw the first item and the end)"
    source = (f"start-up and rate measured {chosen.where} with {chosen.items:,} items by python -m core aws-check"
              f"{upper}; the price and the capacity sharing assumed (AWS publishes none yet)")
    return replace(assumptions, rates={**assumptions.rates, tier: (low, high if high is not None
                                                                   else max(low, assumed_high))},
                   startup_s=chosen.startup_s, source=source)
