from __future__ import annotations

import re

import pytest

from services.auth.security import otp_codes
from services.auth.security.otp_codes import (
    OtpOutcome,
    OtpPolicy,
    StoredOtp,
    check_otp,
    codes_equal,
    hash_code,
    may_send,
    new_numeric_code,
)

PEPPER = b"p" * 32
CREATED = 1_767_225_600.0
CODE = "048213"


def stored(*, attempts: int = 0, used: bool = False, code: str = CODE) -> StoredOtp:
    return StoredOtp(
        code_hash=hash_code(code, pepper=PEPPER), created_at=CREATED, attempts=attempts, used=used
    )


def test_new_numeric_code_shape_and_randomness() -> None:
    codes = {new_numeric_code() for _ in range(200)}
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(codes) > 190
    assert re.fullmatch(r"\d{8}", new_numeric_code(8))


def test_new_numeric_code_keeps_leading_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otp_codes.secrets, "randbelow", lambda _n: 42)
    assert new_numeric_code() == "000042"


@pytest.mark.parametrize("digits", [4, 5, 13])
def test_new_numeric_code_rejects_weak_or_silly_lengths(digits: int) -> None:
    with pytest.raises(ValueError):
        new_numeric_code(digits)


def test_hash_code_is_keyed_hmac() -> None:
    digest = hash_code(CODE, pepper=PEPPER)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hash_code(CODE, pepper=PEPPER) == digest
    assert hash_code(CODE, pepper=b"q" * 32) != digest
    assert hash_code("048214", pepper=PEPPER) != digest
    assert CODE not in digest


def test_hash_code_refuses_short_pepper() -> None:
    with pytest.raises(ValueError):
        hash_code(CODE, pepper=b"short")


def test_codes_equal() -> None:
    digest = hash_code(CODE, pepper=PEPPER)
    assert codes_equal(digest, hash_code(CODE, pepper=PEPPER))
    assert not codes_equal(digest, hash_code("000000", pepper=PEPPER))


def test_ok_within_ttl() -> None:
    assert check_otp(stored(), CODE, pepper=PEPPER, now=CREATED) is OtpOutcome.OK
    assert check_otp(stored(), CODE, pepper=PEPPER, now=CREATED + 299.999) is OtpOutcome.OK


def test_expired_at_exactly_ttl() -> None:
    assert check_otp(stored(), CODE, pepper=PEPPER, now=CREATED + 300) is OtpOutcome.EXPIRED
    assert check_otp(stored(), CODE, pepper=PEPPER, now=CREATED + 10_000) is OtpOutcome.EXPIRED


def test_custom_ttl() -> None:
    policy = OtpPolicy(ttl_seconds=60)
    assert (
        check_otp(stored(), CODE, pepper=PEPPER, now=CREATED + 59, policy=policy) is OtpOutcome.OK
    )
    assert (
        check_otp(stored(), CODE, pepper=PEPPER, now=CREATED + 60, policy=policy)
        is OtpOutcome.EXPIRED
    )


def test_wrong_code() -> None:
    assert check_otp(stored(), "048214", pepper=PEPPER, now=CREATED + 1) is OtpOutcome.WRONG
    assert check_otp(stored(), "04821", pepper=PEPPER, now=CREATED + 1) is OtpOutcome.WRONG
    assert check_otp(stored(), "abcdef", pepper=PEPPER, now=CREATED + 1) is OtpOutcome.WRONG
    assert check_otp(stored(), "", pepper=PEPPER, now=CREATED + 1) is OtpOutcome.WRONG


def test_wrong_pepper_does_not_match() -> None:
    assert check_otp(stored(), CODE, pepper=b"q" * 32, now=CREATED + 1) is OtpOutcome.WRONG


def test_formatting_spaces_are_tolerated() -> None:
    assert check_otp(stored(), " 048 213 ", pepper=PEPPER, now=CREATED + 1) is OtpOutcome.OK


def test_used_code_is_refused_even_if_correct() -> None:
    assert check_otp(stored(used=True), CODE, pepper=PEPPER, now=CREATED + 1) is OtpOutcome.USED
    # Used wins over expiry: the code is dead either way, report the first reason.
    assert check_otp(stored(used=True), CODE, pepper=PEPPER, now=CREATED + 999) is OtpOutcome.USED


def test_too_many_attempts_even_with_correct_code() -> None:
    assert check_otp(stored(attempts=4), CODE, pepper=PEPPER, now=CREATED + 1) is OtpOutcome.OK
    assert (
        check_otp(stored(attempts=5), CODE, pepper=PEPPER, now=CREATED + 1)
        is OtpOutcome.TOO_MANY_ATTEMPTS
    )
    assert (
        check_otp(stored(attempts=5), "000000", pepper=PEPPER, now=CREATED + 1)
        is OtpOutcome.TOO_MANY_ATTEMPTS
    )


def test_policy_defaults_and_validation() -> None:
    assert OtpPolicy() == OtpPolicy(ttl_seconds=300, max_attempts=5, max_sends_per_hour=5)
    with pytest.raises(ValueError):
        OtpPolicy(max_attempts=0)


def test_may_send_caps_sends_per_sliding_hour() -> None:
    now = CREATED
    four = [now - 10, now - 600, now - 1800, now - 3599]
    assert may_send(four, now=now) is True
    assert may_send([*four, now - 1], now=now) is False
    # Sends an hour or more ago no longer count.
    assert may_send([*four, now - 3600, now - 7200], now=now) is True
    assert may_send([], now=now) is True
    assert may_send(four, now=now, policy=OtpPolicy(max_sends_per_hour=4)) is False
