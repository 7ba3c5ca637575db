"""CAT-8 retention arithmetic: backups stay for the contract and at least 24 months after it.

Pure rules (no database, no broker). A month-end contract date keeps its month end
(31 Aug 2026 + 24 months = 31 Aug 2028); a day that does not exist in the target month
(29 Feb 2024 + 24 months) moves to the 1st of the next month (1 Mar 2026), never to an
earlier day, so the retention is never shorter than the law's "at least 24 months".
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

RETENTION_MONTHS = 24


def add_months_at_least(start: date, months: int) -> date:
    """`start` + `months` calendar months; a missing day rolls forward to the next month's 1st."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if start.day <= last:
        return date(year, month, start.day)
    return date(year, month, last) + timedelta(days=1)


def retained_until(contract_end: date, months: int = RETENTION_MONTHS) -> date:
    """The last day the tenant's archives must still exist."""
    return add_months_at_least(contract_end, months)


@dataclass(frozen=True)
class PruneDecision:
    allowed: bool
    reason: str
    retained_until: date | None = None


def prune_decision(today: date, contract_end: date | None, legal_hold: bool,
                   months: int = RETENTION_MONTHS) -> PruneDecision:
    """May the tenant's archives be deleted today?"""
    if legal_hold:
        return PruneDecision(False, "legal_hold")
    if contract_end is None:
        return PruneDecision(False, "contract_running")
    until = retained_until(contract_end, months)
    if today <= until:
        return PruneDecision(False, "within_retention", until)
    return PruneDecision(True, "retention_over", until)


def handover_due(today: date, contract_end: date | None, handover_done: bool) -> bool:
    """At contract end the school gets its final hand-over archive (once)."""
    return contract_end is not None and today >= contract_end and not handover_done
