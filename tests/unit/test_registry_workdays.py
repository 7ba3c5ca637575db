"""Romanian working days for REG-3's 15-day rule, by tables of dates."""
from datetime import date

import pytest

from services.registry.workdays import deadline, is_late, is_working_day, working_days_between


@pytest.mark.parametrize("day,working", [
    (date(2026, 1, 1), False), (date(2026, 1, 2), False),   # New Year
    (date(2026, 1, 6), False), (date(2026, 1, 7), False),   # Epiphany, St John (since 2024)
    (date(2026, 1, 23), True), (date(2026, 1, 26), True),   # 24 January 2026 is a Saturday anyway
    (date(2026, 4, 10), False),                             # Orthodox Good Friday 2026
    (date(2026, 4, 13), False),                             # Orthodox Easter Monday 2026 (Easter 12 April)
    (date(2026, 4, 14), True),
    (date(2026, 5, 1), False), (date(2026, 6, 1), False),   # Labour Day; Children's Day and Pentecost Monday
    (date(2026, 5, 31), False),                             # Orthodox Pentecost (a Sunday)
    (date(2025, 6, 9), False),                              # Pentecost Monday 2025
    (date(2025, 4, 18), False), (date(2025, 4, 21), False),  # Good Friday, Easter Monday 2025
    (date(2026, 8, 14), True), (date(2026, 12, 1), False), (date(2026, 11, 30), False),
    (date(2026, 12, 25), False), (date(2026, 12, 28), True),
    (date(2026, 3, 7), False), (date(2026, 3, 9), True),    # Saturday, Monday
])
def test_working_days(day, working):
    assert is_working_day(day) is working


@pytest.mark.parametrize("document,last_on_time", [
    (date(2026, 3, 2), date(2026, 3, 23)),    # no holiday: three weeks
    (date(2026, 4, 1), date(2026, 4, 24)),    # across Good Friday and Easter Monday 2026: two more days
    (date(2026, 5, 20), date(2026, 6, 11)),   # across 1 June (Children's Day and Pentecost Monday): one more
    (date(2026, 12, 15), date(2027, 1, 11)),  # 25 Dec, 1 Jan, 6-7 Jan (26 Dec, 2 Jan: Saturdays)
    (date(2026, 3, 6), date(2026, 3, 27)),    # a Friday document
])
def test_the_fifteen_working_day_deadline(document, last_on_time):
    assert deadline(document) == last_on_time
    assert not is_late(document, last_on_time)
    assert is_late(document, date.fromordinal(last_on_time.toordinal() + 1))


def test_counting_between_two_dates():
    assert working_days_between(date(2026, 4, 9), date(2026, 4, 14)) == 1  # 10 and 13 April are holidays
    assert working_days_between(date(2026, 4, 14), date(2026, 4, 9)) == 0
    assert working_days_between(date(2026, 3, 2), date(2026, 3, 23)) == 15
