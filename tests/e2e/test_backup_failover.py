"""CAT-6 on PostgreSQL: a primary and a synchronous standby (local clusters on spare ports);
the grades service writes to the primary. Grades are recorded through the gateway, the
primary is SIGKILLed right after the last 201, the standby is promoted: every acknowledged
grade is on it. The backup service shows the synchronous standby in its operator status,
in /readyz and in its metric, and the other databases (embedded SQLite) as CAT-6 not met; an
operator runs a pgBackRest full backup of that primary through the gateway and follows it.
The primary is killed last (the tests of this module run in order)."""
from __future__ import annotations

import shutil
import time
from contextlib import ExitStack

import pytest

from tests.e2e.conftest import start_platform, stop_platform
from tests.infra import temporary_vhost
from tests.pg_local import LocalCluster, scratch_clusters

pytestmark = pytest.mark.e2e
GRADES_TO_RECORD = 40


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def replicated(tmp_path_factory):
    with ExitStack() as stack:
        root, clusters, bindir = stack.enter_context(scratch_clusters("failover"))
        primary = LocalCluster(root, "primary", bindir)
        clusters.append(primary)
        conf = root / "pgbackrest.conf"  # the cluster backups of the same primary, repository 1 only
        conf.write_text(f"[global]\nrepo1-path={root}/repo\nstart-fast=y\ncompress-type=lz4\n"
                        f"log-path={root}\nlock-path={root}/lock\nlog-level-file=off\n\n"
                        f"[catalog]\npg1-path={primary.data}\npg1-port={primary.port}\npg1-socket-path={root}\n"
                        f"pg1-user=root\n")
        shutil.chown(conf, "postgres")
        primary.initdb(synchronous_commit="on", wal_level="replica", archive_mode="on",
                       archive_command=f"pgbackrest --config={conf} --stanza=catalog archive-push %p").start()
        primary.sql("CREATE DATABASE grades")
        # from now on a commit waits for the standby (before it exists, CREATE DATABASE would wait forever)
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby1)'")
        primary.sql("SELECT pg_reload_conf()")
        standby = LocalCluster(root, "standby", bindir)
        clusters.append(standby)
        standby.standby_of(primary, "standby1").start()
        wait_for(lambda: primary.sql("SELECT sync_state FROM pg_stat_replication") == [("sync",)], 30,
                 "the standby to stream synchronously")
        amqp_uri = stack.enter_context(temporary_vhost("failover"))
        platform = start_platform(tmp_path_factory.mktemp("platform-failover"), amqp_uri,
                                  {"GRADES_DATABASE_URL": primary.url("grades"),
                                   "CLUSTER_BACKUP_REPLICATION_INTERVAL_SECONDS": "1",
                                   "CLUSTER_BACKUP_STANZA": "catalog", "CLUSTER_BACKUP_PGBACKREST_CONFIG": str(conf),
                                   "CLUSTER_BACKUP_RUN_AS": "postgres", "CLUSTER_BACKUP_OFFSITE_REPO": "1"})
        stack.callback(stop_platform, platform)
        yield platform, primary, standby


def test_the_operator_sees_the_synchronous_standby_and_sqlite_is_named_as_not_meeting_cat6(replicated):
    platform, primary, _ = replicated
    with platform.client(platform.token("operator")) as c:
        status = wait_for(lambda: (s := c.get("/v1/backup/status").json())["cat6"]["databases"]["grades"]
                          .get("sync_standbys") == 1 and s, 20, "the watch to see the standby")
        ready = c.get("/readyz").json()
    grades = status["cat6"]["databases"]["grades"]
    assert grades["cat6_met"] is True and grades["synchronous_commit"] == "on"
    assert [(s["name"], s["sync_state"]) for s in grades["standbys"]] == [("standby1", "sync")]
    auth = status["cat6"]["databases"]["auth"]
    assert auth["backend"] == "sqlite" and auth["cat6_met"] is False
    assert "CAT-6" in auth["problems"][0] and "NOT met" in auth["problems"][0]
    assert status["cat6"]["cat6_met"] is False  # the embedded databases keep the platform from meeting it
    assert status["pgbackrest"]["configured"] is True
    assert set(status["pgbackrest"]["next_runs"]) == {"full", "incr"}
    assert ready["details"]["backup"]["cat6"]["met"] is False
    assert "embedded SQLite mode" in ready["details"]["backup"]["cat6"]["statement"]


def test_the_operator_starts_a_cluster_backup_and_follows_it(replicated):
    platform, _, _ = replicated
    with platform.client(platform.token("operator")) as c:
        r = c.post("/v1/backup/cluster/runs", json={"kind": "full", "reason": "înainte de migrare"})
        assert r.status_code == 202, r.text
        run = r.json()
        assert (run["kind"], run["trigger"], run["status"]) == ("full", "operator", "running")
        again = c.post("/v1/backup/cluster/runs", json={"kind": "incr"})
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        done = wait_for(lambda: (x := c.get(f"/v1/backup/cluster/runs/{run['id']}").json())["status"] != "running"
                        and x, 120, "the backup to finish")
        assert done["status"] == "succeeded", done["error"]
        assert done["size_bytes"] > 1_000_000 and done["duration_seconds"] > 0 and done["progress"] == 1.0
        assert [b["type"] for b in done["backups"]] == ["full"]
        status = c.get("/v1/backup/status").json()
        assert status["last_success"]["full"]["id"] == run["id"]
        assert [b["type"] for b in status["backups"]] == ["full"]
        listed = c.get("/v1/backup/cluster/runs", params={"kind": "full"}).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == run["id"]
        assert c.get("/v1/backup/cluster/runs", params={"kind": "weekly"}).status_code == 422


def test_no_acknowledged_grade_is_lost_when_the_primary_dies(replicated):
    platform, primary, standby = replicated
    demo = platform.demo
    body = {"class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
            "student_id": demo["student_person"]["id"]}
    acknowledged = []
    with platform.client(platform.token("teacher")) as c:
        started = time.perf_counter()
        for i in range(GRADES_TO_RECORD):
            r = c.post("/v1/grades", json={**body, "value": 1 + i % 10, "reason": f"lucrare {i}"})
            assert r.status_code == 201, r.text
            acknowledged.append(r.json()["id"])
        recorded = time.perf_counter() - started
        primary.kill()  # right after the last 201
    killed = time.perf_counter()
    standby.promote()
    promoted = time.perf_counter() - killed
    on_standby = {row[0] for row in standby.sql("SELECT id FROM grades", "grades")}
    lost = [g for g in acknowledged if g not in on_standby]
    print(f"\nfailover: {len(acknowledged)} grades acknowledged in {recorded:.2f}s, "
          f"standby promoted in {promoted:.2f}s, lost {len(lost)}")
    assert not lost, f"acknowledged grades missing on the promoted standby: {lost}"
    assert standby.sql("SELECT pg_is_in_recovery()") == [(False,)]

