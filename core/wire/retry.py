"""The retry policy: the error-code table, full-jitter exponential backoff, and a circuit breaker.

Pure: randomness and the clock are injected, the drivers sleep. ``RetryPolicy`` defaults to botocore's ``standard``
backoff (base 1 s, cap 20 s). One ``CircuitBreaker`` per run sees every attempt, so a hopeless run ends in seconds.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Kind(enum.Enum):
    THROTTLE = "throttle"  # rejected before any write: retry after backoff
    TRANSIENT = "transient"  # 5xx: the write may or may not have happened (PutItem is idempotent): retry
    UNKNOWN = "unknown"  # no answer (timeout, reset, CRC mismatch): outcome unknown, retry
    REFUSED = "refused"  # no connection: nothing was sent; retry (the server may be restarting)
    FATAL = "fatal"  # validation, auth, signature, expired token, not found: retrying cannot help


THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "Throttling",
    "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
})
TRANSIENT_CODES = frozenset({
    "InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException",
    "HTTP500", "HTTP502", "HTTP503", "HTTP504", "TransactionInProgressException",
})
UNKNOWN_OUTCOME_CODES = frozenset({"ConnectionError", "Timeout", "RequestTimeout", "RequestTimeoutException",
                                   "CRC32Mismatch"})
# Nothing was sent, so nothing was written: no connection could be made (retried: a server may be restarting).
REFUSED_CODES = frozenset({"ConnectionRefused"})
# What each fatal code means to a person (anything not in a table above is fatal too).
FATAL_HINTS: dict[str, str] = {
    "ExpiredTokenException": "the session token has expired: refresh your credentials (e.g. `aws sso login`)",
    "ExpiredToken": "the session token has expired: refresh your credentials (e.g. `aws sso login`)",
    "UnrecognizedClientException": "the access key is not recognised: check your credentials",
    "InvalidClientTokenId": "the access key is not recognised: check your credentials",
    "InvalidSignatureException": "the request signature was rejected: check the key pair (the secret key must be "
                                 "the access key id's)",
    "SignatureDoesNotMatch": "the request signature was rejected: check the secret key and the clock",
    "IncompleteSignatureException": "the request signature is incomplete",
    "MissingAuthenticationTokenException": "the request carried no credentials",
    "AccessDeniedException": "access denied: the credentials lack dynamodb:PutItem/BatchWriteItem on the table",
    "ResourceNotFoundException": "the table does not exist on this target",
    "ValidationException": "DynamoDB rejected the request as invalid",
    "ItemTooLarge": "the item is over DynamoDB's 400 KB limit and was not sent",
    "CertificateError": "the endpoint's HTTPS certificate is not from a certificate authority trusted here: set "
                        "AWS_CA_BUNDLE (or your profile's ca_bundle) to the endpoint's CA certificate file",
    "TLSError": "the TLS handshake with the endpoint failed: check the endpoint URL's scheme (https or http)",
}
# AWS's answer to a request dated more than 5 minutes from its clock (an InvalidSignatureException):
# "Signature expired: D is now earlier than D' (NOW - 5 min.)" or "Signature not yet current: D is still later
# than D' (NOW + 5 min.)".
_SKEW = re.compile(r"Signature (?:expired|not yet current): (\d{8}T\d{6}Z) is (?:now earlier|still later) than "
                   r"\d{8}T\d{6}Z \((\d{8}T\d{6}Z) [-+]")
# A bare 502/503/504 (no DynamoDB JSON body: DynamoDB's own errors always carry one) came from something in between.
_PROXY_ANSWERED = ("a proxy (HTTP_PROXY/HTTPS_PROXY, or a load balancer in between) answered, not DynamoDB: check "
                   "the proxy, or list the endpoint's host in NO_PROXY")
HINTS: dict[str, str] = {**FATAL_HINTS, "ConnectionRefused": "the endpoint refused the connection: is it running?",
                         **{f"HTTP{status}": _PROXY_ANSWERED for status in (502, 503, 504)}}


def classify(code: str) -> Kind:
    """The kind of an error code (DynamoDB ``__type`` suffix, ``HTTPnnn`` or a transport code)."""
    if code in THROTTLING_CODES:
        return Kind.THROTTLE
    if code in TRANSIENT_CODES:
        return Kind.TRANSIENT
    if code in UNKNOWN_OUTCOME_CODES:
        return Kind.UNKNOWN
    if code in REFUSED_CODES:
        return Kind.REFUSED
    if code.startswith("HTTP5"):
        return Kind.TRANSIENT
    return Kind.FATAL


def clock_skew(message: str) -> float | None:
    """Seconds this machine's clock is ahead of the server's (negative: behind), read from AWS's "Signature
    expired" / "Signature not yet current" message; None for any other message."""
    found = _SKEW.search(message)
    if found is None:
        return None
    sent, server = (dt.datetime.strptime(text, "%Y%m%dT%H%M%SZ") for text in found.groups())
    return (sent - server).total_seconds()


