"""What the lab assumes about DynamoDB's bulk put where AWS publishes nothing, in one place, and what it costs.

Contract: pure, no I/O. AWS has not published (as far as its public docs could be read, December 2026) the tiers'
throughput targets, their prices, the start-up time, whether a bulk put draws on the table's capacity or competes with
foreground writes, or the default rate without ``MaxWriteRequestUnits``. ``BulkAssumptions`` holds the lab's guesses
for them, each named, each overridable (``--bulk-rate``, ``--bulk-price-per-gb``), and says where a figure came from
(``source``: assumed, or measured on AWS by ``python -m core aws-check``); every view that shows a figure derived
from them says which is published and which is assumed. ``proxy_settings`` is what the lab's proxy emulates with
(``core/emulator/bulkput.js``); ``EMULATED`` is the line every view of an emulated run shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from core.bulkwire import MIN_MAX_WRU, TIERS, Tier
from core.errors import ConfigError

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
        """The emulation's settings (core/emulator/bulkput.js): each tier at the top of its rate range."""
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
