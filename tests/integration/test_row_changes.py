"""The kernel's row-change capture (services/kernel/row_changes.py) on SQLite and PostgreSQL, on
the services' real schemas: ORM flushes, Core inserts, updates and deletes by any WHERE clause,
multi-row VALUES with ON CONFLICT, driver-level bulk inserts; a shared row (a person) recorded
for the school whose rows point at it. Replayed in order over a snapshot taken before, the
changes give the live tenant's checksums; another school's changes are not the tenant's."""
from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from datetime import date

import orjson
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.grades.models import Base as GradesBase, Grade, GradeVersion, SchoolClass, Subject
from services.kernel import row_changes, tenant_data
from services.kernel.db import bulk_insert, insert_ignoring_duplicates, make_engine
from services.kernel.migrations import upgrade_to_head
from services.registry.models import Base as RegistryBase
from tests.infra import temporary_pg_database

pytestmark = pytest.mark.integration
A, B = "tenant-a", "tenant-b"


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path):
    """(service, role) -> engine: a live database with the capture installed, an empty one."""
    with ExitStack() as stack:
        engines = {}
        for service, metadata in (("grades", GradesBase.metadata), ("registry", RegistryBase.metadata)):
            for role in ("live", "fresh"):
                if request.param == "sqlite":
                    url = f"sqlite:///{tmp_path / f'{service}_{role}.db'}"
                else:
                    url = stack.enter_context(temporary_pg_database(f"rows_{service}_{role}"))
                upgrade_to_head(service, url)
                engine = make_engine(url, pool_size=2)
                stack.callback(engine.dispose)
                if role == "live":
                    row_changes.RowCapture(metadata).install(engine)
                engines[service, role] = engine
        yield engines


def _school(session: Session, tenant: str, name: str = "a IX-a A") -> tuple[str, str]:
    cid, sid = str(uuid.uuid4()), str(uuid.uuid4())
    session.add(SchoolClass(id=cid, tenant_id=tenant, name=name, school_year="2026-2027", level=9))
    session.add(Subject(id=sid, tenant_id=tenant, name=f"Matematică {name}", weekly_hours=4))
    session.flush()
    return cid, sid


def _grade(session: Session, tenant: str, cid: str, sid: str, value: int) -> str:
    grade = Grade(tenant_id=tenant, class_id=cid, subject_id=sid, student_id="s1", value=value,
                  awarded_on=date(2026, 11, 3), teacher_id="t", version=1)
    session.add(grade)
    session.flush()
    session.add(GradeVersion(tenant_id=tenant, grade_id=grade.id, version=1, action="recorded", value=value,
                             kind="oral", awarded_on=date(2026, 11, 3), status="active", actor_id="t",
                             via="assignment"))
    return grade.id


def _snapshot(engine, metadata, tenant: str) -> dict[str, list]:
    with engine.connect() as conn:
        out: dict[str, list] = {}
        for name, rows in tenant_data.iter_tenant_rows(conn, metadata, tenant):
            out.setdefault(name, []).extend(rows)
        return out


def _restore(engine, metadata, tenant: str, snapshot: dict, changes: list[dict]) -> dict:
    with engine.begin() as conn:
        for item in tenant_data.plan(metadata):
            tenant_data.import_rows(conn, metadata, tenant, item.name, snapshot.get(item.name, []))
        for change in changes:
            tenant_data.apply_row_change(conn, metadata, tenant, change, update_shared=True)
    with engine.connect() as conn:
        return tenant_data.tenant_checksums(conn, metadata, tenant)


def _changes(engine, metadata, tenant: str, since: float) -> list[dict]:
    out, after = [], None
    with engine.connect() as conn:
        while True:
            page = row_changes.read_changes(conn, metadata, tenant, since=since, until=time.time() + 1,
                                            after_id=after, limit=3)
            out.extend(page["changes"])
            after = page["next"]
            if after is None:
                return out


def _assert_images_are_the_rows(conn, meta, changes: list[dict]) -> None:
    """Each row's newest image (however it was taken: from the statement's own parameters, or
    read back) is what reading the row gives now."""
    newest = {(c["table"], tuple(c["key"])): c["row"] for c in changes}
    for (name, key), image in newest.items():
        table = meta.tables[name]
        pk = list(table.primary_key.columns)
        row = conn.execute(table.select().where(*(c == v for c, v in zip(pk, key)))).one_or_none()
        read = None if row is None else orjson.loads(orjson.dumps(tenant_data.encode_row(row, table)))
        assert image == read, (name, key)


