"""CAT-8 for the cluster backups: how long the off-site repository keeps its full backups.

A cluster backup holds every school. A school's data must stay recoverable for its whole
contract and at least 24 months after it ends. So:

- a school whose contract is running (no end date) or under legal hold needs its latest data,
  which the newest full backup always holds;
- a school whose contract ended on E needs, until E + 24 months, the newest full backup taken
  on or before E (its final state; later ones may already lack it once it is handed over and
  pruned at tenant level), or the oldest full backup there is if none predates E.

The oldest full backup needed by any school gives pgBackRest's time-based retention
(`repo-retention-full-type=time`): keep full backups for (today - that date) days, never less
than the operator's minimum. pgBackRest keeps the newest full older than the window as well,
so the boundary backup is never expired. Pure rules: dates in, days out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.backup.tenant.retention import RETENTION_MONTHS, retained_until  # one CAT-8 rule for both levels

# pgBackRest's largest accepted value of repo-retention-full with type=time ("keep all").
KEEP_ALL_DAYS = 9999999


@dataclass(frozen=True)
class ContractTerm:
    contract_end: date | None  # None: the contract is running
    legal_hold: bool = False


def oldest_needed_full(today: date, full_backups: list[date], contracts: list[ContractTerm],
                       months: int = RETENTION_MONTHS) -> date | None:
    """The date of the oldest full backup some school still needs (None: no full backup yet)."""
    if not full_backups:
        return None
    fulls = sorted(full_backups)
    needed = [fulls[-1]]  # the newest full: running contracts, and PITR from now on
    for term in contracts:
        if term.contract_end is None:
            continue
        if not term.legal_hold and today > retained_until(term.contract_end, months):
            continue  # retention over: this school needs nothing any more
        before_end = [d for d in fulls if d <= term.contract_end]
        needed.append(before_end[-1] if before_end else fulls[0])
    return min(needed)


def offsite_retention_days(today: date, full_backups: list[date], contracts: list[ContractTerm] | None,
                           minimum_days: int, months: int = RETENTION_MONTHS) -> int:
    """`repo-retention-full` (days, type=time) for the off-site repository.

    `contracts=None` means the schools' contracts are unknown: keep everything, since
    expiring a backup someone may need cannot be undone."""
    if contracts is None:
        return KEEP_ALL_DAYS
    oldest = oldest_needed_full(today, full_backups, contracts, months)
    needed_days = (today - oldest).days + 1 if oldest else 0
    return min(KEEP_ALL_DAYS, max(minimum_days, needed_days))
