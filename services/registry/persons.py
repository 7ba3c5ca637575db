"""Person registration and look-up, tenant-scoped (REG-1, REG-6)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text

from .models import Person, PersonLink
from .rules import new_matriculation_code, parse_cnp

WRITERS = (Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK)
READERS = (Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY)


def person_dict(p: Person) -> dict:
    return {
        "id": p.id, "matriculation_code": p.matriculation_code, "last_name": p.last_name,
        "first_name": p.first_name, "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "sex": p.sex, "cnp_masked": f"{p.cnp[0]}******{p.cnp[7:]}" if p.cnp else None, "version": p.version,
    }


def _parse_date(value: str | None, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be a date YYYY-MM-DD") from exc


def register_person(session: Session, emit, principal: Principal, *, last_name: str, first_name: str,
                    cnp: str, birth_date: str | None = None) -> dict:
    """New person → new code; a CNP already known → the same person and code, linked here."""
    require(principal, *WRITERS, scope="registry:write")
    parsed = parse_cnp(cnp)
    last_name = clean_text(last_name, field="last_name", max_len=100)
    first_name = clean_text(first_name, field="first_name", max_len=100)
    given_birth = _parse_date(birth_date, "birth_date")
    if parsed["birth_date"] and given_birth and given_birth != parsed["birth_date"]:
        raise InvalidInput("birth_date does not match the CNP")
    person = session.scalar(select(Person).where(Person.cnp == parsed["cnp"]))
    created = person is None
    if created:
        code = new_matriculation_code()
        while session.scalar(select(Person.id).where(Person.matriculation_code == code)):
            code = new_matriculation_code()
        person = Person(matriculation_code=code, cnp=parsed["cnp"], last_name=last_name, first_name=first_name,
                        birth_date=parsed["birth_date"] or given_birth, sex=parsed["sex"])
        session.add(person)
        session.flush()
        emit(session, "person_registered", entity_type="person", entity_id=person.id, after=person_dict(person))
    linked = session.scalar(select(PersonLink).where(PersonLink.person_id == person.id,
                                                     PersonLink.tenant_id == principal.tenant_id))
    if linked is None:
        session.add(PersonLink(person_id=person.id, tenant_id=principal.tenant_id))
        session.flush()
        emit(session, "person_linked", entity_type="person", entity_id=person.id,
             after={"person_id": person.id, "tenant_id": principal.tenant_id})
    elif not created:
        raise Conflict("this person is already registered by your institution")
    return {**person_dict(person), "created": created}


def get_person(session: Session, principal: Principal, person_id: str) -> dict:
    if principal.person_id == person_id:
        person = session.get(Person, person_id)
        if person:
            return person_dict(person)
    require(principal, *READERS, scope="registry:read")
    q = select(Person).where(Person.id == person_id)
    if Role.CENTRAL_AUTHORITY not in principal.roles:
        q = q.join(PersonLink, PersonLink.person_id == Person.id).where(PersonLink.tenant_id == principal.tenant_id)
    person = session.scalar(q)
    if person is None:
        raise NotFound("person not found")
    return person_dict(person)


def find_own_person_by_cnp(session: Session, principal: Principal, cnp: str) -> dict:
    """A person this institution registered, found by CNP (to resume an interrupted enrolment)."""
    require(principal, *WRITERS)
    parsed = parse_cnp(cnp)
    person = session.scalar(select(Person).join(PersonLink, PersonLink.person_id == Person.id).where(
        Person.cnp == parsed["cnp"], PersonLink.tenant_id == principal.tenant_id))
    if person is None:
        raise NotFound("person not found")
    return {**person_dict(person), "created": False}
