"""What a user's traffic met in the conditions proxy (``python -m core proxy``), and how another process asks for it.

``traffic_report(stats, url)`` is pure: the proxy's ``/__lab/stats`` answer in, text out. The proxy's token is
passed only through a ticket file readable by this user alone (``write_ticket``, removed when the proxy stops);
``read_ticket`` refuses a directory that is not the user's and private, and raises ``LabError`` when there is none.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.domain.capacity import Capacity, capacity_use
from core.domain.errors import ConfigError, LabError


@dataclass(frozen=True)
class Ticket:
    """How to reach a running proxy's control endpoints: its URL, token and the CA its HTTPS certificate is from."""

    url: str
    token: str
    ca_bundle: str | None

    def __repr__(self) -> str:
        return f"Ticket(url={self.url!r}, token=***, ca_bundle={self.ca_bundle!r})"


def tickets_dir() -> Path:
    """This user's private directory of tickets."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"dynamodb-lab-proxies-{uid}"


def _ticket_path(url: str, directory: Path | None = None) -> Path:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise ConfigError(f"--url {url!r} is not a proxy URL: give the one `python -m core proxy` printed, e.g. "
                          "https://127.0.0.1:8000")
    name = re.sub(r"[^A-Za-z0-9.]+", "_", f"{parts.scheme}_{parts.hostname}_{parts.port}")
    return (directory or tickets_dir()) / f"{name}.json"


def _private(directory: Path) -> None:
    """Make (or check) the ticket directory: owned by this user, nobody else may enter it."""
    directory.mkdir(mode=0o700, exist_ok=True)
    info = directory.lstat()
    if directory.is_symlink() or (hasattr(os, "getuid") and info.st_uid != os.getuid()) or info.st_mode & 0o077:
        raise LabError(f"{directory} is not a private directory of yours: remove it and start the proxy again")


def write_ticket(ticket: Ticket, directory: Path | None = None) -> Path:
    """Write the ticket (0600, in the private directory); its path, for ``remove_ticket``."""
    path = _ticket_path(ticket.url, directory)
    _private(path.parent)
    path.unlink(missing_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        json.dump({"url": ticket.url, "token": ticket.token, "ca_bundle": ticket.ca_bundle}, out)
    return path


def read_ticket(url: str, directory: Path | None = None) -> Ticket:
    """The ticket of the proxy at ``url`` started by this user; ``LabError`` naming the fix when there is none."""
    path = _ticket_path(url, directory)
    if not path.is_file():
        raise LabError(f"no proxy started with `python -m core proxy` by you listens at {url}: start one, or give "
                       "the URL it printed")
    _private(path.parent)
    data = json.loads(path.read_text())
    return Ticket(str(data["url"]), str(data["token"]), data.get("ca_bundle"))


def remove_ticket(path: Path) -> None:
    path.unlink(missing_ok=True)


def traffic_report(stats: Mapping[str, Any], url: str) -> str:
    """The proxy's figures as a per-table report (see the module docstring)."""
    capacity = stats.get("capacity") or {}
    setting = Capacity(**(capacity.get("config") or {"mode": "off"}))
    tables: Mapping[str, Mapping[str, Any]] = capacity.get("tables") or {}
    lines = [f"What the traffic met at {url}: {int(stats.get('requests', 0)):,} DynamoDB requests "
             f"({int(stats.get('writes', 0)):,} writes); table capacity {setting}"]
    if not setting.on:
        lines.append("  per table: the capacity model is off (start the proxy with --capacity or --preset to see "
                     "WRU/s against capacity, throttles and wasted requests per table)")
    elif not tables:
        lines.append("  per table: no write reached a table yet")
    for name in sorted(tables):
        table = tables[name]
        seconds = [float(row[0]) for row in table.get("seconds") or []]
        if not seconds:
            lines.append(f"  {name}: no writes")
            continue
        use = capacity_use(setting, table, seconds[0], max(1.0, seconds[-1] - seconds[0] + 1))
        lines.append(f"  {name}: {use.summary()}")
    refused = stats.get("auth_refused") or {}
    lines.append("  signature checks: " + (", ".join(f"{kind} {count:,}" for kind, count in sorted(refused.items()))
                                           if refused else "no request refused" if "auth_refused" in stats
                                           else "off"))
    conditions = stats.get("conditions") or {}
    faults = [f"{what} {int(stats.get(key, 0)):,}" for what, key in
              (("throttled", "throttled"), ("500 errors", "errors"), ("connection resets", "resets"))]
    odds = ", ".join(f"{name} {float(conditions.get(name, 0)):g}" for name in ("throttle", "error", "reset"))
    lines.append(f"  injected faults ({odds}): " + ", ".join(faults)
                 + " (throttled counts the capacity model's refusals too)")
    latency, jitter = float(conditions.get("latency_ms", 0)), float(conditions.get("jitter_ms", 0))
    injected = float(stats.get("injected_ms", 0.0))
    lines.append(f"  latency injected: {latency:g} ms + up to {jitter:g} ms per request, {injected / 1000:,.1f} s in "
                 "all" if latency or jitter else "  latency injected: none")
    return "\n".join(lines)
