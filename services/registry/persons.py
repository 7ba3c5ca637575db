"""Person records (chapter V), registration and re-enrolment matching, views, changes, status
and corrections, tenant-scoped (REG-1, REG-2, REG-6, REG-8, REG-9)."""
from __future__ import annotations

import time
from datetime import date, datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import page_args

from . import versions
from .fields import (SECTIONS, current_academic_year, person_footnote_problems, split_sensitive,
                     validate_section)
from .models import Correction, MatchCandidate, Person, PersonLink
from .nomenclature_seed import ENDED_STATUSES, STATUSES
from .nomenclatures import Vocabulary
from .restrictions import open_restriction
from .rules import new_matriculation_code, parse_cnp
from .sealing import seal, unseal

WRITERS = (Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK)
READERS = (Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY)
# the registrar handles social scholarships and special needs; nobody else sees these fields
SENSITIVE_READERS = (Role.REGISTRY_CLERK,)
ARCHIVED = ("this person's student status has ended ({status}): the record is a read-only archive "
            "(OMEN 3666/2016, annex, art. 3(2)); request a correction, approved by the central authority")


def person_dict(p: Person) -> dict:
    """The summary that travels in events and lists: no sections, no sensitive data."""
    return {
        "id": p.id, "matriculation_code": p.matriculation_code, "last_name": p.last_name,
        "first_name": p.first_name, "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "sex": p.sex, "cnp_masked": f"{p.cnp[0]}******{p.cnp[7:]}" if p.cnp else None,
        "citizenship": p.citizenship, "status": p.status, "version": p.version,
    }


def full_dict(p: Person, *, sensitive: dict | None = None) -> dict:
    out = {**person_dict(p), **{name: dict((p.data or {}).get(name) or {}) for name in SECTIONS}}
    out["personal"].pop("cnp", None)  # masked above; the full CNP is not echoed back
    if sensitive is not None:
        out["sensitive"] = sensitive
    return out


def _snapshot(p: Person) -> dict:
    return {"status": p.status, "matriculation_code": p.matriculation_code, "data": p.data, "sensitive": p.sensitive}


