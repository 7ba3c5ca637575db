"""One-time codes sent by SMS or e-mail, and the rules for accepting them.

Only a keyed hash of a code is stored.  A 6-digit code has just 10**6
values, so an unkeyed hash (or argon2) would fall to enumeration the moment
the table leaks; with HMAC the pepper -- kept in configuration, not in the
database -- is what protects it, and the short lifetime bounds the damage if
both leak.  The online guessing risk is handled by ``max_attempts``: five
guesses at 10**-6 each.

The service owns the stored row and must update it atomically:
``attempts`` += 1 on WRONG, ``used`` = true on OK (in the same statement as
the read, e.g. ``UPDATE ... WHERE used = false RETURNING``) so concurrent
submissions cannot each get a fresh guess or reuse a code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "DEFAULT_POLICY",
    "MIN_PEPPER_BYTES",
    "OtpOutcome",
    "OtpPolicy",
    "StoredOtp",
    "check_otp",
    "codes_equal",
    "hash_code",
    "may_send",
    "new_numeric_code",
]

MIN_PEPPER_BYTES: Final = 16
_SEND_WINDOW_SECONDS: Final = 3600
# Keeps these hashes distinct from other HMACs that might share the pepper.
_DOMAIN: Final = b"catalog.otp-code\x00"


class OtpOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


@dataclass(frozen=True, slots=True)
class OtpPolicy:
    ttl_seconds: int = 300
    max_attempts: int = 5
    max_sends_per_hour: int = 5

    def __post_init__(self) -> None:
        if self.ttl_seconds <= 0 or self.max_attempts <= 0 or self.max_sends_per_hour <= 0:
            raise ValueError("OtpPolicy values must be positive")


DEFAULT_POLICY: Final = OtpPolicy()


@dataclass(frozen=True, slots=True)
class StoredOtp:
    code_hash: str
    created_at: float  # Unix time, seconds
    attempts: int  # wrong submissions so far
    used: bool


def new_numeric_code(digits: int = 6) -> str:
    """A uniformly random code of ``digits`` decimal digits (leading zeros kept)."""
    # Fewer than 6 digits is under the ~20 bits ASVS expects of such codes.
    if not 6 <= digits <= 12:
        raise ValueError("digits must be between 6 and 12")
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(code: str, *, pepper: bytes) -> str:
    """HMAC-SHA256 of ``code`` under ``pepper``, hex encoded."""
    if len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"pepper must be at least {MIN_PEPPER_BYTES} bytes")
    return hmac.new(pepper, _DOMAIN + code.encode("utf-8"), hashlib.sha256).hexdigest()


def codes_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two code hashes."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _clean(submitted: str) -> str | None:
    compact = submitted.strip().replace(" ", "").replace("-", "")
    if not compact or not (compact.isascii() and compact.isdigit()):
        return None
    return compact


def check_otp(
    stored: StoredOtp,
    submitted: str,
    *,
    pepper: bytes,
    now: float,
    policy: OtpPolicy = DEFAULT_POLICY,
) -> OtpOutcome:
    """Decide what a submitted code means for the stored one.

    Order matters: a used or exhausted code is dead whatever is submitted, so
    those states are reported before looking at time or comparing.
    The code is valid for ``created_at <= t < created_at + ttl``.
    """
    if stored.used:
        return OtpOutcome.USED
    if stored.attempts >= policy.max_attempts:
        return OtpOutcome.TOO_MANY_ATTEMPTS
    if now - stored.created_at >= policy.ttl_seconds:
        return OtpOutcome.EXPIRED
    cleaned = _clean(submitted)
    if cleaned is None:
        return OtpOutcome.WRONG
    if codes_equal(hash_code(cleaned, pepper=pepper), stored.code_hash):
        return OtpOutcome.OK
    return OtpOutcome.WRONG


def may_send(
    recent_sends: Iterable[float], *, now: float, policy: OtpPolicy = DEFAULT_POLICY
) -> bool:
    """Whether another code may be sent, given the Unix times of earlier sends.

    Sliding one-hour window.  SMS costs money and an attacker can use the
    send endpoint to flood a victim's phone, hence a hard cap per recipient.
    """
    # Timestamps slightly in the future (clock skew between instances) count.
    in_window = sum(1 for sent_at in recent_sends if now - sent_at < _SEND_WINDOW_SECONDS)
    return in_window < policy.max_sends_per_hour
