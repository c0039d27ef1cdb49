"""Transports: how a work unit reaches DynamoDB and comes back as an ``Outcome``.

A transport sends one request per ``Work`` and never raises for a DynamoDB or network error or a stopped run: it
answers a short code and records each HTTP attempt in the tally. ``ConnectionRefused``, ``CertificateError`` and
``TLSError`` mean nothing was sent (the TLS ones are not retried); ``ConnectionError`` and ``Timeout`` mean the request
may have been written.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

from core.wire import sigv4
from core.wire.failures import tls_failure
from core.wire.protocol import (
    CONTENT_TYPE,
    batch_write_body,
    client_error,
    error_code,
    put_item_body,
    target_header,
    unprocessed_isbns,
)
from core.wire.sigv4 import Credentials
from core.writers.exchange import Outcome, Tally, Work

ANY_BOTOCORE_CALL = "dynamodb"
_SUCCESS = Outcome()  # frozen: one instance serves every plain success
_NO_TIMER = aiohttp.ClientTimeout()  # AiohttpSender times its requests out itself (Deadlines)


class BotocoreMeter:
    """Records every HTTP attempt a botocore (or aiobotocore) client makes, retries included, in a tally."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def attach(self, client: Any) -> None:
        self.listen(client.meta.events)

    def listen(self, events: Any) -> None:
        """Register on a botocore event emitter (a client's, or a session's before its clients are made)."""
        events.register(f"request-created.{ANY_BOTOCORE_CALL}", self._started)
        events.register(f"response-received.{ANY_BOTOCORE_CALL}", self._answered)

    def _started(self, request: Any, **_: Any) -> None:
        request.context["lab_started"] = time.perf_counter()

    def _answered(self, context: dict[str, Any], parsed_response: dict[str, Any] | None, exception: Exception | None,
                  **_: Any) -> None:
        seconds = time.perf_counter() - context.get("lab_started", time.perf_counter())
        code: str | None = None
        partial = False
        if exception is not None:
            code = transport_code(exception)
        elif parsed_response is not None:
            code = parsed_response.get("Error", {}).get("Code") or None
            partial = bool(parsed_response.get("UnprocessedItems"))
        self.tally.request(seconds, code, partially_throttled=partial)


def transport_failure(error: BaseException) -> tuple[str, str]:
    """``(code, message)`` of a request that got no answer: see ``transport_code``; the message names the cause."""
    tls = tls_failure(error)
    return tls if tls is not None else (transport_code(error), type(error).__name__)


def transport_code(error: BaseException) -> str:
    """The lab's code for a request that got no answer: Timeout, ConnectionRefused (nothing sent), ConnectionError,
    or CertificateError/TLSError for a failed TLS handshake."""
    tls = tls_failure(error)
    if tls is not None:
        return tls[0]
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError, asyncio.TimeoutError)):
        return "Timeout"
    if isinstance(error, (EndpointConnectionError, aiohttp.ClientConnectorError, ConnectionRefusedError)):
        return "ConnectionRefused"
    return "ConnectionError"


def _boto_request(work: Work, table: str) -> tuple[str, dict[str, Any]]:
    if work.batch:
        puts = [{"PutRequest": {"Item": book.to_item()}} for book in work.books]
        return "batch_write_item", {"RequestItems": {table: puts}}
    return "put_item", {"TableName": table, "Item": work.books[0].to_item()}


def _boto_outcome(answer: dict[str, Any], table: str) -> Outcome:
    retries = int(answer.get("ResponseMetadata", {}).get("RetryAttempts", 0))
    return Outcome(unprocessed=frozenset(unprocessed_isbns(answer, table)), attempts=retries + 1)


def _boto_error(error: Exception) -> Outcome:
    if isinstance(error, ClientError):
        retries = int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
        code, message = client_error(error.response)
        return Outcome(code=code, message=message, attempts=retries + 1)
    code, message = transport_failure(error)
    return Outcome(code=code, message=message)


_BOTO_ERRORS = (ClientError, ConnectionError, HTTPClientError, BotoCoreError)




def boto3_sender(client: Any, table: str) -> Callable[[Work], Outcome]:
    """Blocking send through a (thread-safe) boto3 client, one attempt per call."""

    def send(work: Work) -> Outcome:
        method, params = _boto_request(work, table)
        try:
            return _boto_outcome(getattr(client, method)(**params), table)
        except _BOTO_ERRORS as error:
            return _boto_error(error)

    return send


def aiobotocore_sender(client: Any, table: str) -> Callable[[Work], Any]:
    """Async send through an aiobotocore client, one attempt per call."""

    async def send(work: Work) -> Outcome:
        method, params = _boto_request(work, table)
        try:
            return _boto_outcome(await getattr(client, method)(**params), table)
        except (TimeoutError, *_BOTO_ERRORS, aiohttp.ClientError) as error:
            return _boto_error(error)

    return send


class CredentialCache:
    """Calls a credentials provider at most every ``ttl`` seconds (botocore refreshes expiring ones inside it)."""

    def __init__(self, provider: Callable[[], Credentials], ttl: float = 30.0) -> None:
        self.provider, self.ttl = provider, ttl
        self._value: Credentials | None = None
        self._fetched = 0.0

    def __call__(self) -> Credentials:
        now = time.monotonic()
        if self._value is None or now - self._fetched > self.ttl:
            self._value, self._fetched = self.provider(), now
        return self._value


