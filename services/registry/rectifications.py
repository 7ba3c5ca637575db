"""Rectification of registry data at the person's request (CAT-11): the student themselves, a
parent for their child, or the school's staff on the person's behalf ask; the registrar or the
school's administrator decides. Approved, the change is a new version of the record (REG-8),
through the same path as the central authority's corrections (`persons.apply_correction`);
rejected, the request keeps the reason.

One field per request, named `section.key` (`personal.birth_date`, `administrative.dorm_name`;
a bare key means `personal.`). Identity fields follow the CNP: a birth date or sex that
contradicts the CNP is refused, and a rectified CNP brings its own birth date and sex. A sensitive
field's proposed value (ethnicity, medical and social situation) is sealed like the record's
own sensitive part; only the registrar (and the person, in their export) sees it."""
from __future__ import annotations

import time
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text, page_args

from .fields import SECTIONS, current_academic_year, validate_section
from .models import Person, PersonLink, RectificationRequest
from .nomenclature_seed import ENDED_STATUSES
from .nomenclatures import Vocabulary
from .persons import SENSITIVE_READERS, _problems, apply_correction
from .rules import parse_cnp
from .sealing import seal, unseal

STAFF = (Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.REGISTRY_CLERK)
DECIDERS = (Role.REGISTRY_CLERK, Role.SCHOOL_ADMIN)
REQUESTERS = (*STAFF, Role.STUDENT, Role.PARENT)
STATUSES = ("pending", "approved", "rejected")
NOT_YOURS = "you may ask to rectify only your own record or your child's"


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat() if moment is not None else None


def _spec(field: str):
    section, _, key = field.rpartition(".")
    section = section or "personal"
    specs = {s.key: s for s in SECTIONS.get(section, ())}
    if key not in specs:
        raise InvalidInput(f"{field!r} is not a field of the person record",
                           [{"field": "field", "message": "is not a field of the person record (e.g. "
                                                          "personal.birth_date, personal.domicile_locality)"}])
    return section, key, specs[key]


def _is_staff(principal: Principal) -> bool:
    return not principal.is_integrator and principal.has_any(STAFF)


def _may_see_sensitive(principal: Principal) -> bool:
    return not principal.is_integrator and principal.has_any(SENSITIVE_READERS)


def proposed_value(r: RectificationRequest):
    if r.proposed_sealed:
        return unseal(r.person_id, r.proposed_sealed).get("value")
    return (r.proposed or {}).get("value")


def request_dict(r: RectificationRequest, *, open_sealed: bool = False) -> dict:
    sealed = r.proposed_sealed is not None
    return {"id": r.id, "person_id": r.person_id, "tenant_id": r.tenant_id, "field": r.field,
            "proposed_value": proposed_value(r) if (open_sealed or not sealed) else None, "sealed": sealed,
            "reason": r.reason, "attachment_ref": r.attachment_ref, "requester_id": r.requester_id,
            "requester_role": r.requester_role, "status": r.status, "decided_by": r.decided_by,
            "decision_reason": r.decision_reason, "decided_at": _iso(r.decided_at), "version": r.version,
            "created_at": _iso(r.created_at)}


def _event(r: RectificationRequest) -> dict:
    """The row's image for the events (and the backup's change log): a sensitive field's
    proposed value never travels, not even sealed."""
    image = {"id": r.id, "person_id": r.person_id, "field": r.field, "status": r.status,
             "requester_id": r.requester_id, "requester_role": r.requester_role, "reason": r.reason,
             "attachment_ref": r.attachment_ref, "decision_reason": r.decision_reason, "version": r.version}
    if r.proposed_sealed is None:
        image["proposed"] = r.proposed
    return image


def changes_for(session: Session, person: Person, field: str, value) -> dict:
    """The validated section change one rectified field makes (identity fields kept consistent)."""
    section, key, spec = _spec(field)
    clean, problems = validate_section(SECTIONS[section], {key: value}, current_academic_year(date.today()),
                                       Vocabulary(session), prefix=f"{section}.", partial=True)
    if problems:
        raise _problems("the proposed value is not valid", problems)
    new = clean.get(key)
    if section == "personal" and key == "cnp":
        if new is None:
            raise InvalidInput("a CNP cannot be removed", [{"field": "personal.cnp", "message": "is required"}])
        parsed = parse_cnp(new)
        other = session.scalar(select(Person.id).where(Person.cnp == parsed["cnp"], Person.id != person.id))
        if other is not None:
            raise Conflict("this CNP belongs to another person in the registry")
        return {"personal": {"cnp": parsed["cnp"], "sex": parsed["sex"] or person.sex,
                             "birth_date": parsed["birth_date"].isoformat() if parsed["birth_date"]
                             else (person.birth_date.isoformat() if person.birth_date else None)}}
    if section == "personal" and key in ("birth_date", "sex") and person.cnp:
        parsed = parse_cnp(person.cnp)
        encoded = parsed["birth_date"].isoformat() if key == "birth_date" and parsed["birth_date"] else parsed.get(key)
        if encoded is not None and new != encoded:
            raise InvalidInput(f"{key} does not match the CNP: rectify the CNP instead (personal.cnp)",
                               [{"field": f"personal.{key}", "message": "does not match the CNP"}])
    return {section: {key: new}}


