"""Restriction of processing (CAT-11), as the catalog honours it.

The registry owns the restriction (it owns persons) and publishes `registry.processing_restricted`
and `registry.processing_restriction_lifted`; grades consumes them on its own queue
(`grades.rights_events`) and keeps one row per (tenant, person) in `restricted_persons`.
Idempotent (the inbox drops a redelivered event) and order-safe: an event older than the state
already stored (by `occurred_at`) changes nothing.

What a restriction means here: the pupil stays in the legal record and in every staff view
(class catalog, report card, the year-end PDF catalog, the XLSX catalog the school keeps for
itself, the school's own portability export); they are left out of the statistics
(`stats.grade_statistics`, which may be shown outside the school) and no alert is raised about
them (`grades.raise_alert`: no alerts row, no `grades.alert_raised`, which auth turns into
e-mails). Their own rights (a grade dispute, their data export) are not restricted.
"""
from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.kernel.events import Envelope
from services.kernel.logging import get_logger

from .models import RestrictedPerson

log = get_logger(__name__)

QUEUE = "grades.rights_events"
RESTRICTED, LIFTED = "registry.processing_restricted", "registry.processing_restriction_lifted"
_RP = RestrictedPerson.__table__


def restricted_ids_query(tenant_id) -> Select:
    """The person ids under a restriction in a tenant, as a subquery for `NOT IN` filters."""
    return select(_RP.c.person_id).where(_RP.c.tenant_id == tenant_id, _RP.c.restricted.is_(True))


def restricted_ids(db, tenant_id: str) -> set[str]:
    return set(db.execute(restricted_ids_query(tenant_id)).scalars())


def is_restricted(db, tenant_id: str, person_id: str | None) -> bool:
    if not person_id:
        return False
    return db.execute(select(_RP.c.id).where(_RP.c.tenant_id == tenant_id, _RP.c.person_id == person_id,
                                             _RP.c.restricted.is_(True)).limit(1)).first() is not None


def _when(env: Envelope) -> float:
    return datetime.fromisoformat(env.occurred_at).timestamp()


def restriction_dict(r: RestrictedPerson) -> dict:
    return {"id": r.id, "person_id": r.person_id, "restricted": r.restricted, "reason": r.reason,
            "occurred_at": r.occurred_at, "source_event_id": r.source_event_id, "updated_at": r.updated_at}


def record_events(session: Session, emit_system, envelopes: list[Envelope]) -> int:
    """Apply the registry's restriction events (the caller filtered them through the inbox);
    returns how many changed the stored state. Each change is a `grades.processing_restriction_recorded`
    event (for the audit trail and the per-tenant backup)."""
    changed = 0
    for env in sorted(envelopes, key=_when):
        if env.type not in (RESTRICTED, LIFTED):
            continue
        after = (env.data or {}).get("after") or {}
        person_id = after.get("person_id") or (env.entity.id if env.entity.type == "person" else None)
        if not env.tenant_id or not person_id:
            log.warning("grades.restriction_event_skipped", event_id=env.event_id, type=env.type)
            continue
        restricted = env.type == RESTRICTED
        occurred = _when(env)
        row = session.scalar(select(RestrictedPerson).where(RestrictedPerson.tenant_id == env.tenant_id,
                                                            RestrictedPerson.person_id == person_id))
        if row is not None and row.occurred_at >= occurred:
            continue  # an older event arriving late: the newer state stays
        reason = str(after.get("reason"))[:500] if after.get("reason") else None
        if row is None:
            row = RestrictedPerson(tenant_id=env.tenant_id, person_id=str(person_id), restricted=restricted,
                                   reason=reason, occurred_at=occurred, source_event_id=env.event_id)
            session.add(row)
        else:
            row.restricted, row.reason, row.occurred_at = restricted, reason, occurred
            row.source_event_id, row.updated_at = env.event_id, time.time()
        session.flush()
        emit_system(session, "processing_restriction_recorded", entity_type="restricted_person", entity_id=row.id,
                    after=restriction_dict(row), tenant_id=env.tenant_id)
        changed += 1
    return changed
