"""The audit trail's part of a person's export (CAT-11; RIGHTS_CONTRACT §2): section
`audit_entries`, the entries of the subject's institution whose entity id or actor id is the
person id or the account id, in log order. The cursor is the next leaf index (as text): the
log only grows, so a page never skips an entry that was already sequenced."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput

from .models import AuditEntry
from .trail import entry_dict

SECTION = "audit_entries"


def export_part(session: Session, subject: dict, *, cursor: str | None, limit: int) -> dict:
    ids = sorted({i for i in (subject.get("person_id"), subject.get("account_id")) if i})
    if not ids:
        return {"items": [], "next_cursor": None}
    try:
        start = int(cursor) if cursor is not None else 0
    except ValueError as exc:
        raise InvalidInput("cursor is not one this service gave") from exc
    if start < 0:
        raise InvalidInput("cursor is not one this service gave")
    e = AuditEntry
    rows = session.scalars(select(e).where(
        e.tenant_id == subject["tenant_id"], e.leaf_index.is_not(None), e.leaf_index >= start,
        or_(e.entity_id.in_(ids), e.actor_id.in_(ids))).order_by(e.leaf_index).limit(limit + 1)).all()
    items = [{"section": SECTION, "record": entry_dict(row)} for row in rows[:limit]]
    return {"items": items, "next_cursor": str(rows[limit].leaf_index) if len(rows) > limit else None}
