"""core.retry: the table of codes, the backoff bounds, the attempt budget; no real sleeps."""

from __future__ import annotations

import pytest

from core.retry import Kind, RetryPolicy, classify, explain


@pytest.mark.parametrize(("code", "kind"), [
    ("ProvisionedThroughputExceededException", Kind.THROTTLE),
    ("ThrottlingException", Kind.THROTTLE),
    ("RequestLimitExceeded", Kind.THROTTLE),
    ("InternalServerError", Kind.TRANSIENT),
    ("ServiceUnavailable", Kind.TRANSIENT),
    ("HTTP500", Kind.TRANSIENT), ("HTTP502", Kind.TRANSIENT), ("HTTP503", Kind.TRANSIENT), ("HTTP504", Kind.TRANSIENT),
    ("ConnectionError", Kind.UNKNOWN), ("Timeout", Kind.UNKNOWN), ("CRC32Mismatch", Kind.UNKNOWN),
    ("Cancelled", Kind.UNKNOWN),
    ("ValidationException", Kind.FATAL), ("AccessDeniedException", Kind.FATAL),
    ("UnrecognizedClientException", Kind.FATAL), ("InvalidSignatureException", Kind.FATAL),
    ("SignatureDoesNotMatch", Kind.FATAL), ("ExpiredTokenException", Kind.FATAL),
    ("ResourceNotFoundException", Kind.FATAL), ("HTTP400", Kind.FATAL), ("SomethingNew", Kind.FATAL),
])
def test_classify(code: str, kind: Kind) -> None:
    assert classify(code) is kind


@pytest.mark.parametrize(("code", "attempt", "retry"), [
    ("ThrottlingException", 1, True), ("ThrottlingException", 4, True), ("ThrottlingException", 5, False),
    ("Timeout", 4, True), ("HTTP503", 5, False), ("ValidationException", 1, False),
    ("ExpiredTokenException", 1, False),
])
def test_should_retry_within_the_budget(code: str, attempt: int, retry: bool) -> None:
    assert RetryPolicy(max_attempts=5).should_retry(code, attempt) is retry


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
@pytest.mark.parametrize("attempt", range(1, 13))
def test_full_jitter_is_bounded_and_capped(draw: float, attempt: int) -> None:
    policy = RetryPolicy(base=0.1, cap=5.0, random=lambda: draw)
    bound = min(0.1 * 2 ** (attempt - 1), 5.0)
    assert policy.delay(attempt) == pytest.approx(draw * bound)
    assert 0 <= policy.delay(attempt) <= 5.0


def test_defaults_mirror_botocore_standard_mode() -> None:
    policy = RetryPolicy(random=lambda: 1.0)
    assert [policy.delay(a) for a in range(1, 8)] == [1, 2, 4, 8, 16, 20, 20]
    assert policy.max_attempts == 10


def test_worst_case_sleep_is_the_sum_of_bounds() -> None:
    assert RetryPolicy(max_attempts=4, base=1, cap=3).worst_case_seconds() == 1 + 2 + 3
    assert RetryPolicy(max_attempts=1).worst_case_seconds() == 0


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"max_attempts": 101}, {"base": -1}, {"base": 2, "cap": 1}])
def test_invalid_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_explain_gives_the_hint_and_dynamodbs_message() -> None:
    assert explain("ExpiredTokenException", "token expired").startswith("ExpiredTokenException: the session token "
                                                                        "has expired: refresh your credentials")
    assert explain("ValidationException", "Item too big").endswith("; Item too big")
    assert explain("Weird") == "Weird"
