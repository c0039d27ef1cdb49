"""What to run: ``Plan``, ``Conditions``, presets and faults, plus the decisions the page and the CLI must share.

Frozen dataclasses and pure functions, no heavy imports. Building a ``Plan`` or ``Conditions`` validates every field
(``ConfigError``, one line, nothing written).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args

from core.domain.approaches import APPROACHES, STUDY_APPROACHES, approach, bulk_puts, imports, parallelism
from core.domain.bulkmodel import EMULATED, BulkAssumptions, check_max_wru, check_tier
from core.domain.bulkwire import Tier
from core.domain.capacity import Capacity
from core.domain.endpoints import (
    DEFAULT_REGION,
    KINDS,
    Kind,
    off_machine,
    validate_endpoint_url,
    validate_kind,
    validate_region,
    validate_scheduler_address,
)
from core.domain.errors import ConfigError
from core.domain.limits import (
    LIMITS,
    MAX_ITEMS,
    default_threads,
)
from core.domain.numbers import number
from core.domain.pricing import IMPORT_PRICE_NOTE, PRICE_NOTE, WRU_PRICE_USD, import_cost_of
from core.domain.s3source import (
    DEFAULT_PREFIX,
    SEEDED_ITEM_BYTES,
    SEEDED_LINE_BYTES,
    ImportCost,
    delegation_note,
    needs_bucket,
    validate_bucket,
    validate_prefix,
)

RetryMode = Literal["standard", "adaptive"]
RETRY_MODES: tuple[RetryMode, ...] = get_args(RetryMode)


def validate_knobs(threads: int, concurrency: int, request_timeout: float) -> None:
    """The writers' knobs, checked once for the plan and the writers alike (``LIMITS``' rows)."""
    LIMITS["threads"].check(threads)
    LIMITS["concurrency"].check(concurrency)
    LIMITS["request timeout"].check(request_timeout)


@dataclass(frozen=True)
class Conditions:
    """Network conditions and faults injected by the embedded server (see server.js): latency, jitter and the
    probability of each fault per write request."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    throttle: float = 0.0
    error: float = 0.0
    reset: float = 0.0

    def __post_init__(self) -> None:
        for name in ("latency_ms", "jitter_ms"):
            LIMITS[name].check(getattr(self, name))
        for name in FAULTS:
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"fault {name} is a probability between 0 and 1, got {value}")
        if sum(parts_per_million(getattr(self, name)) for name in FAULTS) > 1_000_000:
            raise ConfigError(f"fault probabilities {' + '.join(FAULTS)} must add up to at most 1")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def added_seconds(self) -> float:
        """The most these conditions add to one request's time (latency plus the whole jitter), in seconds: what any
        timeout of a call through them must allow on top of its own."""
        return (self.latency_ms + self.jitter_ms) / 1000

    @property
    def faults(self) -> dict[str, float]:
        """The faults that are on, by name."""
        return {name: getattr(self, name) for name in FAULTS if getattr(self, name)}


def parts_per_million(probability: float) -> int:
    """A probability in whole parts per million, rounded half up: fault probabilities add up in these, so that the
    sum is exact and server.js (which computes ``Math.floor(p * 1e6 + 0.5)``, the same IEEE operations) agrees."""
    return math.floor(probability * 1_000_000 + 0.5)


# The fault names, in one place: the CLI's --faults, the page's sliders and the server's conditions use them.
FAULTS: tuple[str, ...] = tuple(f.name for f in fields(Conditions) if not f.name.endswith("_ms"))
FAULT_LABELS: dict[str, str] = {"throttle": "Throttling", "error": "500 errors", "reset": "Connection resets"}

# Presets: mean one-way request time added by the server, with jitter around it.
NETWORK_PRESETS: dict[str, Conditions] = {
    "none": Conditions(),
    "same-region": Conditions(latency_ms=4.0, jitter_ms=2.0),
    "nearby-region": Conditions(latency_ms=22.0, jitter_ms=6.0),
    "study-2022": Conditions(latency_ms=75.0, jitter_ms=10.0),
}


