"""The offline verification kit: a tenant's entries, each with its inclusion proof against the
latest signed checkpoint, the checkpoints with consistency proofs between consecutive ones,
and the log's verifier key. `tools/verify_audit_kit.py` checks it with the standard library
and `cryptography` only."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require

from . import merkle
from .log import node_getter
from .models import AuditEntry, SignedCheckpoint
from .trail import b64, latest_checkpoint

KIT_FORMAT = "catalog-platform/audit-kit/v1"
PAGE = 1000


def export_kit(session: Session, principal: Principal, keeper, *, tenant_id: str | None = None,
               after_sequence: int | None = None, limit: int | None = None, max_checkpoints: int = 50) -> dict:
    """One page of the kit (`limit` entries after `after_sequence`, at most 5,000); every page
    is checkable on its own against the same kind of signed checkpoint."""
    require(principal, Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN)
    if Role.OPERATOR not in principal.roles:
        tenant_id = principal.tenant_id  # a school exports its own entries only
    if not tenant_id:
        raise InvalidInput("name the institution (tenant_id) whose entries to export")
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        raise NotFound("no checkpoint signed yet")
    getter = node_getter(session)
    limit = max(1, min(int(limit or PAGE), 5000))
    q = (select(AuditEntry.leaf_index, AuditEntry.envelope)
         .where(AuditEntry.tenant_id == tenant_id, AuditEntry.leaf_index < checkpoint.size))
    if after_sequence is not None:
        q = q.where(AuditEntry.leaf_index > int(after_sequence))
    rows = session.execute(q.order_by(AuditEntry.leaf_index).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    proofs = merkle.inclusion_proofs([i for i, _b in rows], checkpoint.size, getter)
    entries = [{"leaf_index": i, "envelope": body, "inclusion_proof": [b64(h) for h in proof]}
               for (i, body), proof in zip(rows, proofs)]
    cps = session.execute(select(SignedCheckpoint.size, SignedCheckpoint.note)
                          .order_by(SignedCheckpoint.id.desc()).limit(max_checkpoints)).all()[::-1]
    chain = []
    for (size1, _n1), (size2, note2) in zip(cps, cps[1:]):
        chain.append({"from": size1, "to": size2, "note": note2,
                      "proof": [b64(h) for h in merkle.consistency_proof(size1, size2, getter)] if size1 else []})
    return {"format": KIT_FORMAT, "origin": keeper.signer.origin, "verifier_key": keeper.verifier_key,
            "tenant_id": tenant_id, "checkpoint": checkpoint.note, "tree_size": checkpoint.size,
            "first_checkpoint": cps[0][1] if cps else None, "consistency": chain, "entries": entries,
            "next_after_sequence": rows[-1][0] if more else None,
            "leaf_format": "SHA-256(0x00 || decimal leaf index || '\\n' || envelope as UTF-8)"}


def tenant_leaves(session: Session, tenant_id: str, *, up_to: int | None = None, after: int | None = None,
                  limit: int | None = None) -> dict:
    """One page of a tenant's (leaf_index, leaf_hash) pairs in leaf order, up to leaf `up_to`
    included: what a restore drill compares a restored audit trail with (read-only)."""
    if not isinstance(tenant_id, str) or not tenant_id:
        raise InvalidInput("tenant_id is required")
    try:
        limit = max(1, min(int(limit or PAGE), 5000))
        up_to = None if up_to is None else int(up_to)
        after = None if after is None else int(after)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("up_to, after and limit must be whole numbers") from exc
    q = select(AuditEntry.leaf_index, AuditEntry.leaf_hash).where(
        AuditEntry.tenant_id == tenant_id, AuditEntry.leaf_index.is_not(None))
    if up_to is not None:
        q = q.where(AuditEntry.leaf_index <= up_to)
    if after is not None:
        q = q.where(AuditEntry.leaf_index > after)
    rows = session.execute(q.order_by(AuditEntry.leaf_index).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    return {"items": [[i, bytes(h).hex() if h is not None else None] for i, h in rows],
            "next_after": rows[-1][0] if more else None}
