"""The audit trail: store every envelope once, read it back per tenant."""
from __future__ import annotations

import json
import time

import orjson

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.db import insert_ignoring_duplicates
from services.kernel.events import Envelope
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import page_args

from .models import AuditEntry

READERS = (Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN)
# On PostgreSQL concurrent consumers commit out of id order: an entry with a lower id may
# become visible after a reader's cursor has passed it. Entries younger than this margin
# (far longer than a consumer transaction) are left for the next page.
VISIBILITY_MARGIN_SECONDS = 2.0


def store_events(session: Session, envelopes: list[Envelope]) -> None:
    """One INSERT for a batch; an event_id already recorded (a redelivery) is skipped."""
    now = time.time()
    insert_ignoring_duplicates(session, AuditEntry.__table__, [dict(
        event_id=e.event_id, type=e.type, tenant_id=e.tenant_id, actor_id=e.actor.id, actor_role=e.actor.role,
        entity_type=e.entity.type, entity_id=e.entity.id, reason=e.reason, occurred_at=e.occurred_at,
        recorded_at=now, correlation_id=e.correlation_id,
        envelope=orjson.dumps(e.to_dict()).decode("utf-8")) for e in envelopes])


def entry_dict(e: AuditEntry) -> dict:
    return {**json.loads(e.envelope), "sequence": e.id, "recorded_at": e.recorded_at}


def list_events(session: Session, principal: Principal, *, type: str | None = None,
                entity_type: str | None = None, entity_id: str | None = None, tenant_id: str | None = None,
                after_sequence: int | None = None, limit: int | None = None) -> dict:
    """Cursor pagination on the sequence number: stable while new events keep arriving."""
    require(principal, *READERS)
    limit, _ = page_args(limit, 0)
    q = select(AuditEntry)
    if Role.OPERATOR in principal.roles:
        if tenant_id:
            q = q.where(AuditEntry.tenant_id == tenant_id)
    else:
        q = q.where(AuditEntry.tenant_id == principal.tenant_id)
    if type:
        q = q.where(AuditEntry.type == type)
    if entity_type:
        q = q.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id)
    if after_sequence:
        q = q.where(AuditEntry.id > int(after_sequence))
    if session.get_bind().dialect.name == "postgresql":
        q = q.where(AuditEntry.recorded_at <= time.time() - VISIBILITY_MARGIN_SECONDS)
    rows = session.scalars(q.order_by(AuditEntry.id).limit(limit + 1)).all()
    items = [entry_dict(e) for e in rows[:limit]]
    return {"items": items, "next_after_sequence": items[-1]["sequence"] if len(rows) > limit else None}
