"""Closing periods and the year: what is wrong first, explicit confirmation, then a freeze.

After closing, every write into the period answers 409 `period_closed`, unless the director
approved an amendment for that pupil and subject (with a reason). Closing the year closes every
period and freezes each pupil's averages and situation; re-examinations refreeze them.
"""
from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text

from . import averages as av
from . import results
from .common import owned, period_dict, periods_of
from .models import (Amendment, ClassStudent, MotivationRequest, Period, Reexamination, SchoolClass, SchoolYear,
                     Subject, TeachingAssignment, YearResult)
from .structure import on_roster

MAX_WARNINGS_SHOWN = 500


def _classes_of(session: Session, year: SchoolYear) -> list[SchoolClass]:
    return list(session.scalars(select(SchoolClass).where(SchoolClass.tenant_id == year.tenant_id,
                                                          SchoolClass.school_year == year.name)
                                .order_by(SchoolClass.name)))


def period_warnings(session: Session, period: Period, year: SchoolYear) -> list[dict]:
    """Too few grades, a missing thesis, a missing qualifier or conduct grade, and parents'
    motivation requests still awaiting the director, for every pupil on a roster at the period's end."""
    warnings = []
    for cls in _classes_of(session, year):
        data = results.load(session, cls)
        for pupil in data.roster:
            if not on_roster(pupil, period.ends_on) and not on_roster(pupil, period.starts_on):
                continue
            where = {"class_id": cls.id, "class_name": cls.name, "student_id": pupil.student_id,
                     "pupil": " ".join(n for n in (pupil.last_name, pupil.first_name) if n) or None}
            for subject in data.subjects:
                cell = results.period_cell(data, pupil.student_id, subject, period.id)
                subject_where = {**where, "subject_id": subject["id"], "subject_name": subject["name"]}
                if data.uses_qualifiers:
                    if cell["qualifier"] is None:
                        warnings.append({"kind": "missing_qualifier", **subject_where,
                                         "detail": "no final qualifier for the period"})
                    continue
                if subject["optional"] and not cell["grades"]:
                    continue
                thesis_value = cell["thesis"]["value"] if cell["thesis"] else None
                values, _ = results.cell_values(data, pupil.student_id, subject, period.id)
                needed = av.minimum_grades(subject["weekly_hours"], at_risk=av.at_risk(values, thesis_value))
                if len(cell["grades"]) < needed:
                    warnings.append({"kind": "too_few_grades", **subject_where,
                                     "detail": f"{len(cell['grades'])} of at least {needed} grades"})
                if period.id in subject["thesis_periods"] and cell["thesis"] is None:
                    warnings.append({"kind": "missing_thesis", **subject_where, "detail": "no thesis grade"})
            if not data.uses_qualifiers and data.marks.get((pupil.student_id, "conduct", "-", period.id)) is None:
                warnings.append({"kind": "missing_conduct", **where, "detail": "no conduct grade for the period"})
    for request in session.scalars(select(MotivationRequest).where(
            MotivationRequest.tenant_id == year.tenant_id, MotivationRequest.status == "pending",
            MotivationRequest.from_date <= period.ends_on, MotivationRequest.to_date >= period.starts_on)):
        warnings.append({"kind": "motivation_pending", "class_id": request.class_id, "student_id": request.student_id,
                         "request_id": request.id,
                         "detail": "a parent's request to motivate absences awaits the director's decision"})
    return warnings


def _period(session: Session, principal: Principal, period_id: str) -> tuple[Period, SchoolYear]:
    period = owned(session, Period, period_id, principal, "period")
    return period, session.get(SchoolYear, period.school_year_id)


def closing_check(session: Session, principal: Principal, *, period_id: str) -> dict:
    require(principal, Role.DIRECTOR)
    period, year = _period(session, principal, period_id)
    warnings = period_warnings(session, period, year)
    return {"period": period_dict(period), "warnings": warnings[:MAX_WARNINGS_SHOWN], "warning_count": len(warnings)}


