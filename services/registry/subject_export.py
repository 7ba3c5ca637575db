"""The registry's part of a person's export (access and portability, CAT-11; RIGHTS_CONTRACT §2).

Sections, in this order: `person` (the current record, the sealed fields opened: the person is
the reader), `person_versions` (every version of the record, and of the institution's
enrolments and diplomas of the person), `enrolments`, `diplomas`, `rectification_requests`,
`processing_restrictions`. Everything is of the subject's institution (tenant) except the
person's record and its versions, which are one per human (REG-1). Without a person id, or for
a person that institution never registered, only the rectification requests the account made
are given. The cursor is `"<section index>:<offset>"`; its format is this module's own."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput

from .enrolments import diploma_dict, enrolment_dict
from .models import Diploma, Enrolment, Person, PersonLink, ProcessingRestriction, RecordVersion, RectificationRequest
from .persons import full_dict
from .rectifications import request_dict
from .restrictions import period_dict
from .sealing import unseal
from .versions import version_dict

Fetch = Callable[[Session, str, "str | None", "str | None", int, int], list[dict]]


def _person(session, tenant, pid, aid, offset, limit) -> list[dict]:
    if pid is None or offset > 0:
        return []
    p = session.get(Person, pid)
    record = full_dict(p, sensitive=unseal(p.id, p.sensitive))
    record["personal"]["cnp"] = p.cnp  # the person's own identifier, shown to the person
    record.update({"cnp": p.cnp, "foreign_id": p.foreign_id})
    return [record]


def _versions(session, tenant, pid, aid, offset, limit) -> list[dict]:
    if pid is None:
        return []
    v = RecordVersion
    rows = session.scalars(select(v).where(v.person_id == pid, or_(v.entity_type == "person", v.tenant_id == tenant))
                           .order_by(v.recorded_at, v.entity_type, v.entity_id, v.version, v.id)
                           .offset(offset).limit(limit)).all()
    out = []
    for row in rows:
        record = version_dict(row)
        sealed = (row.snapshot or {}).get("sensitive")
        if sealed and row.entity_type == "person":
            record["data"]["sensitive"] = unseal(pid, sealed)
        out.append(record)
    return out


def _of_the_institution(model, as_dict, order: str) -> Fetch:
    """A section of the person's rows of one table in the subject's institution, in `order`."""
    def fetch(session, tenant, pid, aid, offset, limit) -> list[dict]:
        if pid is None:
            return []
        rows = session.scalars(select(model).where(model.person_id == pid, model.tenant_id == tenant)
                               .order_by(getattr(model, order), model.id).offset(offset).limit(limit))
        return [as_dict(row) for row in rows]
    return fetch


def _rectifications(session, tenant, pid, aid, offset, limit) -> list[dict]:
    r = RectificationRequest
    about = [r.person_id == pid] if pid else []
    made = [r.requester_id == aid] if aid else []
    if not about + made:
        return []
    rows = session.scalars(select(r).where(r.tenant_id == tenant, or_(*about, *made))
                           .order_by(r.created_at, r.id).offset(offset).limit(limit))
    return [request_dict(row, open_sealed=row.person_id == pid) for row in rows]


SECTIONS: tuple[tuple[str, Fetch], ...] = (
    ("person", _person), ("person_versions", _versions),
    ("enrolments", _of_the_institution(Enrolment, enrolment_dict, "created_at")),
    ("diplomas", _of_the_institution(Diploma, diploma_dict, "created_at")),
    ("rectification_requests", _rectifications),
    ("processing_restrictions", _of_the_institution(ProcessingRestriction, period_dict, "set_at")))


def _parse(cursor: str | None) -> tuple[int, int]:
    if cursor is None:
        return 0, 0
    try:
        index, offset = (int(part) for part in str(cursor).split(":"))
    except ValueError as exc:
        raise InvalidInput("cursor is not one this service gave") from exc
    if not (0 <= index < len(SECTIONS) and offset >= 0):
        raise InvalidInput("cursor is not one this service gave")
    return index, offset


def registered_here(session: Session, tenant_id: str, person_id: str | None) -> bool:
    return person_id is not None and session.scalar(select(PersonLink.id).where(
        PersonLink.person_id == person_id, PersonLink.tenant_id == tenant_id)) is not None


def export_part(session: Session, subject: dict, *, cursor: str | None, limit: int) -> dict:
    tenant, aid = subject["tenant_id"], subject.get("account_id")
    pid = subject.get("person_id") if registered_here(session, tenant, subject.get("person_id")) else None
    index, offset = _parse(cursor)
    items: list[dict] = []
    while index < len(SECTIONS) and len(items) < limit:
        name, fetch = SECTIONS[index]
        room = limit - len(items)
        records = fetch(session, tenant, pid, aid, offset, room + 1)
        items += [{"section": name, "record": record} for record in records[:room]]
        if len(records) > room:
            offset += room
            break
        index, offset = index + 1, 0
    return {"items": items, "next_cursor": f"{index}:{offset}" if index < len(SECTIONS) else None}