def _subject(session: Session, principal: Principal, person_id: str | None) -> Person:
    """The person a requester may ask for: staff any person of their institution; a student
    themselves; a parent their children (and only persons registered by the caller's school)."""
    require(principal, *REQUESTERS)
    person_id = str(person_id) if person_id else principal.person_id
    if not person_id:
        raise InvalidInput("person_id is required", [{"field": "person_id", "message": "is required"}])
    if not _is_staff(principal):
        own = Role.STUDENT in principal.roles and principal.person_id == person_id
        child = Role.PARENT in principal.roles and person_id in principal.children
        if not (own or child):
            raise Forbidden(NOT_YOURS)
    person = session.scalar(select(Person).join(PersonLink, PersonLink.person_id == Person.id).where(
        Person.id == person_id, PersonLink.tenant_id == principal.tenant_id))
    if person is None:
        raise NotFound("person not found")
    return person


def request_rectification(session: Session, emit, principal: Principal, *, person_id: str | None, field: str,
                          proposed_value, reason: str, attachment_ref: str | None = None) -> dict:
    person = _subject(session, principal, person_id)
    field = clean_text(field, field="field", max_len=80)
    section, key, spec = _spec(field)
    field = f"{section}.{key}"
    reason = clean_text(reason, field="reason", max_len=500)
    attachment = clean_text(attachment_ref, field="attachment_ref", max_len=200) if attachment_ref else None
    changes = changes_for(session, person, field, proposed_value)
    value = changes[section][key]
    row = RectificationRequest(tenant_id=principal.tenant_id, person_id=person.id, field=field, reason=reason,
                               attachment_ref=attachment, requester_id=principal.user_id,
                               requester_role=principal.role, status="pending", created_at=time.time())
    if spec.sensitive:  # sealed and bound to the person, like the record's own sensitive part
        row.proposed_sealed = seal(person.id, {"value": value})
    else:
        row.proposed = {"value": value}
    session.add(row)
    session.flush()
    emit(session, "rectification_requested", entity_type="rectification_request", entity_id=row.id,
         after=_event(row), reason=reason, tenant_id=principal.tenant_id)
    return request_dict(row, open_sealed=True)


def list_rectifications(session: Session, emit, principal: Principal, *, status: str | None = None,
                        person_id: str | None = None, limit=50, offset=0) -> dict:
    """Staff: their institution's requests; a student their own; a parent their children's."""
    require(principal, *REQUESTERS)
    limit, offset = page_args(limit, offset)
    r = RectificationRequest
    q = select(r).where(r.tenant_id == principal.tenant_id)
    if not _is_staff(principal):
        mine = {principal.person_id} if Role.STUDENT in principal.roles and principal.person_id else set()
        if Role.PARENT in principal.roles:
            mine |= set(principal.children)
        q = q.where(r.person_id.in_(sorted(mine)))
    if status:
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        q = q.where(r.status == status)
    if person_id:
        q = q.where(r.person_id == str(person_id))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(r.created_at, r.id).limit(limit).offset(offset)).all()
    opened = _may_see_sensitive(principal)
    for row in rows:  # REG-9: a sealed value shown to the registrar is a recorded read
        if opened and row.proposed_sealed:
            emit(session, "sensitive_data_viewed", entity_type="person", entity_id=row.person_id,
                 after={"person_id": row.person_id, "viewer_id": principal.user_id, "fields": [row.field],
                        "rectification_id": row.id})
    return {"items": [request_dict(row, open_sealed=opened) for row in rows], "total": total, "limit": limit,
            "offset": offset}


def decide_rectification(session: Session, emit, principal: Principal, request_id: str, *, approve: bool,
                         reason: str) -> dict:
    require(principal, *DECIDERS)
    reason = clean_text(reason, field="reason", max_len=500)
    row = session.scalar(select(RectificationRequest).where(
        RectificationRequest.id == str(request_id), RectificationRequest.tenant_id == principal.tenant_id)
        .with_for_update())
    if row is None:
        raise NotFound("rectification request not found")
    if row.status != "pending":
        raise Conflict(f"this rectification request was already {row.status}")
    if row.proposed_sealed and not _may_see_sensitive(principal):
        raise Forbidden("a rectification of ethnicity, medical or social situation is decided by the registrar")
    if approve and row.proposed is None and row.proposed_sealed is None:
        # only a row rebuilt from a backup's change log lacks it (a sealed value never travels)
        raise Conflict("this request's proposed value is not held here; ask for the rectification again")
    if approve:
        person = session.scalar(select(Person).where(Person.id == row.person_id).with_for_update())
        if person.status in ENDED_STATUSES:
            raise Conflict(f"this person's student status has ended ({person.status}): the record is a read-only "
                           "archive; the change goes through a correction approved by the central authority")
        changes = changes_for(session, person, row.field, proposed_value(row))
        apply_correction(session, emit, principal, person, changes, kind="rectification", fact="person_rectified",
                         tenant_id=row.tenant_id, reason=reason, document_ref=(row.attachment_ref or None) and
                         row.attachment_ref[:120], document_date=datetime.now(timezone.utc).date())
        row.version = person.version
    row.status = "approved" if approve else "rejected"
    row.decided_by, row.decision_reason, row.decided_at = principal.user_id, reason, time.time()
    session.flush()
    emit(session, "rectification_approved" if approve else "rectification_rejected",
         entity_type="rectification_request", entity_id=row.id, after=_event(row), reason=reason,
         tenant_id=row.tenant_id)
    return request_dict(row, open_sealed=_may_see_sensitive(principal))
