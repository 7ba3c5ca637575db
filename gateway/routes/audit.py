"""Routes of the audit area: the trail, entity history, proofs, checkpoints, verification, kit.

Entries are never deleted: this module has no route that removes or changes one."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from ..deps import ServicesDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
After = Annotated[int | None, Query(ge=0, description="cursor: the `next_after_sequence` of the previous page")]
Proofs = Annotated[bool, Query(description="add each entry's inclusion proof against the latest checkpoint")]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@router.get("/events", summary="The audit trail you may see (cursor paginated)",
            description="Filter by event type, entity, actor, request (correlation id) and time range. "
                        "A director or school administrator sees their institution's entries, the central "
                        "authority registry entries, the operator all (optionally one `tenant_id`).",
            responses={200: {"content": {"application/json": {"example": {
                "items": [{"type": "grades.grade_recorded", "sequence": 41, "actor": {"id": "…", "role": "teacher"},
                           "entity": {"type": "grade", "id": "…"}, "reason": "corectură"}],
                "next_after_sequence": 41}}}}})
async def audit_events(services: ServicesDep, type: Annotated[str | None, Query(max_length=100)] = None,
                       entity_type: Annotated[str | None, Query(max_length=60)] = None,
                       entity_id: Annotated[str | None, Query(max_length=64)] = None,
                       actor_id: Annotated[str | None, Query(max_length=36)] = None,
                       correlation_id: Annotated[str | None, Query(max_length=64)] = None,
                       tenant_id: UUID | None = None, since: datetime | None = None, until: datetime | None = None,
                       after_sequence: After = None, limit: Limit = 50, with_proofs: Proofs = False):
    return await services.call("audit", "list_events", type=type, entity_type=entity_type, entity_id=entity_id,
                               actor_id=actor_id, correlation_id=correlation_id,
                               tenant_id=str(tenant_id) if tenant_id else None, since=_iso(since),
                               until=_iso(until), after_sequence=after_sequence, limit=limit,
                               with_proofs=with_proofs)


@router.get("/history/{entity_type}/{entity_id}", summary="Every change to one record: who, when, why, before, after",
            description="For example every change to a grade (CAT-15), oldest first, cursor paginated.")
async def entity_history(entity_type: Annotated[str, Path(max_length=60)], entity_id: Annotated[str, Path(max_length=64)],
                         services: ServicesDep, after_sequence: After = None, limit: Limit = 50,
                         with_proofs: Proofs = False):
    return await services.call("audit", "entity_history", entity_type=entity_type, entity_id=entity_id,
                               after_sequence=after_sequence, limit=limit, with_proofs=with_proofs)


@router.get("/entries/{event_id}/proof", summary="Inclusion proof of one entry in a signed checkpoint",
            description="RFC 9162 inclusion proof (base64 hashes) against the latest checkpoint, or the one "
                        "of `tree_size`; the answer carries the signed checkpoint note.")
async def inclusion_proof(event_id: UUID, services: ServicesDep, tree_size: Annotated[int | None, Query(ge=1)] = None):
    return await services.call("audit", "inclusion_proof", event_id=str(event_id), tree_size=tree_size)


@router.get("/checkpoints", summary="Signed checkpoints (C2SP tlog-checkpoint notes), oldest first",
            description="Each has the tree size, the root and the Ed25519-signed note; `verifier_key` is the "
                        "log's public key in signed-note form.")
async def checkpoints(services: ServicesDep, after_size: Annotated[int | None, Query(ge=0)] = None, limit: Limit = 50):
    return await services.call("audit", "list_checkpoints", after_size=after_size, limit=limit)


@router.get("/consistency", summary="Consistency proof between two signed checkpoints",
            description="RFC 9162 consistency proof from the checkpoint of size `first` to the one of size "
                        "`second` (default: the latest).")
async def consistency(services: ServicesDep, first: Annotated[int, Query(ge=1)],
                      second: Annotated[int | None, Query(ge=1)] = None):
    return await services.call("audit", "consistency_proof", first=first, second=second)


@router.get("/verification", summary="Verify the whole log now (operator)",
            description="Recomputes the tree from every stored entry, checks each checkpoint's signature and "
                        "root and the witness copies; names any changed, deleted, inserted, reordered or "
                        "truncated entry and a rollback.")
async def verification(services: ServicesDep):
    return await services.call("audit", "verify_log")


@router.get("/kit", summary="Offline verification kit of an institution's entries",
            description="The entries with inclusion proofs, the checkpoints with consistency proofs and the "
                        "verifier key; check it with `tools/verify_audit_kit.py`. A school gets its own; the "
                        "operator names `tenant_id`. Paginated: pass `next_after_sequence` back as `after_sequence`.")
async def kit(services: ServicesDep, tenant_id: UUID | None = None, after_sequence: After = None,
              limit: Annotated[int, Query(ge=1, le=5000)] = 1000):
    return await services.call("audit", "export_kit", tenant_id=str(tenant_id) if tenant_id else None,
                               after_sequence=after_sequence, limit=limit)