def _refuse_unconfirmed(warnings: list[dict], confirm: bool, what: str) -> None:
    if warnings and not confirm:
        raise Conflict(f"{len(warnings)} warnings; review them and send confirm=true to close the {what} anyway",
                       {"warnings": warnings[:MAX_WARNINGS_SHOWN], "warning_count": len(warnings)})


def close_period(session: Session, emit, principal: Principal, *, period_id: str, confirm: bool = False) -> dict:
    require(principal, Role.DIRECTOR)
    period, year = _period(session, principal, period_id)
    if period.closed:
        raise Conflict("the period is already closed")
    warnings = period_warnings(session, period, year)
    _refuse_unconfirmed(warnings, confirm, "period")
    _close(period, principal)
    after = {**period_dict(period), "school_year_id": year.id, "warnings_confirmed": len(warnings)}
    emit(session, "period_closed", entity_type="period", entity_id=period.id, after=after,
         before={**period_dict(period), "closed": False})
    return after


def _close(period: Period, principal: Principal) -> None:
    period.closed, period.closed_at, period.closed_by = True, time.time(), principal.user_id


def reopen_period(session: Session, emit, principal: Principal, *, period_id: str, reason: str) -> dict:
    require(principal, Role.DIRECTOR)
    reason = clean_text(reason, field="reason", max_len=500)
    period, year = _period(session, principal, period_id)
    if not period.closed:
        raise Conflict("the period is not closed")
    if year.closed:
        raise Conflict("the school year is closed; corrections go through amendments")
    before = period_dict(period)
    period.closed, period.closed_at, period.closed_by = False, None, None
    after = period_dict(period)
    emit(session, "period_reopened", entity_type="period", entity_id=period.id, after=after, before=before,
         reason=reason)
    return after


def close_year(session: Session, emit, principal: Principal, *, school_year_id: str, confirm: bool = False) -> dict:
    """Close every open period and freeze each pupil's averages and situation, in one action."""
    require(principal, Role.DIRECTOR)
    year = owned(session, SchoolYear, school_year_id, principal, "school year")
    if year.closed:
        raise Conflict("the school year is already closed")
    periods = periods_of(session, year)
    warnings = [w | {"period_id": p.id} for p in periods if not p.closed for w in period_warnings(session, p, year)]
    _refuse_unconfirmed(warnings, confirm, "school year")
    for p in periods:
        if not p.closed:
            _close(p, principal)
            emit(session, "period_closed", entity_type="period", entity_id=p.id,
                 after={**period_dict(p), "school_year_id": year.id}, before={**period_dict(p), "closed": False})
    year.closed, year.closed_at, year.closed_by = True, time.time(), principal.user_id
    situations: dict[str, int] = {}
    for cls in _classes_of(session, year):
        data = results.load(session, cls)
        for pupil in data.roster:
            result = results.pupil_result(data, pupil)
            _freeze(session, emit, principal, year, cls, pupil.student_id, result)
            if result["situation"]:
                situations[result["situation"]] = situations.get(result["situation"], 0) + 1
    after = {"id": year.id, "name": year.name, "closed": True, "situations": situations,
             "warnings_confirmed": len(warnings)}
    emit(session, "school_year_closed", entity_type="school_year", entity_id=year.id, after=after)
    return after


def _freeze(session: Session, emit, principal: Principal, year: SchoolYear, cls: SchoolClass, student_id: str,
            result: dict) -> None:
    frozen = results.freeze_values(result)
    row = session.scalar(select(YearResult).where(YearResult.school_year_id == year.id,
                                                  YearResult.class_id == cls.id, YearResult.student_id == student_id))
    before = dict(row.result) if row else None
    if row is None:
        row = YearResult(tenant_id=principal.tenant_id, school_year_id=year.id, class_id=cls.id,
                         student_id=student_id, result=frozen)
        session.add(row)
    else:
        row.result, row.frozen_at = frozen, time.time()
    session.flush()
    emit(session, "year_result_frozen", entity_type="year_result", entity_id=row.id,
         after={"class_id": cls.id, "student_id": student_id, "school_year": year.name, **frozen}, before=before)


