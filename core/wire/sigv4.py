"""AWS Signature Version 4, written by hand (the point of the 2022 study).

Pure, no clock (``now`` is passed in; a naive ``now`` is a ``SigningError``). Each step of the spec is a public
function; ``sign`` assembles a request's headers, ``Signer`` does the same for many requests to one URL. Non-S3 rules:
the path is normalised and encoded once more (``/a%20b`` signs as ``/a%2520b``), as botocore does.
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
Headers = Mapping[str, str] | Iterable[tuple[str, str]]
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SET_BY_SIGN = frozenset({"x-amz-date", "authorization"})  # whatever the caller passed, sign sets these itself
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECOND = dt.timedelta(seconds=1)


def canonical_uri(path: str) -> str:
    """The path as sent, normalised (RFC 3986 dot segments and empty segments removed, a trailing slash kept)
    and URI-encoded once more, as every service but S3 expects."""
    if path in ("", "/"):
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = "/" if segments and path.endswith("/") else ""
    return quote("/" + "/".join(segments) + trailing, safe="/")


def canonical_query_string(query: str) -> str:
    """Names and values decoded, then RFC 3986-encoded (only ``A-Za-z0-9-_.~`` kept, space as ``%20``) and sorted
    by encoded name, then encoded value; a missing ``=``, an empty name or an empty value is kept as empty."""
    pairs = []
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        pairs.append((quote(unquote(name), safe=""), quote(unquote(value), safe="")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _pairs(headers: Headers) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def _canonical_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case name -> value trimmed, inner whitespace collapsed; a repeated name's values joined with commas."""
    values: dict[str, str] = {}
    for name, value in pairs:
        key, trimmed = name.strip().lower(), " ".join(value.split())
        values[key] = f"{values[key]},{trimmed}" if key in values else trimmed
    return values


def canonical_headers(headers: Headers) -> dict[str, str]:
    """Names lower-cased and sorted; each value trimmed and its inner whitespace (folded lines too) collapsed to
    one space; the values of a repeated name joined with commas, in the order given."""
    return dict(sorted(_canonical_values(_pairs(headers)).items()))


def signed_headers(canonical: Mapping[str, str]) -> str:
    """The names of the canonical headers (lower-cased, sorted), joined with semicolons."""
    return ";".join(canonical)


def canonical_request(method: str, url: str, headers: Headers, body: bytes) -> str:
    """The canonical request for ``method url`` sending exactly ``headers`` (Host included) and ``body``; the
    payload hash is the value of an ``X-Amz-Content-Sha256`` header when there is one, as botocore does."""
    _, path, query = _split(url)
    return _canonical_request(method, path, query, canonical_headers(headers), body)


def _canonical_request(method: str, path: str, query: str, canonical: Mapping[str, str], body: bytes) -> str:
    payload_hash = canonical.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    return _canonical_prefix(method, path, query, canonical) + payload_hash


def _canonical_prefix(method: str, path: str, query: str, canonical: Mapping[str, str]) -> str:
    """The canonical request up to (not including) its payload hash."""
    lines = "".join([f"{name}:{value}\n" for name, value in canonical.items()])
    return f"{method.upper()}\n{path}\n{query}\n{lines}\n{signed_headers(canonical)}\n"


@functools.lru_cache(maxsize=256)
def _split(url: str) -> tuple[str, str, str]:
    """(Host header, canonical URI, canonical query string) of a URL; cached, as a writer reuses one URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise SigningError(f"cannot sign: bad URL {url!r} ({error})") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise SigningError(f"cannot sign: {url!r} is not an absolute http(s) URL")
    host = parts.netloc.rpartition("@")[2]
    if port == _DEFAULT_PORTS[parts.scheme]:  # sent without it, as HTTP clients do
        host = host.rpartition(":")[0]
    return host, canonical_uri(parts.path), canonical_query_string(parts.query)


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(amz_date: str, scope: str, creq: str) -> str:
    """Algorithm, request time, credential scope and the hex SHA-256 of the canonical request, one per line."""
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"


@functools.lru_cache(maxsize=64)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"); cached, as it
    changes once a day."""
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


