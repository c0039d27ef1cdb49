"""Calls to DynamoDB's bulk put operations, signed by the lab's own SigV4 signer over the JSON protocol.

``BulkClient(target)`` uses the target's endpoint, credentials and CA bundle, one connection per call. Throttling, 5xx
and dropped connections are retried ``attempts`` times (``sleep`` injected); any other refusal raises
``BulkCallError`` with DynamoDB's code and message (``unknown_operation`` tells an engine without the operation apart).
Retrying StartBulkPutItems is safe only with a ClientToken.
"""

from __future__ import annotations

import datetime as dt
import http.client
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from core.domain.bulkwire import (
    BulkOperationDescription,
    BulkOperationPage,
    ListBulkOperations,
    StartBulkPutItems,
    arn_body,
    encode,
)
from core.domain.errors import TargetError
from core.targets.target import Target
from core.wire import logs
from core.wire.protocol import CONTENT_TYPE, error_code, target_header
from core.wire.retry import THROTTLING_CODES, TRANSIENT_CODES
from core.wire.sigv4 import sign

UNKNOWN_OPERATION = frozenset({"UnknownOperationException", "UnknownOperation", "InvalidAction", "NotImplemented"})


class BulkCallError(TargetError):
    """DynamoDB refused a bulk operation call; ``code`` is its error code (``Exception`` suffix kept)."""

    def __init__(self, operation: str, code: str, message: str, where: str) -> None:
        super().__init__(f"{operation} was refused at {where} ({code}: {message})")
        self.operation, self.code, self.message = operation, code, message

    @property
    def unknown_operation(self) -> bool:
        return self.code in UNKNOWN_OPERATION


class BulkClient:
    """The four bulk operations against one target."""

    def __init__(self, target: Target, *, timeout: float = 30.0, attempts: int = 4,
                 sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.target, self.timeout, self.attempts, self.sleep, self.now = target, timeout, attempts, sleep, now
        self.url = (target.endpoint_url or target.resolved_endpoint()).rstrip("/") + "/"
        self.where = target.where

    def start(self, request: StartBulkPutItems) -> BulkOperationDescription:
        answer = self.call("StartBulkPutItems", request.body())
        return BulkOperationDescription.from_json(answer["BulkOperationDescription"])

    def describe(self, arn: str) -> BulkOperationDescription:
        answer = self.call("DescribeBulkOperation", arn_body(arn))
        return BulkOperationDescription.from_json(answer["BulkOperationDescription"])

    def list(self, request: ListBulkOperations | None = None) -> BulkOperationPage:
        return BulkOperationPage.from_json(self.call("ListBulkOperations", (request or ListBulkOperations()).body()))

    def cancel(self, arn: str) -> str:
        """Ask DynamoDB to cancel; the status it answers (CANCELLING)."""
        return str(self.call("CancelBulkOperation", arn_body(arn)).get("BulkOperationStatus", ""))

    def call(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One operation, retried on throttling, 5xx and dropped connections; its answer as JSON."""
        payload = encode(body)
        for attempt in range(self.attempts):
            try:
                status, raw = self._send(operation, payload)
            except (OSError, http.client.HTTPException) as error:
                if attempt + 1 == self.attempts:
                    raise TargetError(f"{operation} at {self.where} did not answer ({type(error).__name__}: "
                                      f"{logs.redact(str(error))[:200]})") from None
                self.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            if status == 200:
                answer = orjson.loads(raw) if raw else {}
                return answer if isinstance(answer, dict) else {}
            code, message = error_code(status, raw)
            retry = code in THROTTLING_CODES or code in TRANSIENT_CODES or status >= 500
            if not retry or attempt + 1 == self.attempts:
                raise BulkCallError(operation, code, logs.redact(message.splitlines()[0][:300]) if message
                                    else "no message", self.where)
            self.sleep(min(0.2 * 2**attempt, 5.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, operation: str, payload: bytes) -> tuple[int, bytes]:
        headers = sign("POST", self.url, {"Content-Type": CONTENT_TYPE, "X-Amz-Target": target_header(operation),
                                          "Accept-Encoding": "identity"}, payload,
                       credentials=self.target.credentials(), region=self.target.region, service="dynamodb",
                       now=self.now())
        parts = urllib.parse.urlsplit(self.url)
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=self.timeout,
                                                     context=self.target.ssl_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout)
        try:
            connection.request("POST", parts.path or "/", body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
