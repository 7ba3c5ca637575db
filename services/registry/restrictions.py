"""Restriction of processing (CAT-11, GDPR art. 18): the school sets and lifts it on a person, at
their request, with a reason. The registry owns it; the other services learn of it from the
events `registry.processing_restricted` / `registry.processing_restriction_lifted`.

While it holds, the person stays in the legal record and visible to the staff who need it (the
person's page, history, enrolments), but is left out of statistics and of exports to external
bodies (`reports.py` filters with `unrestricted`)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text

from .models import Person, PersonLink, ProcessingRestriction

MANAGERS = (Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.REGISTRY_CLERK)


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat() if moment is not None else None


def period_dict(r: ProcessingRestriction) -> dict:
    return {"id": r.id, "person_id": r.person_id, "tenant_id": r.tenant_id, "reason": r.reason, "set_by": r.set_by,
            "set_at": _iso(r.set_at), "lift_reason": r.lift_reason, "lifted_by": r.lifted_by,
            "lifted_at": _iso(r.lifted_at), "active": r.lifted_at is None}


def unrestricted(tenant_column, person_column):
    """A filter: no open restriction of that person by that institution."""
    r = ProcessingRestriction
    return ~exists().where(r.tenant_id == tenant_column, r.person_id == person_column, r.lifted_at.is_(None))


def open_restriction(session: Session, tenant_id: str, person_id: str) -> ProcessingRestriction | None:
    r = ProcessingRestriction
    return session.scalars(select(r).where(r.tenant_id == tenant_id, r.person_id == person_id,
                                           r.lifted_at.is_(None)).order_by(r.set_at.desc())).first()


def _own_person(session: Session, principal: Principal, person_id: str, *, lock: bool = False) -> Person:
    """A person registered by the caller's institution (locked for a change), else not found."""
    q = select(Person).join(PersonLink, PersonLink.person_id == Person.id).where(
        Person.id == str(person_id), PersonLink.tenant_id == principal.tenant_id)
    person = session.scalar(q.with_for_update() if lock else q)
    if person is None:
        raise NotFound("person not found")
    return person


def state(session: Session, tenant_id: str, person_id: str) -> dict:
    r = ProcessingRestriction
    history = session.scalars(select(r).where(r.tenant_id == tenant_id, r.person_id == person_id)
                              .order_by(r.set_at, r.id)).all()
    current = next((p for p in reversed(history) if p.lifted_at is None), None)
    return {"person_id": person_id, "tenant_id": tenant_id, "restricted": current is not None,
            "reason": current.reason if current else None, "since": _iso(current.set_at) if current else None,
            "history": [period_dict(p) for p in history]}


def get_restriction(session: Session, principal: Principal, person_id: str) -> dict:
    require(principal, *MANAGERS)
    person = _own_person(session, principal, person_id)
    return state(session, principal.tenant_id, person.id)


def set_restriction(session: Session, emit, principal: Principal, person_id: str, *, reason: str) -> dict:
    require(principal, *MANAGERS)
    reason = clean_text(reason, field="reason", max_len=500)
    person = _own_person(session, principal, person_id, lock=True)
    if open_restriction(session, principal.tenant_id, person.id) is not None:
        raise Conflict("processing of this person's data is already restricted; lift the restriction first")
    session.add(ProcessingRestriction(tenant_id=principal.tenant_id, person_id=person.id, reason=reason,
                                      set_by=principal.user_id, set_at=time.time()))
    session.flush()
    emit(session, "processing_restricted", entity_type="person", entity_id=person.id, reason=reason,
         tenant_id=principal.tenant_id, after={"person_id": person.id, "restricted": True, "reason": reason})
    return state(session, principal.tenant_id, person.id)


def lift_restriction(session: Session, emit, principal: Principal, person_id: str, *, reason: str) -> dict:
    require(principal, *MANAGERS)
    reason = clean_text(reason, field="reason", max_len=500)
    person = _own_person(session, principal, person_id, lock=True)
    current = open_restriction(session, principal.tenant_id, person.id)
    if current is None:
        raise Conflict("processing of this person's data is not restricted")
    current.lift_reason, current.lifted_by, current.lifted_at = reason, principal.user_id, time.time()
    session.flush()
    emit(session, "processing_restriction_lifted", entity_type="person", entity_id=person.id, reason=reason,
         tenant_id=principal.tenant_id, after={"person_id": person.id, "restricted": False, "reason": reason})
    return state(session, principal.tenant_id, person.id)
