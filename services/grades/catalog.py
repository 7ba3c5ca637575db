"""Catalog rules over a session: classes, subjects, enrolments, assignments, grades.

Every query filters on the caller's tenant; every write checks the caller's role here
as well as in the gateway (CAT-13, CAT-18).
"""
from __future__ import annotations

import functools
import time
from datetime import date, datetime, timezone
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import bindparam, exists, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.model_base import new_id
from services.kernel.validation import clean_text, page_args

from .models import ClassStudent, Grade, SchoolClass, Subject, TeachingAssignment

MANAGERS = (Role.SCHOOL_ADMIN, Role.DIRECTOR)
_G, _S, _CS = Grade.__table__, Subject.__table__, ClassStudent.__table__
_TA, _CLS = TeachingAssignment.__table__, SchoolClass.__table__
_YEAR_FORMAT = "YYYY-YYYY"


def class_dict(c: SchoolClass) -> dict:
    return {"id": c.id, "name": c.name, "school_year": c.school_year, "homeroom_teacher_id": c.homeroom_teacher_id}


def subject_dict(s: Subject) -> dict:
    return {"id": s.id, "name": s.name, "weekly_hours": s.weekly_hours}


def _owned(session: Session, model, entity_id: str, principal: Principal, label: str):
    """Fetch by id within the caller's tenant; another tenant's id is simply not found."""
    row = session.get(model, entity_id) if isinstance(entity_id, str) else None
    if row is None or row.tenant_id != principal.tenant_id:
        raise NotFound(f"{label} not found")
    return row


def _school_year(value: str) -> str:
    try:
        start, end = (int(p) for p in value.split("-"))
    except (AttributeError, ValueError) as exc:
        raise InvalidInput(f"school_year must look like {_YEAR_FORMAT}") from exc
    if end != start + 1 or not 2000 <= start <= 2100:
        raise InvalidInput(f"school_year must look like {_YEAR_FORMAT}, consecutive years")
    return value


def create_class(session: Session, emit, principal: Principal, *, name: str, school_year: str) -> dict:
    require(principal, *MANAGERS)
    row = SchoolClass(tenant_id=principal.tenant_id, name=clean_text(name, field="name", max_len=50),
                      school_year=_school_year(school_year))
    if session.scalar(select(SchoolClass.id).where(SchoolClass.tenant_id == row.tenant_id,
                                                   SchoolClass.school_year == row.school_year,
                                                   SchoolClass.name == row.name)):
        raise Conflict("a class with that name already exists in that school year")
    session.add(row)
    session.flush()
    emit(session, "class_created", entity_type="class", entity_id=row.id, after=class_dict(row))
    return class_dict(row)


def create_subject(session: Session, emit, principal: Principal, *, name: str, weekly_hours: int) -> dict:
    require(principal, *MANAGERS)
    if not isinstance(weekly_hours, int) or isinstance(weekly_hours, bool) or not 1 <= weekly_hours <= 20:
        raise InvalidInput("weekly_hours must be a whole number from 1 to 20")
    row = Subject(tenant_id=principal.tenant_id, name=clean_text(name, field="name", max_len=120),
                  weekly_hours=weekly_hours)
    if session.scalar(select(Subject.id).where(Subject.tenant_id == row.tenant_id, Subject.name == row.name)):
        raise Conflict("a subject with that name already exists")
    session.add(row)
    session.flush()
    emit(session, "subject_created", entity_type="subject", entity_id=row.id, after=subject_dict(row))
    return subject_dict(row)


def enrol_student(session: Session, emit, principal: Principal, *, class_id: str, student_id: str) -> dict:
    """`student_id` is a registry person already checked (by the service) to belong to this tenant."""
    require(principal, *MANAGERS)
    cls = _owned(session, SchoolClass, class_id, principal, "class")
    if session.scalar(select(ClassStudent.id).where(ClassStudent.class_id == cls.id,
                                                    ClassStudent.student_id == student_id)):
        raise Conflict("the student is already in this class")
    row = ClassStudent(tenant_id=principal.tenant_id, class_id=cls.id, student_id=student_id)
    session.add(row)
    session.flush()
    after = {"class_id": cls.id, "student_id": student_id}
    emit(session, "student_enrolled", entity_type="class", entity_id=cls.id, after=after)
    return after