def test_captured_changes_replayed_over_a_snapshot_give_the_live_rows(databases):
    live, meta = databases["grades", "live"], GradesBase.metadata
    with Session(live) as s, s.begin():
        cid, sid = _school(s, A)
        kept = _grade(s, A, cid, sid, 7)
        gone = _grade(s, A, cid, sid, 5)
        _school(s, B)
    snapshot = _snapshot(live, meta, A)
    since = time.time() - 1  # the snapshot's time, with the margin a backup set leaves
    with Session(live) as s, s.begin():
        grade = s.get(Grade, kept)
        grade.value, grade.version = 9, 2  # an ORM update
        s.add(GradeVersion(tenant_id=A, grade_id=kept, version=2, action="changed", value=9, kind="oral",
                           awarded_on=date(2026, 11, 3), status="active", actor_id="t", via="assignment"))
        third = _grade(s, A, cid, sid, 10)
    grades, versions = meta.tables["grades"], meta.tables["grade_versions"]
    with live.begin() as conn:
        # Core statements, keyed by anything but the primary key
        conn.execute(update(grades).where(grades.c.tenant_id == A, grades.c.value == 5).values(status="cancelled"))
        conn.execute(versions.delete().where(versions.c.grade_id == gone))
        conn.execute(grades.delete().where(grades.c.id == gone))
    with Session(live) as s, s.begin():
        insert_ignoring_duplicates(s, meta.tables["subjects"], [
            {"id": str(uuid.uuid4()), "tenant_id": A, "name": n, "weekly_hours": 1, "created_at": time.time()}
            for n in ("Fizică", "Chimie")])
        bulk_insert(s, meta.tables["subjects"], [
            {"id": str(uuid.uuid4()), "tenant_id": A, "name": "Biologie", "weekly_hours": 2, "created_at": 1.0}])
        _school(s, B, "a X-a B")  # another school's changes are not school A's
    changes = _changes(live, meta, A, since)
    assert {"grades", "grade_versions", "subjects"} <= {c["table"] for c in changes}
    assert all(c["row"] is None or c["row"]["tenant_id"] == A for c in changes)
    assert [c["row"] for c in changes if c["key"] == [gone]][-1] is None  # the deletion is the last word
    assert any(c["key"] == [third] for c in changes)
    with live.connect() as conn:
        expected = tenant_data.tenant_checksums(conn, meta, A)
        _assert_images_are_the_rows(conn, meta, changes)
    assert _restore(databases["grades", "fresh"], meta, A, snapshot, []) != expected  # the snapshot alone is old
    assert _restore(databases["grades", "fresh"], meta, A, {}, []) != expected
    fresh = databases["grades", "fresh"]
    with fresh.begin() as conn:
        tenant_data.clear_tenant(conn, meta, A)
    assert _restore(fresh, meta, A, snapshot, changes) == expected


def test_a_shared_row_is_recorded_for_the_schools_that_point_at_it(databases):
    live, meta = databases["registry", "live"], RegistryBase.metadata
    persons, links = meta.tables["persons"], meta.tables["person_links"]
    since = time.time() - 1
    with live.begin() as conn:
        conn.execute(persons.insert(), [{"id": "p1", "matriculation_code": "M1", "last_name": "Popescu",
                                         "first_name": "Ștefan", "version": 1, "created_at": 1.0}])
        conn.execute(links.insert(), [{"id": "l1", "person_id": "p1", "tenant_id": A, "created_at": 1.0}])
    with live.begin() as conn:
        conn.execute(persons.update().where(persons.c.id == "p1").values(last_name="Țurcanu", version=2))
    changes = _changes(live, meta, A, since)
    # the person came with the link that points at it (parents first), then its change
    assert [(c["table"], c["row"]["last_name"] if c["table"] == "persons" else None) for c in changes] == [
        ("persons", "Popescu"), ("person_links", None), ("persons", "Țurcanu")]
    assert _changes(live, meta, B, since) == []
    with live.connect() as conn:
        expected = tenant_data.tenant_checksums(conn, meta, A)
    assert _restore(databases["registry", "fresh"], meta, A, {}, changes) == expected


def test_a_bulk_written_batch_records_each_person_once_as_written(databases):
    """A driver-level bulk insert of every column is recorded from the rows themselves (no
    read-back): the images are what reading the rows back gives; a person that a link and an
    enrolment of the same transaction both point at is recorded once, before them."""
    live, meta = databases["registry", "live"], RegistryBase.metadata
    persons, links, enrolments = (meta.tables[n] for n in ("persons", "person_links", "enrolments"))
    since = time.time() - 1
    ids = [f"p{i}" for i in range(3)]
    with Session(live) as s, s.begin():
        bulk_insert(s, persons, [
            {"id": pid, "matriculation_code": f"M{pid}", "cnp": None, "foreign_id": None, "citizenship": "RO",
             "last_name": "Ionescu", "first_name": "Ană", "birth_date": date(2001, 2, 3), "sex": "F",
             "status": "active", "data": {"personal": {"first_name": "Ană"}}, "sensitive": None, "version": 1,
             "created_at": 2.5} for pid in ids])
        bulk_insert(s, links, [{"id": f"l-{pid}", "person_id": pid, "tenant_id": A, "external_id": pid,
                                "created_at": 2.5} for pid in ids])
        bulk_insert(s, enrolments, [
            {"id": f"e-{pid}", "person_id": pid, "tenant_id": A, "kind": "university", "academic_year": "2025-2026",
             "cycle": "licenta", "programme": "Informatică", "financing": "buget", "study_year": 1,
             "end_situation": None, "active": True, "external_id": f"x-{pid}", "class_id": None,
             "data": {"cycle": "licenta"}, "version": 1, "created_at": 2.5} for pid in ids])
    changes = _changes(live, meta, A, since)
    order = [(c["table"], c["key"][0]) for c in changes]
    assert sorted(k for t, k in order if t == "persons") == ids  # once each
    assert all(order.index(("persons", pid)) < order.index(("person_links", f"l-{pid}")) for pid in ids)
    with live.connect() as conn:
        _assert_images_are_the_rows(conn, meta, changes)
        expected = tenant_data.tenant_checksums(conn, meta, A)
    assert _restore(databases["registry", "fresh"], meta, A, {}, changes) == expected
