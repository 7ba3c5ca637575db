"""Grades' part of a person's export (CAT-11 access and portability), asked for by auth's export job.

`subject = {"tenant_id", "person_id" (the registry person, a pupil), "account_id"}`; the answer is
`{"items": [{"section", "record"}], "next_cursor"}`, paged until `next_cursor` is None. Sections, in
this order: grades (current state), grade_versions, absences, period_marks (final qualifiers and
conduct), year_results, grade_disputes, motivation_requests. The pupil's records come by
`person_id`; the requests an account made (a parent's disputes and motivation requests) also by
`account_id`. Within a section the pages are keyset pages by primary key; the cursor is
`base64url(JSON {"s": section index, "a": last id})`. The shape of every record is in
`docs/schemas/subject-export/grades.v1.schema.json`.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import date

from sqlalchemy import or_, select

from services.kernel import subject_parts
from services.kernel.errors import InvalidInput

from .models import Absence, FinalMark, Grade, GradeDispute, GradeVersion, MotivationRequest, YearResult

MAX_LIMIT = 1000


def record(row, *, drop=("tenant_id",)) -> dict:
    """A row as a JSON object: every column but the tenant, dates as ISO text."""
    out = {}
    for column in row.__table__.columns:
        if column.name in drop:
            continue
        value = getattr(row, column.name)
        out[column.name] = value.isoformat() if isinstance(value, date) else value
    return out


def _period_mark(m: FinalMark) -> dict:
    out = record(m)
    out["subject_id"] = None if out.pop("subject_key") == "-" else m.subject_key
    return out


def _sections(tenant: str, person: str | None, account: str | None):
    """(name, model, condition, to_record) per section; None condition: nothing for this subject."""
    pupil_grades = select(Grade.id).where(Grade.tenant_id == tenant, Grade.student_id == person)
    by_person = person is not None

    def either(person_col, account_col):
        conds = ([person_col == person] if person else []) + ([account_col == account] if account else [])
        return or_(*conds) if conds else None

    return [  # the order of SECTIONS
        ("grades", Grade, (Grade.student_id == person) if by_person else None, record),
        ("grade_versions", GradeVersion, GradeVersion.grade_id.in_(pupil_grades) if by_person else None, record),
        ("absences", Absence, (Absence.student_id == person) if by_person else None, record),
        ("period_marks", FinalMark, (FinalMark.student_id == person) if by_person else None, _period_mark),
        ("year_results", YearResult, (YearResult.student_id == person) if by_person else None, record),
        ("grade_disputes", GradeDispute, either(GradeDispute.student_id, GradeDispute.requester_id),
         record),
        ("motivation_requests", MotivationRequest,
         either(MotivationRequest.student_id, MotivationRequest.parent_id), record),
    ]


SECTIONS = ("grades", "grade_versions", "absences", "period_marks", "year_results", "grade_disputes",
            "motivation_requests")


def _encode(section: int, after: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": section, "a": after}).encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[int, str | None]:
    if cursor in (None, ""):
        return 0, None
    try:
        raw = json.loads(base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)))
        section, after = int(raw["s"]), raw["a"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("cursor is not one this service gave") from exc
    if not 0 <= section < len(SECTIONS) or not (after is None or isinstance(after, str)):
        raise InvalidInput("cursor is not one this service gave")
    return section, after


def _subject(subject) -> tuple[str, str | None, str | None]:
    checked = subject_parts.clean_subject(subject)  # the shape every service's part shares
    return checked["tenant_id"], checked["person_id"], checked["account_id"]


def export_part(session, subject, cursor: str | None = None, limit: int = 500) -> dict:
    tenant, person, account = _subject(subject)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}")
    index, after = _decode(cursor)
    sections = _sections(tenant, person, account)
    items: list[dict] = []
    while index < len(sections):
        name, model, condition, to_record = sections[index]
        if condition is not None:
            q = select(model).where(model.tenant_id == tenant, condition)
            if after is not None:
                q = q.where(model.id > after)
            rows = session.scalars(q.order_by(model.id).limit(limit - len(items))).all()
            items += [{"section": name, "record": to_record(r)} for r in rows]
            if len(items) >= limit:
                last = rows[-1].id
                more = session.scalar(select(model.id).where(model.tenant_id == tenant, condition, model.id > last)
                                      .limit(1))
                if more is not None:
                    return {"items": items, "next_cursor": _encode(index, last)}
                return {"items": items, "next_cursor": _encode(index + 1, None) if index + 1 < len(sections)
                        else None}
        index, after = index + 1, None
    return {"items": items, "next_cursor": None}