def assign_teacher(session: Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                   teacher_id: str) -> dict:
    """`teacher_id` is an account already checked (by the service) to be a teacher here."""
    require(principal, *MANAGERS)
    cls = _owned(session, SchoolClass, class_id, principal, "class")
    subject = _owned(session, Subject, subject_id, principal, "subject")
    if session.scalar(select(TeachingAssignment.id).where(
            TeachingAssignment.class_id == cls.id, TeachingAssignment.subject_id == subject.id,
            TeachingAssignment.teacher_id == teacher_id)):
        raise Conflict("the teacher is already assigned to this class and subject")
    row = TeachingAssignment(tenant_id=principal.tenant_id, class_id=cls.id, subject_id=subject.id,
                             teacher_id=teacher_id)
    session.add(row)
    session.flush()
    after = {"id": row.id, "class_id": cls.id, "subject_id": subject.id, "teacher_id": teacher_id}
    emit(session, "teacher_assigned", entity_type="teaching_assignment", entity_id=row.id, after=after)
    return after


def set_homeroom_teacher(session: Session, emit, principal: Principal, *, class_id: str, teacher_id: str) -> dict:
    """`teacher_id` is an account already checked (by the service) to be a teacher here."""
    require(principal, *MANAGERS)
    cls = _owned(session, SchoolClass, class_id, principal, "class")
    before = class_dict(cls)
    cls.homeroom_teacher_id = teacher_id
    emit(session, "homeroom_teacher_set", entity_type="class", entity_id=cls.id, after=class_dict(cls),
         before=before)
    return class_dict(cls)