def _problems(message: str, problems: list[dict]) -> InvalidInput:
    return InvalidInput(f"{message}: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5]), problems)


def _is_central(principal: Principal) -> bool:
    return Role.CENTRAL_AUTHORITY in principal.roles


def validate_person(record: dict, allowed, *, year: str | None = None) -> tuple[dict, list[dict]]:
    """Clean every section of a person record; returns (sections, problems)."""
    year = year or current_academic_year(date.today())
    sections, problems = {}, []
    unknown = [k for k in record if k not in SECTIONS]
    problems += [{"field": k, "message": "is not a section of the person record"} for k in unknown]
    for name, specs in SECTIONS.items():
        clean, found = validate_section(specs, record.get(name) or {}, year, allowed, prefix=f"{name}.")
        sections[name] = {k: v for k, v in clean.items() if v is not None}
        problems += found
    personal = sections["personal"]
    if not problems:
        problems += person_footnote_problems(personal)
    if personal.get("cnp"):
        try:
            parsed = parse_cnp(personal["cnp"])
        except InvalidInput as exc:
            problems += [{**p, "field": f"personal.{p['field']}"} for p in exc.args[1]]
        else:
            if parsed["birth_date"] and personal.get("birth_date") not in (None, parsed["birth_date"].isoformat()):
                problems.append({"field": "personal.birth_date", "message": "birth_date does not match the CNP"})
            if parsed["sex"] and personal.get("sex") not in (None, parsed["sex"]):
                problems.append({"field": "personal.sex", "message": "sex does not match the CNP"})
            personal.setdefault("birth_date", parsed["birth_date"].isoformat() if parsed["birth_date"] else None)
            personal.setdefault("sex", parsed["sex"])
    return sections, problems


def record_from_args(last_name=None, first_name=None, cnp=None, birth_date=None, record=None) -> dict:
    """The simple registration arguments (name, CNP, birth date) merged into a record."""
    record = {k: dict(v or {}) for k, v in (record or {}).items()}
    personal = record.setdefault("personal", {})
    for key, value in (("last_name", last_name), ("first_name", first_name), ("cnp", cnp),
                       ("birth_date", birth_date)):
        if value not in (None, ""):
            personal.setdefault(key, value)
    personal.setdefault("last_name_at_birth", personal.get("last_name"))
    if personal.get("cnp") and not personal.get("citizenship"):
        personal["citizenship"] = "RO"
    return record


def _existing_match(session: Session, personal: dict) -> tuple[Person | None, str]:
    if personal.get("cnp"):
        return session.scalar(select(Person).where(Person.cnp == personal["cnp"])), "cnp"
    same_id = session.scalars(select(Person).where(Person.foreign_id == personal["foreign_id"],
                                                   Person.citizenship == personal["citizenship"])).all()
    birth = date.fromisoformat(personal["birth_date"]) if personal.get("birth_date") else None
    exact = [p for p in same_id if p.birth_date == birth]
    if exact:
        return exact[0], "foreign"
    if same_id:
        return same_id[0], "doubtful"  # same document, another birth date: a person must look
    if birth is not None:  # same name, birth date and citizenship under another identifier
        twin = session.scalar(select(Person).where(
            Person.cnp.is_(None), Person.citizenship == personal["citizenship"], Person.birth_date == birth,
            func.lower(Person.last_name) == personal["last_name"].lower(),
            func.lower(Person.first_name) == personal["first_name"].lower()))
        if twin is not None:
            return twin, "doubtful"
    return None, ""


def _common_data(p: Person) -> dict:
    """What an institution sees of a person it has not linked yet: enough to compare documents."""
    return {"matriculation_code": p.matriculation_code, "last_name": p.last_name, "first_name": p.first_name,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None, "sex": p.sex,
            "citizenship": p.citizenship,
            "last_name_at_birth": (p.data or {}).get("personal", {}).get("last_name_at_birth")}


def register_person(session: Session, emit, principal: Principal, *, last_name=None, first_name=None, cnp=None,
                    birth_date=None, record=None, external_id=None) -> dict:
    """A new person gets a new code. A person already known elsewhere becomes a match candidate
    the institution confirms; nothing of it is linked before. Known here already: Conflict."""
    require(principal, *WRITERS, scope="registry:write")
    sections, problems = validate_person(record_from_args(last_name, first_name, cnp, birth_date, record),
                                         Vocabulary(session))
    if problems:
        raise _problems("the person record is not valid", problems)
    return register_clean(session, emit, principal, sections, external_id=external_id)


def register_clean(session: Session, emit, principal: Principal, sections: dict, *, external_id=None) -> dict:
    personal = sections["personal"]
    person, kind = _existing_match(session, personal)
    if person is None:
        person = _create(session, emit, principal, sections)
        if person is None:  # another institution registered the same CNP at the same moment
            person, kind = _existing_match(session, personal)
        else:
            _link(session, emit, principal, person, external_id)
            return {**full_dict(person), "created": True, "status": "registered"}
    if kind in ("cnp", "foreign"):
        if _linked(session, person.id, principal.tenant_id):
            raise Conflict("this person is already registered by your institution")
        return _candidate(session, emit, principal, person, kind, sections, external_id)
    return _candidate(session, emit, principal, person, "doubtful", sections, external_id)


def _create(session: Session, emit, principal: Principal, sections: dict) -> Person | None:
    personal, = (sections["personal"],)
    plain, secret = split_sensitive(personal)
    for _attempt in range(5):
        try:
            with session.begin_nested():
                person = Person(matriculation_code=new_matriculation_code(), cnp=personal.get("cnp"),
                                foreign_id=personal.get("foreign_id"), citizenship=personal.get("citizenship"),
                                last_name=personal["last_name"], first_name=personal["first_name"],
                                birth_date=date.fromisoformat(personal["birth_date"]) if personal.get("birth_date")
                                else None, sex=personal.get("sex"), status="active",
                                data={**sections, "personal": plain}, version=1)
                session.add(person)
                session.flush()
                person.sensitive = seal(person.id, secret)
                session.flush()
        except IntegrityError:
            if personal.get("cnp") and session.scalar(select(Person.id).where(Person.cnp == personal["cnp"])):
                return None
            continue  # a code collision (60 random bits): draw again
        versions.record(session, principal, entity_type="person", entity_id=person.id, person_id=person.id,
                        version=1, snapshot=_snapshot(person), kind="registration", tenant_id=principal.tenant_id)
        emit(session, "person_registered", entity_type="person", entity_id=person.id, after=person_dict(person))
        return person
    raise Conflict("could not allocate a matriculation code; try again")


def _linked(session: Session, person_id: str, tenant_id: str) -> bool:
    return session.scalar(select(PersonLink.id).where(PersonLink.person_id == person_id,
                                                      PersonLink.tenant_id == tenant_id)) is not None


def _link(session: Session, emit, principal: Principal, person: Person, external_id: str | None) -> None:
    session.add(PersonLink(person_id=person.id, tenant_id=principal.tenant_id, external_id=external_id))
    session.flush()
    emit(session, "person_linked", entity_type="person", entity_id=person.id,
         after={"person_id": person.id, "tenant_id": principal.tenant_id})


def _candidate(session, emit, principal, person: Person, kind: str, sections: dict, external_id) -> dict:
    pending = session.scalar(select(MatchCandidate).where(
        MatchCandidate.tenant_id == principal.tenant_id, MatchCandidate.person_id == person.id,
        MatchCandidate.status == "pending", MatchCandidate.kind == kind))
    if pending is None:
        pending = MatchCandidate(tenant_id=principal.tenant_id, person_id=person.id, kind=kind,
                                 submitted={"sections": sections, "external_id": external_id},
                                 requested_by=principal.user_id)
        session.add(pending)
        session.flush()
        emit(session, "match_candidate_created", entity_type="match_candidate", entity_id=pending.id,
             after={"id": pending.id, "person_id": person.id, "kind": kind, "tenant_id": principal.tenant_id})
    if kind == "doubtful":
        return {"status": "in_review", "review_id": pending.id,
                "message": "a similar foreign student is already registered; the central authority reviews the case"}
    return {"status": "match_candidate", "candidate_id": pending.id, "person": _common_data(person),
            "message": "this person is already in the registry; confirm the match (with your documents) to keep "
                       "the same matriculation code"}


# --- matches -------------------------------------------------------------------------------

def _candidate_dict(c: MatchCandidate, person: Person | None) -> dict:
    return {"id": c.id, "kind": c.kind, "status": c.status, "tenant_id": c.tenant_id,
            "person": _common_data(person) if person else None,
            "submitted": {k: c.submitted["sections"]["personal"].get(k)
                          for k in ("last_name", "first_name", "birth_date", "citizenship", "foreign_id")}}


def list_matches(session: Session, principal: Principal, *, status: str | None, limit, offset) -> dict:
    require(principal, *WRITERS, Role.CENTRAL_AUTHORITY, scope="registry:write")
    limit, offset = page_args(limit, offset)
    q = select(MatchCandidate).order_by(MatchCandidate.created_at)
    if _is_central(principal):
        q = q.where(MatchCandidate.kind == "doubtful")  # the review list
    else:
        q = q.where(MatchCandidate.tenant_id == principal.tenant_id)
    if status:
        q = q.where(MatchCandidate.status == status)
    rows = session.scalars(q.limit(limit).offset(offset)).all()
    return {"items": [_candidate_dict(c, session.get(Person, c.person_id) if c.person_id else None) for c in rows]}


def decide_match(session: Session, emit, principal: Principal, candidate_id: str, *, confirm: bool) -> dict:
    require(principal, *WRITERS, Role.CENTRAL_AUTHORITY, scope="registry:write")
    c = session.get(MatchCandidate, candidate_id)
    central = _is_central(principal)
    if c is None or (not central and c.tenant_id != principal.tenant_id):
        raise NotFound("match candidate not found")
    if central and c.kind != "doubtful":
        raise Forbidden("the institution confirms its own re-enrolments")
    if not central and c.kind == "doubtful":
        raise Forbidden("a doubtful match is decided by the central authority")
    if c.status != "pending":
        raise Conflict(f"this match was already {c.status}")
    c.status, c.decided_by, c.decided_at = ("confirmed" if confirm else "rejected"), principal.user_id, time.time()
    result: dict = {"id": c.id, "status": c.status}
    if confirm:
        person = session.get(Person, c.person_id)
        if not _linked(session, person.id, c.tenant_id):
            session.add(PersonLink(person_id=person.id, tenant_id=c.tenant_id,
                                   external_id=c.submitted.get("external_id")))
            session.flush()
            emit(session, "person_linked", entity_type="person", entity_id=person.id,
                 after={"person_id": person.id, "tenant_id": c.tenant_id, "match_id": c.id}, tenant_id=c.tenant_id)
        result["person"] = person_dict(person)
    elif central and c.kind == "doubtful":
        # not the same human: register the submitted record as a new person of that institution
        sections = c.submitted["sections"]
        proxy = Principal(user_id=c.requested_by, tenant_id=c.tenant_id, roles=frozenset({Role.REGISTRY_CLERK}))
        person = _create(session, emit, proxy, sections)
        _link(session, emit, proxy, person, c.submitted.get("external_id"))
        result["person"] = person_dict(person)
    emit(session, "match_confirmed" if confirm else "match_rejected", entity_type="match_candidate",
         entity_id=c.id, after={"id": c.id, "status": c.status, "person_id": c.person_id}, tenant_id=c.tenant_id)
    return result


# --- reading -------------------------------------------------------------------------------

def _visible(session: Session, principal: Principal, person_id: str) -> Person:
    if principal.person_id == person_id:
        person = session.get(Person, person_id)
        if person:
            return person
    require(principal, *READERS, scope="registry:read")
    q = select(Person).where(Person.id == person_id)
    if not _is_central(principal):
        q = q.join(PersonLink, PersonLink.person_id == Person.id).where(PersonLink.tenant_id == principal.tenant_id)
    person = session.scalar(q)
    if person is None:
        raise NotFound("person not found")
    return person


def _viewed(session, emit, principal: Principal, person: Person, what: str) -> None:
    """REG-9: every view of a person's personal data is recorded (who looked at whom)."""
    emit(session, "person_viewed", entity_type="person", entity_id=person.id,
         after={"person_id": person.id, "viewer_id": principal.user_id, "viewer_role": principal.role,
                "viewer_tenant_id": principal.tenant_id, "what": what})


def get_person(session: Session, emit, principal: Principal, person_id: str, *, include_sensitive=False) -> dict:
    person = _visible(session, principal, person_id)
    _viewed(session, emit, principal, person, "record")
    sensitive = None
    if include_sensitive:
        if principal.is_integrator or not principal.has_any(SENSITIVE_READERS) or _is_central(principal):
            raise Forbidden("only the institution's registrar may see ethnicity, medical and social situation")
        sensitive = unseal(person.id, person.sensitive)
        emit(session, "sensitive_data_viewed", entity_type="person", entity_id=person.id,
             after={"person_id": person.id, "viewer_id": principal.user_id, "fields": sorted(sensitive)})
    out = full_dict(person, sensitive=sensitive)
    if not _is_central(principal):  # the staff see that they must leave the person out (CAT-11)
        out["processing_restricted"] = open_restriction(session, principal.tenant_id, person.id) is not None
    return out


def list_persons(session: Session, principal: Principal, *, q: str | None, status: str | None, limit, offset) -> dict:
    require(principal, *READERS, scope="registry:read")
    limit, offset = page_args(limit, offset)
    query = select(Person)
    if not _is_central(principal):
        query = query.join(PersonLink, PersonLink.person_id == Person.id).where(
            PersonLink.tenant_id == principal.tenant_id)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(Person.last_name).like(like), func.lower(Person.first_name).like(like),
                                Person.matriculation_code == q.strip().upper(), Person.cnp == q.strip()))
    if status:
        query = query.where(Person.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Person.last_name, Person.first_name, Person.id).limit(limit).offset(offset))
    return {"items": [person_dict(p) for p in rows], "total": total, "limit": limit, "offset": offset}


