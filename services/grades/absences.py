"""Absences: recorded by the subject's teacher (one per date, timetable hour and subject; a whole
lesson's absent pupils in one call), motivated by the homeroom teacher, or on a parent's request
within the school's limit, decided by the director."""
from __future__ import annotations

import time
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, PeriodClosed
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text, page_args

from .common import owned, parse_date, period_on, periods_of, today, year_of
from .grades import refuse_administrators, write_context
from .models import Absence, ClassStudent, MotivationRequest, Period, SchoolClass
from .structure import on_roster

MOTIVATION_REASONS = ("medical", "parent_request", "school_activity", "other")
MAX_BULK = 60


def absence_dict(a: Absence) -> dict:
    return {"id": a.id, "class_id": a.class_id, "subject_id": a.subject_id, "student_id": a.student_id,
            "period_id": a.period_id, "occurred_on": a.occurred_on.isoformat(), "hour": a.hour,
            "status": a.status, "motivation_reason": a.motivation_reason, "document_ref": a.document_ref,
            "teacher_id": a.teacher_id, "version": a.version, "request_id": a.request_id}


def record_absences(session: Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                    occurred_on: str, hour: int, student_ids: list[str]) -> dict:
    """Every absent pupil of one lesson in one call (a single pupil is a list of one)."""
    refuse_administrators(principal, "record absences")
    require(principal, Role.TEACHER)
    day = parse_date(occurred_on, "occurred_on")
    if day > today():
        raise InvalidInput("occurred_on cannot be in the future")
    if not isinstance(hour, int) or isinstance(hour, bool) or not 1 <= hour <= 14:
        raise InvalidInput("hour must be the timetable hour, 1 to 14")
    if not isinstance(student_ids, list) or not 1 <= len(student_ids) <= MAX_BULK:
        raise InvalidInput(f"student_ids must list 1 to {MAX_BULK} pupils")
    student_ids = list(dict.fromkeys(student_ids))
    contexts = {s: write_context(session, principal, class_id=class_id, subject_id=subject_id, student_id=s,
                                 day=day, what="absences") for s in student_ids}
    taken = set(session.scalars(select(Absence.student_id).where(
        Absence.tenant_id == principal.tenant_id, Absence.student_id.in_(student_ids), Absence.occurred_on == day,
        Absence.hour == hour, Absence.subject_id == subject_id, Absence.status != "cancelled")))
    if taken:
        raise Conflict(f"an absence is already recorded for {len(taken)} of these pupils at that hour",
                       {"student_ids": sorted(taken)})
    rows = []
    for student_id in student_ids:
        row = Absence(tenant_id=principal.tenant_id, class_id=class_id, subject_id=subject_id, student_id=student_id,
                      period_id=contexts[student_id]["period_id"], occurred_on=day, hour=hour,
                      teacher_id=principal.user_id, status="unmotivated", version=1)
        session.add(row)
        rows.append(row)
    session.flush()
    out = []
    for row in rows:
        after = {**absence_dict(row), "via": contexts[row.student_id]["via"]}
        emit(session, "absence_recorded", entity_type="absence", entity_id=row.id, after=after)
        out.append(after)
    return {"items": out}


def cancel_absence(session: Session, emit, principal: Principal, *, absence_id: str, expected_version: int,
                   reason: str) -> dict:
    """An absence recorded by mistake stops counting; it stays in the records."""
    refuse_administrators(principal, "cancel absences")
    require(principal, Role.TEACHER)
    reason = clean_text(reason, field="reason", max_len=500)
    row = owned(session, Absence, absence_id, principal, "absence")
    if row.status == "cancelled":
        raise Conflict("the absence is already cancelled")
    if row.version != expected_version:
        from services.kernel.errors import StaleVersion
        raise StaleVersion(f"the absence is now version {row.version}", {"current": absence_dict(row)})
    write_context(session, principal, class_id=row.class_id, subject_id=row.subject_id, student_id=row.student_id,
                  day=row.occurred_on, what="absences")
    before = absence_dict(row)
    row.status, row.version = "cancelled", row.version + 1
    after = absence_dict(row)
    emit(session, "absence_cancelled", entity_type="absence", entity_id=row.id, after=after, before=before,
         reason=reason)
    return after


def _homeroom_class(session: Session, principal: Principal, class_id: str) -> SchoolClass:
    refuse_administrators(principal, "motivate absences")
    require(principal, Role.TEACHER)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    if cls.homeroom_teacher_id != principal.user_id:
        raise Forbidden("only the class's homeroom teacher motivates absences")
    return cls


def _closed_periods(session: Session, cls: SchoolClass) -> set[str]:
    return {p.id for p in periods_of(session, year_of(session, cls)) if p.closed}


