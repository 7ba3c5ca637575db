from __future__ import annotations

import pytest

from services.auth.security.throttle import (
    ADDRESS_BACKOFF,
    LOCK_THRESHOLD,
    Backoff,
    address_delay_for,
    address_key,
    delay_for,
    retry_after,
    should_lock,
)


def test_first_three_failures_are_free() -> None:
    assert [delay_for(n) for n in range(4)] == [0.0, 0.0, 0.0, 0.0]


def test_exponential_then_capped_at_60() -> None:
    assert [delay_for(n) for n in range(4, 12)] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert delay_for(99) == 60.0
    assert delay_for(10**9) == 60.0  # no overflow on absurd counters


def test_account_delays_monotonic() -> None:
    delays = [delay_for(n) for n in range(500)]
    assert delays == sorted(delays)
    assert max(delays) == 60.0


def test_negative_failures_rejected() -> None:
    with pytest.raises(ValueError):
        delay_for(-1)


def test_lock_at_100_not_99() -> None:
    assert LOCK_THRESHOLD == 100
    assert should_lock(99) is False
    assert should_lock(100) is True
    assert should_lock(101) is True
    assert should_lock(0) is False


def test_address_variant_has_its_own_allowance_and_cap() -> None:
    delays = [address_delay_for(n) for n in range(1000)]
    assert delays == sorted(delays)
    assert delays[20] == 0.0
    assert delays[21:24] == [1.0, 2.0, 4.0]
    assert max(delays) == ADDRESS_BACKOFF.cap_seconds == 30.0
    assert address_delay_for(10**9) == 30.0
    # Gentler than the per-account policy for the same count (shared school NAT).
    assert all(address_delay_for(n) <= delay_for(n) for n in range(200))


def test_retry_after() -> None:
    # Five failures: wait 2 s after the last one.
    assert retry_after(5, last_failure_at=1000.0, now=1000.5) == pytest.approx(1.5)
    assert retry_after(5, last_failure_at=1000.0, now=1002.0) == 0.0
    assert retry_after(2, last_failure_at=1000.0, now=1000.0) == 0.0
    assert retry_after(
        25, last_failure_at=1000.0, now=1000.0, backoff=ADDRESS_BACKOFF
    ) == pytest.approx(16.0)


def test_backoff_validation() -> None:
    with pytest.raises(ValueError):
        Backoff(free_failures=-1, base_seconds=1.0, cap_seconds=10.0)
    with pytest.raises(ValueError):
        Backoff(free_failures=0, base_seconds=5.0, cap_seconds=1.0)


def test_address_key_groups_ipv6_by_64_and_keeps_ipv4() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    a = address_key("2001:db8:1:2:aaaa::1")
    b = address_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    c = address_key("2001:db8:1:3::1")
    assert a == b == "2001:db8:1:2::/64"
    assert c != a
    with pytest.raises(ValueError):
        address_key("not an address")