def person_history(session: Session, emit, principal: Principal, person_id: str, *, limit, offset) -> dict:
    person = _visible(session, principal, person_id)
    limit, offset = page_args(limit, offset)
    _viewed(session, emit, principal, person, "history")
    return {"items": versions.history(session, person.id, limit=limit, offset=offset)}


def find_own_person_by_cnp(session: Session, principal: Principal, cnp: str) -> dict:
    """A person this institution registered, found by CNP (to resume an interrupted enrolment)."""
    require(principal, *WRITERS)
    parsed = parse_cnp(cnp)
    person = session.scalar(select(Person).join(PersonLink, PersonLink.person_id == Person.id).where(
        Person.cnp == parsed["cnp"], PersonLink.tenant_id == principal.tenant_id))
    if person is None:
        raise NotFound("person not found")
    return {**full_dict(person), "created": False}


# --- changing ------------------------------------------------------------------------------

def writable(session: Session, principal: Principal, person_id: str, *, archive_ok: bool = False) -> Person:
    require(principal, *WRITERS, scope="registry:write")
    person = session.scalar(select(Person).join(PersonLink, PersonLink.person_id == Person.id).where(
        Person.id == person_id, PersonLink.tenant_id == principal.tenant_id).with_for_update())
    if person is None:
        raise NotFound("person not found")
    if person.status in ENDED_STATUSES and not archive_ok:
        raise Conflict(ARCHIVED.format(status=person.status))
    return person


