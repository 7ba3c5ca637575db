"""Login throttling policy (pure: the service stores the counters).

Per account, counted as *consecutive* failures (reset on success):

    failures   1-3   4   5   6   7   8    9    10+
    delay (s)  0     1   2   4   8   16   32   60 (cap)

The delay is the minimum time between the last failure and the next attempt
the service will evaluate; earlier attempts are refused with Retry-After
rather than slept on, so no worker is tied up.  Three free failures cover
ordinary typos; the cap keeps a user who keeps trying from waiting minutes.
After ``LOCK_THRESHOLD`` (100, the ceiling NIST SP 800-63B sets for
consecutive failures) the account is locked until the user proves control of
their e-mail (password reset) or an administrator unlocks it.  The threshold
is high because an attacker can trigger a lock on someone else's account;
with the delays above, reaching it takes about 1.5 hours of forced waiting.

Per client address, counted as failures in a sliding window (e.g. the last
15 minutes, *not* reset on success): a whole school usually reaches us from
one NAT address, so this allowance is larger and its cap lower, and one
pupil's successful login must not wipe the count a password-spraying
attacker on the same address has built up.  Use ``address_key`` so an IPv6
client cannot dodge the counter by rotating addresses inside its /64.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACCOUNT_BACKOFF",
    "ADDRESS_BACKOFF",
    "LOCK_THRESHOLD",
    "Backoff",
    "address_delay_for",
    "address_key",
    "delay_for",
    "retry_after",
    "should_lock",
]

LOCK_THRESHOLD: Final = 100


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off: ``free_failures`` without delay, then
    ``base_seconds * 2**k`` for k = 0, 1, 2 ... capped at ``cap_seconds``."""

    free_failures: int
    base_seconds: float
    cap_seconds: float

    def __post_init__(self) -> None:
        if self.free_failures < 0 or self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("invalid back-off parameters")

    def delay_for(self, failures: int) -> float:
        if failures < 0:
            raise ValueError("failures must be >= 0")
        if failures <= self.free_failures:
            return 0.0
        exponent = failures - self.free_failures - 1
        # Any cap is reached long before 2**64; clamping first avoids float
        # overflow for absurd counters.
        if exponent >= 64:
            return float(self.cap_seconds)
        return float(min(self.cap_seconds, self.base_seconds * 2.0**exponent))

    def retry_after(self, failures: int, *, last_failure_at: float, now: float) -> float:
        """Seconds the client must still wait (0.0 means: evaluate the attempt)."""
        return max(0.0, last_failure_at + self.delay_for(failures) - now)


ACCOUNT_BACKOFF: Final = Backoff(free_failures=3, base_seconds=1.0, cap_seconds=60.0)
ADDRESS_BACKOFF: Final = Backoff(free_failures=20, base_seconds=1.0, cap_seconds=30.0)


def delay_for(consecutive_failures: int) -> float:
    """Delay before the next attempt on an account, in seconds."""
    return ACCOUNT_BACKOFF.delay_for(consecutive_failures)


def address_delay_for(recent_failures: int) -> float:
    """Delay before the next attempt from a client address, in seconds."""
    return ADDRESS_BACKOFF.delay_for(recent_failures)


def should_lock(consecutive_failures: int) -> bool:
    return consecutive_failures >= LOCK_THRESHOLD


def retry_after(
    consecutive_failures: int,
    *,
    last_failure_at: float,
    now: float,
    backoff: Backoff = ACCOUNT_BACKOFF,
) -> float:
    return backoff.retry_after(consecutive_failures, last_failure_at=last_failure_at, now=now)


def address_key(address: str) -> str:
    """Counter key for a client address: IPv4 as is, IPv6 as its /64.

    IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``, as seen behind dual-stack
    proxies) are keyed as the IPv4 address they carry.
    """
    ip = ipaddress.ip_address(address.strip())
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
