"""Grades and qualifiers: record, change, cancel (never delete), every version kept (CAT-13/15/18).

Who may write a class's subject: its assigned teacher, or a teacher with an approved delegation
in force today (CAT-14); never an administrator. Into a closed period only with a director's
amendment for that pupil and subject. The record path is the platform's hottest write: Core
statements built once, and one indexed query answers every check at once.
"""
from __future__ import annotations

import functools
import time
from datetime import date

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, PeriodClosed, StaleVersion
from services.kernel.identity import Principal, Role, require
from services.kernel.model_base import new_id
from services.kernel.validation import clean_text, page_args

from .averages import QUALIFIERS, qualifier_level
from .common import ADMINISTRATORS, orm, owned, parse_date, today
from .models import (Alert, Amendment, ClassStudent, CurriculumEntry, Delegation, FinalMark, Grade, GradeVersion,
                     Period, SchoolClass, SchoolYear, Subject, TeachingAssignment)
from .restrictions import is_restricted

KINDS = ("oral", "written", "practical", "project", "thesis")
_G, _S, _CS, _GV = Grade.__table__, Subject.__table__, ClassStudent.__table__, GradeVersion.__table__
_TA, _CLS, _Y, _P = TeachingAssignment.__table__, SchoolClass.__table__, SchoolYear.__table__, Period.__table__
_D, _A, _AL = Delegation.__table__, Amendment.__table__, Alert.__table__

# Every check of a write in one statement: the class (and its level), the period that holds the
# day (if the school configured its year), whether the caller is assigned or delegated today,
# whether the pupil is on the roster that day, and whether an amendment opens a closed period.
_WRITE_CONTEXT = (
    select(
        _CLS.c.level, _CLS.c.name, _Y.c.id.label("year_id"), _P.c.id.label("period_id"),
        _P.c.closed.label("period_closed"),
        select(_TA.c.id).where(_TA.c.class_id == _CLS.c.id, _TA.c.subject_id == bindparam("subject_id"),
                               _TA.c.teacher_id == bindparam("teacher_id")).limit(1)
        .scalar_subquery().label("assigned"),
        select(_D.c.id).where(_D.c.tenant_id == _CLS.c.tenant_id, _D.c.class_id == _CLS.c.id,
                              _D.c.subject_id == bindparam("subject_id"), _D.c.delegate_id == bindparam("teacher_id"),
                              _D.c.status == "approved", _D.c.starts_on <= bindparam("today"),
                              _D.c.ends_on >= bindparam("today")).limit(1)
        .scalar_subquery().label("delegation"),
        select(_CS.c.id).where(_CS.c.class_id == _CLS.c.id, _CS.c.student_id == bindparam("student_id"),
                               or_(_CS.c.enrolled_on.is_(None), _CS.c.enrolled_on <= bindparam("day")),
                               or_(_CS.c.left_on.is_(None), _CS.c.left_on > bindparam("day"))).limit(1)
        .scalar_subquery().label("roster"),
        select(_A.c.id).where(_A.c.period_id == _P.c.id, _A.c.student_id == bindparam("student_id"),
                              _A.c.subject_id == bindparam("subject_id")).limit(1)
        .scalar_subquery().label("amendment"),
    )
    .select_from(_CLS.outerjoin(_Y, and_(_Y.c.tenant_id == _CLS.c.tenant_id, _Y.c.name == _CLS.c.school_year))
                 .outerjoin(_P, and_(_P.c.school_year_id == _Y.c.id, _P.c.starts_on <= bindparam("day"),
                                     _P.c.ends_on >= bindparam("day"))))
    .where(_CLS.c.id == bindparam("class_id"), _CLS.c.tenant_id == bindparam("tenant_id"))
)
_INSERT_GRADE = _G.insert()
_INSERT_VERSION = _GV.insert()
_INSERT_ALERT = _AL.insert()
_ASSIGNED_TEACHERS = select(_TA.c.teacher_id).where(_TA.c.class_id == bindparam("class_id"),
                                                    _TA.c.subject_id == bindparam("subject_id"))


def refuse_administrators(principal: Principal, what: str = "record grades") -> None:
    # CAT-18: administrators never write the catalog, even if they also hold another role here.
    if principal.has_any(ADMINISTRATORS):
        raise Forbidden(f"administrators may not {what}")


