"""Recording grades and who sees which, with paging and totals, on real SQLite and PostgreSQL schemas."""
from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import insert

from services.grades import grades as catalog
from services.grades.models import Base, ClassStudent, Grade, SchoolClass, Subject, TeachingAssignment
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role
from tests.infra import temporary_pg_database

T, OTHER = "tenant-a", "tenant-b"


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'grades.db'}")
        yield _seeded(engine)
        engine.dispose()
        return
    with temporary_pg_database("grades_listing") as url:
        engine = make_engine(url)
        yield _seeded(engine)
        engine.dispose()


def _seeded(engine):
    """Tenant A: classes 9A (homeroom: hr) and 9B, subjects Mate and Română; teacher t teaches
    Mate in 9A only. Pupils p1, p2 in 9A, p3 in 9B. Tenant B has a grade for p1's id too."""
    Base.metadata.create_all(engine)
    s = make_sessionmaker(engine)
    now = time.time()
    with s.begin() as session:
        for cid, tenant, hr in (("9A", T, "hr"), ("9B", T, None), ("X", OTHER, None)):
            session.execute(insert(SchoolClass).values(id=cid, tenant_id=tenant, name=cid, school_year="2026-2027",
                                                       homeroom_teacher_id=hr, created_at=now))
        for sid, tenant, name in (("mate", T, "Matematică"), ("ro", T, "Limba română"), ("xs", OTHER, "X")):
            session.execute(insert(Subject).values(id=sid, tenant_id=tenant, name=name, weekly_hours=4,
                                                   created_at=now))
        for pupil, cid in (("p1", "9A"), ("p2", "9A"), ("p3", "9B")):
            session.execute(insert(ClassStudent).values(id=f"cs-{pupil}", tenant_id=T, class_id=cid, student_id=pupil,
                                                        created_at=now))
        session.execute(insert(TeachingAssignment).values(id="ta", tenant_id=T, class_id="9A", subject_id="mate",
                                                          teacher_id="t", created_at=now))
        rows = [("p1", "9A", "mate", 9), ("p1", "9A", "ro", 7), ("p2", "9A", "mate", 5), ("p2", "9A", "ro", 10),
                ("p3", "9B", "mate", 8), ("p3", "9B", "ro", 6)]
        for i, (pupil, cid, sid, value) in enumerate(rows):
            session.execute(insert(Grade).values(id=f"g{i}", tenant_id=T, class_id=cid, subject_id=sid,
                                                 student_id=pupil, value=value, awarded_on=date(2026, 10, 1 + i),
                                                 teacher_id="t", version=1, created_at=now + i))
        session.execute(insert(Grade).values(id="foreign", tenant_id=OTHER, class_id="X", subject_id="xs",
                                             student_id="p1", value=1, awarded_on=date(2026, 10, 9),
                                             teacher_id="t", version=1, created_at=now))
    return s


def _who(role, user="u", tenant=T, person=None, kids=(), scopes=()):
    return Principal(user_id=user, tenant_id=tenant, roles=frozenset({role}), person_id=person,
                     factors=frozenset({"pwd", "otp"}), scopes=frozenset(scopes), claims={"kids": list(kids)})


def _ids(sessions, principal, **kw):
    with sessions.read_connection() as connection:  # how the service calls it
        page = catalog.list_grades(connection, principal, **kw)
    with sessions.begin(readonly=True) as session:  # an ORM session works as well
        assert catalog.list_grades(session, principal, **kw) == page
    return page, [g["id"] for g in page["items"]]


def test_each_role_sees_exactly_its_grades_newest_first(sessions):
    page, ids = _ids(sessions, _who(Role.STUDENT, person="p1"))
    assert ids == ["g1", "g0"] and page["total"] == 2
    assert page["items"][0]["subject_name"] == "Limba română" and page["items"][0]["awarded_on"] == "2026-10-02"
    assert _ids(sessions, _who(Role.PARENT, kids=["p2", "p3"]))[1] == ["g5", "g4", "g3", "g2"]
    assert _ids(sessions, _who(Role.TEACHER, user="t"))[1] == ["g2", "g0"]  # Mate in 9A only
    assert _ids(sessions, _who(Role.TEACHER, user="hr"))[1] == ["g3", "g2", "g1", "g0"]  # all of 9A
    assert _ids(sessions, _who(Role.TEACHER, user="nobody"))[1] == []
    assert _ids(sessions, _who(Role.DIRECTOR))[0]["total"] == 6
    assert _ids(sessions, _who(Role.INTEGRATOR, scopes=["catalog:read"]))[0]["total"] == 6
    assert _ids(sessions, _who(Role.DIRECTOR, tenant=OTHER))[1] == ["foreign"]


