"""Romanian working days (REG-3): a status change must be recorded within 15 working days of
its administrative document. Weekends and the legal holidays of Romania are not working days
(Labour Code art. 139: 1-2 January, 6-7 January since 2024, 24 January, Orthodox Good Friday,
Easter and Easter Monday, 1 May, 1 June, Orthodox Pentecost and its Monday, 15 August,
30 November, 1 December, 25-26 December), as the `holidays` package lists them for RO.
No infrastructure: tested by tables of dates."""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

DEADLINE_WORKING_DAYS = 15


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("RO", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count


def deadline(document_date: date, working_days: int = DEADLINE_WORKING_DAYS) -> date:
    """The last day on which a change resting on a document of `document_date` is on time."""
    day, left = document_date, working_days
    while left:
        day += timedelta(days=1)
        left -= is_working_day(day)
    return day


def is_late(document_date: date, recorded_on: date, working_days: int = DEADLINE_WORKING_DAYS) -> bool:
    return recorded_on > deadline(document_date, working_days)
