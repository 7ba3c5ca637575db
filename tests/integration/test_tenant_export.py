"""The kernel's generic tenant export/import on SQLite and PostgreSQL: pages of one consistent
snapshot although rows keep changing between chunk calls, only the tenant's rows, and an
import that replaces one tenant and leaves the others alone."""
from __future__ import annotations

import time
import uuid
from datetime import date

import pytest
from sqlalchemy import select

from services.grades.models import Base as GradesBase
from services.kernel import tenant_data
from services.kernel.db import make_engine
from services.kernel.errors import InvalidInput, NotFound
from services.kernel.migrations import upgrade_to_head
from services.registry.models import Base as RegistryBase
from tests.infra import temporary_pg_database

pytestmark = pytest.mark.integration
META = GradesBase.metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'grades.db'}"
        upgrade_to_head("grades", url)
        e = make_engine(url)
        yield e
        e.dispose()
    else:
        with temporary_pg_database("export") as url:
            upgrade_to_head("grades", url)
            e = make_engine(url)
            yield e
            e.dispose()


def _school(conn, tenant: str, grades: int) -> tuple[str, str]:
    classes, subjects = META.tables["classes"], META.tables["subjects"]
    cid, sid = str(uuid.uuid4()), str(uuid.uuid4())
    conn.execute(classes.insert(), [{"id": cid, "tenant_id": tenant, "name": "a IX-a A", "school_year": "2026-2027",
                                     "created_at": time.time()}])
    conn.execute(subjects.insert(), [{"id": sid, "tenant_id": tenant, "name": "Matematică", "weekly_hours": 4,
                                      "created_at": time.time()}])
    _grades(conn, tenant, cid, sid, grades)
    return cid, sid


def _grades(conn, tenant, cid, sid, n):
    conn.execute(META.tables["grades"].insert(), [
        {"id": str(uuid.uuid4()), "tenant_id": tenant, "class_id": cid, "subject_id": sid,
         "student_id": str(uuid.uuid4()), "value": i % 10 + 1, "awarded_on": date(2026, 11, 1 + i % 28),
         "teacher_id": "t", "version": 1, "created_at": time.time()} for i in range(n)])


def _export(sessions: tenant_data.ExportSessions, tenant: str, during=None) -> dict[str, list]:
    opened = sessions.open(tenant)
    out: dict[str, list] = {}
    for table in opened["tables"]:
        after = None
        while True:
            page = sessions.chunk(opened["session_id"], opened["snapshot"], tenant, table["name"], after, 7)
            out.setdefault(table["name"], []).extend(page["rows"])
            if during:
                during()
            after = page["next"]
            if after is None:
                break
    sessions.close(opened["session_id"])
    return out


def test_pages_come_from_one_snapshot_while_rows_change(engine):
    with engine.begin() as conn:
        cid, sid = _school(conn, "A", 30)
        _school(conn, "B", 5)

    def someone_writes():  # between chunk calls, a teacher records more grades
        with engine.begin() as conn:
            _grades(conn, "A", cid, sid, 1)

    exported = _export(tenant_data.ExportSessions(engine, META), "A", during=someone_writes)
    assert len(exported["grades"]) == 30  # none of those written during the export
    assert {r["tenant_id"] for rows in exported.values() for r in rows} == {"A"}
    assert exported["grades"][0]["awarded_on"].startswith("2026-11-")  # dates travel as ISO text
    assert [r["id"] for r in exported["grades"]] == sorted(r["id"] for r in exported["grades"])


def test_chunks_on_another_replica_join_the_snapshot_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's snapshot is one read transaction in the opening process")
    with engine.begin() as conn:
        cid, sid = _school(conn, "A", 10)
    opener = tenant_data.ExportSessions(engine, META)
    other_replica = tenant_data.ExportSessions(make_engine(str(engine.url.render_as_string(hide_password=False))),
                                               META)
    opened = opener.open("A")
    with engine.begin() as conn:
        _grades(conn, "A", cid, sid, 5)
    page = other_replica.chunk(opened["session_id"], opened["snapshot"], "A", "grades", None, 100)
    assert len(page["rows"]) == 10
    opener.close(opened["session_id"])
    with pytest.raises(NotFound):  # once the opener closed it, the snapshot is gone
        other_replica.chunk(opened["session_id"], opened["snapshot"], "A", "grades", None, 100)
    other_replica.engine.dispose()


def test_import_replaces_one_tenant_only(engine):
    with engine.begin() as conn:
        _school(conn, "A", 12)
        _school(conn, "B", 4)
    with engine.connect() as conn:
        before_b = tenant_data.tenant_checksums(conn, META, "B")
        before_a = tenant_data.tenant_checksums(conn, META, "A")
    exported = _export(tenant_data.ExportSessions(engine, META), "A")
    with engine.begin() as conn:  # damage school A, then restore it
        conn.execute(META.tables["grades"].delete().where(META.tables["grades"].c.tenant_id == "A"))
    with engine.begin() as conn:
        removed = tenant_data.clear_tenant(conn, META, "A")
        assert removed["classes"] == 1 and removed["grades"] == 0
        for table in ("classes", "subjects", "class_students", "teaching_assignments", "grades"):
            tenant_data.import_rows(conn, META, "A", table, exported.get(table, []))
    with engine.connect() as conn:
        assert tenant_data.tenant_checksums(conn, META, "A") == before_a
        assert tenant_data.tenant_checksums(conn, META, "B") == before_b
    with engine.begin() as conn, pytest.raises(InvalidInput):
        tenant_data.import_rows(conn, META, "A", "grades", [{**exported["grades"][0], "tenant_id": "B"}])


def test_shared_rows_follow_the_tenant_and_are_never_overwritten(tmp_path):
    plan = {p.name: p for p in tenant_data.plan(RegistryBase.metadata)}
    assert plan["persons"].kind == "shared" and plan["person_links"].kind == "owned"
    e = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    RegistryBase.metadata.create_all(e)
    persons, links = RegistryBase.metadata.tables["persons"], RegistryBase.metadata.tables["person_links"]
    with e.begin() as conn:
        conn.execute(persons.insert(), [{"id": p, "matriculation_code": f"M{p}", "last_name": "Popescu",
                                         "first_name": "Ștefan", "version": 1, "created_at": 1.0} for p in "xyz"])
        conn.execute(links.insert(), [{"id": f"l{p}{t}", "person_id": p, "tenant_id": t, "created_at": 1.0}
                                      for p, t in (("x", "A"), ("y", "A"), ("y", "B"), ("z", "B"))])
        rows, _ = tenant_data.read_page(conn, RegistryBase.metadata, plan["persons"], "A", None, 100)
        assert [r["id"] for r in rows] == ["x", "y"]  # the people school A registered, not z
        changed = [{**rows[1], "last_name": "Altul"}]
        assert tenant_data.import_rows(conn, RegistryBase.metadata, "A", "persons", changed) == 0
        assert conn.scalar(select(persons.c.last_name).where(persons.c.id == "y")) == "Popescu"