def _motivate(session: Session, emit, rows: list[Absence], principal: Principal, *, reason: str,
              document_ref: str | None, request_id: str | None, closed: set[str]) -> list[dict]:
    if any(r.period_id in closed for r in rows):
        raise PeriodClosed("some of these absences are in a closed period", {"period_ids": sorted(
            {r.period_id for r in rows if r.period_id in closed})})
    out, now = [], time.time()
    for row in rows:
        before = absence_dict(row)
        row.status, row.motivation_reason, row.document_ref = "motivated", reason, document_ref
        row.motivated_by, row.motivated_at, row.request_id, row.version = principal.user_id, now, request_id, row.version + 1
        after = absence_dict(row)
        emit(session, "absence_motivated", entity_type="absence", entity_id=row.id, after=after, before=before,
             reason=reason)
        out.append(after)
    return out


def motivate_absences(session: Session, emit, principal: Principal, *, class_id: str, student_id: str,
                      reason: str, document_ref: str | None = None, from_date: str | None = None,
                      to_date: str | None = None, absence_ids: list[str] | None = None) -> dict:
    """The homeroom teacher motivates one pupil's absences: the ones listed, or all of a date range."""
    cls = _homeroom_class(session, principal, class_id)
    if reason not in MOTIVATION_REASONS:
        raise InvalidInput("reason must be one of: " + ", ".join(MOTIVATION_REASONS))
    document_ref = clean_text(document_ref, field="document_ref", max_len=200) if document_ref else None
    if reason == "medical" and not document_ref:
        raise InvalidInput("a medical motivation needs the document's reference")
    q = select(Absence).where(Absence.class_id == cls.id, Absence.student_id == student_id,
                              Absence.status == "unmotivated")
    if absence_ids:
        if not isinstance(absence_ids, list) or len(absence_ids) > 500:
            raise InvalidInput("absence_ids must list at most 500 absences")
        q = q.where(Absence.id.in_(absence_ids))
    else:
        start, end = parse_date(from_date, "from_date"), parse_date(to_date, "to_date")
        if end < start:
            raise InvalidInput("to_date comes before from_date")
        q = q.where(Absence.occurred_on >= start, Absence.occurred_on <= end)
    rows = list(session.scalars(q.order_by(Absence.occurred_on, Absence.hour)))
    if not rows:
        raise NotFound("no unmotivated absence of this pupil matches")
    return {"items": _motivate(session, emit, rows, principal, reason=reason, document_ref=document_ref,
                               request_id=None, closed=_closed_periods(session, cls))}


def school_days(start: date, end: date, holidays: set[date] = frozenset()) -> int:
    """Monday to Friday, holidays of the periods excluded."""
    return sum(1 for i in range((end - start).days + 1)
               if (start + timedelta(i)).weekday() < 5 and start + timedelta(i) not in holidays)


def request_dict(r: MotivationRequest) -> dict:
    return {"id": r.id, "class_id": r.class_id, "student_id": r.student_id, "parent_id": r.parent_id,
            "homeroom_teacher_id": r.homeroom_teacher_id, "from_date": r.from_date.isoformat(),
            "to_date": r.to_date.isoformat(), "days": r.days, "reason": r.reason, "status": r.status,
            "decided_by": r.decided_by, "decision_reason": r.decision_reason}


def request_motivation(session: Session, emit, principal: Principal, *, student_id: str, from_date: str,
                       to_date: str, reason: str) -> dict:
    """A parent asks for a child's absences over some days to be motivated, within the school's limit
    (school days per period or per year, pending and approved requests counted)."""
    require(principal, Role.PARENT)
    if student_id not in principal.children:
        raise Forbidden("parents ask only for their own children")
    reason = clean_text(reason, field="reason", max_len=500)
    start, end = parse_date(from_date, "from_date"), parse_date(to_date, "to_date")
    if end < start:
        raise InvalidInput("to_date comes before from_date")
    # the class the pupil was in on those days, in the school year that holds them
    cls = year = None
    for roster, candidate in session.execute(
            select(ClassStudent, SchoolClass).join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
            .where(ClassStudent.tenant_id == principal.tenant_id, ClassStudent.student_id == student_id)
            .order_by(SchoolClass.school_year.desc())).all():
        candidate_year = year_of(session, candidate)
        if candidate_year and candidate_year.starts_on <= start <= candidate_year.ends_on and on_roster(roster, start):
            cls, year = candidate, candidate_year
            break
    if cls is None:
        raise NotFound("the pupil was in no class of this school on those days")
    periods = periods_of(session, year)
    holidays = {date.fromisoformat(h) for p in periods for h in (p.holidays or [])}
    days = school_days(start, end, holidays)
    if days == 0:
        raise InvalidInput("the range holds no school day")
    settings = year.settings or {}
    limit = int(settings.get("parent_motivation_days", 10))
    window: tuple[date, date] = (year.starts_on, year.ends_on)
    if settings.get("parent_motivation_scope") == "period":
        period = period_on(periods, start)
        if period is None or end > period.ends_on:
            raise InvalidInput("the range must fall inside one period")
        window = (period.starts_on, period.ends_on)
    used = session.scalar(select(func.coalesce(func.sum(MotivationRequest.days), 0)).where(
        MotivationRequest.tenant_id == principal.tenant_id, MotivationRequest.student_id == student_id,
        MotivationRequest.status.in_(("pending", "approved")), MotivationRequest.from_date >= window[0],
        MotivationRequest.to_date <= window[1]))
    if used + days > limit:
        raise InvalidInput(f"parents may ask for at most {limit} school days per "
                           f"{settings.get('parent_motivation_scope', 'year')}; {limit - used} remain")
    row = MotivationRequest(tenant_id=principal.tenant_id, class_id=cls.id, student_id=student_id,
                            parent_id=principal.user_id, homeroom_teacher_id=cls.homeroom_teacher_id,
                            from_date=start, to_date=end, days=days, reason=reason, status="pending")
    session.add(row)
    session.flush()
    after = request_dict(row)
    emit(session, "motivation_requested", entity_type="motivation_request", entity_id=row.id, after=after,
         reason=reason)
    return after


