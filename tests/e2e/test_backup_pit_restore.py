"""Issue 10: a point-in-time restore of one school (its full set + the incremental after it) into
fresh databases brings back EVERY tenant table of every service, equal by checksums to the live
data at that time, on SQLite and PostgreSQL, over the real broker. The tables come from the
services' metadata (`tenant_data.plan`): a table the journey below leaves unchanged must be
listed in UNTOUCHED with the reason, so a new table without coverage fails this test."""
from __future__ import annotations

import os
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select

from services.backup.tenant.restoring import service_metadata
from services.kernel import tenant_data
from services.kernel.db import normalise_url
from tests.e2e.test_backup_tenant import SERVICES, _checksums, _drop, _fresh_template, _job, _live_url

pytestmark = pytest.mark.e2e

# tables this journey does not change (their rows at the full set's time must still come back);
# every other tenant table must change between the full set and the point in time
UNTOUCHED = {
    "auth.action_tokens": "no invitation or e-mail change in the journey",
    "auth.api_clients": "no integration client",
    "auth.catalog_digest_items": "no parent or pupil digest is due",
    "auth.catalog_notice_preferences": "no parent or pupil sets notices",
    "auth.parent_links": "the demo school has no parent",
    "auth.privacy_acknowledgements": "no privacy notice is acknowledged",
    "auth.privacy_notices": "the privacy notice is not edited",
    "auth.subject_exports": "no data-subject export",
    "auth.tenants": "the school's own record does not change",
    "registry.account_requests": "no account request",
    "registry.corrections": "no correction request",
    "registry.diplomas": "no diploma",
    "registry.enrolments": "no registry enrolment",
    "registry.import_jobs": "no import",
    "registry.match_candidates": "no duplicate person",
    "registry.person_links": "no new person",
    "registry.rectification_requests": "no rectification request",
    "grades.alerts": "no alert rule fires",
    "grades.amendments": "no closed period",
    "grades.class_students": "the class's pupils do not change",
    "grades.curriculum": "the curriculum does not change",
    "grades.delegations": "no delegation",
    # the demo's printed documents may still be in progress when the full set is taken (then they
    # change in the journey's time), or long finished: either way the restore must equal the live rows
    "grades.document_files": "no document is printed in the journey",
    "grades.document_jobs": "no document is printed in the journey",
    "grades.document_printouts": "no document is printed in the journey",
    "grades.final_marks": "no final mark",
    "grades.grade_disputes": "no dispute",
    "grades.idempotent_replies": "no idempotency key",
    "grades.motivation_requests": "the demo school has no parent to ask for a motivation",
    "grades.periods": "the periods do not change",
    "grades.reexaminations": "no re-examination",
    "grades.school_imports": "no school import",
    "grades.school_years": "the school year does not change",
    "grades.year_results": "the year is not closed",
}


@pytest.fixture(scope="module", autouse=True)
def short_settle():
    """A settling delay of one second for the incremental sets and the drill (set before the
    platform of this module starts, which inherits the environment): the drill treats the tables
    changed within it before the last set as moving, and this journey is quick."""
    previous = os.environ.get("BACKUP_ROW_SETTLE_SECONDS")
    os.environ["BACKUP_ROW_SETTLE_SECONDS"] = "1"
    yield
    if previous is None:
        os.environ.pop("BACKUP_ROW_SETTLE_SECONDS")
    else:
        os.environ["BACKUP_ROW_SETTLE_SECONDS"] = previous

# a row changed behind the platform's back, in a table nothing changed recently: (table, column, value)
TAMPER = [("periods", "name", "Semestrul X"), ("class_students", "first_name", "Altcineva"),
          ("curriculum", "weekly_hours", 9), ("school_years", "name", "1999-2000")]


def _every_table(live: dict, tenant_id: str) -> dict[str, dict]:
    out = {}
    for service in SERVICES:
        for table, digest in _checksums(live[service], service, tenant_id).items():
            out[f"{service}.{table}"] = digest
    return out


