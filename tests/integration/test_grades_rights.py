"""Data-subject rights in the catalog (issue 11), on the real schema (migrations to head), SQLite and
PostgreSQL: grade disputes from opening to the director's final decision (each approval a new
version of the grade, a closed period refusing it), the restriction of processing honoured by the
statistics and the alerts, and grades' part of a person's export validated by its JSON Schema."""
from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from services.grades import disputes, grades as catalog, restrictions, stats, subject_export
from services.grades.models import (Absence, Alert, Base, ClassStudent, FinalMark, GradeVersion, MotivationRequest,
                                    Period, SchoolClass, SchoolYear, Subject, TeachingAssignment, YearResult)
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, PeriodClosed
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.identity import Principal, Role
from services.kernel.migrations import upgrade_to_head
from services.kernel.nameko_support import CallContext, Store

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
T, OTHER = "tenant-a", "tenant-b"
PUPILS = [f"p{i}" for i in range(1, 7)]


def who(role: Role, user: str, *, tenant: str = T, person: str | None = None, kids=()) -> Principal:
    return Principal(user_id=user, tenant_id=tenant, roles=frozenset({role}), person_id=person,
                     factors=frozenset({"pwd", "otp"}), claims={"kids": list(kids)})


TEACHER, OTHER_TEACHER = who(Role.TEACHER, "t-mate"), who(Role.TEACHER, "t-ro")
DIRECTOR = who(Role.DIRECTOR, "dir")
PUPIL, PUPIL2 = who(Role.STUDENT, "acc-p1", person="p1"), who(Role.STUDENT, "acc-p2", person="p2")
PARENT = who(Role.PARENT, "acc-parent", kids=["p2"])


@pytest.fixture
def store(database_url, platform_env):
    upgrade_to_head("grades", database_url)
    engine = make_engine(database_url)
    store = Store("grades", make_sessionmaker(engine), Base.metadata)
    _seed(store)
    yield store
    engine.dispose()


def _seed(store: Store) -> None:
    today = date.today()
    start = date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    with store.transaction() as s:
        s.add(SchoolYear(id="y1", tenant_id=T, name=f"{start.year}-{start.year + 1}", starts_on=start,
                         ends_on=date(start.year + 1, 6, 30), structure="semesters", settings={}))
        s.flush()
        s.add(Period(id="sem1", tenant_id=T, school_year_id="y1", ordinal=1, name="Semestrul I", starts_on=start,
                     ends_on=date(start.year + 1, 6, 30), holidays=[]))
        s.add(SchoolClass(id="9A", tenant_id=T, name="a IX-a A", school_year=f"{start.year}-{start.year + 1}",
                          level=9))
        s.add(Subject(id="mate", tenant_id=T, name="Matematică", weekly_hours=4))
        s.add(Subject(id="ro", tenant_id=T, name="Limba și literatura română", weekly_hours=4))
        s.flush()
        s.add(TeachingAssignment(tenant_id=T, class_id="9A", subject_id="mate", teacher_id="t-mate"))
        s.add(TeachingAssignment(tenant_id=T, class_id="9A", subject_id="ro", teacher_id="t-ro"))
        for pupil in PUPILS:
            s.add(ClassStudent(tenant_id=T, class_id="9A", student_id=pupil, last_name="Țîrlea", first_name="Ștefan"))


def ctx_of(principal: Principal) -> CallContext:
    return CallContext(correlation_id="c-test", token=None, verifier=None, _principal=principal, _checked=True)


def write(store: Store, principal: Principal, rule, **kw):
    with store.transaction() as s:
        return rule(s, store.emitter(ctx_of(principal)), principal, **kw)


def read(store: Store, principal: Principal, rule, **kw):
    with store.reading() as s:
        return rule(s, principal, **kw)


def grade(store: Store, pupil: str = "p1", value: int = 5, teacher: Principal = TEACHER, subject: str = "mate"):
    with store.writing() as db:
        return catalog.record_grade(db, store.emitter(ctx_of(teacher)), teacher, class_id="9A", subject_id=subject,
                                    student_id=pupil, value=value)


def events(store: Store, prefix: str) -> list[dict]:
    outbox = Base.metadata.tables["outbox"]
    with store.reading_rows() as db:
        rows = db.execute(select(outbox.c.payload).where(outbox.c.type.like(prefix + "%")).order_by(outbox.c.id))
        return [json.loads(p) for (p,) in rows]


