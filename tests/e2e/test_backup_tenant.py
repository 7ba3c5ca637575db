"""Per-tenant backups through the public API, on SQLite and PostgreSQL: the change log, a full and
an incremental set, a point-in-time restore into fresh databases equal to the live data, a
live restore of one school that leaves the other school untouched, and restore drills that
pass on a good archive and fail on a corrupted one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import create_engine, select

from services.kernel import tenant_data
from services.kernel.db import normalise_url
from services.backup.tenant.restoring import service_metadata
from deploy.local.demo_catalog import YEAR
from tests.infra import PG_ADMIN_DSN

pytestmark = pytest.mark.e2e
SERVICES = ("auth", "registry", "grades", "audit")


def wait_for(fn, timeout=40.0, interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def _live_url(platform, service: str) -> str:
    if platform.backend == "postgresql":
        return _pg_urls(platform)[service]
    return f"sqlite:///{platform.data_dir / f'{service}.db'}"


def _pg_urls(platform) -> dict:
    # the platform process got <SERVICE>_DATABASE_URL; its log of `make up` does not print them,
    # so read them back from the process environment
    env = Path(f"/proc/{platform.proc.pid}/environ").read_bytes().split(b"\0")
    pairs = dict(e.decode().split("=", 1) for e in env if b"=" in e)
    return {s: pairs[f"{s.upper()}_DATABASE_URL"] for s in (*SERVICES, "backup")}


def _cli(platform, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PLATFORM_DATA_DIR=str(platform.data_dir), AMQP_URI=platform.amqp_uri,
               PYTHONPATH=str(Path(__file__).resolve().parents[2]), PYTHONWARNINGS="ignore")
    if platform.backend == "postgresql":
        env["BACKUP_DATABASE_URL"] = _pg_urls(platform)["backup"]
    return subprocess.run([sys.executable, "-m", "services.backup.restore", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def _checksums(url: str, service: str, tenant_id: str) -> dict:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return tenant_data.tenant_checksums(conn, service_metadata(service), tenant_id)
    finally:
        engine.dispose()


def _rows(url: str, service: str, table: str, tenant_id: str) -> list[dict]:
    engine = create_engine(normalise_url(url))
    try:
        meta = service_metadata(service)
        t = meta.tables[table]
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t).where(t.c.tenant_id == tenant_id)
                                                            .order_by(t.c.id))]
    finally:
        engine.dispose()


def _job(c, answer, timeout=90.0) -> dict:
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]

    def finished():
        r = c.get(f"/v1/backup/jobs/{job_id}")
        if r.status_code != 200:  # the backup service busy with the job itself: ask again
            return None
        job = r.json()
        return job if job["status"] in ("succeeded", "failed") else None
    job = wait_for(finished, timeout=timeout, interval=0.5)
    assert job, f"job {job_id} did not finish"
    assert job["status"] == "succeeded" or job["kind"] == "drill", job["error"]
    return job


@pytest.fixture(scope="module", autouse=True)
def offsite(tmp_path_factory):
    """An off-site directory target for the platform this module starts (autouse: set first)."""
    path = tmp_path_factory.mktemp("offsite")
    previous = os.environ.get("BACKUP_TARGETS")
    os.environ["BACKUP_TARGETS"] = f"file://{path}"
    yield path
    if previous is None:
        os.environ.pop("BACKUP_TARGETS")
    else:
        os.environ["BACKUP_TARGETS"] = previous


@pytest.fixture(scope="module")
def school_b(platform):
    """A second school with rows of its own, which no restore of school A may touch."""
    op = platform.token("operator")
    email = f"admin-{uuid.uuid4().hex[:8]}@scoala-b.ro"
    with platform.client(op) as c:
        r = c.post("/v1/tenants", json={"name": "Școala Gimnazială „Mihai Eminescu”", "kind": "school",
                                        "admin_email": email, "admin_full_name": "Maria Ionescu",
                                        "admin_password": "tare-parola-brad-munte-42"})
        assert r.status_code == 201, r.text
        tenant = r.json()["tenant"]
    admin = platform.sign_in(email, "tare-parola-brad-munte-42")["access_token"]
    with platform.client(admin) as c:
        assert c.post("/v1/classes", json={"name": "a V-a B", "school_year": YEAR}).status_code == 201
        assert c.post("/v1/subjects", json={"name": "Limba română", "weekly_hours": 5}).status_code == 201
    platform._tokens["school_b_admin"] = admin
    return tenant["id"]


def _grade(platform, value: int) -> dict:
    demo = platform.demo
    with platform.client(platform.token("teacher")) as c:
        r = c.post("/v1/grades", json={"class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
                                       "student_id": demo["student_person"]["id"], "value": value})
    assert r.status_code == 201, r.text
    return r.json()


def _logged(c, tenant_id: str, at_least: int) -> bool:
    r = c.get(f"/v1/backup/tenants/{tenant_id}")
    return r.status_code == 200 and r.json()["change_log"]["events"] >= at_least


def _fresh_template(platform, tmp_path: Path, label: str) -> tuple[str, list[str]]:
    if platform.backend != "postgresql":
        return f"sqlite:///{tmp_path / label}_{{service}}.db", []
    prefix = f"restore_{label}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    names = [f"{prefix}_{s}" for s in SERVICES]
    for name in names:
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{prefix}_{{service}}", names


def _drop(names: list[str]) -> None:
    if not names:
        return
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    for name in names:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_full_and_incremental_restore_one_school_live_and_drills(platform, school_b, tmp_path, offsite):
    tenant_a = platform.demo["tenant"]["id"]
    live = {s: _live_url(platform, s) for s in SERVICES}
    _grade(platform, 7)
    _grade(platform, 8)
    with platform.client(platform.token("operator")) as c:
        # the change log holds the school's events as they happen
        assert wait_for(lambda: _logged(c, tenant_a, 10))
        summary = c.get(f"/v1/backup/tenants/{tenant_a}").json()
        assert summary["change_log"]["last_lag_ms"] is not None and summary["change_log"]["last_lag_ms"] >= 0

        full = _job(c, c.post(f"/v1/backup/tenants/{tenant_a}/sets", json={"kind": "full"}))
        assert full["status"] == "succeeded", full
        assert full["progress"] == 1.0
        tables = full["result"]["tables"]
        # the demo school's own rows as they are now (its seed grows with the demo), all in the set
        assert tables["grades.grades"]["rows"] == len(_rows(live["grades"], "grades", "grades", tenant_a)) >= 2
        assert tables["grades.classes"]["rows"] == len(_rows(live["grades"], "grades", "classes", tenant_a)) >= 1
        assert tables["registry.persons"]["rows"] >= 1
        assert "grades.classes" in tables and all(not t.startswith("backup.") for t in tables)
        # the encrypted archive went off-site, byte for byte
        local = platform.data_dir / "backups" / "tenants" / tenant_a / full["result"]["file_name"]
        [upload] = full["result"]["uploads"]
        assert upload["target"] == f"file://{offsite}"
        assert (offsite / tenant_a / local.name).read_bytes() == local.read_bytes()
        grades_at_full = _checksums(live["grades"], "grades", tenant_a)
        registry_at_full = _checksums(live["registry"], "registry", tenant_a)

        # after the full set: one more grade and a homeroom teacher, sealed by the incremental
        third = _grade(platform, 10)
        teacher_id = platform.demo["users"]["teacher"]["id"]
        with platform.client(platform.token("director")) as d:
            assert d.put(f"/v1/classes/{platform.demo['class']['id']}/homeroom",
                         json={"teacher_id": teacher_id}).status_code == 200
        before = c.get(f"/v1/backup/tenants/{tenant_a}").json()["change_log"]["events"]
        assert wait_for(lambda: _logged(c, tenant_a, before)) and time.sleep(1.0) is None
        incremental = _job(c, c.post(f"/v1/backup/tenants/{tenant_a}/sets", json={"kind": "incremental"}))
        assert incremental["status"] == "succeeded", incremental
        assert incremental["result"]["events"] >= 2
        point_in_time = time.time()
        time.sleep(1.1)
        live_grades = _rows(live["grades"], "grades", "grades", tenant_a)
        live_classes = _rows(live["grades"], "grades", "classes", tenant_a)
        b_before = {s: _checksums(live[s], s, school_b) for s in ("grades", "registry")}

        # 1. full only, at the full set's time, into fresh databases: equal by checksums
        template, dbs = _fresh_template(platform, tmp_path, "full")
        try:
            at_full = full["result"]["as_of"]
            job = _job(c, c.post("/v1/backup/restores", json={"tenant_id": tenant_a, "mode": "fresh",
                                                              "at": at_full, "database_url_template": template}))
            assert job["status"] == "succeeded", job
            restored = {s: _checksums(template.format(service=s), s, tenant_a) for s in ("grades", "registry")}
        finally:
            _drop(dbs)
        assert job["result"]["tables"]["grades.grades"]["rows"] >= 2
        assert restored["registry"] == registry_at_full
        # at exactly the full set's time, the events just after it are not replayed
        assert restored["grades"] == grades_at_full

        # 2. full + incremental, now, into fresh databases: equal to the live rows; the
        # incremental's local copy is gone, so it comes back from the off-site target
        (platform.data_dir / "backups" / "tenants" / tenant_a / incremental["result"]["file_name"]).unlink()
        template, dbs = _fresh_template(platform, tmp_path, "pit")
        try:
            job = _job(c, c.post("/v1/backup/restores", json={"tenant_id": tenant_a, "mode": "fresh",
                                                              "database_url_template": template}))
            assert job["status"] == "succeeded", job
            # the incremental's row changes (archive format 2) bring the grade back
            assert job["result"]["replayed"].get("rows.grades.grades", 0) >= 1, job["result"]["replayed"]
            got_grades = _rows(template.format(service="grades"), "grades", "grades", tenant_a)
            got_classes = _rows(template.format(service="grades"), "grades", "classes", tenant_a)
            got_b = _rows(template.format(service="grades"), "grades", "classes", school_b)
        finally:
            _drop(dbs)
        assert got_b == []  # a restore of school A carries nothing of school B
        assert got_classes == live_classes  # the homeroom teacher came from the change log
        assert [{k: v for k, v in g.items() if k != "created_at"} for g in got_grades] == \
            [{k: v for k, v in g.items() if k != "created_at"} for g in live_grades]
        replayed = next(g for g in got_grades if g["id"] == third["id"])
        original = next(g for g in live_grades if g["id"] == third["id"])
        assert abs(replayed["created_at"] - original["created_at"]) < 1.0

        # 3. live restore of school A at the point in time: the grade recorded after it goes,
        # school B's rows stay exactly as they were
        late = _grade(platform, 4)
        refused = c.post("/v1/backup/restores", json={"tenant_id": tenant_a, "mode": "live"})
        assert refused.status_code == 422 and "confirm" in refused.json()["message"]
        from datetime import datetime, timezone
        job = _job(c, c.post("/v1/backup/restores", json={
            "tenant_id": tenant_a, "mode": "live", "confirm_tenant_id": tenant_a,
            "at": datetime.fromtimestamp(point_in_time, timezone.utc).isoformat(),
            "services": ["grades", "registry"], "reason": "notă introdusă din greșeală"}))
        assert job["status"] == "succeeded", job
        after_restore = _rows(live["grades"], "grades", "grades", tenant_a)
        assert late["id"] not in {g["id"] for g in after_restore}
        assert {g["id"] for g in after_restore} == {g["id"] for g in live_grades}
        assert {s: _checksums(live[s], s, school_b) for s in ("grades", "registry")} == b_before
        assert len(c.get("/v1/backup/restores").json()["items"]) >= 3

        # the operator's command line restores the same chain into fresh databases
        cli = _cli(platform, "fresh", "--tenant", tenant_a, "--into", f"sqlite:///{tmp_path}/cli_{{service}}.db")
        assert cli.returncode == 0, cli.stderr[-2000:]
        assert json.loads(cli.stdout)["tables"]["grades.grades"]["rows"] == len(live_grades)

        # 4. a drill passes on the good archives ...
        drill = _job(c, c.post("/v1/backup/drills", json={"tenant_id": tenant_a}))
        assert drill["status"] == "succeeded", drill
        [report] = drill["result"]["tenants"]
        assert report["ok"] and report["checks"]["restored_equals_set"] == "ok"
        # the restored rows agree with the audit log's newest row images, the trail with the live log
        rows, leaves = report["checks"]["audit"]["rows"], report["checks"]["audit"]["leaves"]
        assert rows["compared"] > 0 and rows["agree"] == rows["compared"] and rows["disagree"] == 0, rows
        assert rows["not_compared"] >= 0 and rows["disagreements"] == []
        assert leaves["leaves"] == report["checks"]["audit"]["entries_in_set"] and leaves["differs_at"] is None
        # ... and fails on a corrupted one
        archive = next((platform.data_dir / "backups" / "tenants" / tenant_a).glob("*-full-*.age"))
        data = bytearray(archive.read_bytes())
        data[len(data) // 2] ^= 0xFF
        archive.write_bytes(bytes(data))
        drill = _job(c, c.post("/v1/backup/drills", json={"tenant_id": tenant_a}))
        assert drill["status"] == "failed"
        [report] = drill["result"]["tenants"]
        assert not report["ok"] and "does not decrypt" in report["error"]
        cli = _cli(platform, "verify", "--file", str(archive))
        assert cli.returncode == 2 and "does not decrypt" in cli.stderr
        drills = c.get("/v1/backup/drills").json()["items"]
        assert [d["status"] for d in drills[:2]] == ["failed", "succeeded"]

        # 5. a set whose grade differs from the audit log (changed in the live database behind the
        # platform's back, no event) fails the drill, naming the table, the row and the column; the
        # rows the live restore above rewrote are no longer compared (no image describes them since)
        altered = _grade(platform, 9)
        assert wait_for(lambda: c.get("/v1/audit/events", params={
            "entity_id": altered["id"], "tenant_id": tenant_a}).json()["items"])
        engine = create_engine(normalise_url(live["grades"]))
        try:
            with engine.begin() as conn:
                grades = service_metadata("grades").tables["grades"]
                assert conn.execute(grades.update().where(grades.c.id == altered["id"])
                                    .values(value=3)).rowcount == 1
        finally:
            engine.dispose()
        assert _job(c, c.post(f"/v1/backup/tenants/{tenant_a}/sets", json={"kind": "full"}))["status"] == "succeeded"
        drill = _job(c, c.post("/v1/backup/drills", json={"tenant_id": tenant_a}))
        assert drill["status"] == "failed", drill
        [report] = drill["result"]["tenants"]
        rows = report["checks"]["audit"]["rows"]
        assert not report["ok"] and rows["disagree"] == 1 and rows["compared"] >= 1, rows
        assert rows["disagreements"] == [{"table": "grades.grades", "id": altered["id"], "column": "value"}]
        assert f"grades.grades {altered['id']} column value" in report["error"]
        assert report["checks"]["audit"]["leaves"]["differs_at"] is None


def test_contract_end_handover_legal_hold_and_prune(platform, school_b):
    today = time.strftime("%Y-%m-%d", time.gmtime())
    with platform.client(platform.token("operator")) as c:
        assert c.put(f"/v1/backup/tenants/{uuid.uuid4()}/contract",
                     json={"contract_end": "2026-08-31"}).status_code == 404
        # the contract ends today: the retention job makes the school's hand-over archive
        r = c.put(f"/v1/backup/tenants/{school_b}/contract", json={"contract_end": today})
        assert r.status_code == 200, r.text
        assert r.json()["prune_allowed"] is False and r.json()["prune_reason"] == "within_retention"
        job = _job(c, c.post("/v1/backup/jobs", json={"kind": "retention"}))
        assert len(job["result"]["handovers"]) == 1 and job["result"]["pruned"] == []
        handover_id = job["result"]["handovers"][0]
    # the school's administrator downloads it; another school's administrator cannot
    with platform.client(platform._tokens["school_b_admin"]) as b:
        r = b.get(f"/v1/backup/tenants/{school_b}/handover")
        assert r.status_code == 200, r.text
        import hashlib
        assert hashlib.sha256(r.content).hexdigest() == r.headers["x-content-sha256"]
        assert r.content.startswith(b"age-encryption.org/v1")
    with platform.client(platform.token("admin")) as a:
        assert a.get(f"/v1/backup/tenants/{school_b}/handover").status_code == 404
    with platform.client(platform.token("operator")) as c:
        # ended long ago (29 Feb 2024 + 24 months = 1 March 2026): prunable, but a legal hold stops it
        r = c.put(f"/v1/backup/tenants/{school_b}/contract", json={"contract_end": "2024-02-29"})
        assert r.json()["retained_until"] == "2026-03-01" and r.json()["prune_allowed"] is True
        r = c.put(f"/v1/backup/tenants/{school_b}/legal-hold", json={"hold": True, "reason": "Dosar în instanță"})
        assert r.json()["prune_allowed"] is False and r.json()["prune_reason"] == "legal_hold"
        assert c.put(f"/v1/backup/tenants/{school_b}/legal-hold", json={"hold": True}).status_code == 422
        job = _job(c, c.post("/v1/backup/jobs", json={"kind": "retention"}))
        assert job["result"]["pruned"] == []
        assert c.get(f"/v1/backup/tenants/{school_b}/sets").json()["items"][0]["pruned_at"] is None
        # the hold lifted, the archives go, each prune an audited event
        c.put(f"/v1/backup/tenants/{school_b}/legal-hold", json={"hold": False})
        job = _job(c, c.post("/v1/backup/jobs", json={"kind": "retention"}))
        assert job["result"]["pruned"] == [handover_id]
        assert c.get(f"/v1/backup/tenants/{school_b}/sets").json()["items"][0]["pruned_at"] is not None
        audited = wait_for(lambda: c.get("/v1/audit/events", params={
            "type": "backup.archive_pruned", "tenant_id": school_b}).json()["items"])
        assert audited and audited[0]["entity"]["id"] == handover_id
    with platform.client(platform._tokens["school_b_admin"]) as b:
        assert b.get(f"/v1/backup/tenants/{school_b}/handover").status_code == 404
