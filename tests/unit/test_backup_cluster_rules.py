"""Cluster-level backup rules by tables of cases: cron schedules, off-site retention from the
schools' contracts (CAT-8), pgBackRest's JSON, and the CAT-6 verdict on replication."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from services.backup.cluster.pgbackrest import (PgBackRest, new_backup, parse_info, progress_of,
                                                time_retention)
from services.backup.cluster.replication import SQLITE_NOTE, assess, summary, watch
from services.backup.cluster.retention import (KEEP_ALL_DAYS, ContractTerm, offsite_retention_days,
                                               oldest_needed_full, retained_until)
from services.backup.cluster.schedule import (FULL, INCREMENTAL, InvalidSchedule, due_runs, latest_fire,
                                              next_fire, validate_cron)
from services.backup.cluster.settings import ClusterBackupSettings


def at(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


DAILY, MONTHLY = "0 2 * * *", "30 1 1 * *"


@pytest.mark.parametrize("expression, now, expected", [
    (DAILY, at(2026, 12, 1, 2, 0), at(2026, 12, 1, 2, 0)),           # exactly at the fire time
    (DAILY, at(2026, 12, 1, 1, 59), at(2026, 11, 30, 2, 0)),
    (MONTHLY, at(2026, 12, 15), at(2026, 12, 1, 1, 30)),
    (MONTHLY, at(2027, 1, 1, 1, 29), at(2026, 12, 1, 1, 30)),        # across a year end
    ("0 3 29 2 *", at(2027, 6, 1), at(2024, 2, 29, 3, 0)),           # leap day only
])
def test_latest_fire(expression, now, expected):
    assert latest_fire(expression, now) == expected


def test_next_fire_across_month_end():
    assert next_fire(MONTHLY, at(2026, 1, 31, 23, 0)) == at(2026, 2, 1, 1, 30)


@pytest.mark.parametrize("bad", ["", "* * *", "61 * * * *", "0 2 * * * *", "every day", "0 25 * * *"])
def test_invalid_cron_is_refused(bad):
    with pytest.raises(InvalidSchedule):
        validate_cron(bad)


def test_settings_refuse_a_bad_schedule(monkeypatch):
    monkeypatch.setenv("CLUSTER_BACKUP_INCREMENTAL_SCHEDULE", "0 2 * *")
    with pytest.raises(ValueError):
        ClusterBackupSettings()
    monkeypatch.setenv("CLUSTER_BACKUP_INCREMENTAL_SCHEDULE", "15 3 * * 1-5")
    assert ClusterBackupSettings().incremental_schedule == "15 3 * * 1-5"


SCHEDULES = {FULL: MONTHLY, INCREMENTAL: DAILY}
START = at(2026, 11, 20, 12, 0)


@pytest.mark.parametrize("last, now, expected", [
    # a fresh install waits for the first fire time after it started
    ({FULL: None, INCREMENTAL: None}, at(2026, 11, 20, 23, 0), []),
    ({FULL: None, INCREMENTAL: None}, at(2026, 11, 21, 2, 0, 5), [(INCREMENTAL, at(2026, 11, 21, 2, 0))]),
    # the same fire time never runs twice
    ({FULL: None, INCREMENTAL: at(2026, 11, 21, 2, 0)}, at(2026, 11, 21, 9, 0), []),
    # down for three days: one catch-up run, named by the latest fire time
    ({FULL: None, INCREMENTAL: at(2026, 11, 21, 2, 0)}, at(2026, 11, 24, 8, 0),
     [(INCREMENTAL, at(2026, 11, 24, 2, 0))]),
    # the 1st of the month: the full; the incremental of 02:00 is covered by it
    ({FULL: None, INCREMENTAL: at(2026, 11, 30, 2, 0)}, at(2026, 12, 1, 1, 31), [(FULL, at(2026, 12, 1, 1, 30))]),
    ({FULL: at(2026, 12, 1, 1, 30), INCREMENTAL: at(2026, 11, 30, 2, 0)}, at(2026, 12, 1, 2, 1),
     [(INCREMENTAL, at(2026, 12, 1, 2, 0))]),
    # both due at once after a long outage: the full alone (it holds what the incremental would)
    ({FULL: at(2026, 11, 1, 1, 30), INCREMENTAL: at(2026, 11, 28, 2, 0)}, at(2026, 12, 3, 12, 0),
     [(FULL, at(2026, 12, 1, 1, 30)), (INCREMENTAL, at(2026, 12, 3, 2, 0))]),
])
def test_due_runs(last, now, expected):
    assert due_runs(SCHEDULES, last, START, now) == expected


def test_a_full_at_the_same_time_as_the_incremental_replaces_it():
    same = {FULL: "0 2 1 * *", INCREMENTAL: "0 2 * * *"}
    assert due_runs(same, {FULL: None, INCREMENTAL: None}, START, at(2026, 12, 1, 2, 0, 30)) == [
        (FULL, at(2026, 12, 1, 2, 0))]


@pytest.mark.parametrize("end, until", [
    (date(2026, 8, 31), date(2028, 8, 31)),
    (date(2024, 2, 29), date(2026, 3, 1)),     # no 29 Feb in 2026: never a day short
    (date(2025, 1, 31), date(2027, 1, 31)),
    (date(2026, 12, 31), date(2028, 12, 31)),
])
def test_retained_until(end, until):
    assert retained_until(end) == until


FULLS = [date(2024, 1, 1), date(2024, 7, 1), date(2025, 1, 1), date(2025, 7, 1), date(2026, 1, 1), date(2026, 7, 1)]
TODAY = date(2026, 12, 1)


@pytest.mark.parametrize("contracts, oldest", [
    ([], date(2026, 7, 1)),                                                      # only the newest
    ([ContractTerm(None)], date(2026, 7, 1)),                                    # running: newest holds it
    ([ContractTerm(date(2025, 3, 31))], date(2025, 1, 1)),                       # ended: its last full before the end
    ([ContractTerm(date(2024, 12, 31))], date(2024, 7, 1)),                      # until 31 Dec 2026: still needed
    ([ContractTerm(date(2024, 6, 30))], date(2026, 7, 1)),                       # over since 30 Jun 2026
    ([ContractTerm(date(2024, 11, 30))], date(2026, 7, 1)),                      # retention over on 30 Nov 2026
    ([ContractTerm(date(2024, 11, 30), legal_hold=True)], date(2024, 7, 1)),     # a legal hold keeps it
    ([ContractTerm(date(2023, 6, 30))], date(2026, 7, 1)),                       # long over
    ([ContractTerm(date(2025, 9, 1)), ContractTerm(date(2024, 12, 31)), ContractTerm(None)], date(2024, 7, 1)),
    ([ContractTerm(date(2023, 12, 31), legal_hold=True)], date(2024, 1, 1)),     # no full before its end: the oldest
])
def test_oldest_full_needed_by_any_contract(contracts, oldest):
    assert oldest_needed_full(TODAY, FULLS, contracts) == oldest


@pytest.mark.parametrize("contracts, minimum, days", [
    ([], 62, 154),                                    # 1 Jul → 1 Dec 2026, + the boundary day
    ([], 400, 400),                                   # never below the operator's minimum
    ([ContractTerm(date(2025, 3, 31))], 62, 700),     # back to 1 Jan 2025
    (None, 62, KEEP_ALL_DAYS),                        # contracts unknown: expire nothing
])
def test_offsite_retention_days(contracts, minimum, days):
    assert offsite_retention_days(TODAY, FULLS, contracts, minimum) == days


def test_no_full_yet_keeps_the_minimum():
    assert oldest_needed_full(TODAY, [], [ContractTerm(None)]) is None
    assert offsite_retention_days(TODAY, [], [ContractTerm(None)], 62) == 62


INFO = json.dumps([{
    "name": "catalog", "status": {"code": 0, "lock": {"backup": {"held": True, "size": 400, "size-cplt": 100}}},
    "backup": [
        {"label": "20261201-013000F", "type": "full", "database": {"repo-key": 1},
         "timestamp": {"start": 1764552600, "stop": 1764552660},
         "info": {"size": 30000000, "delta": 30000000, "repository": {"size": 4000000, "delta": 4000000}}},
        {"label": "20261201-013000F", "type": "full", "database": {"repo-key": 2},
         "timestamp": {"start": 1764552700, "stop": 1764552790},
         "info": {"size": 30000000, "delta": 30000000, "repository": {"size": 4100000, "delta": 4100000}}},
        {"label": "20261201-013000F_20261202-020000I", "type": "incr", "database": {"repo-key": 1},
         "timestamp": {"start": 1764640800, "stop": 1764640810},
         "info": {"size": 30500000, "delta": 600000, "repository": {"size": 4050000, "delta": 90000}}},
    ]}, {"name": "other", "backup": []}])


def test_parse_info_lists_backups_per_repository():
    backups, status = parse_info(INFO, "catalog")
    assert [(b.type, b.repo) for b in backups] == [("full", 1), ("full", 2), ("incr", 1)]
    assert backups[2].delta == 600000 and backups[2].repo_delta == 90000
    assert backups[0].day == date(2025, 12, 1)
    assert progress_of(status) == 0.25
    assert parse_info(INFO, "missing") == ([], {})
    assert progress_of({"lock": {"backup": {"held": False}}}) is None


def test_new_backup_is_the_one_not_listed_before():
    backups, _ = parse_info(INFO, "catalog")
    assert new_backup(backups[:2], backups, repo=1).type == "incr"
    assert new_backup(backups, backups, repo=1) is None
    assert new_backup(backups[:1], backups[:2], repo=2).repo == 2


def test_command_line():
    engine = PgBackRest("catalog", config=None, run_as="postgres", extra=["--pg1-user=root"])
    assert engine.argv("backup", "--type=incr", *time_retention(2, 90)) == [
        "runuser", "-u", "postgres", "--", "pgbackrest", "--stanza=catalog", "--pg1-user=root", "--type=incr",
        "--repo2-retention-full-type=time", "--repo2-retention-full=90", "backup"]


STREAMING_SYNC = {"name": "standby1", "state": "streaming", "sync_state": "sync", "replay_lag_seconds": 0.0}


@pytest.mark.parametrize("commit, names, standbys, met, problem", [
    ("on", "FIRST 1 (standby1)", [STREAMING_SYNC], True, None),
    ("remote_apply", "standby1", [STREAMING_SYNC], True, None),
    ("local", "standby1", [STREAMING_SYNC], False, "synchronous_commit is 'local'"),
    ("remote_write", "standby1", [STREAMING_SYNC], False, "not on/remote_apply"),
    ("on", "", [STREAMING_SYNC], False, "synchronous_standby_names is empty"),
    ("on", "standby1", [{**STREAMING_SYNC, "sync_state": "async"}], False, "no synchronous standby"),
    ("on", "standby1", [{**STREAMING_SYNC, "state": "catchup"}], False, "no synchronous standby"),
    ("on", "standby1", [], False, "no synchronous standby"),
])
def test_cat6_verdict(commit, names, standbys, met, problem):
    verdict = assess(commit, names, standbys)
    assert verdict["cat6_met"] is met
    if problem:
        assert any(problem in p for p in verdict["problems"])


def test_sqlite_says_cat6_is_not_met(tmp_path):
    results = watch({"grades": f"sqlite:///{tmp_path}/grades.db"})
    assert results["grades"]["cat6_met"] is False and results["grades"]["problems"] == [SQLITE_NOTE]
    assert summary(results)["statement"].startswith("CAT-6 NOT met: grades: embedded SQLite mode")


def test_an_unreachable_database_is_not_counted_as_met():
    results = watch({"grades": "postgresql://nobody@127.0.0.1:1/grades"})
    assert results["grades"]["cat6_met"] is False
    assert "cannot read pg_stat_replication" in results["grades"]["problems"][0]


def test_watched_databases(monkeypatch, platform_env):
    from services.kernel import settings as kernel_settings
    monkeypatch.setenv("GRADES_DATABASE_URL", "postgresql://catalog@db:5432/grades")
    watched = ClusterBackupSettings().watched_databases()
    assert watched["grades"] == "postgresql://catalog@db:5432/grades"
    assert watched["auth"].startswith("sqlite:///")  # development: the shared data dir's embedded file
    monkeypatch.setenv("PLATFORM_ENV", "production")
    monkeypatch.setenv("AMQP_URI", "amqp://u:p@broker:5672/")
    monkeypatch.setenv("AUTH_PUBLIC_KEY_FILE", "/run/secrets/auth_public_key")
    kernel_settings.get_settings.cache_clear()
    assert ClusterBackupSettings().watched_databases() == {"grades": "postgresql://catalog@db:5432/grades"}
    monkeypatch.setenv("CLUSTER_BACKUP_WATCH", "grades=postgresql://a@p:5432/grades, audit=postgresql://a@p:5432/audit")
    assert ClusterBackupSettings().watched_databases() == {"grades": "postgresql://a@p:5432/grades",
                                                          "audit": "postgresql://a@p:5432/audit"}