def decide_motivation(session: Session, emit, principal: Principal, *, request_id: str, approve: bool,
                      reason: str | None = None) -> dict:
    """The director approves (the absences of those days become motivated) or rejects."""
    require(principal, Role.DIRECTOR)
    row = owned(session, MotivationRequest, request_id, principal, "motivation request")
    if row.status != "pending":
        raise Conflict(f"the request is already {row.status}")
    before = request_dict(row)
    row.status = "approved" if approve else "rejected"
    row.decided_by, row.decided_at = principal.user_id, time.time()
    row.decision_reason = clean_text(reason, field="reason", max_len=500) if reason else None
    motivated: list[dict] = []
    if approve:
        cls = session.get(SchoolClass, row.class_id)
        absences = list(session.scalars(select(Absence).where(
            Absence.class_id == row.class_id, Absence.student_id == row.student_id, Absence.status == "unmotivated",
            Absence.occurred_on >= row.from_date, Absence.occurred_on <= row.to_date)))
        motivated = _motivate(session, emit, absences, principal, reason="parent_request",
                              document_ref=f"cerere {row.id[:8]}", request_id=row.id,
                              closed=_closed_periods(session, cls))
    after = request_dict(row)
    emit(session, f"motivation_{row.status}", entity_type="motivation_request", entity_id=row.id, after=after,
         before=before, reason=row.decision_reason)
    return {**after, "motivated": len(motivated)}


def list_motivation_requests(session: Session, principal: Principal, *, status: str | None = None,
                             limit: int | None = None, offset: int | None = None) -> dict:
    """The director sees the school's; a homeroom teacher their class's; a parent their own."""
    limit, offset = page_args(limit, offset)
    require(principal, Role.DIRECTOR, Role.TEACHER, Role.PARENT)
    q = select(MotivationRequest).where(MotivationRequest.tenant_id == principal.tenant_id)
    if Role.DIRECTOR not in principal.roles:
        if Role.TEACHER in principal.roles:
            q = q.where(MotivationRequest.homeroom_teacher_id == principal.user_id)
        else:
            q = q.where(MotivationRequest.parent_id == principal.user_id)
    if status:
        if status not in ("pending", "approved", "rejected"):
            raise InvalidInput("status must be pending, approved or rejected")
        q = q.where(MotivationRequest.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(MotivationRequest.created_at.desc()).limit(limit).offset(offset)).all()
    return {"items": [request_dict(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def list_absences(session: Session, principal: Principal, *, class_id: str, student_id: str | None = None,
                  period_id: str | None = None, limit: int | None = None, offset: int | None = None) -> dict:
    """A class's absences (filtered), with totals: all, motivated, unmotivated."""
    from .grades import _may_read_pupil
    limit, offset = page_args(limit, offset)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    if student_id is None:
        require(principal, Role.DIRECTOR, Role.TEACHER)
        if Role.DIRECTOR not in principal.roles and cls.homeroom_teacher_id != principal.user_id:
            raise Forbidden("only the director and the homeroom teacher see all of a class's absences")
    else:
        _may_read_pupil(session, principal, cls.id, None, student_id)
    q = select(Absence).where(Absence.class_id == cls.id, Absence.status != "cancelled")
    if student_id:
        q = q.where(Absence.student_id == student_id)
    if period_id:
        owned(session, Period, period_id, principal, "period")
        q = q.where(Absence.period_id == period_id)
    rows = session.scalars(q.order_by(Absence.occurred_on.desc(), Absence.hour)).all()
    motivated = sum(1 for r in rows if r.status == "motivated")
    return {"items": [absence_dict(r) for r in rows[offset:offset + limit]], "total": len(rows),
            "totals": {"total": len(rows), "motivated": motivated, "unmotivated": len(rows) - motivated},
            "limit": limit, "offset": offset}