def write_context(db: Connection | Session, principal: Principal, *, class_id: str, subject_id: str,
                  student_id: str, day: date, what: str = "grades") -> dict:
    """Whether the caller may write `subject_id` of this pupil on `day`, and by which right:
    {"via": "assignment"|"delegation"|"amendment", "period_id", "level", "delegation", "class_name"}.
    Refusals explain themselves (not teaching, pupil not in the class that day, period closed...)."""
    row = db.execute(_WRITE_CONTEXT, {
        "class_id": class_id, "subject_id": subject_id, "student_id": student_id, "teacher_id": principal.user_id,
        "tenant_id": principal.tenant_id, "day": day, "today": today()}).first()
    if row is None:
        raise NotFound("class not found")
    if row.assigned is None and row.delegation is None:
        _explain_refusal(orm(db), principal, class_id, subject_id)
    if row.roster is None:
        raise InvalidInput("the student is not in this class on that date") if _ever_in_class(
            db, class_id, student_id) else NotFound("student not found in this class")
    if row.year_id is not None and row.period_id is None:
        raise InvalidInput("that date falls outside the periods of the school year")
    via = "assignment" if row.assigned is not None else "delegation"
    if row.period_closed:
        if row.amendment is None:
            raise PeriodClosed(f"the period is closed; {what} can change only with an amendment approved by the "
                               "director", {"period_id": row.period_id})
        via = "amendment"
    return {"via": via, "period_id": row.period_id, "level": row.level, "delegation": row.delegation,
            "class_name": row.name}


def _ever_in_class(db, class_id: str, student_id: str) -> bool:
    return db.execute(select(_CS.c.id).where(_CS.c.class_id == class_id, _CS.c.student_id == student_id)
                      .limit(1)).first() is not None


def _explain_refusal(session: Session, principal: Principal, class_id: str, subject_id: str) -> None:
    owned(session, Subject, subject_id, principal, "subject")
    raise Forbidden("you do not teach this subject in this class")


def _mark(level: int | None, value, qualifier) -> tuple[int | None, str | None]:
    """A grade 1..10 from level V up, a qualifier FB/B/S/I for levels 0 to IV."""
    if qualifier_level(level):
        if value is not None or qualifier not in QUALIFIERS:
            raise InvalidInput("this class is assessed by qualifiers: send qualifier FB, B, S or I (no value)")
        return None, qualifier
    if qualifier is not None:
        raise InvalidInput("this class is assessed by grades: send value 1..10 (no qualifier)")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise InvalidInput("grade must be a whole number from 1 to 10")
    return value, None


def _awarded(awarded_on) -> date:
    when = parse_date(awarded_on, "awarded_on", required=False) or today()
    if when > today():
        raise InvalidInput("awarded_on cannot be in the future")
    return when


def grade_dict(row) -> dict:
    return {"id": row.id, "class_id": row.class_id, "subject_id": row.subject_id, "student_id": row.student_id,
            "value": row.value, "qualifier": row.qualifier, "kind": row.kind, "comment": row.comment,
            "awarded_on": row.awarded_on.isoformat(), "period_id": row.period_id, "status": row.status,
            "teacher_id": row.teacher_id, "version": row.version}


