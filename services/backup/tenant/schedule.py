"""When scheduled jobs are due (cron syntax, `croniter`): pure, tested by a table.

A schedule's slot is the latest cron time at or before now; a slot runs once (its id is
derived from kind + slot, so replicas that wake together insert the same job id and only one
wins)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from croniter import croniter

DEFAULT_SCHEDULES = {
    "incremental": "30 1 * * *",   # daily (CAT-7 (1))
    "full": "0 2 1 * *",           # monthly, off-site (CAT-7 (2))
    "drill": "0 4 2 * *",          # monthly restore drill
    "retention": "0 5 * * *",      # daily: hand-overs due, prunes allowed (CAT-8)
}


def current_slot(cron: str, now: datetime) -> datetime:
    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron expression: {cron!r}")
    return croniter(cron, now + _tick()).get_prev(datetime)


def _tick():
    from datetime import timedelta
    return timedelta(seconds=1)  # a slot at exactly `now` counts as reached


def due(cron: str, now: datetime, last_slot: datetime | None, started: datetime) -> datetime | None:
    """The slot to run now, or None. A slot that already ran does not run again; a slot missed
    while the service was down runs once at start (catch-up); a new installation (nothing ever
    ran on schedule) starts with the first slot after it started."""
    slot = current_slot(cron, now)
    if last_slot is not None and slot <= last_slot:
        return None
    if last_slot is None and slot < started:
        return None
    return slot


def slot_job_id(kind: str, slot: datetime) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"backup-schedule:{kind}:{slot.astimezone(timezone.utc).isoformat()}"))