def exact_duration(seconds: float) -> str:
    """'1 h 2 min 5 s', '3 min', '0 s': whole seconds, the sign dropped (retry's clock-skew line needs it)."""
    minutes, rest = divmod(round(abs(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(f"{value} {unit}" for value, unit in ((hours, "h"), (minutes, "min"), (rest, "s")) if value) \
        or "0 s"


def explain(code: str, message: str = "") -> str:
    """One line for a person: what the code means, and DynamoDB's own message when there is one."""
    skew = clock_skew(message) if code == "InvalidSignatureException" else None
    if skew is not None:
        side = "ahead of" if skew > 0 else "behind"
        hint = (f"this machine's clock is {exact_duration(skew)} {side} the server's (more than the 5 min AWS allows): "
                "fix the clock (enable NTP time sync) and run again")
        return f"{code}: {hint}; {message}"
    hint = HINTS.get(code, "")
    return "; ".join(part for part in (f"{code}: {hint}" if hint else code, message) if part)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a request gets and how long to wait between them.

    ``probe_cap`` bounds the delay while a run has not had a single success yet (``proven`` False): until the target
    has shown it accepts writes at all, the lab probes it every few seconds rather than backing off for 20 s, so the
    circuit breaker can tell "refuses everything" from "unlucky" within seconds.
    """

    max_attempts: int = 10
    base: float = 1.0
    cap: float = 20.0
    probe_cap: float = 4.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise ValueError(f"max_attempts must be between 1 and 100, got {self.max_attempts}")
        if not (0 <= self.base <= self.cap < math.inf and 0 <= self.probe_cap < math.inf):
            raise ValueError("backoff needs 0 <= base <= cap and probe_cap >= 0")

    def delay(self, attempt: int, proven: bool = True) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): full jitter over the capped bound."""
        return self.random() * min(self.base * 2.0 ** (attempt - 1), self.cap if proven else self.probe_cap)

    def should_retry(self, code: str, attempt: int) -> bool:
        """Whether a request that failed with ``code`` on attempt ``attempt`` (1-based) gets another try."""
        return attempt < self.max_attempts and classify(code) is not Kind.FATAL

    def worst_case_seconds(self) -> float:
        """The longest a request can spend sleeping between attempts: the bound on a hopeless run per request."""
        return sum(min(self.base * 2.0 ** (attempt - 1), self.cap) for attempt in range(1, self.max_attempts))


FIRST_FAILURES = 8  # refused attempts the first-wave rule always waits for: 0.3**8 = 7e-5 at a 30 % fault rate


def first_wave(parallel: int, sent: int, floor: int = FIRST_FAILURES) -> int:
    """Failed first attempts that prove a target refuses everything: the wave actually sent (the parallelism, or
    fewer when the run has fewer requests: 30 items in 2 batches), at least ``floor``, at most 64."""
    return max(floor, min(parallel, sent, 64))


ASYNC_POLL = 0.05  # how often an event-loop backoff sleep looks at the run's stop signal (seconds)

HUNG_FLOOR = 10.0  # seconds: the shortest silence taken for a hung server
HUNG_TIMEOUTS = 3  # ... else this many request timeouts


def hung_after(request_timeout: float) -> float:
    """Seconds without any answer after which a target counts as hung: ``HUNG_TIMEOUTS`` request timeouts, at least
    ``HUNG_FLOOR`` (30 s at the default 10 s timeout; 10 s at 1 s). A slow target still answers within a timeout, so
    only one that answers nothing at all for that long is given up."""
    return max(HUNG_FLOOR, HUNG_TIMEOUTS * request_timeout)


class CircuitBreaker:
    """Opens when the target refuses everything, so one run gives up in seconds, not hours.

    One per run, shared by every client, thread-safe: feed it every HTTP attempt (``attempt(ok)``). It opens when
    no attempt has succeeded and ``first_wave`` attempts failed (at least 8); when ``window`` attempts in a row failed
    after successes; when ``refusals`` connections in a row were refused; or when nothing answered for ``silence``
    seconds over at least 3 attempts (a hung server). Once open it stays open, with the reason in ``reason``. A false
    opening at a 30 % fault rate has odds 0.3**8 per run (first rule) and 0.3**window per attempt (second).
    """

    def __init__(self, parallel: int = 1, first_failures: int = FIRST_FAILURES, window: int = 24, refusals: int = 5,
                 silence: float = hung_after(10.0), clock: Callable[[], float] = time.monotonic) -> None:
        self.parallel = parallel
        self.floor = first_failures
        self.sent: int | None = None  # distinct requests started (``send``); None: nobody counts, assume parallel
        self.window = max(window, min(2 * parallel, 256))
        self.refusals = refusals
        self.silence = silence
        self.clock = clock
        self.successes = 0
        self.failures_in_a_row = 0
        self.refused_in_a_row = 0
        self.unanswered_in_a_row = 0
        self.last_answer = clock()  # the target answered (anything) at this time; the run's start before that
        self.last_code: str | None = None
        self.reason: str | None = None
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.reason is not None

    @property
    def first_failures(self) -> int:
        """Failed attempts without a success that open the breaker: the first wave actually sent (``first_wave``)."""
        return first_wave(self.parallel, self.parallel if self.sent is None else self.sent, self.floor)

    def send(self) -> None:
        """Count one more distinct request (a work unit, not a retry) started by the run."""
        with self._lock:
            self.sent = (self.sent or 0) + 1

    @property
    def proven(self) -> bool:
        """At least one attempt of this run succeeded."""
        return self.successes > 0

    def attempt(self, code: str | None) -> bool:
        """Record one attempt's result (``code`` None: it succeeded); True when this attempt opened the breaker."""
        if code is None:
            with self._lock:
                self.last_answer = self.clock()
                self.successes += 1
                self.unanswered_in_a_row = self.failures_in_a_row = self.refused_in_a_row = 0
            return False
        with self._lock:
            kind = classify(code)
            if kind not in (Kind.UNKNOWN, Kind.REFUSED):  # an answer, even a throttle: the target is alive
                self.last_answer = self.clock()
                self.unanswered_in_a_row = 0
            else:
                self.unanswered_in_a_row += 1
            self.failures_in_a_row += 1
            self.refused_in_a_row = self.refused_in_a_row + 1 if kind is Kind.REFUSED else 0
            self.last_code = code
            if self.reason is not None:
                return False
            silent = self.clock() - self.last_answer
            if self.refused_in_a_row >= self.refusals:
                self.reason = (f"{self.refused_in_a_row} connections in a row were refused ({explain(code)}): "
                               f"the endpoint went away, gave up")
            elif self.unanswered_in_a_row >= 3 and silent >= self.silence:
                self.reason = (f"the target has not answered for {silent:.0f} s ({self.unanswered_in_a_row} "
                               f"attempts in a row, {explain(code)}): it stopped responding, gave up")
            elif not self.successes and self.failures_in_a_row >= self.first_failures:
                self.reason = (f"the target refused all of the first {self.failures_in_a_row} attempts "
                               f"({explain(code)}): gave up instead of retrying for minutes")
            elif self.successes and self.failures_in_a_row >= self.window:
                self.reason = (f"{self.failures_in_a_row} attempts in a row failed ({explain(code)}): "
                               f"the target stopped accepting writes, gave up")
            return self.reason is not None