@dataclass(frozen=True)
class Preset:
    """A named way to run: the conditions, capacity and checks it brings to a plan."""

    description: str
    network: str  # a NETWORK_PRESETS name
    capacity: Capacity
    rehearsal: bool

    def apply(self, plan: Plan, keep: Collection[str] = ()) -> Plan:
        """``plan`` with this preset: its checks, and its latency and capacity. ``keep`` names what the user chose
        explicitly ("network", "capacity": kept as the plan has them, ``off`` and no latency included); otherwise a
        latency or capacity the plan sets (not the defaults) wins too. Faults are kept."""
        latency = NETWORK_PRESETS[self.network]
        own_network = "network" in keep or plan.conditions.latency_ms or plan.conditions.jitter_ms
        conditions = plan.conditions if own_network else replace(
            plan.conditions, latency_ms=latency.latency_ms, jitter_ms=latency.jitter_ms)
        own_capacity = "capacity" in keep or plan.capacity.on
        return replace(plan, conditions=conditions, capacity=plan.capacity if own_capacity else self.capacity,
                       rehearsal=plan.rehearsal or self.rehearsal)


# Presets of a whole run (the CLI's --preset, the page's Preset): aws-like rehearses an AWS run before paying for one.
PRESETS: dict[str, Preset] = {
    "aws-like": Preset("the AWS dress rehearsal: HTTPS with a throwaway CA, every request's SigV4 signature checked "
                       "by the proxy (aws4), a new on-demand table's capacity, nearby-region latency",
                       "nearby-region", Capacity("on-demand"), rehearsal=True),
}


