"""What the conditions proxy may front, and whether a run needs it at all.

Pure. ``check_upstream`` accepts only ``http://host:port`` on this machine (``ConfigError`` otherwise; server.js checks
again); ``check_not_itself`` refuses the proxy's own address; ``needs_proxy`` says whether conditions or a capacity
model need a proxy at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.domain.endpoints import is_local_url, validate_endpoint_url
from core.domain.errors import ConfigError

if TYPE_CHECKING:
    from core.domain.capacity import Capacity
    from core.domain.plan import Conditions


def check_upstream(url: str) -> str:
    """The upstream URL, normalised (no trailing slash), if the proxy may front it."""
    url = validate_endpoint_url(url)
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ConfigError(f"upstream {parts.scheme}://{parts.hostname}: the conditions proxy speaks plain http to "
                          "its engine; use http://127.0.0.1:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"the upstream URL must have no path or query, got {parts.path or '?' + parts.query!r}: "
                          "use http://host:port")
    if not is_local_url(url):
        raise ConfigError(f"upstream {parts.hostname} is not a loopback address: the conditions proxy fronts only "
                          "engines on this machine (localhost, 127.0.0.0/8, ::1)")
    return f"http://{parts.netloc}"


# Names of this machine a proxy listening on one of them answers on (the wildcards listen on every one).
_SELF_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def check_not_itself(upstream: str, host: str, port: int) -> None:
    """``ConfigError`` when the proxy listening on ``host``:``port`` would be its own upstream (a loop that eats
    memory until it dies); server.js also refuses any request that comes back to it, however the URL is spelt."""
    parts = urlsplit(upstream)
    upstream_host = (parts.hostname or "").lower()
    if port != (parts.port or 80):
        return
    if host in _WILDCARDS or upstream_host == host.lower() or {upstream_host, host.lower()} <= _SELF_NAMES:
        raise ConfigError(f"upstream {upstream} is this proxy itself (it listens on port {port}): point --upstream "
                          "at the engine's port, or give the proxy another --port")


def needs_proxy(conditions: Conditions, capacity: Capacity | None = None) -> bool:
    """True when the conditions inject anything (latency, jitter or a fault) or a capacity model is on, and so
    need the proxy."""
    return bool(conditions.latency_ms or conditions.jitter_ms or conditions.faults or (capacity and capacity.on))