def _grade_value(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise InvalidInput("grade must be a whole number from 1 to 10")
    return value


# One query for the usual case (the teacher teaches this subject in this class and the student
# is in it), built once; the detailed checks run only to explain a refusal.
_MAY_GRADE = (select(_TA.c.id).join_from(_TA, _CS, _CS.c.class_id == _TA.c.class_id)
              .where(_TA.c.tenant_id == bindparam("tenant_id"), _TA.c.class_id == bindparam("class_id"),
                     _TA.c.subject_id == bindparam("subject_id"), _TA.c.teacher_id == bindparam("teacher_id"),
                     _CS.c.student_id == bindparam("student_id"))
              .limit(1))
_INSERT_GRADE = _G.insert()


def record_grade(db: Connection | Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                 student_id: str, value: int, awarded_on: str | None = None, reason: str | None = None) -> dict:
    """The hottest write of the platform: Core statements built once, no ORM object."""
    # CAT-18: administrators never write grades, even if they also hold another role here.
    if principal.has_any((Role.SCHOOL_ADMIN, Role.OPERATOR)):
        raise Forbidden("administrators may not record grades")
    require(principal, Role.TEACHER)
    value = _grade_value(value)
    try:
        when = date.fromisoformat(awarded_on) if awarded_on else datetime.now(timezone.utc).date()
    except (TypeError, ValueError) as exc:
        raise InvalidInput("awarded_on must be a date YYYY-MM-DD") from exc
    if when > datetime.now(timezone.utc).date():
        raise InvalidInput("awarded_on cannot be in the future")
    ids = {"class_id": class_id, "subject_id": subject_id, "student_id": student_id}
    if db.execute(_MAY_GRADE, {**ids, "tenant_id": principal.tenant_id, "teacher_id": principal.user_id}).first() is None:
        _explain_grade_refusal(_orm(db), principal, class_id, subject_id, student_id)
    reason = clean_text(reason, field="reason", max_len=500, required=False) if reason else None
    row = {"id": new_id(), **ids, "value": value, "awarded_on": when, "teacher_id": principal.user_id, "version": 1}
    db.execute(_INSERT_GRADE, {**row, "tenant_id": principal.tenant_id, "created_at": time.time()})
    grade = {**row, "awarded_on": when.isoformat()}
    emit(db, "grade_recorded", entity_type="grade", entity_id=grade["id"], after=grade, reason=reason)
    return grade


def _orm(db: Connection | Session) -> Session:
    """An ORM session in the caller's transaction, for the rare paths that want one."""
    return db if isinstance(db, Session) else Session(bind=db)


def _explain_grade_refusal(session: Session, principal: Principal, class_id: str, subject_id: str,
                           student_id: str) -> None:
    cls = _owned(session, SchoolClass, class_id, principal, "class")
    subject = _owned(session, Subject, subject_id, principal, "subject")
    if not session.scalar(select(TeachingAssignment.id).where(
            TeachingAssignment.class_id == cls.id, TeachingAssignment.subject_id == subject.id,
            TeachingAssignment.teacher_id == principal.user_id)):
        raise Forbidden("you do not teach this subject in this class")
    raise NotFound("student not found in this class")


@functools.lru_cache(maxsize=32)
def _grades_page_query(scope: str, by_student: bool, by_class: bool, by_subject: bool):
    """The page query for one shape of request, built once: the hottest read of the catalog.

    Core, not ORM (a page is read-only), every value a bound parameter, and the total comes
    with the rows (`count(*) OVER ()`), so a page is one statement whatever the caller's role.
    """
    tenant, user = bindparam("tenant_id"), bindparam("user_id")
    where = [_G.c.tenant_id == tenant]
    if scope == "teacher":
        # the teacher's own class/subject pairs, plus every subject of a class they are diriginte of
        taught = exists().where(_TA.c.tenant_id == tenant, _TA.c.teacher_id == user,
                                _TA.c.class_id == _G.c.class_id, _TA.c.subject_id == _G.c.subject_id)
        homeroom = _G.c.class_id.in_(select(_CLS.c.id).where(_CLS.c.tenant_id == tenant,
                                                             _CLS.c.homeroom_teacher_id == user))
        where.append(or_(taught, homeroom))
    elif scope == "children":
        where.append(_G.c.student_id.in_(bindparam("children", expanding=True)))
    for wanted, column in ((by_student, _G.c.student_id), (by_class, _G.c.class_id),
                           (by_subject, _G.c.subject_id)):
        if wanted:
            where.append(column == bindparam(column.key))
    page = (select(_G.c.id, _G.c.class_id, _G.c.subject_id, _G.c.student_id, _G.c.value, _G.c.awarded_on,
                   _G.c.teacher_id, _G.c.version, _S.c.name.label("subject_name"),
                   func.count().over().label("total"))
            .join_from(_G, _S, _S.c.id == _G.c.subject_id).where(*where)
            .order_by(_G.c.awarded_on.desc(), _G.c.created_at.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")))
    count = select(func.count()).select_from(_G).where(*where)
    return page, count


def list_grades(db: Connection | Session, principal: Principal, *, student_id: str | None = None,
                class_id: str | None = None, subject_id: str | None = None,
                limit: int | None = None, offset: int | None = None) -> dict:
    """Students see their own; teachers what they teach; the director the whole school."""
    limit, offset = page_args(limit, offset)
    params: dict = {"tenant_id": principal.tenant_id, "user_id": principal.user_id,
                    "limit": limit, "offset": offset}
    scope = "tenant"
    if principal.is_integrator:
        require(principal, scope="catalog:read")
    elif Role.DIRECTOR in principal.roles:
        require(principal, Role.DIRECTOR)
    elif Role.TEACHER in principal.roles:
        require(principal, Role.TEACHER)
        scope = "teacher"
    elif Role.PARENT in principal.roles:
        require(principal, Role.PARENT)
        if student_id and student_id not in principal.children:
            raise Forbidden("parents see only their own children's grades")
        if not principal.children:
            return {"items": [], "total": 0, "limit": limit, "offset": offset}
        scope, params["children"] = "children", sorted(principal.children)
    elif Role.STUDENT in principal.roles and principal.person_id:
        if student_id and student_id != principal.person_id:
            raise Forbidden("students see only their own grades")
        student_id = principal.person_id
    else:
        raise Forbidden("your role may not read grades")
    params.update(student_id=student_id, class_id=class_id, subject_id=subject_id)
    page, count = _grades_page_query(scope, bool(student_id), bool(class_id), bool(subject_id))
    rows = db.execute(page, params).all()
    if rows:
        total = rows[0].total
    else:  # past the last page (or nothing at all): the window had no row to ride on
        total = db.execute(count, params).scalar_one() if offset else 0
    items = [{"id": r.id, "class_id": r.class_id, "subject_id": r.subject_id, "student_id": r.student_id,
              "value": r.value, "awarded_on": r.awarded_on.isoformat(), "teacher_id": r.teacher_id,
              "version": r.version, "subject_name": r.subject_name} for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def grade_statistics(session: Session, principal: Principal) -> dict:
    """Per-subject counts and means for the school, with no pupil or teacher in it (CAT-19)."""
    require(principal, Role.DIRECTOR, Role.STATISTICS_VIEWER)
    rows = session.execute(
        select(Subject.name, func.count(Grade.id), func.sum(Grade.value))
        .join(Grade, Grade.subject_id == Subject.id)
        .where(Subject.tenant_id == principal.tenant_id, Grade.tenant_id == principal.tenant_id)
        .group_by(Subject.name).order_by(Subject.name)).all()
    subjects = [{"subject": name, "grades": count,
                 # exact decimal, truncated to two places as the catalog's averages are
                 "mean": str((Decimal(total) / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN))}
                for name, count, total in rows]
    return {"subjects": subjects, "grades": sum(s["grades"] for s in subjects)}
