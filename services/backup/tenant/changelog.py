"""The continuous change log (CAT-6/CAT-7 at tenant level): every mutation event's envelope,
after-image included, stored per tenant as it arrives, with its lag; idempotent on event_id.
Also keeps the newest signed audit checkpoint per tenant (and a global one) for manifests."""
from __future__ import annotations

import time
from datetime import datetime

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.kernel.db import dialect_insert, insert_ignoring_duplicates
from services.kernel.events import Envelope

from .metrics import CHANGELOG_LAG
from .models import AuditCheckpoint, TenantChange

CHECKPOINT_EVENT = "audit.checkpoint_signed"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def record(session: Session, envelopes: list[Envelope], *, now: float | None = None) -> int:
    """Store the tenant events among `envelopes` (the inbox already dropped redeliveries; the
    primary key on event_id makes a second copy a no-op anyway). Returns how many are new."""
    now = time.time() if now is None else now
    rows = []
    for e in envelopes:
        if e.type == CHECKPOINT_EVENT:
            keep_checkpoint(session, e)
        if not e.tenant_id:
            continue  # platform-wide events (a failed login of an unknown e-mail) belong to no school
        occurred = _epoch(e.occurred_at)
        lag_ms = max(0.0, (now - occurred) * 1000.0)
        CHANGELOG_LAG.observe(lag_ms)
        rows.append({"event_id": e.event_id, "tenant_id": e.tenant_id, "type": e.type,
                     "entity_type": e.entity.type[:60], "entity_id": e.entity.id[:64], "occurred_at": occurred,
                     "received_at": now, "lag_ms": lag_ms, "envelope": orjson.dumps(e.to_dict()).decode()})
    return len(insert_ignoring_duplicates(session, TenantChange.__table__, rows,
                                          returning=TenantChange.__table__.c.event_id))


def keep_checkpoint(session: Session, e: Envelope) -> None:
    scope = e.tenant_id or "*"
    occurred = _epoch(e.occurred_at)
    table = AuditCheckpoint.__table__
    statement = dialect_insert(session)(table).values(
        scope=scope, event_id=e.event_id, occurred_at=occurred,
        checkpoint=orjson.dumps((e.data or {}).get("after") or {}).decode())
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.scope],
        set_={"event_id": statement.excluded.event_id, "occurred_at": statement.excluded.occurred_at,
              "checkpoint": statement.excluded.checkpoint},
        where=table.c.occurred_at < statement.excluded.occurred_at))


def latest_checkpoint(session: Session, tenant_id: str) -> dict | None:
    """The tenant's own newest checkpoint, else the newest global one."""
    rows = {r.scope: r for r in session.scalars(
        select(AuditCheckpoint).where(AuditCheckpoint.scope.in_([tenant_id, "*"])))}
    row = rows.get(tenant_id) or rows.get("*")
    if row is None:
        return None
    return {"event_id": row.event_id, "scope": row.scope, "occurred_at": row.occurred_at,
            "checkpoint": orjson.loads(row.checkpoint)}


def unsealed(session: Session, tenant_id: str, before: float, after_event: tuple[float, str] | None,
             limit: int) -> list[TenantChange]:
    """A page of the tenant's change log not yet sealed in an incremental set, by time."""
    query = (select(TenantChange).where(TenantChange.tenant_id == tenant_id, TenantChange.sealed_in.is_(None),
                                        TenantChange.received_at < before)
             .order_by(TenantChange.occurred_at, TenantChange.event_id).limit(limit))
    if after_event is not None:
        t, eid = after_event
        query = query.where((TenantChange.occurred_at > t) | ((TenantChange.occurred_at == t) &
                                                               (TenantChange.event_id > eid)))
    return list(session.scalars(query))


def seal(session: Session, event_ids: list[str], set_id: str) -> None:
    for start in range(0, len(event_ids), 500):
        session.execute(update(TenantChange).where(TenantChange.event_id.in_(event_ids[start:start + 500]))
                        .values(sealed_in=set_id))


def count_after(session: Session, tenant_id: str, after: float) -> int:
    from sqlalchemy import func
    return session.scalar(select(func.count()).select_from(TenantChange).where(
        TenantChange.tenant_id == tenant_id, TenantChange.occurred_at > after)) or 0


def summary(session: Session, tenant_id: str) -> dict:
    from sqlalchemy import func
    total, unsealed_n = session.execute(select(func.count(), func.count().filter(TenantChange.sealed_in.is_(None)))
                                        .where(TenantChange.tenant_id == tenant_id)).one()
    last = session.execute(select(TenantChange.received_at, TenantChange.lag_ms)
                           .where(TenantChange.tenant_id == tenant_id)
                           .order_by(TenantChange.received_at.desc()).limit(1)).first()
    return {"events": total, "unsealed": unsealed_n, "last_lag_ms": round(last.lag_ms, 2) if last else None,
            "last_received_at": datetime.fromtimestamp(last.received_at).astimezone().isoformat() if last else None}
