"""When the scheduled cluster backups are due (cron syntax, UTC). Pure rules, no I/O.

Each scheduled run is named by its fire time (the latest cron time at or before now). A kind
is due when that fire time is newer than the last one it ran for. So a process that was busy
or down at 02:00 runs the backup once when it can, never once per missed day; and replicas
that race for the same fire time are told apart by it (a unique key in the runs table).
A full backup contains everything an incremental would copy, so a full run for a fire time
also satisfies the incremental schedule up to it.
"""
from __future__ import annotations

from datetime import datetime, timezone

from croniter import croniter

FULL = "full"
INCREMENTAL = "incr"
KINDS = (FULL, INCREMENTAL)


class InvalidSchedule(ValueError):
    pass


def validate_cron(expression: str) -> str:
    """The expression, normalised, if it is a valid 5-field cron expression; else InvalidSchedule."""
    expression = " ".join(str(expression).split())
    if len(expression.split(" ")) != 5 or not croniter.is_valid(expression):
        raise InvalidSchedule(f"not a 5-field cron expression: {expression!r}")
    return expression


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def next_fire(expression: str, after: datetime) -> datetime:
    """The first fire time strictly after `after` (UTC)."""
    return croniter(validate_cron(expression), utc(after)).get_next(datetime)


def latest_fire(expression: str, now: datetime) -> datetime:
    """The latest fire time at or before `now` (UTC)."""
    now = utc(now)
    candidate = croniter(validate_cron(expression), now).get_prev(datetime)
    following = next_fire(expression, candidate)
    return following if following <= now else candidate


def due_runs(schedules: dict[str, str], last_fired: dict[str, datetime | None], baseline: datetime,
             now: datetime) -> list[tuple[str, datetime]]:
    """The (kind, fire time) runs to start now.

    `last_fired[kind]`: the fire time of the kind's last scheduled run (None: never ran);
    `baseline`: when scheduling began (a kind that never ran waits for its first fire time
    after it, rather than firing at once on a fresh install)."""
    baseline = utc(baseline)
    done: dict[str, datetime] = {k: utc(v) if v else baseline for k, v in last_fired.items()}
    due: list[tuple[str, datetime]] = []
    full_time = None
    if FULL in schedules:
        fire = latest_fire(schedules[FULL], now)
        if fire > done.get(FULL, baseline):
            due.append((FULL, fire))
            full_time = fire
    if INCREMENTAL in schedules:
        fire = latest_fire(schedules[INCREMENTAL], now)
        covered = max(done.get(INCREMENTAL, baseline), done.get(FULL, baseline), full_time or baseline)
        if fire > covered:
            due.append((INCREMENTAL, fire))
    return due
