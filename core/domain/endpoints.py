"""Endpoints as the user types them: target kinds, regions, URLs, and the one decision "is this on this machine?".

Pure (``localstack_endpoint`` reads the environment); errors are one-line ``ConfigError``. A URL carrying credentials
(``http://KEY:SECRET@host``) is refused, so a secret never travels from a URL into a message, log, export or history.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.request
from typing import Literal, get_args
from urllib.parse import SplitResult, urlsplit

from core.domain.errors import ConfigError

Kind = Literal["embedded", "dynamodb-local", "localstack", "aws", "custom"]
KINDS: tuple[Kind, ...] = get_args(Kind)
MANAGED: tuple[Kind, ...] = ("embedded", "dynamodb-local")  # started (on a free loopback port) and stopped by the lab
DEFAULT_REGION = "us-east-1"
LOCALSTACK_START = ("docker compose up -d", "./lab.sh localstack")  # with Docker; without it (host mode)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def validate_kind(kind: str) -> Kind:
    for known in KINDS:
        if kind == known:
            return known
    raise ConfigError(f"unknown target {kind!r}: choose one of {', '.join(KINDS)}")


def validate_region(region: str) -> str:
    if not isinstance(region, str) or not _REGION.match(region):
        raise ConfigError(f"invalid region {region!r}: expected a name like us-east-1 or eu-west-2")
    return region


def _split(url: str, what: str, expected: str) -> SplitResult:
    """``urlsplit`` for typed URLs: ASCII only (a full-width ':' or '/' looks like one and is not; an international
    host name goes in its xn-- form), and a malformed one ('http://[::1') is a ``ConfigError``."""
    if not isinstance(url, str) or not url.isascii() or not url.isprintable():
        raise ConfigError(f"invalid {what} {url!r}: use plain ASCII characters (an international host name in its "
                          f"xn-- form): {expected}")
    try:
        return urlsplit(url)
    except ValueError as error:
        raise ConfigError(f"invalid {what} {url!r} ({error}): expected {expected}") from None


def validate_endpoint_url(url: str) -> str:
    """The URL without a trailing slash; ``ConfigError`` for anything but http(s)://host[:port][/path] in ASCII."""
    parts = _split(url, "endpoint URL", "http(s)://host[:port], e.g. http://localhost:4566")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError("the endpoint URL must not carry credentials (user:password@): remove them and use "
                          "AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the page's key form instead")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"invalid endpoint URL {url!r}: the port must be a number from 1 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"invalid endpoint URL {url!r}: expected http(s)://host[:port], e.g. http://localhost:4566")
    return url.rstrip("/")


def validate_scheduler_address(address: str) -> str:
    """A Dask scheduler address, normalised to scheme://host:port (tcp:// assumed when no scheme is given)."""
    parts = _split(address if "://" in address else f"tcp://{address}", "scheduler address",
                   "tcp://HOST:PORT or tls://HOST:PORT, e.g. tcp://127.0.0.1:8786")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None or "@" in parts.netloc:
        raise ConfigError(f"invalid scheduler address {address!r}: expected tcp://HOST:PORT or tls://HOST:PORT, "
                          "e.g. tcp://127.0.0.1:8786")
    return f"{parts.scheme}://{parts.netloc}"


def is_local_url(url: str | None) -> bool:
    """True for loopback endpoints (localhost, 127.0.0.0/8, ::1): safe to write to without asking."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # malformed: not a loopback URL (validation names the problem)
        return False
    if host == "localhost":  # not *.localhost: without a resolver that pins it, such a name may go to DNS
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(url: str | None) -> str | None:
    """The proxy a request to ``url`` goes through (None: direct). A loopback endpoint never goes through one,
    whatever HTTP_PROXY/HTTPS_PROXY say (a proxy would see its requests, session token included); any other follows
    the environment as urllib, botocore and aiohttp read it (lower or upper case, NO_PROXY respected). ``url`` None
    is AWS's regional endpoint (HTTPS)."""
    if is_local_url(url):
        return None
    parts = urlsplit(url or "https://dynamodb.amazonaws.com")
    proxies = urllib.request.getproxies_environment()
    if not proxies.get(parts.scheme) or urllib.request.proxy_bypass(parts.netloc):  # botocore's own NO_PROXY test
        return None
    return proxies[parts.scheme]


def localstack_endpoint() -> str:
    """LocalStack's DynamoDB endpoint as localstack-client resolves it (AWS_ENDPOINT_URL, LOCALSTACK_HOST)."""
    from localstack_client.config import get_service_endpoint

    return validate_endpoint_url(get_service_endpoint("dynamodb") or "http://localhost:4566")


def endpoint_for(kind: Kind, endpoint_url: str | None) -> str | None:
    """The URL a target of ``kind`` talks to before it runs: the one given, LocalStack's resolved one, or None
    (the embedded server's is known once it runs; AWS's is botocore's regional endpoint)."""
    if endpoint_url is not None:
        return endpoint_url
    return localstack_endpoint() if kind == "localstack" else None


def off_machine(kind: Kind, endpoint_url: str | None, region: str) -> str | None:
    """Where a run of this target writes when that is off this machine (to show and to confirm), else None.

    The one place this is decided: the page's confirmation and the CLI's ``--yes`` both call it.
    """
    if kind in MANAGED:
        return None
    url = endpoint_for(kind, endpoint_url)
    if is_local_url(url):
        return None
    return url or f"AWS {region}"


DUMMY_KEYS = "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"  # for a server on this machine that checks none


def try_commands(url: str, target: Kind = "custom", env: str = DUMMY_KEYS, option: str = "",
                 region: str = DEFAULT_REGION) -> list[str]:
    """Two lines a server's banner shows, which work as pasted without an AWS account or configuration: the AWS
    CLI's list-tables and a lab run against ``url`` (``env``: the variables to set first; ``option``: e.g.
    ``--profile NAME``)."""
    prefix = f"{env} " if env else ""
    suffix = f" {option}" if option else ""
    return [f"{prefix}aws dynamodb list-tables --endpoint-url {url} --region {region}{suffix}",
            f"{prefix}python -m core run --target {target} --endpoint-url {url}{suffix}"]
