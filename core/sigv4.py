"""AWS Signature Version 4, written by hand (the point of the 2022 study).

Contract: pure functions, no I/O, no clock (``now`` is passed in). Each step of the spec is a public function
named after it; only ``sign`` assembles the headers of a request, and ``Signer`` does the same for many requests
to one URL with one header set, its fixed parts prepared once per second.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret and an optional session token; repr and str never show the secret or token."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        masked = self.access_key[:4] + "…" if len(self.access_key) > 4 else "…"
        return f"Credentials(access_key={masked!r}, secret_key='***', token={'***' if self.token else None!r})"

    __str__ = __repr__


class SigningError(ValueError):
    """Bad input to the signer, raised before any request is made."""


ALGORITHM = "AWS4-HMAC-SHA256"
_UNRESERVED = "-_.~"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def _quote(text: str, safe: str = _UNRESERVED) -> str:
    return quote(text, safe=safe)


def canonical_uri(path: str) -> str:
    """Normalised (dot segments and duplicate slashes removed) and URI-encoded path, as for every non-S3 service."""
    segments: list[str] = []
    for segment in unquote(path).split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalised = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalised += "/"
    return _quote(normalised, safe="/" + _UNRESERVED)


def canonical_query_string(query: str) -> str:
    """Parameters encoded (RFC 3986) and sorted by encoded name, then encoded value; empty names/values kept."""
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((_quote(unquote(name)), _quote(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def canonical_headers(headers: Headers) -> dict[str, str]:
    """Lower-cased names, sorted; values trimmed, inner whitespace (folded lines too) collapsed; repeats joined."""
    merged: dict[str, list[str]] = {}
    for name, value in _header_pairs(headers):
        merged.setdefault(name.strip().lower(), []).append(" ".join(str(value).split()))
    return {name: ",".join(merged[name]) for name in sorted(merged)}


def signed_headers(canonical: Mapping[str, str]) -> str:
    return ";".join(canonical)


def canonical_request(method: str, url: str, headers: Headers, body: bytes) -> str:
    """The spec's canonical request for ``method url`` with exactly ``headers`` (Host included) and ``body``."""
    _, path, query = _split(url)
    return _canonical_request(method, path, query, canonical_headers(headers), body)


def _canonical_request(method: str, path: str, query: str, canonical: Mapping[str, str], body: bytes) -> str:
    return _canonical_prefix(method, path, query, canonical) + _payload_hash(body)


def _canonical_prefix(method: str, path: str, query: str, canonical: Mapping[str, str]) -> str:
    """The canonical request up to (not including) the payload hash."""
    header_block = "".join(f"{name}:{value}\n" for name, value in canonical.items())
    return f"{method.upper()}\n{path}\n{query}\n{header_block}\n{signed_headers(canonical)}\n"


def _payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256