def _apply_changes(session: Session, person: Person, changes: dict) -> None:
    """Merge validated section changes into the person (sensitive ones re-sealed)."""
    current = {name: dict((person.data or {}).get(name) or {}) for name in SECTIONS}
    current["personal"].update(unseal(person.id, person.sensitive))
    for name, values in changes.items():
        current.setdefault(name, {}).update(values)
        current[name] = {k: v for k, v in current[name].items() if v is not None}
    footnotes = person_footnote_problems(current["personal"])
    if footnotes:
        raise _problems("the change breaks a rule of the regulation", footnotes)
    plain, secret = split_sensitive(current["personal"])
    person.data = {**current, "personal": plain}
    person.sensitive = seal(person.id, secret)
    person.last_name, person.first_name = plain["last_name"], plain["first_name"]
    person.version += 1


def validate_changes(session: Session, changes: dict) -> dict:
    allowed = Vocabulary(session)
    year = current_academic_year(date.today())
    clean, problems = {}, []
    for name, values in (changes or {}).items():
        if name not in SECTIONS or not isinstance(values, dict):
            problems.append({"field": name, "message": "is not a section of the person record"})
            continue
        clean[name], found = validate_section(SECTIONS[name], values, year, allowed, prefix=f"{name}.", partial=True)
        problems += found
    for key in ("cnp", "foreign_id", "citizenship", "birth_date"):
        if key in clean.get("personal", {}):
            problems.append({"field": f"personal.{key}",
                             "message": "identifies the person: change it through a correction"})
    if problems:
        raise _problems("the change is not valid", problems)
    if not clean:
        raise InvalidInput("nothing to change")
    return clean


