"""Scheduled backups: which cron slot is due, once per slot, catch-up after downtime."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.backup.tenant.schedule import current_slot, due, slot_job_id

UTC = timezone.utc


def t(*a):
    return datetime(*a, tzinfo=UTC)


@pytest.mark.parametrize("cron, now, slot", [
    ("30 1 * * *", t(2026, 12, 1, 1, 30), t(2026, 12, 1, 1, 30)),
    ("30 1 * * *", t(2026, 12, 1, 1, 29), t(2026, 11, 30, 1, 30)),
    ("0 2 1 * *", t(2026, 12, 15), t(2026, 12, 1, 2, 0)),
    ("0 2 1 * *", t(2027, 3, 1, 1, 59), t(2027, 2, 1, 2, 0)),
])
def test_current_slot(cron, now, slot):
    assert current_slot(cron, now) == slot


@pytest.mark.parametrize("now, last, started, expected", [
    (t(2026, 12, 1, 1, 31), None, t(2026, 12, 1), t(2026, 12, 1, 1, 30)),              # first run
    (t(2026, 12, 1, 1, 31), t(2026, 12, 1, 1, 30), t(2026, 12, 1), None),              # already ran
    (t(2026, 12, 3, 9), t(2026, 12, 1, 1, 30), t(2026, 12, 3, 9), t(2026, 12, 3, 1, 30)),  # catch up once
    (t(2026, 12, 3, 9), None, t(2026, 12, 3, 8), None),               # new installation: no past slot
])
def test_due_once_per_slot(now, last, started, expected):
    assert due("30 1 * * *", now, last, started) == expected


def test_bad_cron_is_refused():
    with pytest.raises(ValueError):
        current_slot("every day", t(2026, 1, 1))


def test_replicas_agree_on_the_job_of_a_slot():
    assert slot_job_id("full", t(2026, 12, 1, 2)) == slot_job_id("full", t(2026, 12, 1, 2))
    assert slot_job_id("full", t(2026, 12, 1, 2)) != slot_job_id("drill", t(2026, 12, 1, 2))