class Deadlines:
    """Per-request timeouts for the requests of one event loop, at the cost of a dict entry each.

    aiohttp's own timeout arms a timer per request, about a tenth of its CPU per request (docs/performance.md). Here
    one watchdog (``async with``) wakes every quarter timeout (at most every second) and cancels the task of each
    request older than ``timeout``, as aiohttp's timer would: a request ends between ``timeout`` and 1.25 x it.
    Between ``begin`` and ``end`` no ``await`` may happen outside the request (the cancel lands there); after a
    ``CancelledError``, ``expired`` tells a timeout from a cancelled run.
    """

    def __init__(self, timeout: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.timeout, self.clock = timeout, clock
        self.tick = min(timeout / 4, 1.0)
        self._started: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Deadlines:
        self._watch = asyncio.get_running_loop().create_task(self._watching())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.wait((self._watch,))  # a cancel of this task still propagates; the watchdog's does not
            self._watch = None

    def begin(self, started: float) -> asyncio.Task[Any]:
        """The calling task starts a request at ``started`` (of ``clock``)."""
        task = asyncio.current_task()
        assert task is not None, "a request runs in a task"
        self._started[task] = started
        return task

    def end(self, task: asyncio.Task[Any]) -> None:
        """The request of ``task`` is over, whatever its end."""
        del self._started[task]
        if task in self._expired:  # cancelled, but the request ended without raising it: take the cancel back
            self._expired.discard(task)
            task.uncancel()

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """After a ``CancelledError`` in the request of ``task``: True when the watchdog cancelled it alone (the
        request timed out; the cancel is taken back), False when the run is cancelled too (re-raise)."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() == 0

    def expire(self) -> int:
        """Cancel each request older than ``timeout`` now (the watchdog's tick); how many."""
        late = self.clock() - self.timeout
        overdue = [task for task, started in self._started.items() if started <= late and task not in self._expired]
        for task in overdue:
            self._expired.add(task)
            task.cancel()
        return len(overdue)

    async def _watching(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self.expire()


class AiohttpSender:
    """The study's fastest approach, done right: hand-signed requests to the low-level JSON API over aiohttp.

    Checks ``x-amz-crc32`` when present, times out each request (``Deadlines``: use it ``async with``), asks for an
    unencoded body, and records each attempt (there are no hidden retries here: the engine resends).
    """

    def __init__(self, session: aiohttp.ClientSession, url: str, table: str, region: str,
                 credentials: Callable[[], Credentials], tally: Tally, timeout: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.session, self.url, self.table, self.region = session, url, table, region
        self.credentials, self.tally, self.clock = credentials, tally, clock
        self.deadlines = Deadlines(timeout)
        # the fixed part of each operation's signature is prepared once per second
        self._put, self._batch = (sigv4.Signer("POST", url, [("Content-Type", CONTENT_TYPE),
                                                             ("X-Amz-Target", target_header(op)),
                                                             ("Accept-Encoding", "identity")],
                                               region=region, service="dynamodb")
                                  for op in ("PutItem", "BatchWriteItem"))

    async def __aenter__(self) -> AiohttpSender:
        await self.deadlines.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.deadlines.__aexit__()

    async def __call__(self, work: Work) -> Outcome:
        if work.batch:
            signer, body = self._batch, batch_write_body(self.table, work.books)
        else:
            signer, body = self._put, put_item_body(self.table, work.books[0])
        headers = signer.sign(body, credentials=self.credentials(), now=self.clock())
        started = time.perf_counter()
        task = self.deadlines.begin(started)
        try:
            async with self.session.post(self.url, data=body, headers=headers, timeout=_NO_TIMER) as response:
                raw = await response.read()
                status, crc = response.status, response.headers.get("x-amz-crc32")
        except (TimeoutError, aiohttp.ClientError) as error:
            code, message = transport_failure(error)
            self.tally.request(time.perf_counter() - started, code)
            return Outcome(code=code, message=message)
        except asyncio.CancelledError:
            if not self.deadlines.expired(task):
                raise
            self.tally.request(time.perf_counter() - started, "Timeout")
            return Outcome(code="Timeout", message="TimeoutError")
        finally:
            self.deadlines.end(task)
        seconds = time.perf_counter() - started
        if crc is not None and int(crc) != zlib.crc32(raw):
            self.tally.request(seconds, "CRC32Mismatch")
            return Outcome(code="CRC32Mismatch", message="response body does not match x-amz-crc32")
        if status != 200:
            code, message = error_code(status, raw)
            self.tally.request(seconds, code)
            return Outcome(code=code, message=message)
        if not work.batch:
            self.tally.request(seconds, None)
            return _SUCCESS
        unprocessed = unprocessed_isbns(orjson.loads(raw), self.table)
        self.tally.request(seconds, None, partially_throttled=bool(unprocessed))
        return Outcome(unprocessed=frozenset(unprocessed)) if unprocessed else _SUCCESS