def record_grade(db: Connection | Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                 student_id: str, value: int | None = None, qualifier: str | None = None,
                 awarded_on: str | None = None, kind: str | None = None, comment: str | None = None,
                 reason: str | None = None) -> dict:
    """The hottest write of the platform: Core statements built once, no ORM object."""
    refuse_administrators(principal)
    require(principal, Role.TEACHER)
    kind = kind or "oral"
    if kind not in KINDS:
        raise InvalidInput("kind must be one of: " + ", ".join(KINDS))
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10):
        raise InvalidInput("grade must be a whole number from 1 to 10")
    when = _awarded(awarded_on)
    context = write_context(db, principal, class_id=class_id, subject_id=subject_id, student_id=student_id,
                            day=when)
    value, qualifier = _mark(context["level"], value, qualifier)
    if kind == "thesis":
        _check_thesis(orm(db), class_id, subject_id, student_id, context["period_id"])
    comment = clean_text(comment, field="comment", max_len=500) if comment else None
    reason = clean_text(reason, field="reason", max_len=500, required=False) if reason else None
    now = time.time()
    row = {"id": new_id(), "class_id": class_id, "subject_id": subject_id, "student_id": student_id,
           "value": value, "qualifier": qualifier, "kind": kind, "comment": comment, "awarded_on": when,
           "period_id": context["period_id"], "status": "active", "teacher_id": principal.user_id, "version": 1}
    db.execute(_INSERT_GRADE, {**row, "tenant_id": principal.tenant_id, "created_at": now})
    db.execute(_INSERT_VERSION, {
        "id": new_id(), "tenant_id": principal.tenant_id, "grade_id": row["id"], "version": 1, "action": "recorded",
        "value": value, "qualifier": qualifier, "kind": kind, "awarded_on": when, "comment": comment,
        "status": "active", "actor_id": principal.user_id, "via": context["via"], "reason": reason, "at": now})
    grade = {**row, "awarded_on": when.isoformat(), "via": context["via"]}
    emit(db, "grade_recorded", entity_type="grade", entity_id=grade["id"], after=grade, reason=reason)
    if context["via"] != "assignment":
        raise_alert(db, emit, principal, kind=f"grade_recorded_by_{context['via']}", grade=grade,
                    class_name=context["class_name"])
    return grade


def _check_thesis(session: Session, class_id: str, subject_id: str, student_id: str, period_id: str | None) -> None:
    entry = session.scalar(select(CurriculumEntry).where(CurriculumEntry.class_id == class_id,
                                                         CurriculumEntry.subject_id == subject_id))
    if period_id is None or entry is None or period_id not in (entry.thesis_periods or []):
        raise InvalidInput("this subject has no thesis in this period")
    if session.scalar(select(Grade.id).where(Grade.class_id == class_id, Grade.subject_id == subject_id,
                                             Grade.student_id == student_id, Grade.period_id == period_id,
                                             Grade.kind == "thesis", Grade.status == "active")):
        raise Conflict("the student already has a thesis grade in this period; change that one")


def _current(session: Session, principal: Principal, grade_id: str) -> Grade:
    return owned(session, Grade, grade_id, principal, "grade")


def _stale_check(grade: Grade, expected_version) -> None:
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise InvalidInput("expected_version (the version you are changing) is required")
    if grade.version != expected_version:
        raise StaleVersion(f"the grade has changed since version {expected_version}; it is now version "
                           f"{grade.version}", {"current": grade_dict(grade)})


def change_grade(session: Session, emit, principal: Principal, *, grade_id: str, expected_version: int,
                 reason: str, value: int | None = None, qualifier: str | None = None,
                 awarded_on: str | None = None, kind: str | None = None, comment: str | None = None) -> dict:
    """A new version of a grade; the reason is required (CAT-15), the version named must be current."""
    refuse_administrators(principal, "change grades")
    require(principal, Role.TEACHER)
    reason = clean_text(reason, field="reason", max_len=500)
    grade = _current(session, principal, grade_id)
    if grade.status != "active":
        raise Conflict("a cancelled grade cannot be changed")
    _stale_check(grade, expected_version)
    when = _awarded(awarded_on) if awarded_on else grade.awarded_on
    context = write_context(session, principal, class_id=grade.class_id, subject_id=grade.subject_id,
                            student_id=grade.student_id, day=grade.awarded_on)
    if when != grade.awarded_on:
        moved = write_context(session, principal, class_id=grade.class_id, subject_id=grade.subject_id,
                              student_id=grade.student_id, day=when)
        if moved["period_id"] != context["period_id"]:
            raise InvalidInput("a grade cannot move to another period; cancel it and record a new one")
    if kind is not None and kind not in KINDS:
        raise InvalidInput("kind must be one of: " + ", ".join(KINDS))
    if kind is not None and kind != grade.kind and "thesis" in (kind, grade.kind):
        raise InvalidInput("a thesis cannot become another kind of grade (or the reverse); cancel and record anew")
    if value is None and qualifier is None:
        value, qualifier = grade.value, grade.qualifier
    value, qualifier = _mark(context["level"], value, qualifier)
    before = grade_dict(grade)
    grade.value, grade.qualifier, grade.awarded_on = value, qualifier, when
    grade.kind = kind or grade.kind
    if comment is not None:
        grade.comment = clean_text(comment, field="comment", max_len=500, required=False) or None
    return _new_version(session, emit, principal, grade, before, "changed", context, reason)