def _settled(live: dict, tenant_id: str, quiet: float = 2.0, timeout: float = 60.0) -> dict[str, dict]:
    """The tenant's checksums once nothing moved for `quiet` seconds (the consumers, the audit
    log and the change log have caught up with the journey)."""
    deadline = time.monotonic() + timeout
    last = _every_table(live, tenant_id)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = _every_table(live, tenant_id)
        if now == last:
            return now
        last = now
    raise AssertionError("the tenant's data did not settle")


def _school_day() -> str:
    day = date.today()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.isoformat()


def _call(platform, role: str, method: str, path: str, status: int = 200, **kw) -> dict:
    with platform.client(platform.token(role)) as c:
        r = c.request(method, path, **kw)
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def test_point_in_time_restore_brings_back_every_table(platform):
    tenant = platform.demo["tenant"]["id"]
    demo = platform.demo
    cls, subject, pupil = demo["class"]["id"], demo["subject"]["id"], demo["student_person"]["id"]
    live = {s: _live_url(platform, s) for s in SERVICES}
    for role in ("teacher", "director", "admin", "operator"):
        platform.token(role)  # signed in before the full set: the sessions below are new ones
    older = _call(platform, "teacher", "POST", "/v1/grades", 201, json={
        "class_id": cls, "subject_id": subject, "student_id": pupil, "value": 6})
    plan_tables = {f"{s}.{p.name}" for s in SERVICES for p in tenant_data.plan(service_metadata(s))}

    with platform.client(platform.token("operator")) as c:
        full = _job(c, c.post(f"/v1/backup/tenants/{tenant}/sets", json={"kind": "full"}))
    at_full = _settled(live, tenant)
    assert set(at_full) == plan_tables

    # --- the journey: every kind of change, after the full set ---------------------------------
    for role in ("teacher", "director", "admin"):
        platform._tokens.pop(role, None)
        platform.token(role)  # new sessions (auth), their sign-ins in the audit log
    recorded = _call(platform, "teacher", "POST", "/v1/grades", 201, json={
        "class_id": cls, "subject_id": subject, "student_id": pupil, "value": 9})
    _call(platform, "teacher", "PATCH", f"/v1/grades/{older['id']}", json={
        "expected_version": older["version"], "value": 7, "reason": "recorectare lucrare"})
    _call(platform, "teacher", "POST", f"/v1/grades/{recorded['id']}/cancel", json={
        "expected_version": recorded["version"], "reason": "notă trecută la alt elev"})
    _call(platform, "teacher", "POST", "/v1/absences", 201, json={
        "class_id": cls, "subject_id": subject, "occurred_on": _school_day(), "hour": 3, "student_ids": [pupil]})
    _call(platform, "director", "PUT", f"/v1/classes/{cls}/homeroom",
          json={"teacher_id": demo["users"]["teacher"]["id"]})
    _call(platform, "teacher", "POST", f"/v1/classes/{cls}/absences/motivate", json={
        "student_id": pupil, "reason": "medical", "document_ref": "adeverință medicală 12/2026",
        "from_date": _school_day(), "to_date": _school_day()})
    physics = _call(platform, "admin", "POST", "/v1/subjects", 201, json={"name": "Fizică", "weekly_hours": 2})
    _call(platform, "admin", "POST", f"/v1/classes/{cls}/teachers", 201, json={
        "subject_id": physics["id"], "teacher_id": demo["users"]["teacher"]["id"]})
    _call(platform, "admin", "POST", "/v1/users", 201, json={
        "email": f"profesor-{uuid.uuid4().hex[:8]}@demo-creanga.ro", "full_name": "Ștefan Țăranu",
        "role": "teacher", "password": "tare-parola-brad-munte-42"})
    _call(platform, "admin", "PATCH", f"/v1/registry/persons/{pupil}", json={
        "changes": {"personal": {"civil_status": "necasatorit"}}, "reason": "actualizare date",
        "document_ref": "cerere 14/2026", "document_date": _school_day()})
    _call(platform, "director", "PUT", f"/v1/persons/{pupil}/processing-restriction",
          json={"reason": "cererea scrisă a elevului (art. 18 GDPR)"})
    _call(platform, "admin", "POST", f"/v1/persons/{pupil}/processing-restriction/lift",
          json={"reason": "cererea a fost retrasă"})

    # --- the point in time: the live data once settled -----------------------------------------
    expected = _settled(live, tenant)
    point_in_time = time.time()
    changed = {t for t in plan_tables if expected[t] != at_full[t]}
    uncovered = plan_tables - changed - set(UNTOUCHED)
    assert not uncovered, f"tables the journey does not change, and not listed in UNTOUCHED: {sorted(uncovered)}"
    assert {"grades.grade_versions", "registry.processing_restrictions", "registry.record_versions",
            "auth.sessions", "audit.audit_entries"} <= changed
    with platform.client(platform.token("operator")) as c:
        incremental = _job(c, c.post(f"/v1/backup/tenants/{tenant}/sets", json={"kind": "incremental"}))
        incremental_at = datetime.fromisoformat(incremental["result"]["as_of"]).timestamp()
        template, dbs = _fresh_template(platform, tmp_path_of(platform), "pit_all")
        try:
            job = _job(c, c.post("/v1/backup/restores", json={
                "tenant_id": tenant, "mode": "fresh", "database_url_template": template,
                "at": datetime.fromtimestamp(point_in_time, timezone.utc).isoformat()}))
            assert full["result"]["id"] == job["result"]["full_set_id"]
            assert job["result"]["incremental_set_ids"] == [incremental["result"]["id"]]
            restored = {f"{s}.{t}": d for s in SERVICES
                        for t, d in _checksums(template.format(service=s), s, tenant).items()}
        finally:
            _drop(dbs)
    differing = sorted(t for t in plan_tables if restored.get(t) != expected[t])
    assert not differing, f"restored tables that differ from the live data at the point in time: {differing}"
    assert incremental["result"]["row_changes"]["grades"] > 0, incremental["result"]

    # the drill replays the chain up to the last set and compares it with the live data: the
    # tables nothing changed since must be equal; a row changed behind the platform's back fails it
    # (in a table the journey left alone: one changed just before the set counts as moving)
    with platform.client(platform.token("operator")) as c:
        drill = _job(c, c.post("/v1/backup/drills", json={"tenant_id": tenant}))
        [report] = drill["result"]["tenants"]
        assert report["ok"], report
        assert report["checks"]["chain_equals_live"].startswith("ok"), report["checks"]
        engine = create_engine(normalise_url(live["grades"]))
        try:
            with engine.begin() as conn:
                meta = service_metadata("grades")
                changes = meta.tables["row_changes"]
                moving = set(conn.scalars(select(changes.c.table_name).where(
                    changes.c.tenant_id == tenant, changes.c.recorded_at > incremental_at - 1).distinct()))
                quiet = [(t, column, value) for t, column, value in TAMPER
                         if t not in moving and expected[f"grades.{t}"]["rows"] > 0]
                assert quiet, f"no quiet table to alter: {sorted(moving)}"
                name, column, value = quiet[0]
                assert conn.execute(meta.tables[name].update().where(meta.tables[name].c.tenant_id == tenant)
                                    .values({column: value})).rowcount >= 1
        finally:
            engine.dispose()
        drill = _job(c, c.post("/v1/backup/drills", json={"tenant_id": tenant}))
        [report] = drill["result"]["tenants"]
        assert drill["status"] == "failed" and not report["ok"], report
        assert report["checks"]["chain_equals_live"] == \
            f"differs from the live data with no change since: grades.{name}", report["checks"]


def tmp_path_of(platform):
    path = platform.data_dir / "pit-restores"
    path.mkdir(exist_ok=True)
    return path
