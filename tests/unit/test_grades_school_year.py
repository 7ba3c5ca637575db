"""A school year run through the catalog's rule modules on real SQLite and PostgreSQL schemas:
structure, grades with versions, transfers, absences and motivation, delegation, closing with
amendments, the year's freeze and re-examinations, and the class catalog view (contract 2)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.grades import absences, closing, delegation, grades, stats, structure, views
from services.grades.common import today
from services.grades.models import Base
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, PeriodClosed, StaleVersion
from services.kernel.identity import Principal, Role
from tests.infra import temporary_pg_database

T = "tenant-a"
YEAR = "2025-2026"
SEMESTERS = [{"name": "Semestrul I", "starts_on": "2025-09-08", "ends_on": "2026-01-23", "holidays": ["2025-12-01"]},
             {"name": "Semestrul al II-lea", "starts_on": "2026-02-02", "ends_on": "2026-06-19"}]


def who(role, user, *, person=None, kids=()):
    return Principal(user_id=user, tenant_id=T, roles=frozenset({role}), factors=frozenset({"pwd", "otp"}),
                     person_id=person, claims={"kids": list(kids)})


DIRECTOR, ADMIN = who(Role.DIRECTOR, "dir"), who(Role.SCHOOL_ADMIN, "adm")
MATH_T, RO_T, HOME_T, SUB_T = (who(Role.TEACHER, u) for u in ("t-math", "t-ro", "t-home", "t-sub"))
PARENT = who(Role.PARENT, "par", kids=["p1"])
ADMIN_TEACHER = Principal(user_id="t-math", tenant_id=T, roles=frozenset({Role.TEACHER, Role.SCHOOL_ADMIN}),
                          factors=frozenset({"pwd", "otp"}))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'grades.db'}")
        Base.metadata.create_all(engine)
        yield School(make_sessionmaker(engine))
        engine.dispose()
        return
    with temporary_pg_database("grades_year") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        yield School(make_sessionmaker(engine))
        engine.dispose()


class School:
    def __init__(self, sessions):
        self.sessions = sessions
        self.events: list[tuple[str, dict]] = []

    def w(self, rule, principal, **kw):
        with self.sessions.begin() as s:
            return rule(s, lambda _s, fact, **e: self.events.append((fact, e)), principal, **kw)

    def r(self, rule, principal, *args, **kw):
        with self.sessions.begin(readonly=True) as s:
            return rule(s, principal, *args, **kw)

    def facts(self, name):
        return [e for f, e in self.events if f == name]


def _setup(school: School) -> dict:
    year = school.w(structure.create_school_year, DIRECTOR, name=YEAR, structure="semesters", periods=SEMESTERS,
                    settings={"parent_motivation_days": 3})
    s1, s2 = (p["id"] for p in year["periods"])
    cls = school.w(structure.create_class, ADMIN, name="a IX-a B", school_year=YEAR, level=9)
    math = school.w(structure.create_subject, ADMIN, name="Matematică", weekly_hours=4)
    ro = school.w(structure.create_subject, ADMIN, name="Limba română", weekly_hours=4)
    school.w(structure.set_curriculum_entry, ADMIN, class_id=cls["id"], subject_id=math["id"], weekly_hours=2,
             thesis_periods=[s1])
    school.w(structure.set_curriculum_entry, ADMIN, class_id=cls["id"], subject_id=ro["id"], weekly_hours=1)
    for teacher, subject in ((MATH_T, math), (RO_T, ro)):
        school.w(structure.assign_teacher, ADMIN, class_id=cls["id"], subject_id=subject["id"],
                 teacher_id=teacher.user_id)
    school.w(structure.set_homeroom_teacher, ADMIN, class_id=cls["id"], teacher_id=HOME_T.user_id)
    for pupil, last in (("p1", "Popescu"), ("p2", "Ionescu")):
        school.w(structure.enrol_student, ADMIN, class_id=cls["id"], student_id=pupil,
                 person={"last_name": last, "first_name": "Ana"})
    return {"year": year, "s1": s1, "s2": s2, "cls": cls["id"], "math": math["id"], "ro": ro["id"]}


def _grade(school, teacher, ids, subject, pupil, value, day, kind="oral"):
    with school.sessions.write_connection() as c:
        return grades.record_grade(c, lambda _c, fact, **e: school.events.append((fact, e)), teacher,
                                   class_id=ids["cls"], subject_id=ids[subject], student_id=pupil, value=value,
                                   awarded_on=day, kind=kind)


def test_structure_validates_periods_and_emits_the_registry_contract(db):
    with pytest.raises(InvalidInput, match="has 5 periods"):
        db.w(structure.create_school_year, DIRECTOR, name=YEAR, structure="modules", periods=SEMESTERS)
    with pytest.raises(InvalidInput, match="overlapping"):
        db.w(structure.create_school_year, DIRECTOR, name=YEAR, structure="semesters",
             periods=[SEMESTERS[0], {**SEMESTERS[1], "starts_on": "2026-01-20"}])
    with pytest.raises(Forbidden):
        db.w(structure.create_school_year, MATH_T, name=YEAR, structure="semesters", periods=SEMESTERS)
    ids = _setup(db)
    enrolled = db.facts("student_enrolled")[0]["after"]
    assert enrolled == {"class_id": ids["cls"], "student_id": "p1", "school_year": YEAR, "class_name": "a IX-a B",
                        "level": 9, "enrolled_on": "2025-09-08"}
    db.w(structure.transfer_out, ADMIN, class_id=ids["cls"], student_id="p2", effective_on="2026-03-02")
    db.w(structure.enrol_student, ADMIN, class_id=ids["cls"], student_id="p3", person={"last_name": "Radu"},
         enrolled_on="2026-02-16", transferred_in=True)
    moves = [e["after"] for e in db.facts("student_transferred")]
    assert moves == [
        {"class_id": ids["cls"], "student_id": "p2", "school_year": YEAR, "direction": "out",
         "effective_on": "2026-03-02"},
        {"class_id": ids["cls"], "student_id": "p3", "school_year": YEAR, "direction": "in",
         "effective_on": "2026-02-16"}]
    # a transferred pupil keeps their history but gets nothing new after leaving; the newcomer
    # nothing from before arriving
    _grade(db, MATH_T, ids, "math", "p2", 8, "2026-02-20")
    with pytest.raises(InvalidInput, match="not in this class on that date"):
        _grade(db, MATH_T, ids, "math", "p2", 8, "2026-03-02")
    with pytest.raises(InvalidInput, match="not in this class on that date"):
        _grade(db, MATH_T, ids, "math", "p3", 8, "2026-02-13")
    _grade(db, MATH_T, ids, "math", "p3", 8, "2026-02-16")
    catalog = db.r(views.class_catalog, DIRECTOR, ids["cls"])
    status = {p["student_id"]: (p["status"], p["transferred_on"], p["last_name"]) for p in catalog["pupils"]}
    assert status == {"p1": ("enrolled", None, "Popescu"), "p2": ("transferred_out", "2026-03-02", "Ionescu"),
                      "p3": ("transferred_in", "2026-02-16", "Radu")}


def test_grades_are_versioned_never_deleted_and_refused_where_they_must_be(db):
    ids = _setup(db)
    g = _grade(db, MATH_T, ids, "math", "p1", 7, "2025-10-01")
    assert g["period_id"] == ids["s1"] and g["version"] == 1
    for teacher, kw, error, message in (
            (RO_T, {}, Forbidden, "you do not teach this subject"),
            (MATH_T, {"day": "2026-01-28"}, InvalidInput, "outside the periods"),
            (MATH_T, {"day": (today() + timedelta(days=1)).isoformat()}, InvalidInput, "future"),
            (MATH_T, {"pupil": "nobody"}, NotFound, "student not found"),
            (ADMIN_TEACHER, {}, Forbidden, "administrators may not record grades")):
        with pytest.raises(error, match=message):
            _grade(db, teacher, ids, "math", kw.get("pupil", "p1"), 9, kw.get("day", "2025-10-02"))
    with pytest.raises(InvalidInput, match="no thesis in this period"):
        _grade(db, MATH_T, ids, "math", "p1", 9, "2026-03-02", kind="thesis")
    changed = db.w(grades.change_grade, MATH_T, grade_id=g["id"], expected_version=1, value=8, reason="greșeală")
    assert changed["version"] == 2 and changed["value"] == 8
    with pytest.raises(StaleVersion) as stale:
        db.w(grades.change_grade, MATH_T, grade_id=g["id"], expected_version=1, value=9, reason="iar")
    assert stale.value.details["current"]["version"] == 2 and stale.value.details["current"]["value"] == 8
    with pytest.raises(InvalidInput, match="reason is required"):
        db.w(grades.cancel_grade, MATH_T, grade_id=g["id"], expected_version=2, reason="  ")
    db.w(grades.cancel_grade, MATH_T, grade_id=g["id"], expected_version=2, reason="notă pusă greșit")
    history = db.r(grades.grade_history, DIRECTOR, grade_id=g["id"])
    assert [(v["action"], v["value"], v["status"], v["reason"]) for v in history["versions"]] == [
        ("recorded", 7, "active", None), ("changed", 8, "active", "greșeală"),
        ("cancelled", 8, "cancelled", "notă pusă greșit")]
    changed_event = db.facts("grade_changed")[0]
    assert changed_event["before"]["value"] == 7 and changed_event["after"]["value"] == 8
    # the change and the cancel each raised an alert for the assigned teacher and the director
    alerts = db.facts("alert_raised")
    assert [a["after"]["kind"] for a in alerts] == ["grade_changed", "grade_cancelled"]
    assert alerts[0]["after"]["recipients"] == ["t-math"] and "8" not in alerts[0]["after"]["detail"]
    with db.sessions.read_connection() as c:
        assert grades.list_grades(c, DIRECTOR)["total"] == 0  # cancelled: not counted, still in history


def test_absences_motivation_and_parent_requests_within_the_limit(db):
    ids = _setup(db)
    out = db.w(absences.record_absences, MATH_T, class_id=ids["cls"], subject_id=ids["math"],
               occurred_on="2025-10-06", hour=2, student_ids=["p1", "p2"])
    assert len(out["items"]) == 2
    with pytest.raises(Conflict, match="already recorded"):
        db.w(absences.record_absences, MATH_T, class_id=ids["cls"], subject_id=ids["math"],
             occurred_on="2025-10-06", hour=2, student_ids=["p1"])
    for day in ("2025-10-07", "2025-10-08", "2025-10-09", "2025-10-13"):
        db.w(absences.record_absences, RO_T, class_id=ids["cls"], subject_id=ids["ro"], occurred_on=day, hour=1,
             student_ids=["p1"])
    with pytest.raises(Forbidden, match="homeroom teacher"):
        db.w(absences.motivate_absences, MATH_T, class_id=ids["cls"], student_id="p2", reason="other",
             from_date="2025-10-06", to_date="2025-10-06")
    with pytest.raises(InvalidInput, match="document"):
        db.w(absences.motivate_absences, HOME_T, class_id=ids["cls"], student_id="p2", reason="medical",
             from_date="2025-10-06", to_date="2025-10-06")
    done = db.w(absences.motivate_absences, HOME_T, class_id=ids["cls"], student_id="p2", reason="medical",
                document_ref="adeverință 12", from_date="2025-10-01", to_date="2025-10-31")
    assert len(done["items"]) == 1
    # the parent may ask for 3 school days a year: 7-9 October fits, 13 October no longer does
    with pytest.raises(Forbidden):
        db.w(absences.request_motivation, PARENT, student_id="p2", from_date="2025-10-07", to_date="2025-10-07",
             reason="boală")
    req = db.w(absences.request_motivation, PARENT, student_id="p1", from_date="2025-10-07", to_date="2025-10-09",
               reason="răceală")
    assert req["days"] == 3 and req["homeroom_teacher_id"] == "t-home"
    with pytest.raises(InvalidInput, match="at most 3 school days"):
        db.w(absences.request_motivation, PARENT, student_id="p1", from_date="2025-10-13", to_date="2025-10-13",
             reason="iar")
    with pytest.raises(Forbidden):
        db.w(absences.decide_motivation, HOME_T, request_id=req["id"], approve=True)
    decided = db.w(absences.decide_motivation, DIRECTOR, request_id=req["id"], approve=True)
    assert decided["status"] == "approved" and decided["motivated"] == 3
    db.w(structure.update_school_year_settings, DIRECTOR, school_year_id=ids["year"]["id"],
         settings={"conduct_thresholds": [[2, 9], [4, 8]]})
    card = db.r(views.report_card, PARENT, class_id=ids["cls"], student_id="p1")
    # p1 has 2 unmotivated absences in the first semester: the school's table suggests 9
    assert card["conduct_suggestions"][ids["s1"]] == {"unmotivated_absences": 2, "suggested": 9}
    listed = db.r(absences.list_absences, PARENT, class_id=ids["cls"], student_id="p1")
    assert listed["totals"] == {"total": 5, "motivated": 3, "unmotivated": 2}
    catalog = db.r(views.class_catalog, HOME_T, ids["cls"], ids["s1"])
    p1 = next(p for p in catalog["pupils"] if p["student_id"] == "p1")
    assert p1["absences"] == {"total": 5, "motivated": 3, "unmotivated": 2}
    assert p1["subjects"][ids["ro"]]["periods"][ids["s1"]]["absences"] == {"total": 4, "motivated": 3,
                                                                           "unmotivated": 1}


def test_delegation_request_approve_reject_revoke_and_expiry(db):
    ids = _setup(db)
    ask = dict(class_id=ids["cls"], subject_id=ids["math"], delegate_id=SUB_T.user_id, reason="concediu medical")
    with pytest.raises(Forbidden):
        db.w(delegation.request_delegation, RO_T, **ask, starts_on=today().isoformat(), ends_on=today().isoformat())
    d = db.w(delegation.request_delegation, MATH_T, **ask, starts_on=today().isoformat(),
             ends_on=(today() + timedelta(days=5)).isoformat())
    with pytest.raises(Forbidden, match="you do not teach"):  # requested is not yet in force
        _grade(db, SUB_T, ids, "math", "p1", 9, "2026-03-02")
    with pytest.raises(Forbidden):
        db.w(delegation.decide_delegation, MATH_T, delegation_id=d["id"], approve=True)
    db.w(delegation.decide_delegation, DIRECTOR, delegation_id=d["id"], approve=True)
    g = _grade(db, SUB_T, ids, "math", "p1", 9, "2026-03-02")
    assert g["via"] == "delegation"
    assert db.facts("alert_raised")[-1]["after"]["kind"] == "grade_recorded_by_delegation"
    mine = db.r(views.teacher_classes, SUB_T)["items"]
    assert mine[0]["subjects"][0]["right"] == "delegation"
    db.w(delegation.revoke_delegation, DIRECTOR, delegation_id=d["id"], reason="s-a întors titularul")
    with pytest.raises(Forbidden):
        _grade(db, SUB_T, ids, "math", "p1", 9, "2026-03-03")
    rejected = db.w(delegation.request_delegation, DIRECTOR, **ask, starts_on=today().isoformat(),
                    ends_on=today().isoformat())
    assert db.w(delegation.decide_delegation, DIRECTOR, delegation_id=rejected["id"], approve=False)["status"] == \
        "rejected"
    # expiry: an approved delegation whose end date passed gives no right, and its expiry is
    # recorded once, the first time delegations are listed
    past = db.w(delegation.request_delegation, MATH_T, **ask, starts_on=today().isoformat(),
                ends_on=today().isoformat())
    db.w(delegation.decide_delegation, DIRECTOR, delegation_id=past["id"], approve=True)
    with db.sessions.begin() as s:
        from services.grades.models import Delegation
        row = s.get(Delegation, past["id"])
        row.starts_on, row.ends_on = today() - timedelta(days=10), today() - timedelta(days=1)
    with pytest.raises(Forbidden):
        _grade(db, SUB_T, ids, "math", "p1", 9, "2026-03-04")
    listed = db.w(delegation.list_delegations, DIRECTOR)
    assert {d["id"]: d["state"] for d in listed["items"]}[past["id"]] == "expired"
    db.w(delegation.list_delegations, SUB_T)
    assert [e["entity_id"] for e in db.facts("delegation_expired")] == [past["id"]]
    assert {f for f, _ in db.events} >= {"delegation_requested", "delegation_approved", "delegation_rejected",
                                         "delegation_revoked", "delegation_expired"}


def test_closing_amendment_year_freeze_and_reexamination(db):
    ids = _setup(db)
    for pupil, values, thesis in (("p1", [9, 10], 8), ("p2", [4, 4], 4)):
        for i, v in enumerate(values):
            _grade(db, MATH_T, ids, "math", pupil, v, f"2025-10-0{i + 1}")
        _grade(db, MATH_T, ids, "math", pupil, thesis, "2025-12-10", kind="thesis")
        for i, v in enumerate(values):
            _grade(db, MATH_T, ids, "math", pupil, v, f"2026-03-0{i + 2}")
        for day in ("2025-10-01", "2025-10-02", "2026-03-02", "2026-03-03"):
            _grade(db, RO_T, ids, "ro", pupil, 10 if pupil == "p1" else 7, day)
    check = db.r(closing.closing_check, DIRECTOR, period_id=ids["s1"])
    kinds = {(w["kind"], w["student_id"]) for w in check["warnings"]}
    assert ("missing_conduct", "p1") in kinds and ("too_few_grades", "p2") in kinds  # p2 at risk: 3 needed
    with pytest.raises(Conflict, match="warnings") as refused:
        db.w(closing.close_period, DIRECTOR, period_id=ids["s1"])
    assert refused.value.details["warning_count"] == check["warning_count"]
    with pytest.raises(Forbidden):
        db.w(closing.close_period, HOME_T, period_id=ids["s1"], confirm=True)
    for period in ("s1", "s2"):
        for pupil in ("p1", "p2"):
            db.w(grades.set_conduct_grade, HOME_T, class_id=ids["cls"], student_id=pupil, period_id=ids[period],
                 value=10)
    db.w(closing.close_period, DIRECTOR, period_id=ids["s1"], confirm=True)
    with pytest.raises(PeriodClosed):
        _grade(db, MATH_T, ids, "math", "p1", 10, "2025-10-20")
    db.w(closing.approve_amendment, DIRECTOR, period_id=ids["s1"], class_id=ids["cls"], student_id="p1",
         subject_id=ids["math"], reason="notă omisă din catalog")
    amended = _grade(db, MATH_T, ids, "math", "p1", 10, "2025-10-20")
    assert amended["via"] == "amendment"
    with pytest.raises(PeriodClosed):  # the amendment names one pupil
        _grade(db, MATH_T, ids, "math", "p2", 10, "2025-10-20")
    s1_view = db.r(views.class_catalog, DIRECTOR, ids["cls"], ids["s1"])
    p1 = next(p for p in s1_view["pupils"] if p["student_id"] == "p1")
    cell = p1["subjects"][ids["math"]]["periods"][ids["s1"]]
    # M = (9 + 10 + 10) / 3 = 9.66 (truncated); (3 × 9.66 + 8) / 4 = 9.245 → 9
    assert cell["average"] == "9" and cell["thesis"]["value"] == 8 and len(cell["grades"]) == 3
    assert p1["amendments"][0]["reason"] == "notă omisă din catalog"
    year = db.w(closing.close_year, DIRECTOR, school_year_id=ids["year"]["id"], confirm=True)
    assert year["situations"] == {"promoted": 1, "corigent": 1}
    view = db.r(views.class_catalog, DIRECTOR, ids["cls"])
    by = {p["student_id"]: p for p in view["pupils"]}
    # p1: math S1 9, S2 (9+10)/2 = 9.50 → 10: annual 9.50; ro 10; conduct 10 → (9.50+10+10)/3 = 9.83
    assert by["p1"]["subjects"][ids["math"]]["annual_average"] == "9.50"
    assert by["p1"]["general_average"] == "9.83" and by["p1"]["situation"] == "promoted"
    assert by["p2"]["subjects"][ids["math"]]["annual_average"] == "4.00" and by["p2"]["situation"] == "corigent"
    assert all(p["closed"] for p in view["school_year"]["periods"])
    with pytest.raises(PeriodClosed):
        _grade(db, RO_T, ids, "ro", "p2", 9, "2026-03-10")
    out = db.w(closing.record_reexamination, MATH_T, class_id=ids["cls"], student_id="p2", subject_id=ids["math"],
               kind="corigenta", average="6")
    assert out["situation"] == "promoted"
    assert next(p for p in db.r(views.class_catalog, DIRECTOR, ids["cls"])["pupils"]
                if p["student_id"] == "p2")["situation"] == "promoted"
    with pytest.raises(Conflict):
        db.w(closing.reopen_period, DIRECTOR, period_id=ids["s1"], reason="an închis")
    assert {f for f, _ in db.events} >= {"period_closed", "amendment_approved", "school_year_closed",
                                         "year_result_frozen", "reexamination_recorded"}


def test_the_compact_catalog_holds_what_the_full_one_holds_and_follows_writes(db):
    """The web pages' shape of the catalog: every mark of the year in one list per cell (thesis
    included), the same averages and absences; and a write after it was cached shows at once."""
    ids = _setup(db)
    _grade(db, MATH_T, ids, "math", "p1", 7, "2025-10-01")
    _grade(db, MATH_T, ids, "math", "p1", 9, "2025-10-08")
    _grade(db, MATH_T, ids, "math", "p1", 8, "2026-03-03")
    with pytest.raises(InvalidInput, match="shape must be"):
        db.r(views.class_catalog, DIRECTOR, ids["cls"], None, "html")
    full = db.r(views.class_catalog, DIRECTOR, ids["cls"])
    compact = db.r(views.class_catalog, DIRECTOR, ids["cls"], None, "compact")
    assert compact["shape"] == "compact" and compact["subjects"] == full["subjects"]
    assert compact["school_year"] == full["school_year"] and compact["class"] == full["class"]
    for f, c in zip(full["pupils"], compact["pupils"], strict=True):
        assert (c["student_id"], c["status"], c["absences"], c["general_average"]) == \
            (f["student_id"], f["status"], f["absences"], f["general_average"])
        for sid, cell in f["subjects"].items():
            grades = [[g["id"], g["value"], g["awarded_on"], g["kind"]]
                      for period in cell["periods"].values() for g in period["grades"]]
            grades += [[p["thesis"]["id"], p["thesis"]["value"], p["thesis"]["awarded_on"], "thesis"]
                       for p in cell["periods"].values() if p["thesis"]]
            assert sorted(c["subjects"][sid]["marks"], key=lambda m: (m[2], m[0])) == \
                sorted(grades, key=lambda m: (m[2], m[0]))
            assert c["subjects"][sid]["averages"] == {k: v["average"] for k, v in cell["periods"].items()
                                                      if v["average"] is not None}
            assert c["subjects"][sid]["annual"] == cell["annual_average"]
    p1 = next(p for p in compact["pupils"] if p["student_id"] == "p1")
    assert [m[1] for m in p1["subjects"][ids["math"]]["marks"]] == [7, 9, 8]  # oldest first, across periods
    _grade(db, MATH_T, ids, "math", "p1", 10, "2026-03-04")
    again = db.r(views.class_catalog, DIRECTOR, ids["cls"], None, "compact")
    p1 = next(p for p in again["pupils"] if p["student_id"] == "p1")
    assert [m[1] for m in p1["subjects"][ids["math"]]["marks"]] == [7, 9, 8, 10]


def test_views_scope_and_statistics_suppression(db):
    ids = _setup(db)
    _grade(db, MATH_T, ids, "math", "p1", 10, "2025-10-01")
    _grade(db, RO_T, ids, "ro", "p1", 9, "2025-10-01")
    assert [s["id"] for s in db.r(views.class_catalog, MATH_T, ids["cls"])["subjects"]] == [ids["math"]]
    assert len(db.r(views.class_catalog, HOME_T, ids["cls"])["subjects"]) == 2
    with pytest.raises(Forbidden):
        db.r(views.class_catalog, SUB_T, ids["cls"])
    with pytest.raises(Forbidden):
        db.r(views.class_catalog, PARENT, ids["cls"])
    card = db.r(views.report_card, PARENT, class_id=ids["cls"], student_id="p1")
    assert card["pupil"]["subjects"][ids["math"]]["periods"][ids["s1"]]["average"] == "10"
    with pytest.raises(Forbidden):
        db.r(views.report_card, PARENT, class_id=ids["cls"], student_id="p2")
    assert db.r(views.my_children, PARENT)["items"][0]["classes"][0]["class_name"] == "a IX-a B"
    # one pupil's grades: nothing may be published
    out = db.r(stats.grade_statistics, DIRECTOR)
    assert all(s["mean"] is None and s["suppressed"] for s in out["subjects"])
    assert all(v is None or v == 0 for s in out["subjects"] for v in s["distribution"].values())
    assert all(m["mean"] is None for m in out["class_subject_means"])
    for i in range(3, 9):
        db.w(structure.enrol_student, ADMIN, class_id=ids["cls"], student_id=f"p{i}", person={})
        _grade(db, MATH_T, ids, "math", f"p{i}", 8, "2025-10-01")
    math = next(s for s in db.r(stats.grade_statistics, DIRECTOR)["subjects"] if s["subject"] == "Matematică")
    # 7 pupils: the mean is shown; grade 8 (6 pupils) shown; grade 10 (1 pupil) hidden, and with it
    # the smallest other cell, so grade 10's count cannot be derived from the total
    assert math["mean"] == "8.28" and math["distribution"]["10"] is None and math["distribution"]["8"] is None


def test_a_class_without_a_configured_year_still_has_a_catalog(db):
    cls = db.w(structure.create_class, ADMIN, name="a V-a", school_year="2030-2031")
    math = db.w(structure.create_subject, ADMIN, name="Matematică", weekly_hours=1)
    db.w(structure.assign_teacher, ADMIN, class_id=cls["id"], subject_id=math["id"], teacher_id=MATH_T.user_id)
    db.w(structure.enrol_student, ADMIN, class_id=cls["id"], student_id="p1", person={"last_name": "Pop"})
    with db.sessions.write_connection() as c:
        grades.record_grade(c, lambda *a, **k: None, MATH_T, class_id=cls["id"], subject_id=math["id"],
                            student_id="p1", value=9)
    import orjson
    view = db.r(views.class_catalog, DIRECTOR, cls["id"])
    cell = view["pupils"][0]["subjects"][math["id"]]["periods"]["-"]
    assert cell["average"] == "9" and orjson.dumps(view)


def test_a_reused_catalog_is_never_stale(db):
    ids = _setup(db)
    g = _grade(db, MATH_T, ids, "math", "p1", 6, "2025-10-01")

    def cell():
        view = db.r(views.class_catalog, DIRECTOR, ids["cls"])
        p1 = next(p for p in view["pupils"] if p["student_id"] == "p1")
        return p1["subjects"][ids["math"]]["periods"][ids["s1"]]

    assert cell()["average"] == "6" and cell()["average"] == "6"  # computed, then reused
    db.w(grades.change_grade, MATH_T, grade_id=g["id"], expected_version=1, value=9, reason="recorectare")
    assert cell()["average"] == "9"
    db.w(absences.record_absences, MATH_T, class_id=ids["cls"], subject_id=ids["math"], occurred_on="2025-10-02",
         hour=1, student_ids=["p1"])
    assert cell()["absences"]["unmotivated"] == 1
    db.w(absences.motivate_absences, HOME_T, class_id=ids["cls"], student_id="p1", reason="other",
         from_date="2025-10-02", to_date="2025-10-02")
    assert cell()["absences"] == {"total": 1, "motivated": 1, "unmotivated": 0}
    db.w(grades.cancel_grade, MATH_T, grade_id=g["id"], expected_version=2, reason="anulare")
    assert cell()["average"] is None