def cancel_grade(session: Session, emit, principal: Principal, *, grade_id: str, expected_version: int,
                 reason: str) -> dict:
    """The grade stops counting; it stays, with every version, in its history."""
    refuse_administrators(principal, "cancel grades")
    require(principal, Role.TEACHER)
    reason = clean_text(reason, field="reason", max_len=500)
    grade = _current(session, principal, grade_id)
    if grade.status != "active":
        raise Conflict("the grade is already cancelled")
    _stale_check(grade, expected_version)
    context = write_context(session, principal, class_id=grade.class_id, subject_id=grade.subject_id,
                            student_id=grade.student_id, day=grade.awarded_on)
    before = grade_dict(grade)
    grade.status = "cancelled"
    return _new_version(session, emit, principal, grade, before, "cancelled", context, reason)


def change_by_decision(session: Session, emit, principal: Principal, *, grade: Grade, expected_version: int,
                       reason: str, value: int | None = None, qualifier: str | None = None) -> dict:
    """A grade changed by the director's final decision on a dispute (CAT-11 rectification): the same
    new version as `change_grade` (reason carried, version checked, alert raised), the director
    being the one who decides rather than the subject's teacher. A closed period stays closed: the
    change needs the director's amendment for that pupil and subject first (409 `period_closed`)."""
    if grade.status != "active":
        raise Conflict("the grade has been cancelled since; there is nothing left to change")
    _stale_check(grade, expected_version)
    cls = session.get(SchoolClass, grade.class_id)
    via = "dispute"
    period = session.get(Period, grade.period_id) if grade.period_id else None
    if period is not None and period.closed:
        if not session.scalar(select(Amendment.id).where(Amendment.period_id == period.id,
                                                         Amendment.student_id == grade.student_id,
                                                         Amendment.subject_id == grade.subject_id).limit(1)):
            raise PeriodClosed("the period is closed; approve an amendment for this pupil and subject first, then "
                               "decide the dispute", {"period_id": period.id})
        via = "amendment"
    if value is None and qualifier is None:
        value, qualifier = grade.value, grade.qualifier
    value, qualifier = _mark(cls.level, value, qualifier)
    before = grade_dict(grade)
    grade.value, grade.qualifier = value, qualifier
    return _new_version(session, emit, principal, grade, before, "changed", {"via": via, "class_name": cls.name},
                        reason)


def _new_version(session: Session, emit, principal: Principal, grade: Grade, before: dict, action: str,
                 context: dict, reason: str) -> dict:
    grade.version += 1
    grade.updated_at = time.time()
    session.add(GradeVersion(tenant_id=principal.tenant_id, grade_id=grade.id, version=grade.version,
                             action=action, value=grade.value, qualifier=grade.qualifier, kind=grade.kind,
                             awarded_on=grade.awarded_on, comment=grade.comment, status=grade.status,
                             actor_id=principal.user_id, via=context["via"], reason=reason))
    session.flush()
    after = {**grade_dict(grade), "via": context["via"]}
    emit(session, f"grade_{action}", entity_type="grade", entity_id=grade.id, after=after, before=before,
         reason=reason)
    raise_alert(session, emit, principal, kind=f"grade_{action}", grade=after, class_name=context["class_name"],
                reason=reason)
    return after


