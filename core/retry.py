"""The retry policy: one small object, a table of error codes, full-jitter exponential backoff.

Contract: pure decisions. Randomness, sleep and clock are injected, so tests run without real sleeps. The defaults
mirror botocore's ``standard`` mode (delay = random() * min(base * 2**retry, cap), base 1 s, cap 20 s) and the lab's
attempt budget, so hand-written writers and boto3 ones retry alike.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


class Kind(enum.Enum):
    THROTTLE = "throttle"  # rejected before any write: retry after backoff
    TRANSIENT = "transient"  # 5xx: the write may or may not have happened (PutItem is idempotent): retry
    UNKNOWN = "unknown"  # no answer (timeout, reset, CRC mismatch): outcome unknown, retry
    FATAL = "fatal"  # validation, auth, signature, expired token, not found: retrying cannot help


THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "Throttling",
    "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
})
TRANSIENT_CODES = frozenset({
    "InternalServerError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
    "HTTP500", "HTTP502", "HTTP503", "HTTP504", "TransactionInProgressException",
})
UNKNOWN_OUTCOME_CODES = frozenset({"ConnectionError", "Timeout", "RequestTimeout", "RequestTimeoutException",
                                   "CRC32Mismatch", "Cancelled"})
# What each fatal code means to a person (anything not in a table above is fatal too).
FATAL_HINTS: dict[str, str] = {
    "ExpiredTokenException": "the session token has expired: refresh your credentials (e.g. `aws sso login`)",
    "ExpiredToken": "the session token has expired: refresh your credentials (e.g. `aws sso login`)",
    "UnrecognizedClientException": "the access key is not recognised: check your credentials",
    "InvalidClientTokenId": "the access key is not recognised: check your credentials",
    "InvalidSignatureException": "the request signature was rejected: check the secret key and the clock",
    "SignatureDoesNotMatch": "the request signature was rejected: check the secret key and the clock",
    "IncompleteSignatureException": "the request signature is incomplete",
    "MissingAuthenticationTokenException": "the request carried no credentials",
    "AccessDeniedException": "access denied: the credentials lack dynamodb:PutItem/BatchWriteItem on the table",
    "ResourceNotFoundException": "the table does not exist on this target",
    "ValidationException": "DynamoDB rejected the request as invalid",
    "ItemTooLarge": "the item is over DynamoDB's 400 KB limit and was not sent",
}


def classify(code: str) -> Kind:
    """The kind of an error code (DynamoDB ``__type`` suffix, ``HTTPnnn`` or a transport code)."""
    if code in THROTTLING_CODES:
        return Kind.THROTTLE
    if code in TRANSIENT_CODES:
        return Kind.TRANSIENT
    if code in UNKNOWN_OUTCOME_CODES:
        return Kind.UNKNOWN
    if code.startswith("HTTP5"):
        return Kind.TRANSIENT
    return Kind.FATAL


def explain(code: str, message: str = "") -> str:
    """One line for a person: what the code means, and DynamoDB's own message when there is one."""
    hint = FATAL_HINTS.get(code, "")
    return "; ".join(part for part in (f"{code}: {hint}" if hint else code, message) if part)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a request gets and how long to wait between them."""

    max_attempts: int = 10
    base: float = 1.0
    cap: float = 20.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise ValueError(f"max_attempts must be between 1 and 100, got {self.max_attempts}")
        if self.base < 0 or self.cap < self.base:
            raise ValueError("backoff needs 0 <= base <= cap")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): full jitter over the capped bound."""
        return self.random() * min(self.base * 2.0 ** (attempt - 1), self.cap)

    def should_retry(self, code: str, attempt: int) -> bool:
        """Whether a request that failed with ``code`` on attempt ``attempt`` (1-based) gets another try."""
        return attempt < self.max_attempts and classify(code) is not Kind.FATAL

    def worst_case_seconds(self) -> float:
        """The longest a request can spend sleeping between attempts: the bound on a hopeless run per request."""
        return sum(min(self.base * 2.0 ** (attempt - 1), self.cap) for attempt in range(1, self.max_attempts))