def parse_faults(text: str) -> dict[str, float]:
    """``throttle=0.3,error=0.05,reset=0.02`` -> {"throttle": 0.3, ...}; each fault named once."""
    faults: dict[str, float] = {}
    usage = ",".join(f"{name}=P" for name in FAULTS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in FAULTS or not value.strip():
            raise ConfigError(f"bad --faults entry {part!r}: use {usage} with P from 0 to 1")
        if name in faults:
            raise ConfigError(f"--faults names {name} twice: give each fault once")
        try:
            faults[name] = number(value)
        except ValueError:
            raise ConfigError(f"bad --faults value {value!r} for {name}: expected a number from 0 to 1") from None
    return faults


@dataclass(frozen=True)
class Plan:
    """What to run; every field is checked when the plan is built."""

    target: Kind = "embedded"
    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    profile: str | None = None
    approaches: tuple[str, ...] = STUDY_APPROACHES
    items: int = 1_000
    seed: int = 0
    repeats: int = 1
    warmup: int = 0
    threads: int = field(default_factory=default_threads)
    concurrency: int = 100
    conditions: Conditions = field(default_factory=Conditions)
    max_attempts: int = 10
    request_timeout: float = 10.0
    retry_mode: RetryMode = "standard"
    capacity: Capacity = field(default_factory=Capacity)
    workers: int = 1  # > 1: shards on Dask worker processes (a LocalCluster, or the cluster at ``scheduler``)
    scheduler: str | None = None
    rehearsal: bool = False  # the AWS dress rehearsal: HTTPS (throwaway CA) and SigV4 checks in the lab's proxy
    s3_bucket: str | None = None  # s3-import: the user's bucket (AWS; the lab never creates one there), else the lab's
    s3_prefix: str = DEFAULT_PREFIX
    bulk_tier: Tier = "STANDARD"  # bulk-put: PerformanceTier
    bulk_max_wru: int | None = None  # bulk-put: MaxWriteRequestUnits (None: DynamoDB's default rate)
    bulk_malformed: int = 0  # bulk-put: books written as broken lines, spread over the load (the ERROR report at work)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", validate_kind(self.target))
        if self.retry_mode not in RETRY_MODES:
            raise ConfigError(f"unknown retry mode {self.retry_mode!r}: choose one of {', '.join(RETRY_MODES)}")
        validate_region(self.region)
        if self.endpoint_url is not None:
            if self.target == "embedded":
                raise ConfigError("--endpoint-url is for the localstack, aws and custom targets, not embedded")
            object.__setattr__(self, "endpoint_url", validate_endpoint_url(self.endpoint_url))
        elif self.target == "custom":
            raise ConfigError("the custom target needs --endpoint-url, e.g. http://127.0.0.1:5000 for a moto server")
        if not self.approaches:
            raise ConfigError(f"no approach chosen: pick one or more of {', '.join(APPROACHES)}")
        for name in self.approaches:
            reason = approach(name).unavailable  # ConfigError for an unknown name, with the closest one
            if reason:
                raise ConfigError(f"{reason}, or leave {name} out")
        repeated = sorted({a for a in self.approaches if self.approaches.count(a) > 1})
        if repeated:
            raise ConfigError(f"approach {repeated[0]!r} is listed twice: name each approach once")
        LIMITS["items"].check(self.items)
        LIMITS["seed"].check(self.seed)
        LIMITS["repeats"].check(self.repeats)
        LIMITS["warm-up"].check(self.warmup)
        if self.rehearsal and self.off_machine is not None:
            raise ConfigError("the AWS dress rehearsal (--preset aws-like) runs against a local engine through the "
                              "lab's proxy: pick the embedded, dynamodb-local or localstack target")
        if (self.conditions != Conditions() or self.capacity.on) and self.off_machine is not None:
            raise ConfigError("network conditions, faults and the capacity model are injected by the lab's proxy on "
                              "this machine, in front of a local engine only: drop --network/--latency-ms/--faults/"
                              "--capacity for a remote target")
        validate_knobs(self.threads, self.concurrency, self.request_timeout)
        LIMITS["workers"].check(self.workers)
        if self.scheduler is not None:
            object.__setattr__(self, "scheduler", validate_scheduler_address(self.scheduler))
        LIMITS["max attempts"].check(self.max_attempts)
        self._check_import()

    def _check_import(self) -> None:
        """The s3-import approach's own fields: a bucket on AWS, a valid bucket and prefix, one process."""
        if self.s3_bucket is not None:
            validate_bucket(self.s3_bucket)
        object.__setattr__(self, "s3_prefix", validate_prefix(self.s3_prefix))
        object.__setattr__(self, "bulk_tier", check_tier(self.bulk_tier))
        check_max_wru(self.bulk_max_wru)
        if not 0 <= self.bulk_malformed <= self.items:
            raise ConfigError(f"--bulk-malformed must be between 0 and the items ({self.items:,}), got "
                              f"{self.bulk_malformed}")
        for name in self.approaches:
            if not (imports(name) or bulk_puts(name)):
                continue
            what = "import" if imports(name) else "bulk put"
            if needs_bucket(self.target, self.endpoint_url, self.region) and self.s3_bucket is None:
                raise ConfigError(f"{name} on {self.off_machine} needs --s3-bucket (the page: S3 bucket): a bucket "
                                  f"of yours in {self.region} that the {what} can read (the lab never creates buckets "
                                  "off this machine)")
            if self.scaled_out:
                raise ConfigError(f"{name} runs one {what}, not Dask shards: drop --workers/--scheduler or leave "
                                  f"{name} out")

    @property
    def off_machine(self) -> str | None:
        """Where this plan writes when that is off this machine (it then needs the user's confirmation)."""
        return off_machine(self.target, self.endpoint_url, self.region)

    @property
    def scaled_out(self) -> bool:
        """The writes go to Dask workers (several local processes, or an existing cluster)."""
        return self.workers > 1 or self.scheduler is not None

    @property
    def writes(self) -> int:
        """Items written over the whole plan: every approach, every repeat, and the warm-ups."""
        return (self.items * self.repeats + self.warmup) * len(self.approaches)

    @property
    def cost_usd(self) -> float:
        """The plan's cost on AWS, every approach (``cost_by_approach``) summed."""
        return sum(self.cost_by_approach.values())

    @property
    def cost_by_approach(self) -> dict[str, float]:
        """Each approach's cost on AWS over the plan: writers pay one on-demand WRU per put of up to 1 KB (every
        seeded book is under 1 KB), warm-ups included; s3-import pays each repeat's import (GB of uncompressed
        DynamoDB JSON x price) and its S3 requests (``import_cost``)."""
        return {name: self.import_cost().usd * self.repeats if imports(name)
                else self.bulk_cost() * self.repeats if bulk_puts(name)
                else (self.items * self.repeats + self.warmup) * WRU_PRICE_USD for name in self.approaches}

    @property
    def bulk_put_bytes(self) -> int:
        """One bulk put's billed bytes, assumed to be the items' DynamoDB size (``SEEDED_ITEM_BYTES`` a book)."""
        return self.items * SEEDED_ITEM_BYTES

    def bulk_cost(self) -> float:
        """One bulk put: its bytes at the tier's assumed price, plus the S3 requests an import makes too."""
        return BulkAssumptions().cost(self.bulk_put_bytes, self.bulk_tier) + self.import_cost().requests_usd

    def import_cost(self) -> ImportCost:
        """One import of ``items`` seeded books (mean line size measured, see ``core.domain.s3source``)."""
        return import_cost_of(self.items * SEEDED_LINE_BYTES)

    @property
    def cost_text(self) -> str:
        """The cost in one line for the CLI's confirmation and the page, with the prices it rests on."""
        writers = sum(cost for name, cost in self.cost_by_approach.items() if not imports(name) and not bulk_puts(name))
        parts = [f"about ${writers:,.4f} of on-demand writes ({PRICE_NOTE})"] \
            if writers or not (self.imports or self.bulk_puts) else []
        if self.imports:
            one = self.import_cost()
            parts.append(f"about ${one.usd * self.repeats:,.4f} for s3-import ({one.gigabytes * self.repeats:,.4f} "
                         f"GB imported from {one.objects * self.repeats:,} S3 object(s), PUT and read once; "
                         f"{IMPORT_PRICE_NOTE})")
        if self.bulk_puts:
            parts.append(f"{BulkAssumptions().cost_line(self.bulk_put_bytes * self.repeats, self.bulk_tier)} "
                         "for bulk-put, plus its S3 requests")
        return " + ".join(parts)

    @property
    def bulk_note(self) -> str | None:
        """The line every view of a plan whose bulk put the lab emulates (any target on this machine) shows."""
        return EMULATED if self.bulk_puts and self.off_machine is None else None

    @property
    def bulk_puts(self) -> bool:
        """The plan includes the bulk-put approach."""
        return any(bulk_puts(name) for name in self.approaches)

    @property
    def imports(self) -> bool:
        """The plan includes the s3-import approach."""
        return any(imports(name) for name in self.approaches)

    @property
    def import_note(self) -> str | None:
        """Why an s3-import duration of this plan is not representative (it ran on moto; the plan's conditions,
        capacity or dress rehearsal did not apply to it: the lab's proxy serves the writers' DynamoDB calls only), or
        None."""
        if not self.imports:
            return None
        skipped = [what for what, on in (("network conditions and faults", self.conditions != Conditions()),
                                         ("capacity model", self.capacity.on),
                                         ("dress rehearsal (HTTPS, signature checks)", self.rehearsal)) if on]
        bypass = (f"s3-import ran without the plan's {' or '.join(skipped)}: the lab's proxy applies them to the "
                  "writers' DynamoDB requests only; the import's S3 uploads and ImportTable went straight to "
                  f"{'the moto server' if delegation_note(self.target) else 'the target'}") if skipped else None
        return "; ".join(note for note in (delegation_note(self.target), bypass) if note) or None

    def parallelism(self, name: str) -> int:
        return parallelism(APPROACHES[name], self.threads, self.concurrency)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["approaches"] = list(self.approaches)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        values = dict(data)
        values["approaches"] = tuple(values["approaches"])
        values["conditions"] = Conditions(**values["conditions"])
        values["capacity"] = Capacity(**values.get("capacity") or {})
        return cls(**values)


__all__ = ["FAULTS", "KINDS", "MAX_ITEMS", "NETWORK_PRESETS", "PRESETS", "Conditions", "Plan", "Preset",
           "default_threads", "parse_faults"]