@functools.lru_cache(maxsize=64)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def signature(key: bytes, sts: str) -> str:
    """Hex HMAC-SHA256 of the string to sign under the signing key (a copy of the key's cached HMAC state)."""
    mac = _keyed_hmac(key).copy()
    mac.update(sts.encode())
    return mac.hexdigest()


@functools.lru_cache(maxsize=4)
def _amz_date(epoch_second: int) -> str:
    """ISO 8601 basic UTC time, e.g. 20150830T123600Z; cached, as a writer signs many requests per second."""
    t = _EPOCH + dt.timedelta(seconds=epoch_second)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}T{t.hour:02d}{t.minute:02d}{t.second:02d}Z"


@dataclass(frozen=True)
class _Prepared:
    """Everything of a signature but the body: what ``sign`` and ``Signer`` share."""

    canonical_prefix: str  # the canonical request up to its payload hash
    payload_hash: str | None  # fixed by an X-Amz-Content-Sha256 header, else None (the body's hash)
    sts_prefix: str  # the string to sign up to the canonical request's hash
    key: bytes
    sent: dict[str, str]  # the headers to send, Authorization aside
    authorization_prefix: str  # the Authorization header up to the signature


def _prepare(method: str, url: str, headers: Headers, credentials: Credentials, region: str, service: str,
             amz_date: str) -> _Prepared:
    if not credentials.access_key or not credentials.secret_key:
        raise SigningError("cannot sign: the access key and the secret key must not be empty")
    if not region or not service:
        raise SigningError("cannot sign: region and service must not be empty")
    host, path, query = _split(url)
    pairs = _pairs(headers)
    values = _canonical_values(pairs)
    if not _SET_BY_SIGN.isdisjoint(values):  # e.g. a retry passing back the headers of its first attempt
        pairs = [(name, value) for name, value in pairs if name.strip().lower() not in _SET_BY_SIGN]
        values = {name: value for name, value in values.items() if name not in _SET_BY_SIGN}
    added = [] if "host" in values else [("Host", host)]
    added.append(("X-Amz-Date", amz_date))
    if credentials.token and "x-amz-security-token" not in values:
        added.append(("X-Amz-Security-Token", credentials.token))
    pairs += added
    values.update(_canonical_values(added))
    canonical = dict(sorted(values.items()))
    scope = credential_scope(amz_date[:8], region, service)
    return _Prepared(
        canonical_prefix=_canonical_prefix(method, path, query, canonical),
        payload_hash=canonical.get("x-amz-content-sha256") or None,
        sts_prefix=f"{ALGORITHM}\n{amz_date}\n{scope}\n",
        key=signing_key(credentials.secret_key, amz_date[:8], region, service),
        sent=dict(pairs) if len(pairs) == len(canonical) else _joined(pairs, canonical),
        authorization_prefix=(f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
                              f"SignedHeaders={signed_headers(canonical)}, Signature="),
    )


