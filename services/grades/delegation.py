"""Delegation of write rights (CAT-14): requested, approved or rejected by the director, in force
only between its dates, revocable early.

Expiry needs no job: every check compares today with `ends_on`, so the rights end on that date
whatever happens. The fact "this delegation expired" is recorded as a `delegation_expired` event
(with `expired_on` = the day after `ends_on`) the first time the platform finds it past its end:
whenever anyone lists delegations or requests/decides one, in the same transaction.
"""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text, page_args

from .common import MANAGERS, owned, parse_date, today
from .models import Delegation, SchoolClass, Subject, TeachingAssignment


def delegation_dict(d: Delegation) -> dict:
    day = today()
    state = d.status
    if d.status == "approved":
        state = "expired" if d.ends_on < day else ("active" if d.starts_on <= day else "approved")
    return {"id": d.id, "class_id": d.class_id, "subject_id": d.subject_id, "delegate_id": d.delegate_id,
            "requested_by": d.requested_by, "starts_on": d.starts_on.isoformat(), "ends_on": d.ends_on.isoformat(),
            "reason": d.reason, "status": d.status, "state": state, "decided_by": d.decided_by}


def record_expiries(session: Session, emit, principal: Principal) -> int:
    """Emit `delegation_expired` once for each approved delegation now past its end."""
    rows = session.scalars(select(Delegation).where(
        Delegation.tenant_id == principal.tenant_id, Delegation.status == "approved",
        Delegation.ends_on < today(), Delegation.expiry_recorded_at.is_(None))).all()
    for d in rows:
        d.expiry_recorded_at = time.time()
        emit(session, "delegation_expired", entity_type="delegation", entity_id=d.id,
             after={**delegation_dict(d), "expired_on": (d.ends_on + timedelta(days=1)).isoformat()})
    return len(rows)


def request_delegation(session: Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                       delegate_id: str, starts_on: str, ends_on: str, reason: str) -> dict:
    """By the subject's assigned teacher, the director or the school's administrator; `delegate_id`
    is an account already checked (by the service) to be a teacher here."""
    require(principal, Role.TEACHER, *MANAGERS)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    owned(session, Subject, subject_id, principal, "subject")
    if not principal.has_any(MANAGERS) and not session.scalar(select(TeachingAssignment.id).where(
            TeachingAssignment.class_id == cls.id, TeachingAssignment.subject_id == subject_id,
            TeachingAssignment.teacher_id == principal.user_id)):
        raise Forbidden("you do not teach this subject in this class")
    start, end = parse_date(starts_on, "starts_on"), parse_date(ends_on, "ends_on")
    if end < start:
        raise InvalidInput("ends_on comes before starts_on")
    if end < today():
        raise InvalidInput("ends_on is already past")
    if (end - start).days > 366:
        raise InvalidInput("a delegation lasts at most a year")
    if delegate_id == principal.user_id:
        raise InvalidInput("a delegation is for another teacher")
    record_expiries(session, emit, principal)
    row = Delegation(tenant_id=principal.tenant_id, class_id=cls.id, subject_id=subject_id, delegate_id=delegate_id,
                     requested_by=principal.user_id, starts_on=start, ends_on=end,
                     reason=clean_text(reason, field="reason", max_len=500), status="requested")
    session.add(row)
    session.flush()
    after = delegation_dict(row)
    emit(session, "delegation_requested", entity_type="delegation", entity_id=row.id, after=after, reason=row.reason)
    return after


def decide_delegation(session: Session, emit, principal: Principal, *, delegation_id: str, approve: bool,
                      reason: str | None = None) -> dict:
    require(principal, Role.DIRECTOR)
    row = owned(session, Delegation, delegation_id, principal, "delegation")
    if row.status != "requested":
        raise Conflict(f"the delegation is already {row.status}")
    if approve and row.ends_on < today():
        raise Conflict("the delegation's end date is already past")
    before = delegation_dict(row)
    row.status = "approved" if approve else "rejected"
    row.decided_by, row.decided_at = principal.user_id, time.time()
    after = delegation_dict(row)
    emit(session, f"delegation_{row.status}", entity_type="delegation", entity_id=row.id, after=after,
         before=before, reason=clean_text(reason, field="reason", max_len=500) if reason else None)
    return after


def revoke_delegation(session: Session, emit, principal: Principal, *, delegation_id: str, reason: str) -> dict:
    """Ends a delegation early: by the director, or by the teacher who asked for it."""
    require(principal, Role.DIRECTOR, Role.TEACHER, Role.SCHOOL_ADMIN)
    row = owned(session, Delegation, delegation_id, principal, "delegation")
    if Role.DIRECTOR not in principal.roles and row.requested_by != principal.user_id:
        raise Forbidden("only the director or the teacher who asked for it revokes a delegation")
    if row.status not in ("requested", "approved") or (row.status == "approved" and row.ends_on < today()):
        raise Conflict("the delegation is no longer in force")
    before = delegation_dict(row)
    row.status, row.revoked_at = "revoked", time.time()
    after = delegation_dict(row)
    emit(session, "delegation_revoked", entity_type="delegation", entity_id=row.id, after=after, before=before,
         reason=clean_text(reason, field="reason", max_len=500))
    return after


def list_delegations(session: Session, emit, principal: Principal, *, status: str | None = None,
                     limit: int | None = None, offset: int | None = None) -> dict:
    """The director sees the school's; a teacher those they asked for or received."""
    require(principal, Role.DIRECTOR, Role.TEACHER, Role.SCHOOL_ADMIN)
    limit, offset = page_args(limit, offset)
    record_expiries(session, emit, principal)
    q = select(Delegation).where(Delegation.tenant_id == principal.tenant_id)
    if not principal.has_any(MANAGERS):
        q = q.where(or_(Delegation.requested_by == principal.user_id, Delegation.delegate_id == principal.user_id))
    if status:
        if status not in ("requested", "approved", "rejected", "revoked"):
            raise InvalidInput("status must be requested, approved, rejected or revoked")
        q = q.where(Delegation.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(Delegation.created_at.desc()).limit(limit).offset(offset)).all()
    return {"items": [delegation_dict(d) for d in rows], "total": total, "limit": limit, "offset": offset}