def versions(store: Store, grade_id: str) -> list[tuple]:
    with store.reading() as s:
        return [(v.version, v.value, v.reason) for v in s.scalars(
            select(GradeVersion).where(GradeVersion.grade_id == grade_id).order_by(GradeVersion.version))]


# --- grade disputes ------------------------------------------------------------------------------

def test_teacher_approval_changes_the_grade_as_a_new_version_with_the_reason(store):
    g = grade(store, value=5)
    d = write(store, PUPIL, disputes.open_dispute, grade_id=g["id"], reason="Am rezolvat corect și problema a treia.",
              proposed_value=8, attachment_ref="lucrare-scanată")
    assert d["status"] == "open" and d["requester_id"] == "acc-p1" and d["requester_role"] == "student"
    with pytest.raises(Conflict):  # one undecided dispute per grade
        write(store, PUPIL, disputes.open_dispute, grade_id=g["id"], reason="din nou")
    with pytest.raises(Forbidden, match="only the subject's teacher"):
        write(store, OTHER_TEACHER, disputes.decide_dispute, dispute_id=d["id"], approve=True, reason="da")
    with pytest.raises(Conflict, match="teacher decides first"):
        write(store, DIRECTOR, disputes.decide_dispute, dispute_id=d["id"], approve=True, reason="da")
    decided = write(store, TEACHER, disputes.decide_dispute, dispute_id=d["id"], approve=True,
                    reason="Punctajul a fost adunat greșit.")
    assert decided["status"] == "approved" and decided["resulting_version"] == 2
    (v1, v2) = versions(store, g["id"])
    assert v1[:2] == (1, 5) and v2[:2] == (2, 8)
    assert d["id"] in v2[2] and "Punctajul a fost adunat greșit." in v2[2]
    with pytest.raises(Conflict, match="decided finally"):
        write(store, TEACHER, disputes.decide_dispute, dispute_id=d["id"], approve=False, reason="nu")
    seen = events(store, "grades.grade_dispute")
    assert [e["type"] for e in seen] == ["grades.grade_dispute_opened", "grades.grade_dispute_approved"]
    assert all(e["data"]["after"]["requester_id"] == "acc-p1" and e["tenant_id"] == T for e in seen)
    assert seen[1]["reason"] == "Punctajul a fost adunat greșit."
    assert [e["data"]["after"]["value"] for e in events(store, "grades.grade_changed")] == [8]


def test_rejection_escalation_and_the_directors_final_decision(store):
    g = grade(store, pupil="p2", value=4)
    with pytest.raises(Forbidden, match="parents dispute only their own children's grades"):
        write(store, PARENT, disputes.open_dispute, grade_id=grade(store, pupil="p3")["id"], reason="nedrept")
    with pytest.raises(Forbidden, match="students dispute only their own grades"):
        write(store, PUPIL, disputes.open_dispute, grade_id=g["id"], reason="nedrept")
    d = write(store, PARENT, disputes.open_dispute, grade_id=g["id"], reason="Lucrarea merita 7.", proposed_value=7)
    with pytest.raises(Conflict, match="only a dispute the teacher has rejected"):
        write(store, PARENT, disputes.escalate_dispute, dispute_id=d["id"])
    rejected = write(store, TEACHER, disputes.decide_dispute, dispute_id=d["id"], approve=False,
                     reason="Baremul a fost aplicat corect.")
    assert rejected["status"] == "rejected_by_teacher" and rejected["teacher_reason"] == "Baremul a fost aplicat corect."
    with pytest.raises(Forbidden, match="only the person who opened"):
        write(store, PUPIL2, disputes.escalate_dispute, dispute_id=d["id"])
    escalated = write(store, PARENT, disputes.escalate_dispute, dispute_id=d["id"], reason="Cer reanalizarea.")
    assert escalated["status"] == "escalated"
    with pytest.raises(Forbidden, match="decided by the director"):
        write(store, TEACHER, disputes.decide_dispute, dispute_id=d["id"], approve=True, reason="m-am răzgândit")
    final = write(store, DIRECTOR, disputes.decide_dispute, dispute_id=d["id"], approve=True, value=6,
                  reason="Comisia a recorectat lucrarea.")
    assert final["status"] == "approved" and final["resulting_version"] == 2
    assert [v[:2] for v in versions(store, g["id"])] == [(1, 4), (2, 6)]
    types = [e["type"] for e in events(store, "grades.grade_dispute")]
    assert types == ["grades.grade_dispute_opened", "grades.grade_dispute_rejected", "grades.grade_dispute_escalated",
                     "grades.grade_dispute_approved"]
    # a second round on the same grade, rejected by the director: final
    d2 = write(store, PARENT, disputes.open_dispute, grade_id=g["id"], reason="Tot nu e corect.", proposed_value=9)
    write(store, TEACHER, disputes.decide_dispute, dispute_id=d2["id"], approve=False, reason="Nu.")
    write(store, PARENT, disputes.escalate_dispute, dispute_id=d2["id"])
    last = write(store, DIRECTOR, disputes.decide_dispute, dispute_id=d2["id"], approve=False,
                 reason="Nota rămâne 6.")
    assert last["status"] == "rejected" and last["director_reason"] == "Nota rămâne 6."
    with pytest.raises(Conflict):
        write(store, PARENT, disputes.escalate_dispute, dispute_id=d2["id"])
    assert len(versions(store, g["id"])) == 2


