"""Every change is a new version (REG-8): who, when, why, on which administrative document."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput
from services.kernel.identity import Principal
from services.kernel.validation import clean_text

from .models import RecordVersion

LEGAL_NO_DELETE = ("nothing is ever deleted from the matriculation registry: OMEN 3666/2016, annex, art. 7 k) "
                   "and art. 8 j) forbid erasing any information about a student, even at their written "
                   "request; a mistake is corrected by a new version (PATCH, or a correction approved by the "
                   "central authority once the record is archived)")


def document_args(reason: str | None, document_ref: str | None, document_date: str | None, *,
                  required: bool) -> tuple[str | None, str | None, date | None]:
    reason = clean_text(reason, field="reason", max_len=500) if (reason or required) else None
    ref = clean_text(document_ref, field="document_ref", max_len=120) if (document_ref or required) else None
    when = None
    if document_date or required:
        try:
            when = date.fromisoformat(document_date or "")
        except ValueError as exc:
            raise InvalidInput("document_date must be a date YYYY-MM-DD",
                               [{"field": "document_date", "message": "must be a date YYYY-MM-DD"}]) from exc
        if when > datetime.now(timezone.utc).date():
            raise InvalidInput("document_date is in the future",
                               [{"field": "document_date", "message": "is in the future"}])
    return reason, ref, when


def record(session: Session, principal: Principal | None, *, entity_type: str, entity_id: str, person_id: str,
           version: int, snapshot: dict, kind: str, tenant_id: str, reason: str | None = None,
           document_ref: str | None = None, document_date: date | None = None, status_change: bool = False,
           actor: tuple[str, str] | None = None) -> RecordVersion:
    actor_id, actor_role = actor or ((principal.user_id, principal.role) if principal else ("system", "system"))
    row = RecordVersion(entity_type=entity_type, entity_id=entity_id, person_id=person_id, version=version,
                        tenant_id=tenant_id, actor_id=actor_id, actor_role=actor_role, kind=kind, reason=reason,
                        document_ref=document_ref, document_date=document_date, status_change=status_change,
                        recorded_on=datetime.now(timezone.utc).date(), snapshot=snapshot)
    session.add(row)
    return row


def version_dict(v: RecordVersion) -> dict:
    snapshot = dict(v.snapshot)
    if snapshot.pop("sensitive", None):
        snapshot["sensitive_sealed"] = True
    return {"entity_type": v.entity_type, "entity_id": v.entity_id, "version": v.version, "kind": v.kind,
            "actor": {"id": v.actor_id, "role": v.actor_role}, "tenant_id": v.tenant_id,
            "recorded_at": datetime.fromtimestamp(v.recorded_at, timezone.utc).isoformat(),
            "reason": v.reason, "document_ref": v.document_ref,
            "document_date": v.document_date.isoformat() if v.document_date else None, "data": snapshot}


def history(session: Session, person_id: str, *, limit: int, offset: int) -> list[dict]:
    rows = session.scalars(select(RecordVersion).where(RecordVersion.person_id == person_id)
                           .order_by(RecordVersion.recorded_at, RecordVersion.entity_type, RecordVersion.version)
                           .limit(limit).offset(offset))
    return [version_dict(v) for v in rows]