def sign(method: str, url: str, headers: Headers, body: bytes, *, credentials: Credentials, region: str,
         service: str, now: dt.datetime) -> dict[str, str]:
    """The headers to send: the given ones (a name given more than once: once, its values joined with commas),
    plus ``Host`` from the URL when absent, ``X-Amz-Date`` from ``now`` (replacing any given),
    ``X-Amz-Security-Token`` when the credentials carry a token and it is absent, and ``Authorization`` (replacing
    any given). Every header returned but ``Authorization`` is signed; no ``X-Amz-Content-Sha256`` is added."""
    if not isinstance(now, dt.datetime) or now.utcoffset() is None:
        raise SigningError("cannot sign: `now` must be an aware datetime (e.g. datetime.now(timezone.utc))")
    amz_date = _amz_date((now - _EPOCH) // _SECOND)  # any time zone: the difference is in UTC
    prepared = _prepare(method, url, headers, credentials, region, service, amz_date)
    creq = prepared.canonical_prefix + (prepared.payload_hash or hashlib.sha256(body).hexdigest())
    sts = prepared.sts_prefix + hashlib.sha256(creq.encode()).hexdigest()
    sent = dict(prepared.sent)
    sent["Authorization"] = prepared.authorization_prefix + signature(prepared.key, sts)
    return sent


class Signer:
    """``sign`` for many requests that differ only in body, time and key set (a writer's PutItems, say).

    Method, URL and headers are fixed at construction. What does not depend on the body (the canonical request up
    to the payload hash, already fed to a SHA-256; the HMAC's inner hash already fed the key and the string to sign's
    prefix, and its outer hash the key; the headers) is prepared once per second and key set, so a request costs a
    SHA-256 of the body and three of one block each, on copies of prepared states. The headers equal ``sign``'s for
    the same input; ``now`` is Unix time in seconds (e.g. ``time.time()``).
    """

    def __init__(self, method: str, url: str, headers: Headers, *, region: str, service: str) -> None:
        if not region or not service:
            raise SigningError("cannot sign: region and service must not be empty")
        self._method, self._url, self._headers = method, url, _pairs(headers)
        self._region, self._service = region, service
        _split(self._url)  # a bad URL fails here, not on the first request
        self._second: int | None = None
        self._credentials: Credentials | None = None
        self._prepared: _Prepared | None = None
        self._canonical = self._inner = self._outer = hashlib.sha256()

    def sign(self, body: bytes, *, credentials: Credentials, now: float) -> dict[str, str]:
        second = int(now // 1)
        prepared = self._prepared
        if prepared is None or second != self._second or credentials is not self._credentials:
            prepared = _prepare(self._method, self._url, self._headers, credentials, self._region, self._service,
                                _amz_date(second))
            self._canonical = hashlib.sha256(prepared.canonical_prefix.encode())
            self._inner, self._outer = _hmac_states(prepared.key)
            self._inner.update(prepared.sts_prefix.encode())
            self._prepared, self._second, self._credentials = prepared, second, credentials
        creq = self._canonical.copy()
        creq.update((prepared.payload_hash or hashlib.sha256(body).hexdigest()).encode())
        inner = self._inner.copy()
        inner.update(creq.hexdigest().encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return {**prepared.sent, "Authorization": prepared.authorization_prefix + outer.hexdigest()}


_SHA256_BLOCK = 64
_IPAD = bytes(0x36 for _ in range(_SHA256_BLOCK))
_OPAD = bytes(0x5C for _ in range(_SHA256_BLOCK))


def _hmac_states(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256 (RFC 2104) as two SHA-256 states, inner fed ``key ^ ipad``, outer ``key ^ opad``: then
    HMAC(key, m) = outer.update(inner.update(m).digest()). Copies of these states cost less than copies of an
    ``hmac`` object (its Python wrapper, or OpenSSL's MAC context). ``key``: at most one block (a signing key is 32
    bytes)."""
    if len(key) > _SHA256_BLOCK:
        raise SigningError("an HMAC key longer than one SHA-256 block must be hashed first")
    padded = key.ljust(_SHA256_BLOCK, b"\0")
    return (hashlib.sha256(bytes(k ^ p for k, p in zip(padded, _IPAD, strict=True))),
            hashlib.sha256(bytes(k ^ p for k, p in zip(padded, _OPAD, strict=True))))


def _joined(pairs: Iterable[tuple[str, str]], canonical: Mapping[str, str]) -> dict[str, str]:
    """Headers where a name comes more than once (in any case): sent once, under its first spelling, with the value
    signed (each trimmed, joined with commas), which the server canonicalises to the same; other values as given."""
    sent: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = name.strip().lower()
        if key in spelling:
            sent[spelling[key]] = canonical[key]
        else:
            spelling[key] = name
            sent[name] = value
    return sent