def test_a_closed_period_refuses_the_approval_until_an_amendment(store):
    g = grade(store, value=3)
    d = write(store, PUPIL, disputes.open_dispute, grade_id=g["id"], reason="greșit", proposed_value=5)
    with store.transaction() as s:
        s.get(Period, "sem1").closed = True
    with pytest.raises(PeriodClosed):
        write(store, TEACHER, disputes.decide_dispute, dispute_id=d["id"], approve=True, reason="da")
    write(store, TEACHER, disputes.decide_dispute, dispute_id=d["id"], approve=False, reason="perioada e închisă")
    write(store, PUPIL, disputes.escalate_dispute, dispute_id=d["id"])
    with pytest.raises(PeriodClosed, match="amendment"):
        write(store, DIRECTOR, disputes.decide_dispute, dispute_id=d["id"], approve=True, reason="da")
    with store.reading() as s:
        assert s.scalar(select(disputes.GradeDispute.status).where(disputes.GradeDispute.id == d["id"])) == "escalated"
    from services.grades.models import Amendment
    with store.transaction() as s:
        s.add(Amendment(tenant_id=T, period_id="sem1", class_id="9A", student_id="p1", subject_id="mate",
                        reason="contestație", approved_by="dir"))
    final = write(store, DIRECTOR, disputes.decide_dispute, dispute_id=d["id"], approve=True, reason="da")
    assert final["status"] == "approved"
    with store.reading() as s:
        via = s.scalar(select(GradeVersion.via).where(GradeVersion.grade_id == g["id"], GradeVersion.version == 2))
    assert via == "amendment"


def test_each_role_lists_what_concerns_it_and_other_tenants_see_nothing(store):
    mine = write(store, PUPIL, disputes.open_dispute, grade_id=grade(store)["id"], reason="a")
    child = write(store, PARENT, disputes.open_dispute, grade_id=grade(store, pupil="p2")["id"], reason="b")
    romana = write(store, PUPIL, disputes.open_dispute,
                   grade_id=grade(store, teacher=OTHER_TEACHER, subject="ro")["id"], reason="c")

    def ids(principal, **kw):
        page = read(store, principal, disputes.list_disputes, **kw)
        return {i["id"] for i in page["items"]}, page["total"]
    assert ids(DIRECTOR) == ({mine["id"], child["id"], romana["id"]}, 3)
    assert ids(TEACHER) == ({mine["id"], child["id"]}, 2)
    assert ids(OTHER_TEACHER) == ({romana["id"]}, 1)
    assert ids(PUPIL) == ({mine["id"], romana["id"]}, 2)
    assert ids(PUPIL2) == ({child["id"]}, 1)
    assert ids(PARENT) == ({child["id"]}, 1)
    assert ids(DIRECTOR, limit=1, offset=1)[1] == 3 and len(ids(DIRECTOR, limit=1)[0]) == 1
    assert ids(DIRECTOR, status="approved") == (set(), 0)
    foreign = who(Role.DIRECTOR, "dir-b", tenant=OTHER)
    assert ids(foreign) == (set(), 0)
    with pytest.raises(NotFound):
        write(store, foreign, disputes.decide_dispute, dispute_id=mine["id"], approve=True, reason="x")
    with pytest.raises(NotFound):
        write(store, who(Role.STUDENT, "x", tenant=OTHER, person="p1"), disputes.open_dispute,
              grade_id=grade(store)["id"], reason="x")
    with pytest.raises(InvalidInput):
        read(store, DIRECTOR, disputes.list_disputes, status="nonsense")
    admin_teacher = Principal(user_id="t-mate", tenant_id=T, roles=frozenset({Role.TEACHER, Role.SCHOOL_ADMIN}),
                              factors=frozenset({"pwd", "otp"}))
    with pytest.raises(Forbidden, match="administrators may not decide grade disputes"):
        write(store, admin_teacher, disputes.decide_dispute, dispute_id=mine["id"], approve=True, reason="x")


