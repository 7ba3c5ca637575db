"""Reading the audit trail: who sees what, cursor pages, entity history, proofs."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import page_args

from . import merkle
from .log import node_getter
from .models import AuditEntry, SignedCheckpoint

READERS = (Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY)
# what the central authority oversees: the student registry, every institution's
CENTRAL_AUTHORITY_TYPES = "registry."


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def entry_dict(e: AuditEntry) -> dict:
    """`sequence` is the 1-based position in the log (leaf index + 1), the page cursor."""
    return {**orjson.loads(e.envelope), "sequence": e.leaf_index + 1, "leaf_index": e.leaf_index,
            "recorded_at": e.recorded_at}


def _visible(q, principal: Principal, tenant_id: str | None):
    """Operator: everything (optionally one tenant). Central authority: registry entries.
    A school's director or administrator: their own institution only."""
    if Role.OPERATOR in principal.roles:
        return q.where(AuditEntry.tenant_id == tenant_id) if tenant_id else q
    if Role.CENTRAL_AUTHORITY in principal.roles:
        q = q.where(AuditEntry.type.startswith(CENTRAL_AUTHORITY_TYPES, autoescape=True))
        return q.where(AuditEntry.tenant_id == tenant_id) if tenant_id else q
    return q.where(AuditEntry.tenant_id == principal.tenant_id)


def _iso(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} is not an ISO 8601 date and time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def latest_checkpoint(session: Session) -> SignedCheckpoint | None:
    return session.scalars(select(SignedCheckpoint).order_by(SignedCheckpoint.id.desc()).limit(1)).first()


def query(session: Session, principal: Principal, *, type: str | None = None, entity_type: str | None = None,
          entity_id: str | None = None, actor_id: str | None = None, tenant_id: str | None = None,
          correlation_id: str | None = None, since: str | None = None, until: str | None = None,
          after_sequence: int | None = None, limit: int | None = None, with_proofs: bool = False) -> dict:
    """Cursor pagination on the log position: consecutive in commit order (the sequencer), so
    a page never skips an entry that commits later."""
    require(principal, *READERS)
    limit, _ = page_args(limit, 0)
    q = _visible(select(AuditEntry).where(AuditEntry.leaf_index.is_not(None)), principal, tenant_id)
    for column, value in ((AuditEntry.type, type), (AuditEntry.entity_type, entity_type),
                          (AuditEntry.entity_id, entity_id), (AuditEntry.actor_id, actor_id),
                          (AuditEntry.correlation_id, correlation_id)):
        if value:
            q = q.where(column == value)
    since, until = _iso(since, "since"), _iso(until, "until")
    if since:
        q = q.where(AuditEntry.occurred_at >= since)
    if until:
        q = q.where(AuditEntry.occurred_at < until)
    if after_sequence is not None:
        q = q.where(AuditEntry.leaf_index >= int(after_sequence))  # sequence = leaf index + 1
    rows = session.scalars(q.order_by(AuditEntry.leaf_index).limit(limit + 1)).all()
    items = [entry_dict(e) for e in rows[:limit]]
    page = {"items": items, "next_after_sequence": items[-1]["sequence"] if len(rows) > limit else None}
    if with_proofs:
        checkpoint = latest_checkpoint(session)
        page["checkpoint"] = checkpoint.note if checkpoint else None
        getter = node_getter(session)
        for item, row in zip(items, rows):
            item["proof"] = _proof(row, checkpoint, getter)
    return page


def _proof(row: AuditEntry, checkpoint: SignedCheckpoint | None, getter) -> dict | None:
    if checkpoint is None or row.leaf_index >= checkpoint.size:
        return None  # not yet covered by a signed checkpoint (within a second)
    return {"leaf_index": row.leaf_index, "tree_size": checkpoint.size, "leaf_hash": b64(row.leaf_hash),
            "hashes": [b64(h) for h in merkle.inclusion_proof(row.leaf_index, checkpoint.size, getter)]}


def entity_history(session: Session, principal: Principal, *, entity_type: str, entity_id: str,
                   after_sequence: int | None = None, limit: int | None = None, with_proofs: bool = False) -> dict:
    """Every change to one record, oldest first: who, when, why, before and after."""
    page = query(session, principal, entity_type=entity_type, entity_id=entity_id, after_sequence=after_sequence,
                 limit=limit, with_proofs=with_proofs)
    page["items"] = [{**item, "who": item["actor"], "when": item["occurred_at"], "why": item.get("reason"),
                      "before": item["data"].get("before"), "after": item["data"].get("after")}
                     for item in page["items"]]
    return page


def inclusion_proof(session: Session, principal: Principal, *, event_id: str, tree_size: int | None = None) -> dict:
    require(principal, *READERS)
    row = session.scalars(_visible(select(AuditEntry).where(AuditEntry.event_id == event_id),
                                   principal, None)).first()
    if row is None or row.leaf_index is None:
        raise NotFound("audit entry not found")
    checkpoint = _checkpoint_at(session, tree_size)
    if row.leaf_index >= checkpoint.size:
        raise NotFound("this entry is not covered by a signed checkpoint yet; ask again in a second")
    return {"entry": entry_dict(row), "leaf_index": row.leaf_index, "tree_size": checkpoint.size,
            "leaf_hash": b64(row.leaf_hash), "checkpoint": checkpoint.note,
            "hashes": [b64(h) for h in merkle.inclusion_proof(row.leaf_index, checkpoint.size,
                                                              node_getter(session))]}


def _checkpoint_at(session: Session, size: int | None) -> SignedCheckpoint:
    if size is None:
        checkpoint = latest_checkpoint(session)
    else:
        checkpoint = session.scalars(select(SignedCheckpoint).where(SignedCheckpoint.size == int(size))).first()
    if checkpoint is None:
        raise NotFound("no signed checkpoint of that size" if size is not None else "no checkpoint signed yet")
    return checkpoint


def consistency_proof(session: Session, principal: Principal, *, first: int, second: int | None = None) -> dict:
    require(principal, *READERS)
    old, new = _checkpoint_at(session, first), _checkpoint_at(session, second)
    if old.size > new.size:
        raise InvalidInput("the first checkpoint must not be larger than the second")
    hashes = merkle.consistency_proof(old.size, new.size, node_getter(session)) if old.size else []
    return {"first": {"size": old.size, "note": old.note}, "second": {"size": new.size, "note": new.note},
            "hashes": [b64(h) for h in hashes]}


def checkpoints(session: Session, principal: Principal, *, after_size: int | None = None,
                limit: int | None = None) -> dict:
    require(principal, *READERS)
    limit, _ = page_args(limit, 0)
    q = select(SignedCheckpoint).order_by(SignedCheckpoint.id)
    if after_size is not None:
        q = q.where(SignedCheckpoint.size > int(after_size))
    rows = session.scalars(q.limit(limit + 1)).all()
    items = [{"size": c.size, "root": b64(c.root), "issued_at": c.issued_at, "note": c.note} for c in rows[:limit]]
    return {"items": items, "next_after_size": items[-1]["size"] if len(rows) > limit else None}
