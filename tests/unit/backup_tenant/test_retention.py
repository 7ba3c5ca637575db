"""CAT-8: the retention date and the prune decision, across month ends and leap days."""
from __future__ import annotations

from datetime import date

import pytest

from services.backup.tenant.retention import add_months_at_least, handover_due, prune_decision, retained_until


@pytest.mark.parametrize("end, until", [
    (date(2026, 8, 31), date(2028, 8, 31)),   # the school year ends on 31 August
    (date(2024, 2, 29), date(2026, 3, 1)),    # no 29 Feb in 2026: never shorter, so 1 March
    (date(2026, 1, 31), date(2028, 1, 31)),
    (date(2026, 12, 31), date(2028, 12, 31)),
    (date(2025, 6, 30), date(2027, 6, 30)),
    (date(2026, 2, 28), date(2028, 2, 28)),   # 2028 is a leap year: 28 Feb stays 28 Feb
    (date(2026, 3, 1), date(2028, 3, 1)),
])
def test_retention_is_contract_end_plus_24_months(end, until):
    assert retained_until(end) == until


@pytest.mark.parametrize("start, months, expected", [
    (date(2026, 1, 31), 1, date(2026, 3, 1)),   # 31 Feb does not exist
    (date(2028, 1, 29), 1, date(2028, 2, 29)),  # leap year: 29 Feb exists
    (date(2028, 1, 31), 1, date(2028, 3, 1)),
    (date(2026, 10, 31), 1, date(2026, 12, 1)),
    (date(2026, 11, 15), 2, date(2027, 1, 15)),  # year boundary
])
def test_month_arithmetic_never_ends_early(start, months, expected):
    assert add_months_at_least(start, months) == expected


@pytest.mark.parametrize("today, end, hold, allowed, reason", [
    (date(2030, 1, 1), None, False, False, "contract_running"),
    (date(2028, 8, 31), date(2026, 8, 31), False, False, "within_retention"),  # the last day still kept
    (date(2028, 9, 1), date(2026, 8, 31), False, True, "retention_over"),
    (date(2028, 9, 1), date(2026, 8, 31), True, False, "legal_hold"),         # a hold stops pruning
    (date(2026, 2, 28), date(2024, 2, 29), False, False, "within_retention"),
    (date(2026, 3, 1), date(2024, 2, 29), False, False, "within_retention"),
    (date(2026, 3, 2), date(2024, 2, 29), False, True, "retention_over"),
    (date(2040, 1, 1), None, True, False, "legal_hold"),
])
def test_prune_decision(today, end, hold, allowed, reason):
    decision = prune_decision(today, end, hold)
    assert (decision.allowed, decision.reason) == (allowed, reason)


@pytest.mark.parametrize("today, end, done, due", [
    (date(2026, 8, 30), date(2026, 8, 31), False, False),
    (date(2026, 8, 31), date(2026, 8, 31), False, True),
    (date(2026, 9, 5), date(2026, 8, 31), True, False),
    (date(2026, 9, 5), None, False, False),
])
def test_handover_due_at_contract_end(today, end, done, due):
    assert handover_due(today, end, done) is due