# --- the restriction of processing ---------------------------------------------------------------

def restriction(person: str, restricted: bool, occurred_at: str | None = None) -> Envelope:
    kind = "processing_restricted" if restricted else "processing_restriction_lifted"
    when = {"occurred_at": occurred_at} if occurred_at else {}
    return Envelope(type=f"registry.{kind}", tenant_id=T, actor=Actor("adm", "school_admin"),
                    entity=Entity("person", person), correlation_id="c-r", **when,
                    data=change_data({"person_id": person, "restricted": restricted, "reason": "cererea părintelui"}))


def consume(store: Store, envelopes: list[Envelope]) -> int:
    ctx = CallContext(correlation_id="c", token=None, verifier=None)
    with store.transaction() as s:
        fresh = store.newly_processed(s, [e.event_id for e in envelopes], restrictions.QUEUE)
        return restrictions.record_events(s, lambda session, fact, **kw: store.emit(session, ctx, fact, **kw),
                                          [e for e in envelopes if e.event_id in fresh])


def test_restriction_events_are_idempotent_and_the_newest_wins(store):
    on = restriction("p1", True, "2026-11-02T10:00:00+00:00")
    assert consume(store, [on]) == 1
    assert consume(store, [on]) == 0  # redelivered
    stale_lift = restriction("p1", False, "2026-11-01T10:00:00+00:00")  # older, arriving late
    assert consume(store, [stale_lift]) == 0
    with store.reading() as s:
        assert restrictions.restricted_ids(s, T) == {"p1"} and restrictions.restricted_ids(s, OTHER) == set()
    assert consume(store, [restriction("p1", False, "2026-11-03T10:00:00+00:00")]) == 1
    with store.reading() as s:
        assert restrictions.restricted_ids(s, T) == set()
    recorded = events(store, "grades.processing_restriction_recorded")
    assert [e["data"]["after"]["restricted"] for e in recorded] == [True, False]
    assert all(e["tenant_id"] == T and e["actor"]["id"] == "system" for e in recorded)


def _stats_pupils(store: Store) -> dict:
    out = read(store, DIRECTOR, stats.grade_statistics)
    return {s["subject"]: s["pupils"] for s in out["subjects"]}


def test_a_restricted_pupil_leaves_the_statistics_and_raises_no_alerts(store):
    for pupil in PUPILS[:5]:
        grade(store, pupil=pupil, value=7)
    assert _stats_pupils(store) == {"Matematică": 5}
    consume(store, [restriction("p1", True)])
    # four pupils left: the subject's cell is suppressed (fewer than 5), p1's grades count nowhere
    after = read(store, DIRECTOR, stats.grade_statistics)
    assert after["subjects"][0]["suppressed"] and after["subjects"][0]["pupils"] is None
    grade(store, pupil="p6", value=9)
    assert _stats_pupils(store) == {"Matematică": 5}
    # a change of the restricted pupil's grade: a new version, but no alert (row or event)
    g = grade(store, pupil="p1", value=5)
    write(store, TEACHER, catalog.change_grade, grade_id=g["id"], expected_version=1, reason="corectare", value=6)
    other = grade(store, pupil="p2", value=5)
    write(store, TEACHER, catalog.change_grade, grade_id=other["id"], expected_version=1, reason="corectare", value=6)
    with store.reading() as s:
        assert [a.student_id for a in s.scalars(select(Alert))] == ["p2"]
    assert [e["data"]["after"]["student_id"] for e in events(store, "grades.alert_raised")] == ["p2"]
    assert len(versions(store, g["id"])) == 2
    # staff still see the pupil in the class catalog (the legal record)
    from services.grades import views
    with store.reading() as s:
        catalog_view = views.class_catalog(s, DIRECTOR, "9A")
    assert "p1" in json.dumps(catalog_view)
    consume(store, [restriction("p1", False)])
    assert _stats_pupils(store) == {"Matematică": 6}


