"""The client's ceiling: items/s one client core can write with each approach, as ``bench.ceiling`` measured it.

``CEILING`` is read once, at import, from ``core/forecast/client_ceiling.json``; it is None when the file is missing
or unreadable, and every user must do without it. The figures have no network, engine or throttling behind them, so a
real run can only be slower. ``cores_for`` turns a rate into client cores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.domain.capacity import MAX_UNITS

CEILING_FILE = Path(__file__).with_name("client_ceiling.json")
QUOTA_ITEMS_S = MAX_UNITS  # a table at the default account quota (WRU/s) takes this many 1 KB items/s


@dataclass(frozen=True)
class ClientCeiling:
    """Items/s per client core by approach, and what they rest on."""

    items_per_core_s: Mapping[str, float]
    measured: str  # ISO date
    machine: Mapping[str, Any]
    conditions: str
    details: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # per approach: 1 process, N, wall

    def of(self, approach: str) -> float | None:
        value = self.items_per_core_s.get(approach)
        return value if value is not None and value > 0 else None

    @property
    def source(self) -> str:
        """One line: where the figures come from."""
        cores = self.machine.get("cpu_count")
        return (f"bench.ceiling, {self.measured}, {cores}-core {self.machine.get('processor') or 'machine'}, "
                f"Python {self.machine.get('python', '?')}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientCeiling:
        figures = {str(name): float(value) for name, value in dict(data["items_per_core_s"]).items()}
        return cls(figures, str(data["measured"]), dict(data.get("machine") or {}), str(data.get("conditions", "")),
                   {str(name): dict(row) for name, row in dict(data.get("details") or {}).items()})


def load(path: Path = CEILING_FILE) -> ClientCeiling | None:
    """The measured ceiling in ``path``, or None when it is missing or not a ceiling file."""
    try:
        return ClientCeiling.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def cores_for(items_per_second: float, per_core: float) -> int:
    """Client cores it takes to write ``items_per_second`` at ``per_core`` items/s each (at least 1)."""
    if per_core <= 0:
        raise ValueError("a ceiling of 0 items/s per core writes nothing")
    return max(1, math.ceil(items_per_second / per_core))


CEILING = load()