def raise_alert(db, emit, principal: Principal, *, kind: str, grade: dict, class_name: str,
                reason: str | None = None) -> None:
    """Tell the subject's assigned teachers and the school's directors (auth e-mails them from the
    `alert_raised` event, once per event); the alert also lands in their alerts list. No grade value
    travels in it: e-mail subjects and bodies never carry one. No alert is raised about a pupil under
    a restriction of processing (CAT-11): the change itself stays in the grade's versions and the
    audit trail."""
    if is_restricted(db, principal.tenant_id, grade["student_id"]):
        return
    recipients = sorted({t for (t,) in db.execute(_ASSIGNED_TEACHERS, {
        "class_id": grade["class_id"], "subject_id": grade["subject_id"]}).all()})
    subject_name = db.execute(select(_S.c.name).where(_S.c.id == grade["subject_id"])).scalar()
    detail = {"grade_recorded_by_delegation": "a grade was recorded by a delegated teacher",
              "grade_recorded_by_amendment": "a grade was recorded in a closed period under an amendment",
              "grade_changed": "a grade was changed", "grade_cancelled": "a grade was cancelled"}[kind]
    alert = {"id": new_id(), "kind": kind, "grade_id": grade["id"], "class_id": grade["class_id"],
             "subject_id": grade["subject_id"], "student_id": grade["student_id"], "actor_id": principal.user_id,
             "recipients": recipients, "detail": detail}
    db.execute(_INSERT_ALERT, {**alert, "tenant_id": principal.tenant_id, "created_at": time.time()})
    emit(db, "alert_raised", entity_type="alert", entity_id=alert["id"],
         after={**alert, "class_name": class_name, "subject_name": subject_name, "notify_directors": True},
         reason=reason)


def grade_history(session: Session, principal: Principal, *, grade_id: str) -> dict:
    """Every version of a grade: who, when, why, by which right. Readers as for the grade itself."""
    grade = _current(session, principal, grade_id)
    _may_read_pupil(session, principal, grade.class_id, grade.subject_id, grade.student_id)
    versions = session.scalars(select(GradeVersion).where(GradeVersion.grade_id == grade.id)
                               .order_by(GradeVersion.version)).all()
    return {"grade": grade_dict(grade), "versions": [
        {"version": v.version, "action": v.action, "value": v.value, "qualifier": v.qualifier, "kind": v.kind,
         "awarded_on": v.awarded_on.isoformat(), "comment": v.comment, "status": v.status, "actor_id": v.actor_id,
         "via": v.via, "reason": v.reason, "at": v.at} for v in versions]}


def _may_read_pupil(session: Session, principal: Principal, class_id: str, subject_id: str | None,
                    student_id: str) -> None:
    """Directors see the school, teachers what they teach or their homeroom class, parents their
    children, students themselves (CAT-16/17)."""
    require(principal)
    if Role.DIRECTOR in principal.roles:
        return
    if Role.TEACHER in principal.roles:
        cls = owned(session, SchoolClass, class_id, principal, "class")
        if cls.homeroom_teacher_id == principal.user_id:
            return
        taught = select(TeachingAssignment.id).where(TeachingAssignment.class_id == class_id,
                                                     TeachingAssignment.teacher_id == principal.user_id)
        if subject_id is not None:
            taught = taught.where(TeachingAssignment.subject_id == subject_id)
        if session.scalar(taught.limit(1)):
            return
        raise Forbidden("you do not teach this subject in this class")
    if Role.PARENT in principal.roles and student_id in principal.children:
        return
    if Role.STUDENT in principal.roles and principal.person_id == student_id:
        return
    if Role.PARENT in principal.roles:
        raise Forbidden("parents see only their own children's grades")
    if Role.STUDENT in principal.roles:
        raise Forbidden("students see only their own grades")
    raise Forbidden("your role may not read grades")


# --- period marks: final qualifiers (levels 0-IV) and conduct ----------------------------------------

def set_final_qualifier(session: Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                        student_id: str, period_id: str, qualifier: str) -> dict:
    """The teacher sets the final qualifier of a period for a pupil of levels 0 to IV."""
    refuse_administrators(principal, "set qualifiers")
    require(principal, Role.TEACHER)
    period = owned(session, Period, period_id, principal, "period")
    context = write_context(session, principal, class_id=class_id, subject_id=subject_id, student_id=student_id,
                            day=min(period.ends_on, today()) if period.starts_on <= today() else period.starts_on,
                            what="qualifiers")
    if context["period_id"] != period.id:
        raise InvalidInput("the period is not one of this class's school year, or has not started")
    if not qualifier_level(context["level"]):
        raise InvalidInput("final qualifiers are for levels 0 to IV; this class is assessed by grades")
    if qualifier not in QUALIFIERS:
        raise InvalidInput("qualifier must be FB, B, S or I")
    return _put_mark(session, emit, principal, class_id, student_id, period.id, "qualifier", subject_id, qualifier,
                     via=context["via"])