# --- a person's export -----------------------------------------------------------------------------

def _schema() -> dict:
    return json.loads((REPO / "docs/schemas/subject-export/grades.v1.schema.json").read_text(encoding="utf-8"))


def _all_pages(store: Store, subject: dict, limit: int) -> tuple[list[dict], int]:
    schema = _schema()
    items, cursor, pages = [], None, 0
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/page"})
    while True:
        with store.reading() as s:
            page = subject_export.export_part(s, subject, cursor=cursor, limit=limit)
        validator.validate(page)
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


def test_the_export_part_holds_every_section_pages_by_cursor_and_follows_its_schema(store):
    g = grade(store, value=6)
    write(store, TEACHER, catalog.change_grade, grade_id=g["id"], expected_version=1, reason="corectare", value=7)
    grade(store, value=9)
    grade(store, pupil="p2", value=10)  # not the subject's
    write(store, PUPIL, disputes.open_dispute, grade_id=g["id"], reason="Merit 8.", proposed_value=8)
    write(store, PARENT, disputes.open_dispute, grade_id=grade(store, pupil="p2")["id"], reason="b")
    now = time.time()
    with store.transaction() as s:
        s.add(Absence(tenant_id=T, class_id="9A", subject_id="mate", student_id="p1", period_id="sem1",
                      occurred_on=date.today(), hour=2, teacher_id="t-mate", status="unmotivated"))
        s.add(FinalMark(tenant_id=T, class_id="9A", student_id="p1", period_id="sem1", kind="conduct",
                        subject_key="-", value="10", set_by="t-mate"))
        s.add(YearResult(tenant_id=T, school_year_id="y1", class_id="9A", student_id="p1",
                         result={"general_average": "8.50", "situation": "promovat"}))
        s.add(MotivationRequest(tenant_id=T, class_id="9A", student_id="p1", parent_id="acc-parent-p1",
                                from_date=date.today(), to_date=date.today(), days=1, reason="medic",
                                created_at=now))
    subject = {"tenant_id": T, "person_id": "p1", "account_id": "acc-p1"}
    items, pages = _all_pages(store, subject, limit=2)
    by_section: dict[str, list] = {}
    for item in items:
        by_section.setdefault(item["section"], []).append(item["record"])
    assert {k: len(v) for k, v in by_section.items()} == {
        "grades": 2, "grade_versions": 3, "absences": 1, "period_marks": 1, "year_results": 1, "grade_disputes": 1,
        "motivation_requests": 1}
    assert list(dict.fromkeys(i["section"] for i in items)) == list(subject_export.SECTIONS)
    jsonschema.Draft202012Validator(_schema()).validate(by_section)  # the part as the export document holds it
    assert pages >= 5 and len({json.dumps(i, sort_keys=True) for i in items}) == len(items)  # nothing twice
    assert all(r["student_id"] == "p1" for r in by_section["grades"] + by_section["absences"])
    assert by_section["period_marks"][0]["subject_id"] is None and by_section["period_marks"][0]["kind"] == "conduct"
    assert "tenant_id" not in by_section["grades"][0]
    assert _all_pages(store, subject, limit=500)[0] == items  # the same whatever the page size
    # a parent's account: the requests they made, nothing else
    parent_items, _ = _all_pages(store, {"tenant_id": T, "person_id": None, "account_id": "acc-parent"}, 500)
    assert [i["section"] for i in parent_items] == ["grade_disputes"]
    assert _all_pages(store, {"tenant_id": OTHER, "person_id": "p1", "account_id": "acc-p1"}, 500)[0] == []
    with store.reading() as s:
        for bad in ({"person_id": "p1"}, "p1"):
            with pytest.raises(InvalidInput):
                subject_export.export_part(s, bad)
        with pytest.raises(InvalidInput):
            subject_export.export_part(s, subject, cursor="not-a-cursor")
        with pytest.raises(InvalidInput):
            subject_export.export_part(s, subject, limit=0)