@functools.lru_cache(maxsize=256)
def _split(url: str) -> tuple[str, str, str]:
    """(host as sent, canonical URI, canonical query string) of a URL; cached, since a writer reuses one URL."""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1], canonical_uri(parts.path or "/"), canonical_query_string(parts.query)


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(amz_date: str, scope: str, creq: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


@functools.lru_cache(maxsize=64)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"); cached per day."""
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def signature(key: bytes, sts: str) -> str:
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def _check(credentials: Credentials, region: str, service: str) -> None:
    if not credentials.access_key or not credentials.secret_key:
        raise SigningError("cannot sign: the access key and the secret key must not be empty")
    if not region or not service:
        raise SigningError("cannot sign: region and service must not be empty")


def _stamps(now: dt.datetime) -> tuple[str, str]:
    """(date, amz_date) of an aware time, in UTC."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise SigningError("cannot sign: `now` must be an aware datetime (e.g. datetime.now(timezone.utc))")
    now = now.astimezone(dt.UTC)
    date = f"{now.year:04d}{now.month:02d}{now.day:02d}"
    return date, f"{date}T{now.hour:02d}{now.minute:02d}{now.second:02d}Z"


def _with_host_date_token(headers: Headers, host: str, amz_date: str, token: str | None) -> list[tuple[str, str]]:
    pairs = _header_pairs(headers)
    present = {name.strip().lower() for name, _ in pairs}
    if "host" not in present:
        pairs.append(("Host", host))
    if "x-amz-date" not in present:
        pairs.append(("X-Amz-Date", amz_date))
    if token and "x-amz-security-token" not in present:
        pairs.append(("X-Amz-Security-Token", token))
    return pairs


def _merged(pairs: list[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in pairs:
        result[name] = f"{result[name]},{value}" if name in result else value
    return result


def _authorization(access_key: str, scope: str, canonical: Mapping[str, str], sig: str) -> str:
    return f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_headers(canonical)}, Signature={sig}"


def sign(method: str, url: str, headers: Headers, body: bytes, *, credentials: Credentials, region: str,
         service: str, now: dt.datetime) -> dict[str, str]:
    """The headers to send: the given ones plus Host (when absent), X-Amz-Date, X-Amz-Security-Token (when the
    credentials carry one and it is absent) and Authorization. Every header given is signed."""
    _check(credentials, region, service)
    date, amz_date = _stamps(now)
    host, path, query = _split(url)
    pairs = _with_host_date_token(headers, host, amz_date, credentials.token)
    canonical = canonical_headers(pairs)
    scope = credential_scope(date, region, service)
    sts = string_to_sign(amz_date, scope, _canonical_request(method, path, query, canonical, body))
    sig = signature(signing_key(credentials.secret_key, date, region, service), sts)
    result = _merged(pairs)
    result["Authorization"] = _authorization(credentials.access_key, scope, canonical, sig)
    return result


class Signer:
    """``sign`` for many requests that differ only in body, time and key set (a writer's PutItems, say).

    Method, URL and headers are fixed at construction; the canonical request's fixed part, the string to sign's
    prefix, the signing key and the headers are prepared once per second and key set, so a request costs two
    SHA-256 and one HMAC. The result equals ``sign``'s for the same input. ``now`` is Unix time in seconds.
    """

    def __init__(self, method: str, url: str, headers: Headers, *, region: str, service: str) -> None:
        if not region or not service:
            raise SigningError("cannot sign: region and service must not be empty")
        self._method, self._headers, self._region, self._service = method, _header_pairs(headers), region, service
        self._host, self._path, self._query = _split(url)
        self._second: int | None = None
        self._credentials: Credentials | None = None
        self._authorization_prefix = ""
        self._canonical_hash = hashlib.sha256()  # fed the canonical request's fixed part; copied per request
        self._sts_hmac = hmac.new(b"", digestmod=hashlib.sha256)  # keyed and fed the string to sign's fixed part
        self._signed: dict[str, str] = {}

    def _prepare(self, second: int, credentials: Credentials) -> None:
        _check(credentials, self._region, self._service)
        date, amz_date = _stamps(dt.datetime.fromtimestamp(second, dt.UTC))
        pairs = _with_host_date_token(self._headers, self._host, amz_date, credentials.token)
        canonical = canonical_headers(pairs)
        scope = credential_scope(date, self._region, self._service)
        fixed = _canonical_prefix(self._method, self._path, self._query, canonical)
        self._canonical_hash = hashlib.sha256(fixed.encode())
        key = signing_key(credentials.secret_key, date, self._region, self._service)
        self._sts_hmac = hmac.new(key, f"{ALGORITHM}\n{amz_date}\n{scope}\n".encode(), hashlib.sha256)
        self._authorization_prefix = _authorization(credentials.access_key, scope, canonical, "")
        self._signed = _merged(pairs)
        self._second, self._credentials = second, credentials

    def sign(self, body: bytes, *, credentials: Credentials, now: float) -> dict[str, str]:
        second = int(now)
        if second != self._second or credentials is not self._credentials:
            self._prepare(second, credentials)
        creq = self._canonical_hash.copy()
        creq.update(_payload_hash(body).encode())
        sts = self._sts_hmac.copy()
        sts.update(creq.hexdigest().encode())
        headers = self._signed.copy()
        headers["Authorization"] = self._authorization_prefix + sts.hexdigest()
        return headers
