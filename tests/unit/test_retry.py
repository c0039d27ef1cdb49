"""core.wire.retry: the table of codes, the attempt budget, full-jitter backoff bounds and the hints; no real sleeps."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from core.wire.retry import (
    FATAL_HINTS,
    THROTTLING_CODES,
    TRANSIENT_CODES,
    UNKNOWN_OUTCOME_CODES,
    CircuitBreaker,
    Kind,
    RetryPolicy,
    classify,
    explain,
    first_wave,
    hung_after,
)

CODES: list[tuple[str, Kind]] = [
    # DynamoDB's three throttling answers, and the other names botocore treats as throttling
    ("ProvisionedThroughputExceededException", Kind.THROTTLE),
    ("ThrottlingException", Kind.THROTTLE),
    ("RequestLimitExceeded", Kind.THROTTLE),
    ("Throttling", Kind.THROTTLE),
    ("TooManyRequestsException", Kind.THROTTLE),
    # 5xx: the write may or may not have happened
    ("InternalServerError", Kind.TRANSIENT),
    ("InternalFailure", Kind.TRANSIENT),
    ("InternalError", Kind.TRANSIENT),  # LocalStack's 500
    ("ServiceUnavailable", Kind.TRANSIENT),
    ("HTTP500", Kind.TRANSIENT),
    ("HTTP502", Kind.TRANSIENT),
    ("HTTP503", Kind.TRANSIENT),
    ("HTTP504", Kind.TRANSIENT),
    ("HTTP599", Kind.TRANSIENT),  # any HTTP5xx the body did not name
    # no answer at all
    ("ConnectionError", Kind.UNKNOWN),
    ("Timeout", Kind.UNKNOWN),
    ("RequestTimeout", Kind.UNKNOWN),
    ("CRC32Mismatch", Kind.UNKNOWN),
    ("ConnectionRefused", Kind.REFUSED),  # nothing was sent
    # retrying cannot help
    ("ValidationException", Kind.FATAL),
    ("AccessDeniedException", Kind.FATAL),
    ("UnrecognizedClientException", Kind.FATAL),
    ("InvalidSignatureException", Kind.FATAL),
    ("SignatureDoesNotMatch", Kind.FATAL),
    ("ExpiredTokenException", Kind.FATAL),
    ("ResourceNotFoundException", Kind.FATAL),
    ("ItemTooLarge", Kind.FATAL),
    ("HTTP400", Kind.FATAL),
    ("HTTP403", Kind.FATAL),
    ("SomethingNewFromAWS", Kind.FATAL),  # an unknown code is fatal, never retried forever
    ("", Kind.FATAL),
    ("throttlingexception", Kind.FATAL),  # codes are case-sensitive, as AWS sends them
]


@pytest.mark.parametrize(("code", "kind"), CODES)
def test_classify(code: str, kind: Kind) -> None:
    assert classify(code) is kind


def test_code_tables_are_disjoint_and_hinted_codes_are_fatal() -> None:
    assert not THROTTLING_CODES & TRANSIENT_CODES
    assert not THROTTLING_CODES & UNKNOWN_OUTCOME_CODES
    assert not TRANSIENT_CODES & UNKNOWN_OUTCOME_CODES
    assert {code: classify(code) for code in FATAL_HINTS} == dict.fromkeys(FATAL_HINTS, Kind.FATAL)


@pytest.mark.parametrize(("code", "kind"), CODES)
@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5])
def test_should_retry_within_the_budget(code: str, kind: Kind, attempt: int) -> None:
    policy = RetryPolicy(max_attempts=4)
    assert policy.should_retry(code, attempt) is (attempt < 4 and kind is not Kind.FATAL)


@pytest.mark.parametrize("code", ["ThrottlingException", "HTTP503", "Timeout", "ValidationException"])
def test_a_single_attempt_policy_never_retries(code: str) -> None:
    assert not RetryPolicy(max_attempts=1).should_retry(code, 1)


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
@pytest.mark.parametrize("attempt", range(1, 13))
def test_full_jitter_is_bounded_and_capped(draw: float, attempt: int) -> None:
    policy = RetryPolicy(base=0.1, cap=5.0, random=lambda: draw)
    bound = min(0.1 * 2 ** (attempt - 1), 5.0)
    delay = policy.delay(attempt)
    assert delay == pytest.approx(draw * bound)
    assert 0 <= delay <= bound <= 5.0
    if draw == 0.0:
        assert delay == 0
    if attempt >= 7:  # 0.1 * 2**6 = 6.4 > 5: the cap binds from the 7th attempt on
        assert bound == 5.0 and delay == pytest.approx(draw * 5.0)


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_backoff_never_shrinks(draw: float) -> None:
    policy = RetryPolicy(base=0.1, cap=5.0, random=lambda: draw)
    delays = [policy.delay(attempt) for attempt in range(1, 13)]
    assert delays == sorted(delays)


def test_delay_draws_fresh_randomness_each_time() -> None:
    draws = iter([0.25, 0.75])
    policy = RetryPolicy(base=1.0, cap=20.0, random=lambda: next(draws))
    assert [policy.delay(3), policy.delay(3)] == [1.0, 3.0]


def test_the_policy_has_no_sleep_or_clock_of_its_own() -> None:
    names = {f.name for f in dataclasses.fields(RetryPolicy)}
    assert names == {"max_attempts", "base", "cap", "probe_cap", "random"}


def test_an_unproven_run_probes_with_short_delays() -> None:
    policy = RetryPolicy(random=lambda: 1.0)
    assert [policy.delay(a, proven=False) for a in range(1, 8)] == [1, 2, 4, 4, 4, 4, 4]
    assert sum(policy.delay(a, proven=False) for a in range(1, 8)) <= 23  # 8 attempts fit in well under 30 s


THROTTLE = "ProvisionedThroughputExceededException"


@pytest.mark.parametrize(("parallel", "answers", "opens_at"), [
    (1, [THROTTLE] * 8, 8),  # refuses everything from the start: the eighth failure opens it
    (1, [THROTTLE] * 7, None),
    (1, [None] + [THROTTLE] * 23, None),  # after a success, 24 in a row are needed
    (1, [None] + [THROTTLE] * 24, 25),
    (1, [THROTTLE] * 7 + [None] + [THROTTLE] * 23, None),  # a success resets the count
    (1, ["ConnectionRefused"] * 5, 5),  # nothing listens: 5 refusals in a row, with or without earlier successes
    (1, [None] + ["ConnectionRefused"] * 5, 6),  # the endpoint went away mid-run: 5 refusals, not 24 backoffs
    (1, [None] + ["ConnectionRefused"] * 4, None),
    (1, [None] + ["ConnectionRefused"] * 4 + [THROTTLE] + ["ConnectionRefused"] * 4, None),  # an answer: alive
    (100, [None] + ["Timeout"] * 3 + ["ConnectionRefused"] * 5, 9),  # in-flight requests cut, then refusals
    (100, [THROTTLE] * 63, None),  # a concurrent run needs its first wave to fail: min(parallel, 64)
    (100, [THROTTLE] * 64, 64),
    (100, [None] + [THROTTLE] * 200, 201),  # ... and then 2 x parallel in a row
])
def test_the_circuit_breaker_opens_only_on_a_target_that_refuses_everything(
        parallel: int, answers: list[str | None], opens_at: int | None) -> None:
    breaker = CircuitBreaker(parallel=parallel)
    opened = [i + 1 for i, code in enumerate(answers) if breaker.attempt(code)]
    assert opened == ([opens_at] if opens_at else [])
    assert breaker.open is (opens_at is not None)
    if opens_at:
        assert "gave up" in (breaker.reason or "") and str(answers[-1]) in (breaker.reason or "")


@pytest.mark.parametrize(("parallel", "sent", "first_failures"), [
    (1, 1, 8),  # sequential: 8 refusals
    (1, 1000, 8),
    (100, 2, 8),  # 30 items in 2 batches at concurrency 100: the wave is 2 requests, the floor of 8 holds
    (100, 20, 20),  # 20 single-item requests: all of them
    (100, 100, 64),  # a full wave, capped at 64
    (6, 1000, 8),
    (16, 1000, 16),
])
def test_the_first_wave_is_what_was_actually_sent(parallel: int, sent: int, first_failures: int) -> None:
    assert first_wave(parallel, sent) == first_failures
    breaker = CircuitBreaker(parallel=parallel)
    for _ in range(sent):
        breaker.send()
    opened = [i + 1 for i in range(100) if breaker.attempt(THROTTLE)]
    assert opened == [first_failures]


@pytest.mark.parametrize(("answers", "opens_at"), [
    ([(0, None), (10, "Timeout"), (21, "Timeout"), (32, "Timeout")], 4),  # hung after a success: 3 unanswered, 30 s
    ([(0, None), (10, "Timeout"), (31, "Timeout")], None),  # 31 s of silence, but only 2 attempts
    ([(0, None), (10, "Timeout"), (20, "Timeout"), (25, "Timeout")], None),  # 3 attempts, but only 25 s
    ([(0, None), (10, "Timeout"), (20, THROTTLE), (35, "Timeout"), (45, "Timeout")], None),  # a throttle answers
    ([(5, "Timeout"), (15, "ConnectionError"), (31, "Timeout")], 3),  # never answered since the run began
    ([(0, None), (20, "Timeout"), (40, None), (60, "Timeout"), (65, "Timeout")], None),  # answers in between
])
def test_the_circuit_breaker_opens_on_a_target_that_stopped_answering(
        answers: list[tuple[float, str | None]], opens_at: int | None) -> None:
    now = [0.0]
    breaker = CircuitBreaker(clock=lambda: now[0])
    opened = []
    for i, (at, code) in enumerate(answers):
        now[0] = at
        if breaker.attempt(code):
            opened.append(i + 1)
    assert opened == ([opens_at] if opens_at else [])
    if opens_at:
        assert "stopped responding" in (breaker.reason or "")


@pytest.mark.parametrize(("request_timeout", "silence"), [(0.1, 10.0), (1.0, 10.0), (3.0, 10.0), (5.0, 15.0),
                                                       (10.0, 30.0), (60.0, 180.0)])
def test_a_target_is_hung_after_three_request_timeouts_of_silence_at_least_ten_seconds(
        request_timeout: float, silence: float) -> None:
    assert hung_after(request_timeout) == silence


@pytest.mark.parametrize(("request_timeout", "answers", "opens_at"), [
    # the hostile case's async run at a 1 s timeout: timeouts from 1 s on, 3+ of them; given up at 10 s, not 30 s
    (1.0, [(0, None), (1, "Timeout"), (1, "Timeout"), (1, "Timeout"), (4, "Timeout"), (9.5, "Timeout"),
           (10.2, "Timeout")], 7),
    (1.0, [(0, None), (1, "Timeout"), (1, "Timeout"), (9.9, "Timeout"), (10.5, None)], None),  # answered in time
    # the default 10 s timeout keeps 30 s: a slow target that answers within its timeouts is never given up
    (10.0, [(0, None), (10, "Timeout"), (21, "Timeout"), (25, "Timeout"), (29, "Timeout")], None),
    (10.0, [(0, None), (10, "Timeout"), (21, "Timeout"), (30.5, "Timeout")], 4),
])
def test_the_run_gives_up_on_a_hung_target_by_its_request_timeout(
        request_timeout: float, answers: list[tuple[float, str | None]], opens_at: int | None) -> None:
    from core.domain.approaches import approach
    from core.writers import WriterOptions, _tally

    tally = _tally(approach("async"), "T", WriterOptions(request_timeout=request_timeout), None)
    now = [0.0]
    breaker = CircuitBreaker(parallel=8, silence=tally.breaker.silence, clock=lambda: now[0])
    opened = []
    for i, (at, code) in enumerate(answers):
        now[0] = at
        if breaker.attempt(code):
            opened.append(i + 1)
    assert opened == ([opens_at] if opens_at else [])


def test_a_refused_connection_is_retried_with_probing_delays_even_in_a_proven_run() -> None:
    from core.domain.books import generate_books
    from core.writers.exchange import Outcome, Work, settle

    policy = RetryPolicy(random=lambda: 1.0)
    work = Work(tuple(generate_books(1)), batch=False, attempts=6)
    assert settle(work, Outcome(code="ConnectionRefused"), policy, proven=True).delay == policy.probe_cap
    assert settle(work, Outcome(code=THROTTLE), policy, proven=True).delay == policy.cap


def test_the_circuit_breaker_stays_open_and_a_30_percent_fault_rate_never_opens_it() -> None:
    rng = random.Random(7)
    for parallel in (1, 6, 100):
        breaker = CircuitBreaker(parallel=parallel)
        for _ in range(200_000):
            breaker.attempt(THROTTLE if rng.random() < 0.3 else None)
        assert not breaker.open
    breaker = CircuitBreaker()
    for _ in range(8):
        breaker.attempt("Timeout")
    assert breaker.open and not breaker.attempt(None) and breaker.open


def test_defaults_mirror_botocore_standard_mode() -> None:
    policy = RetryPolicy(random=lambda: 1.0)
    assert [policy.delay(a) for a in range(1, 8)] == [1, 2, 4, 8, 16, 20, 20]
    assert policy.max_attempts == 10


@pytest.mark.parametrize(("max_attempts", "base", "cap", "seconds"), [
    (1, 1.0, 20.0, 0.0),  # one attempt: never sleeps
    (2, 1.0, 20.0, 1.0),
    (4, 1.0, 3.0, 1 + 2 + 3),
    (5, 0.01, 0.1, 0.01 + 0.02 + 0.04 + 0.08),
    (6, 0.01, 0.05, 0.01 + 0.02 + 0.04 + 0.05 + 0.05),
    (3, 0.0, 0.0, 0.0),
    (10, 1.0, 20.0, 1 + 2 + 4 + 8 + 16 + 20 + 20 + 20 + 20),  # the defaults: 111 s per hopeless request
])
def test_worst_case_sleep_is_the_sum_of_bounds(max_attempts: int, base: float, cap: float, seconds: float) -> None:
    policy = RetryPolicy(max_attempts=max_attempts, base=base, cap=cap, random=lambda: 1.0)
    assert policy.worst_case_seconds() == pytest.approx(seconds)
    # the sleeps between the attempts of a request that fails every time, at the largest draw
    assert sum(policy.delay(a) for a in range(1, max_attempts)) == pytest.approx(seconds)


@pytest.mark.parametrize("kwargs", [
    {"max_attempts": 0}, {"max_attempts": -1}, {"max_attempts": 101},
    {"base": -1.0}, {"base": -0.001, "cap": 1.0}, {"base": 2.0, "cap": 1.0}, {"cap": -1.0},
])
def test_invalid_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [
    {"max_attempts": 1}, {"max_attempts": 100}, {"base": 0.0, "cap": 0.0}, {"base": 3.0, "cap": 3.0},
])
def test_boundary_policies_are_valid(kwargs: dict[str, float]) -> None:
    policy = RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert math.isfinite(policy.worst_case_seconds())


@pytest.mark.parametrize("kwargs", [{"base": math.nan}, {"cap": math.nan}])
def test_nan_backoff_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "message", "expected"), [
    ("ExpiredTokenException", "The security token included in the request is expired",
     "ExpiredTokenException: the session token has expired: refresh your credentials (e.g. `aws sso login`); "
     "The security token included in the request is expired"),
    ("ValidationException", "Item size has exceeded the maximum allowed size",
     "ValidationException: DynamoDB rejected the request as invalid; Item size has exceeded the maximum allowed size"),
    ("ResourceNotFoundException", "", "ResourceNotFoundException: the table does not exist on this target"),
    ("ThrottlingException", "Rate exceeded", "ThrottlingException; Rate exceeded"),  # no hint: code and message
    ("Weird", "", "Weird"),
])
def test_explain(code: str, message: str, expected: str) -> None:
    assert explain(code, message) == expected


def test_explain_tells_how_to_fix_an_expired_token() -> None:
    assert "refresh" in explain("ExpiredTokenException")
    assert "refresh" in explain("ExpiredToken", "x")


@pytest.mark.parametrize("code", sorted(FATAL_HINTS))
def test_every_hint_is_a_line_that_names_its_code(code: str) -> None:
    line = explain(code, "DynamoDB says why")
    assert line.startswith(f"{code}: ") and line.endswith("; DynamoDB says why") and "\n" not in line