def update_person(session: Session, emit, principal: Principal, person_id: str, *, changes: dict, reason: str,
                  document_ref: str | None = None, document_date: str | None = None) -> dict:
    person = writable(session, principal, person_id)
    reason, ref, when = versions.document_args(reason, document_ref, document_date, required=False)
    if not reason:
        raise InvalidInput("a reason is required for every change", [{"field": "reason", "message": "is required"}])
    clean = validate_changes(session, changes)
    before = person_dict(person)
    _apply_changes(session, person, clean)
    versions.record(session, principal, entity_type="person", entity_id=person.id, person_id=person.id,
                    version=person.version, snapshot=_snapshot(person), kind="change", tenant_id=principal.tenant_id,
                    reason=reason, document_ref=ref, document_date=when)
    emit(session, "person_changed", entity_type="person", entity_id=person.id, after=person_dict(person),
         before=before, reason=reason)
    return full_dict(person)


def change_status(session: Session, emit, principal: Principal, person_id: str, *, status: str, reason: str,
                  document_ref: str, document_date: str) -> dict:
    """A status change (withdrawal, expulsion, death, graduation...) rests on a dated document:
    REG-3 counts the working days from it to this record."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    person = writable(session, principal, person_id)
    reason, ref, when = versions.document_args(reason, document_ref, document_date, required=True)
    before = person_dict(person)
    person.status, person.version = status, person.version + 1
    versions.record(session, principal, entity_type="person", entity_id=person.id, person_id=person.id,
                    version=person.version, snapshot=_snapshot(person), kind="status_change",
                    tenant_id=principal.tenant_id, reason=reason, document_ref=ref, document_date=when,
                    status_change=True)
    emit(session, "person_status_changed", entity_type="person", entity_id=person.id, after=person_dict(person),
         before=before, reason=reason)
    return person_dict(person)


# --- corrections of archived records ---------------------------------------------------------

def _correction_dict(c: Correction) -> dict:
    return {"id": c.id, "person_id": c.person_id, "tenant_id": c.tenant_id, "status": c.status, "reason": c.reason,
            "document_ref": c.document_ref, "document_date": c.document_date.isoformat(),
            "fields": sorted(f"{s}.{k}" for s, v in c.changes.items() for k in v)}


def request_correction(session: Session, emit, principal: Principal, person_id: str, *, changes: dict, reason: str,
                       document_ref: str, document_date: str) -> dict:
    person = writable(session, principal, person_id, archive_ok=True)
    reason, ref, when = versions.document_args(reason, document_ref, document_date, required=True)
    allowed, year = Vocabulary(session), current_academic_year(date.today())
    clean, problems = {}, []
    for name, values in (changes or {}).items():
        if name not in SECTIONS or not isinstance(values, dict):
            problems.append({"field": name, "message": "is not a section of the person record"})
            continue
        clean[name], found = validate_section(SECTIONS[name], values, year, allowed, prefix=f"{name}.", partial=True)
        problems += found
    if problems:
        raise _problems("the correction is not valid", problems)
    if not clean:
        raise InvalidInput("nothing to correct")
    row = Correction(person_id=person.id, tenant_id=principal.tenant_id, changes=clean, reason=reason,
                     document_ref=ref, document_date=when, requested_by=principal.user_id)
    session.add(row)
    session.flush()
    emit(session, "correction_requested", entity_type="correction", entity_id=row.id, after=_correction_dict(row),
         reason=reason)
    return _correction_dict(row)


def list_corrections(session: Session, principal: Principal, *, status: str | None, limit, offset) -> dict:
    require(principal, *WRITERS, Role.CENTRAL_AUTHORITY, scope="registry:write")
    limit, offset = page_args(limit, offset)
    q = select(Correction).order_by(Correction.created_at)
    if not _is_central(principal):
        q = q.where(Correction.tenant_id == principal.tenant_id)
    if status:
        q = q.where(Correction.status == status)
    return {"items": [_correction_dict(c) for c in session.scalars(q.limit(limit).offset(offset))]}


def decide_correction(session: Session, emit, principal: Principal, correction_id: str, *, approve: bool) -> dict:
    require(principal, Role.CENTRAL_AUTHORITY)
    c = session.get(Correction, correction_id)
    if c is None:
        raise NotFound("correction not found")
    if c.status != "pending":
        raise Conflict(f"this correction was already {c.status}")
    c.status, c.decided_by = ("approved" if approve else "rejected"), principal.user_id
    if approve:
        apply_correction(session, emit, principal, session.get(Person, c.person_id), c.changes, kind="correction",
                         fact="person_corrected", tenant_id=c.tenant_id, reason=c.reason, document_ref=c.document_ref,
                         document_date=c.document_date)
    emit(session, "correction_approved" if approve else "correction_rejected", entity_type="correction",
         entity_id=c.id, after=_correction_dict(c), tenant_id=c.tenant_id)
    return _correction_dict(c)


def apply_correction(session: Session, emit, principal: Principal, person: Person, changes: dict, *, kind: str,
                     fact: str, tenant_id: str, reason: str, document_ref: str | None, document_date) -> Person:
    """An approved correction (or rectification) as a new version of the record (REG-8),
    identity columns included: CNP, foreign id, citizenship, birth date, sex."""
    before = person_dict(person)
    personal = changes.get("personal", {})
    _apply_changes(session, person, changes)
    for key in ("cnp", "foreign_id", "citizenship", "sex"):
        if key in personal:
            setattr(person, key, personal[key])
    if "birth_date" in personal:
        person.birth_date = date.fromisoformat(personal["birth_date"]) if personal["birth_date"] else None
    versions.record(session, principal, entity_type="person", entity_id=person.id, person_id=person.id,
                    version=person.version, snapshot=_snapshot(person), kind=kind, tenant_id=tenant_id,
                    reason=reason, document_ref=document_ref, document_date=document_date)
    emit(session, fact, entity_type="person", entity_id=person.id, after=person_dict(person), before=before,
         reason=reason, tenant_id=tenant_id)
    return person


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()
