"""Peer clients as transports: the official async AWS SDK (``aws-sdk-dynamodb``) and aiodynamo.

Each ``*_transport(target, table, tally, concurrency=, timeout=)`` is an async context manager yielding
``send(work) -> Outcome``; it closes the client and session on exit, cancelled or not. ``send`` never raises for a
DynamoDB or network error, and the clients' own retries are off. Credentials never pass through ``os.environ``; bad
ones raise ``TargetError`` before the first request. ``available(client)`` says whether it can run here.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp

from core.domain.approaches import APPROACHES
from core.domain.errors import ConfigError
from core.targets.target import Target
from core.wire.failures import tls_failure
from core.wire.protocol import error_code, unprocessed_isbns
from core.wire.sigv4 import Credentials
from core.writers.exchange import AsyncTransport, Outcome, Tally, Work
from core.writers.transports import CredentialCache, transport_code


def available(client: str) -> str | None:
    """None when the peer ``client`` ("aws-sdk" or "aiodynamo") can run here, else the one-line reason why not
    (the registry's: its Python version, its package)."""
    if client not in PEERS:
        raise ConfigError(f"unknown peer client {client!r}: choose from {', '.join(PEERS)}")
    return next(a.unavailable for a in APPROACHES.values() if a.client == client)


def _require(client: str) -> None:
    reason = available(client)
    if reason is not None:
        raise ConfigError(reason)


def _session(target: Target, concurrency: int, timeout: float, **options: Any) -> aiohttp.ClientSession:
    """An aiohttp session for a peer client: ``concurrency`` connections, HTTPS verified and proxies used (never for a
    loopback target) as the target decides."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, ttl_dns_cache=300,
                                     ssl=target.ssl_context())
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout),
                                 trust_env=target.trust_env_proxy, **options)


# --- the official async AWS SDK ----------------------------------------------------------------------------------

class _LabIdentity:
    """The SDK's identity resolver, fed by the lab's credentials provider (one identity object per key set)."""

    def __init__(self, credentials: Callable[[], Credentials]) -> None:
        from smithy_aws_core.identity import AWSCredentialsIdentity

        self._make, self._credentials = AWSCredentialsIdentity, credentials
        self._seen: Credentials | None = None
        self._identity: Any = None

    def __repr__(self) -> str:
        return "_LabIdentity(***)"

    async def get_identity(self, *, properties: Any) -> Any:
        current = self._credentials()
        if current is not self._seen:
            self._identity = self._make(access_key_id=current.access_key, secret_access_key=current.secret_key,
                                        session_token=current.token)
            self._seen = current
        return self._identity


_SDK_ERROR_ID = re.compile(r" - id: (?:\S*#)?([A-Za-z0-9_.]+)")
_SDK_STATUS = re.compile(r" - status: (\d{3})")


def _sdk_error(error: Exception) -> tuple[str, str]:
    """(code, message) of an exception the SDK raised for one call."""
    from smithy_core.exceptions import CallError, ClientTimeoutError, ModeledError

    if isinstance(error, ModeledError):  # a DynamoDB error the SDK knows: its class is named after the code
        return type(error).__name__, error.message
    if isinstance(error, (ClientTimeoutError, TimeoutError)):
        return "Timeout", type(error).__name__
    if isinstance(error, CallError):  # an unmodeled answer: the code _CodeKeepingTransport put in its header
        found = _SDK_ERROR_ID.search(error.message)
        status = _SDK_STATUS.search(error.message)
        code = found.group(1) if found else f"HTTP{status.group(1) if status else '000'}"
        return code, f"HTTP {status.group(1)}" if status else error.message
    return tls_failure(error) or (transport_code(error), f"{type(error).__name__}: {error}")


class _CodeKeepingTransport:
    """The SDK's aiohttp transport, except that an error answer without ``x-amzn-ErrorType`` gets one, read from
    its body as the lab reads it (JSON ``__type``, XML ``<Code>``, else ``HTTPnnn``). Without it the SDK reports
    every error it has no model for (InvalidSignatureException, UnrecognizedClientException, an XML answer)
    as "Unknown error ... status: 403", and the lab could not tell a wrong secret from a missing permission."""

    def __init__(self, inner: Any) -> None:
        from smithy_http import Field
        from smithy_http.aio import HTTPResponse

        self.inner, self._field, self._response = inner, Field, HTTPResponse
        self.TIMEOUT_EXCEPTIONS = inner.TIMEOUT_EXCEPTIONS
        self.SUPPORTS_DUPLEX_STREAMING = inner.SUPPORTS_DUPLEX_STREAMING

    async def send(self, request: Any, *, request_config: Any = None) -> Any:
        response = await self.inner.send(request, request_config=request_config)
        if response.status < 300 or "x-amzn-errortype" in response.fields:
            return response
        body = await response.consume_body_async()
        code, _ = error_code(response.status, body)
        response.fields.set_field(self._field(name="x-amzn-errortype", values=[code], kind="header"))
        return self._response(status=response.status, fields=response.fields, body=body, reason=response.reason)

    async def close(self) -> None:
        await self.inner.close()

    def __deepcopy__(self, memo: Any) -> _CodeKeepingTransport:
        return self  # one transport per client: the session under it is ours and closed by us


class _AwsSdkSender:
    """One PutItem or BatchWriteItem through ``AsyncDynamoDBClient`` (its retries off), as an ``Outcome``."""

    def __init__(self, client: Any, table: str, tally: Tally) -> None:
        from aws_sdk_dynamodb import models
        from smithy_core.exceptions import SmithyError

        self.client, self.table, self.tally, self.models = client, table, tally, models
        self.errors = (SmithyError, aiohttp.ClientError, OSError, TimeoutError)

    def _item(self, work_item: dict[str, dict[str, str]]) -> dict[str, Any]:
        value = self.models.AttributeValueS
        return {name: value(attribute["S"]) for name, attribute in work_item.items()}

    async def __call__(self, work: Work) -> Outcome:
        m = self.models
        started = time.perf_counter()
        try:
            if work.batch:
                puts = [m.WriteRequest(put_request=m.PutRequest(item=self._item(b.to_item()))) for b in work.books]
                answer = await self.client.batch_write_item(m.BatchWriteItemInput(request_items={self.table: puts}))
            else:
                item = self._item(work.books[0].to_item())
                await self.client.put_item(m.PutItemInput(table_name=self.table, item=item))
                answer = None
        except self.errors as error:  # the SDK's errors, aiohttp's, OSError and timeouts: all become a code
            code, message = _sdk_error(error)
            self.tally.request(time.perf_counter() - started, code)
            return Outcome(code=code, message=message)
        seconds = time.perf_counter() - started
        unprocessed = frozenset(
            request.put_request.item["isbn"].value
            for request in ((answer.unprocessed_items or {}).get(self.table) or [])
            if request.put_request is not None
        ) if answer is not None else frozenset()
        self.tally.request(seconds, None, partially_throttled=bool(unprocessed))
        return Outcome(unprocessed=unprocessed)


@asynccontextmanager
async def aws_sdk_transport(target: Target, table: str, tally: Tally, *, concurrency: int,
                            timeout: float) -> AsyncIterator[AsyncTransport]:
    """``AsyncDynamoDBClient`` on an aiohttp session of ours (``concurrency`` connections, ``timeout`` s per
    request), one attempt per call; client and session are closed on exit (the SDK alone leaks its session)."""
    _require("aws-sdk")
    from aws_sdk_dynamodb.client import AsyncDynamoDBClient
    from aws_sdk_dynamodb.config import AsyncDynamoDBConfig
    from smithy_core.aio.retries import SimpleRetryStrategy
    from smithy_http.aio.aiohttp import AIOHTTPClient

    credentials = CredentialCache(target.credentials_provider())
    credentials()  # no keys: TargetError now, with its fix, not a failed request per item
    endpoint = target.resolved_endpoint()
    async with _session(target, concurrency, timeout, auto_decompress=False,
                        headers={"Accept-Encoding": "identity"}) as session:
        config = await AsyncDynamoDBConfig.resolve(
            endpoint_uri=endpoint, region=target.region, aws_credentials_identity_resolver=_LabIdentity(credentials),
            transport=_CodeKeepingTransport(AIOHTTPClient(_session=session)),
            retry_strategy=SimpleRetryStrategy(max_attempts=1))
        client = AsyncDynamoDBClient(config)
        try:
            yield _AwsSdkSender(client, table, tally)
        finally:
            await client.close()


# --- aiodynamo ---------------------------------------------------------------------------------------------------

def _aiodynamo_codes() -> dict[type[BaseException], str]:
    from aiodynamo import errors

    codes: dict[type[BaseException], str] = {cls: code for code, cls in errors.ERRORS.items()}
    codes[errors.InternalDynamoError] = "InternalServerError"
    codes[errors.ServiceUnavailable] = "ServiceUnavailable"
    codes[errors.NoCredentialsFound] = "MissingAuthenticationTokenException"
    return codes


def _aiodynamo_error(error: Exception, codes: dict[type[BaseException], str]) -> tuple[str, str]:
    from aiodynamo.errors import UnknownError

    if isinstance(error, UnknownError):  # an error aiodynamo does not name: read the body ourselves
        return error_code(int(error.status), bytes(error.body))
    code = codes.get(type(error))
    if code is not None:
        data = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        return code, str(data.get("message") or data.get("Message") or "")
    return tls_failure(error) or (transport_code(error), f"{type(error).__name__}: {error}")


def _lab_key(credentials: Callable[[], Credentials]) -> Any:
    """aiodynamo's ``Credentials``, fed by the lab's credentials provider (one ``Key`` per key set)."""
    from aiodynamo.credentials import Credentials as AiodynamoCredentials
    from aiodynamo.credentials import Key

    class LabKey(AiodynamoCredentials):
        def __init__(self) -> None:
            self._seen: Credentials | None = None
            self._key: Key | None = None

        def __repr__(self) -> str:
            return "LabKey(***)"

        async def get_key(self, http: Any) -> Key | None:
            current = credentials()
            if current is not self._seen or self._key is None:
                self._key, self._seen = Key(current.access_key, current.secret_key, current.token), current
            return self._key

        def invalidate(self) -> bool:
            return False  # nothing to refresh here: an expired token ends the request with ExpiredTokenException

        def is_disabled(self) -> bool:
            return False

    return LabKey()


def _one_attempt() -> Any:
    """aiodynamo's retry config that allows exactly one attempt per call (the lab's policy retries)."""
    from aiodynamo.models import RetryConfig, RetryTimeout

    class OneAttempt(RetryConfig):
        def delays(self) -> Any:
            return iter((0.0,))

        async def attempts(self) -> AsyncIterator[None]:
            yield
            raise RetryTimeout()

    return OneAttempt()


class _AiodynamoSender:
    """One PutItem or BatchWriteItem through aiodynamo's low-level ``Client.send_request`` (signed by aiodynamo,
    DynamoDB JSON in, the raw answer out), as an ``Outcome``."""

    def __init__(self, client: Any, table: str, tally: Tally) -> None:
        from aiodynamo.errors import AIODynamoError

        self.client, self.table, self.tally, self.codes = client, table, tally, _aiodynamo_codes()
        self.errors = (AIODynamoError, aiohttp.ClientError, OSError, TimeoutError)

    async def __call__(self, work: Work) -> Outcome:
        if work.batch:
            action = "BatchWriteItem"
            payload: dict[str, Any] = {
                "RequestItems": {self.table: [{"PutRequest": {"Item": b.to_item()}} for b in work.books]}}
        else:
            action, payload = "PutItem", {"TableName": self.table, "Item": work.books[0].to_item()}
        started = time.perf_counter()
        try:
            answer = await self.client.send_request(action=action, payload=payload)
        except self.errors as error:  # aiodynamo's errors, aiohttp's, OSError and timeouts: all become a code
            code, message = _aiodynamo_error(error, self.codes)
            self.tally.request(time.perf_counter() - started, code)
            return Outcome(code=code, message=message)
        unprocessed = frozenset(unprocessed_isbns(answer, self.table)) if work.batch else frozenset()
        self.tally.request(time.perf_counter() - started, None, partially_throttled=bool(unprocessed))
        return Outcome(unprocessed=unprocessed)


def _aiodynamo_http(session: aiohttp.ClientSession, endpoint: Any) -> Any:
    """aiodynamo's own aiohttp adapter, or, for an endpoint on a non-default port, one that sends the Host header
    aiodynamo signed: aiodynamo 26.4 signs ``host`` without the port while aiohttp sends ``host:port``, so any
    signature-checking endpoint on another port (moto with IAM auth) would reject every request."""
    from aiodynamo.http.aiohttp import AIOHTTP
    from aiodynamo.http.types import RequestFailed, Response

    if endpoint.explicit_port is None or endpoint.is_default_port():
        return AIOHTTP(session)
    signed_host = endpoint.host

    async def send(request: Any) -> Any:
        headers = {**(request.headers or {}), "Host": signed_host}
        try:
            async with session.request(request.method, request.url, headers=headers, data=request.body) as response:
                return Response(response.status, await response.read())
        except aiohttp.ClientError as error:
            raise RequestFailed(error) from error

    return send


@asynccontextmanager
async def aiodynamo_transport(target: Target, table: str, tally: Tally, *, concurrency: int,
                              timeout: float) -> AsyncIterator[AsyncTransport]:
    """aiodynamo's ``Client`` over its aiohttp adapter (see ``_aiodynamo_http``), on a session of ours
    (``concurrency`` connections, ``timeout`` s per request), one attempt per call; the session is closed on exit."""
    _require("aiodynamo")
    from aiodynamo.client import Client
    from yarl import URL

    credentials = CredentialCache(target.credentials_provider())
    credentials()
    endpoint = URL(target.resolved_endpoint())
    async with _session(target, concurrency, timeout) as session:
        client = Client(_aiodynamo_http(session, endpoint), _lab_key(credentials), target.region, endpoint,
                        throttle_config=_one_attempt())
        yield _AiodynamoSender(client, table, tally)


TransportFactory = Callable[..., AbstractAsyncContextManager[AsyncTransport]]
TRANSPORTS: dict[str, TransportFactory] = {"aws-sdk": aws_sdk_transport, "aiodynamo": aiodynamo_transport}
PEERS: tuple[str, ...] = tuple(TRANSPORTS)  # the clients of core.domain.approaches this module transports
