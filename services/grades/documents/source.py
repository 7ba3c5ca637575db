"""Where the documents get the catalog: one function, `load_class_catalog`.

It returns the class catalog in the shape of `grades.class_catalog` (see the catalog's
`views.class_catalog`). Until that view exists (it is built in the catalog area), a minimal
stand-in reads what the grades database already holds: the class, its subjects with their
teachers, the enrolled pupils and their grades, in one period spanning the school year,
with no averages, absences or situations (those are the catalog's rules, not guessed here).
"""
from __future__ import annotations

import importlib
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import NotFound
from services.kernel.identity import Principal, Role

from ..models import ClassStudent, Grade, SchoolClass, Subject, TeachingAssignment


def _catalog_view():
    try:
        views = importlib.import_module("services.grades.views")
    except ImportError:
        return None
    return getattr(views, "class_catalog", None)


def catalog_available() -> bool:
    return _catalog_view() is not None


def reader(principal: Principal) -> Principal:
    """Whom the catalog is read as. The documents area has already decided that the caller may
    have this document (a parent: their own child's report card); the catalog view, which
    answers for whole classes, lets the school's management read any class, so a parent's or a
    pupil's report card is read as the school. The printout and its event name the real caller."""
    if principal.has_any((Role.DIRECTOR, Role.TEACHER)):
        return principal
    return Principal(user_id=principal.user_id, tenant_id=principal.tenant_id, roles=frozenset({Role.DIRECTOR}),
                     factors=frozenset({"pwd", "otp"}), session_id=principal.session_id,
                     claims={"documents_reader_for": principal.user_id})


def load_class_catalog(session: Session, principal: Principal, class_id: str, period_id: str | None = None) -> dict:
    view = _catalog_view()
    if view is not None:
        return view(session, reader(principal), class_id, period_id)
    return _stand_in(session, principal, class_id, period_id)


def _stand_in(session: Session, principal: Principal, class_id: str, period_id: str | None) -> dict:
    klass = session.get(SchoolClass, class_id)
    if klass is None or klass.tenant_id != principal.tenant_id:
        raise NotFound("class not found")
    start, end = klass.school_year.split("-")
    period = {"id": f"year-{klass.school_year}", "name": f"Anul școlar {klass.school_year}",
              "starts_on": f"{start}-09-01", "ends_on": f"{end}-08-31", "closed": False}
    if period_id not in (None, period["id"]):
        raise NotFound("period not found")
    assignments = session.execute(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id).where(
        TeachingAssignment.tenant_id == klass.tenant_id, TeachingAssignment.class_id == klass.id)).all()
    teachers: dict[str, list[str]] = {}
    for subject_id, teacher_id in assignments:
        teachers.setdefault(subject_id, []).append(teacher_id)
    grades = session.execute(select(Grade).where(Grade.tenant_id == klass.tenant_id, Grade.class_id == klass.id)
                             .order_by(Grade.awarded_on, Grade.id)).scalars().all()
    subject_ids = set(teachers) | {g.subject_id for g in grades}
    subjects = session.execute(select(Subject).where(Subject.tenant_id == klass.tenant_id,
                                                     Subject.id.in_(subject_ids)).order_by(Subject.name)).scalars().all()
    students = session.scalars(select(ClassStudent.student_id).where(
        ClassStudent.tenant_id == klass.tenant_id, ClassStudent.class_id == klass.id)).all()
    by_pupil: dict[tuple[str, str], list[dict]] = {}
    for g in grades:
        by_pupil.setdefault((g.student_id, g.subject_id), []).append(
            {"id": g.id, "value": str(g.value), "awarded_on": g.awarded_on.isoformat(), "kind": "grade",
             "version": g.version})
    empty = {"total": 0, "motivated": 0, "unmotivated": 0}
    pupils = [{"student_id": sid, "last_name": "", "first_name": "", "status": "enrolled", "transferred_on": None,
               "subjects": {s.id: {"periods": {period["id"]: {
                   "grades": by_pupil.get((sid, s.id), []), "thesis": None, "average": None, "qualifier": None,
                   "absences": dict(empty)}}, "annual_average": None} for s in subjects},
               "conduct": {"periods": {period["id"]: None}, "annual": None}, "general_average": None,
               "situation": None, "absences": dict(empty), "amendments": []} for sid in students]
    return {"class": {"id": klass.id, "name": klass.name, "level": None, "school_year": klass.school_year,
                      "homeroom_teacher_id": klass.homeroom_teacher_id},
            "school_year": {"id": klass.school_year, "name": klass.school_year, "periods": [period]},
            "period_id": period_id,
            "subjects": [{"id": s.id, "name": s.name, "weekly_hours": s.weekly_hours, "assessment": "grades",
                          "optional": False, "thesis_periods": [], "teacher_ids": sorted(teachers.get(s.id, []))}
                         for s in subjects],
            "pupils": pupils, "generated_at": datetime.now(timezone.utc).isoformat()}


def classes_of_year(session: Session, principal: Principal, school_year: str) -> list[tuple[str, str]]:
    """(id, name) of the school's classes in a school year, by name."""
    return [tuple(r) for r in session.execute(
        select(SchoolClass.id, SchoolClass.name).where(SchoolClass.tenant_id == principal.tenant_id,
                                                       SchoolClass.school_year == school_year)
        .order_by(SchoolClass.name)).all()]


def staff_of_year(session: Session, principal: Principal, school_year: str) -> set[str]:
    """Every teacher and homeroom teacher of the year's classes: whose names the documents print."""
    classes = select(SchoolClass.id).where(SchoolClass.tenant_id == principal.tenant_id,
                                           SchoolClass.school_year == school_year)
    ids = set(session.scalars(select(TeachingAssignment.teacher_id).where(
        TeachingAssignment.tenant_id == principal.tenant_id, TeachingAssignment.class_id.in_(classes))))
    ids |= {t for t in session.scalars(select(SchoolClass.homeroom_teacher_id).where(
        SchoolClass.tenant_id == principal.tenant_id, SchoolClass.school_year == school_year)) if t}
    return ids