def test_filters_combine_with_the_role_scope(sessions):
    director = _who(Role.DIRECTOR)
    assert _ids(sessions, director, student_id="p1", subject_id="mate")[1] == ["g0"]
    assert _ids(sessions, director, class_id="9B")[1] == ["g5", "g4"]
    assert _ids(sessions, _who(Role.TEACHER, user="hr"), subject_id="ro")[1] == ["g3", "g1"]
    assert _ids(sessions, _who(Role.PARENT, kids=["p2", "p3"]), student_id="p3")[1] == ["g5", "g4"]


def test_pages_carry_the_total_even_past_the_last_page(sessions):
    director = _who(Role.DIRECTOR)
    first, ids1 = _ids(sessions, director, limit=4)
    second, ids2 = _ids(sessions, director, limit=4, offset=4)
    beyond, ids3 = _ids(sessions, director, limit=4, offset=40)
    assert (first["total"], second["total"], beyond["total"]) == (6, 6, 6)
    assert len(ids1) == 4 and len(ids2) == 2 and ids3 == [] and not set(ids1) & set(ids2)


def test_others_grades_are_refused(sessions):
    with pytest.raises(Forbidden):
        _ids(sessions, _who(Role.STUDENT, person="p1"), student_id="p2")
    with pytest.raises(Forbidden):
        _ids(sessions, _who(Role.PARENT, kids=["p2"]), student_id="p1")
    assert _ids(sessions, _who(Role.PARENT))[0]["total"] == 0
    with pytest.raises(Forbidden):
        _ids(sessions, _who(Role.STATISTICS_VIEWER))


def _record(sessions, principal, **kw):
    emitted = []
    with sessions.write_connection() as db:  # how the service calls it
        grade = catalog.record_grade(db, lambda _db, fact, **e: emitted.append((fact, e)), principal,
                                     **{"class_id": "9A", "subject_id": "mate", "student_id": "p2", "value": 9, **kw})
    return grade, emitted


def test_the_assigned_teacher_records_a_grade_and_its_event(sessions):
    grade, emitted = _record(sessions, _who(Role.TEACHER, user="t"), reason="Lucrare  de control   ")
    assert grade["value"] == 9 and grade["teacher_id"] == "t" and grade["student_id"] == "p2"
    assert emitted == [("grade_recorded", {"entity_type": "grade", "entity_id": grade["id"], "after": grade,
                                           "reason": "Lucrare de control"})]
    page, ids = _ids(sessions, _who(Role.STUDENT, person="p2"))
    assert ids[0] == grade["id"] and page["total"] == 3


@pytest.mark.parametrize("who, kw, error, message", [
    (("t",), {"subject_id": "ro"}, Forbidden, "you do not teach this subject in this class"),
    (("t",), {"student_id": "p3"}, NotFound, "student not found in this class"),
    (("t",), {"class_id": "X"}, NotFound, "class not found"),  # another school's class
    (("t",), {"value": 11}, InvalidInput, "grade must be a whole number from 1 to 10"),
    (("t",), {"awarded_on": "2999-01-01"}, InvalidInput, "awarded_on cannot be in the future"),
    (("hr",), {}, Forbidden, "you do not teach this subject in this class"),  # homeroom reads, does not write
])
def test_refusals_explain_themselves_and_write_nothing(sessions, who, kw, error, message):
    with pytest.raises(error, match=message):
        _record(sessions, _who(Role.TEACHER, user=who[0]), **kw)
    assert _ids(sessions, _who(Role.DIRECTOR))[0]["total"] == 6


def test_administrators_never_record_grades(sessions):
    admin_teacher = Principal(user_id="t", tenant_id=T, roles=frozenset({Role.TEACHER, Role.SCHOOL_ADMIN}),
                              factors=frozenset({"pwd", "otp"}))
    with pytest.raises(Forbidden, match="administrators may not record grades"):
        _record(sessions, admin_teacher)


def test_store_writing_commits_relays_once_and_rolls_back_on_error(sessions):
    from services.grades.models import Base as GradesBase
    from services.kernel.nameko_support import Store
    woken = []
    store = Store("grades", sessions, GradesBase.metadata, wake_relay=lambda: woken.append(1))
    ctx = type("Ctx", (), {"principal": _who(Role.TEACHER, user="t"), "correlation_id": "c-1"})()
    with store.writing() as db:
        catalog.record_grade(db, store.emitter(ctx), ctx.principal, class_id="9A", subject_id="mate",
                             student_id="p1", value=10)
    assert woken == [1]
    with pytest.raises(RuntimeError):
        with store.writing() as db:
            catalog.record_grade(db, store.emitter(ctx), ctx.principal, class_id="9A", subject_id="mate",
                                 student_id="p1", value=4)
            raise RuntimeError("crash after the insert")
    with store.writing():
        pass  # a later transaction on the same pooled connection relays nothing stale
    assert woken == [1]
    assert _ids(sessions, _who(Role.DIRECTOR))[0]["total"] == 7
    with sessions.read_connection() as db:
        assert db.exec_driver_sql("SELECT count(*) FROM outbox").scalar() == 1