def set_conduct_grade(session: Session, emit, principal: Principal, *, class_id: str, student_id: str,
                      period_id: str, value: int, reason: str | None = None) -> dict:
    """The homeroom teacher proposes (records) the conduct grade of a period."""
    refuse_administrators(principal, "set conduct grades")
    require(principal, Role.TEACHER)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    if cls.homeroom_teacher_id != principal.user_id:
        raise Forbidden("only the class's homeroom teacher proposes conduct grades")
    period = owned(session, Period, period_id, principal, "period")
    year = session.get(SchoolYear, period.school_year_id)
    if year.name != cls.school_year:
        raise InvalidInput("the period is not one of this class's school year")
    if period.closed:
        raise PeriodClosed("the period is closed; conduct grades can change only after the director reopens it",
                           {"period_id": period.id})
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise InvalidInput("conduct grade must be a whole number from 1 to 10")
    if not session.scalar(select(ClassStudent.id).where(ClassStudent.class_id == cls.id,
                                                        ClassStudent.student_id == student_id)):
        raise NotFound("student not found in this class")
    return _put_mark(session, emit, principal, cls.id, student_id, period.id, "conduct", "-", str(value),
                     via="homeroom", reason=reason)


def _put_mark(session: Session, emit, principal: Principal, class_id: str, student_id: str, period_id: str,
              kind: str, subject_key: str, value: str, *, via: str, reason: str | None = None) -> dict:
    mark = session.scalar(select(FinalMark).where(
        FinalMark.class_id == class_id, FinalMark.student_id == student_id, FinalMark.period_id == period_id,
        FinalMark.kind == kind, FinalMark.subject_key == subject_key))
    before = _mark_dict(mark) if mark else None
    if mark is None:
        mark = FinalMark(tenant_id=principal.tenant_id, class_id=class_id, student_id=student_id,
                         period_id=period_id, kind=kind, subject_key=subject_key, value=value,
                         set_by=principal.user_id, version=1)
        session.add(mark)
    else:
        mark.value, mark.set_by, mark.version = value, principal.user_id, mark.version + 1
    session.flush()
    after = {**_mark_dict(mark), "via": via}
    emit(session, f"{kind}_set", entity_type="final_mark", entity_id=mark.id, after=after, before=before,
         reason=clean_text(reason, field="reason", max_len=500) if reason else None)
    return after


def _mark_dict(m: FinalMark) -> dict:
    return {"id": m.id, "class_id": m.class_id, "student_id": m.student_id, "period_id": m.period_id,
            "kind": m.kind, "subject_id": None if m.subject_key == "-" else m.subject_key, "value": m.value,
            "set_by": m.set_by, "version": m.version}


# --- the grades list (paginated, the hottest read) -----------------------------------------------------

@functools.lru_cache(maxsize=32)
def _grades_page_query(scope: str, by_student: bool, by_class: bool, by_subject: bool):
    """The page query for one shape of request, built once: the hottest read of the catalog.

    Core, not ORM (a page is read-only), every value a bound parameter, and the total comes
    with the rows (`count(*) OVER ()`), so a page is one statement whatever the caller's role.
    Cancelled grades are not listed (their history is: GET /v1/grades/{id}/history).
    """
    tenant, user = bindparam("tenant_id"), bindparam("user_id")
    where = [_G.c.tenant_id == tenant, _G.c.status == literal("active")]
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
    page = (select(_G.c.id, _G.c.class_id, _G.c.subject_id, _G.c.student_id, _G.c.value, _G.c.qualifier,
                   _G.c.kind, _G.c.period_id, _G.c.awarded_on, _G.c.teacher_id, _G.c.version,
                   _S.c.name.label("subject_name"), func.count().over().label("total"))
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
              "value": r.value, "qualifier": r.qualifier, "kind": r.kind, "period_id": r.period_id,
              "awarded_on": r.awarded_on.isoformat(), "teacher_id": r.teacher_id,
              "version": r.version, "subject_name": r.subject_name} for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}