def approve_amendment(session: Session, emit, principal: Principal, *, period_id: str, class_id: str,
                      student_id: str, subject_id: str, reason: str) -> dict:
    """The director opens a closed period for one pupil and one subject, with a reason."""
    require(principal, Role.DIRECTOR)
    reason = clean_text(reason, field="reason", max_len=500)
    period, year = _period(session, principal, period_id)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    owned(session, Subject, subject_id, principal, "subject")
    if cls.school_year != year.name:
        raise InvalidInput("the period is not one of this class's school year")
    if not period.closed:
        raise Conflict("the period is open; no amendment is needed")
    if not session.scalar(select(ClassStudent.id).where(ClassStudent.class_id == cls.id,
                                                        ClassStudent.student_id == student_id)):
        raise NotFound("student not found in this class")
    row = Amendment(tenant_id=principal.tenant_id, period_id=period.id, class_id=cls.id, student_id=student_id,
                    subject_id=subject_id, reason=reason, approved_by=principal.user_id)
    session.add(row)
    session.flush()
    after = {"id": row.id, "period_id": period.id, "class_id": cls.id, "student_id": student_id,
             "subject_id": subject_id, "reason": reason, "approved_by": principal.user_id,
             "approved_at": row.approved_at}
    emit(session, "amendment_approved", entity_type="amendment", entity_id=row.id, after=after, reason=reason)
    return after


def record_reexamination(session: Session, emit, principal: Principal, *, class_id: str, student_id: str,
                         subject_id: str, kind: str, average: str) -> dict:
    """A corigență result or a late closing (situație încheiată), recorded after the year closed by
    the director or the subject's teacher; the pupil's situation is recomputed and refrozen."""
    require(principal, Role.DIRECTOR, Role.TEACHER)
    if principal.has_any((Role.SCHOOL_ADMIN, Role.OPERATOR)):
        raise Forbidden("administrators may not record grades")
    cls = owned(session, SchoolClass, class_id, principal, "class")
    owned(session, Subject, subject_id, principal, "subject")
    if Role.DIRECTOR not in principal.roles and not session.scalar(select(TeachingAssignment.id).where(
            TeachingAssignment.class_id == cls.id, TeachingAssignment.subject_id == subject_id,
            TeachingAssignment.teacher_id == principal.user_id)):
        raise Forbidden("you do not teach this subject in this class")
    if kind not in ("corigenta", "incheiere"):
        raise InvalidInput("kind must be 'corigenta' (re-examination) or 'incheiere' (situation closed late)")
    try:
        value = av.truncate2(Decimal(str(average)))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput("average must be a number from 1 to 10") from exc
    if not Decimal(1) <= value <= Decimal(10):
        raise InvalidInput("average must be a number from 1 to 10")
    year = session.scalar(select(SchoolYear).where(SchoolYear.tenant_id == principal.tenant_id,
                                                   SchoolYear.name == cls.school_year))
    if year is None or not year.closed:
        raise Conflict("re-examinations are recorded after the school year is closed")
    if session.scalar(select(Reexamination.id).where(Reexamination.class_id == cls.id,
                                                     Reexamination.student_id == student_id,
                                                     Reexamination.subject_id == subject_id)):
        raise Conflict("a re-examination result is already recorded for this pupil and subject")
    data = results.load(session, cls, student_id=student_id)
    if not data.roster:
        raise NotFound("student not found in this class")
    row = Reexamination(tenant_id=principal.tenant_id, class_id=cls.id, student_id=student_id,
                        subject_id=subject_id, kind=kind, average=str(value), recorded_by=principal.user_id)
    session.add(row)
    session.flush()
    emit(session, "reexamination_recorded", entity_type="reexamination", entity_id=row.id, after={
        "id": row.id, "class_id": cls.id, "student_id": student_id, "subject_id": subject_id, "kind": kind,
        "average": str(value)})
    data.reexams[(student_id, subject_id)] = value
    data.frozen.pop(student_id, None)  # recompute from the rows, not from the old freeze
    result = results.pupil_result(data, data.roster[0])
    _freeze(session, emit, principal, year, cls, student_id, result)
    return {"student_id": student_id, "subject_id": subject_id, "kind": kind, "average": str(value),
            "situation": result["situation"], "general_average": result["general_average"]}
