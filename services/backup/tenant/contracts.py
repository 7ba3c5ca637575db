"""CAT-8 per tenant: the operator records the contract end and legal holds; pruning and the
hand-over follow the pure rules of `retention.py`. Every change is an event."""
from __future__ import annotations

import time
from datetime import date, datetime, timezone

import orjson
from pyrage import x25519
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput, NotFound
from services.kernel.validation import clean_text

from .models import BackupSet, TenantChange, TenantContract
from .retention import handover_due, prune_decision, retained_until
from .sets import Config, archive_path, set_dict

PLATFORM_TENANT = "platform"


def contract_dict(row: TenantContract | None, tenant_id: str, today: date | None = None) -> dict:
    today = today or datetime.now(timezone.utc).date()
    end = row.contract_end if row else None
    decision = prune_decision(today, end, bool(row and row.legal_hold))
    return {"tenant_id": tenant_id, "contract_end": end.isoformat() if end else None,
            "retained_until": retained_until(end).isoformat() if end else None,
            "legal_hold": bool(row and row.legal_hold), "hold_reason": row.hold_reason if row else None,
            "prune_allowed": decision.allowed, "prune_reason": decision.reason,
            "handover_set_id": row.handover_set_id if row else None,
            "handover_recipient": row.handover_recipient if row else None}


def known_tenants(session: Session) -> list[str]:
    """The schools the backup service has heard of (change log, contracts, sets)."""
    ids = set(session.scalars(select(TenantChange.tenant_id).distinct()))
    ids |= set(session.scalars(select(TenantContract.tenant_id)))
    ids |= set(session.scalars(select(BackupSet.tenant_id).distinct()))
    ids.discard(PLATFORM_TENANT)
    return sorted(ids)


def _contract(session: Session, tenant_id: str) -> TenantContract:
    row = session.get(TenantContract, tenant_id)
    if row is None:
        row = TenantContract(tenant_id=tenant_id, legal_hold=False, updated_at=time.time())
        session.add(row)
    return row


def _known(session: Session, tenant_id: str) -> None:
    if tenant_id == PLATFORM_TENANT or tenant_id not in known_tenants(session) and \
            session.get(TenantContract, tenant_id) is None:
        raise NotFound("tenant not found")


def record_contract(session: Session, emit, tenant_id: str, *, contract_end: str | None,
                    handover_recipient: str | None = None) -> dict:
    _known(session, tenant_id)
    try:
        end = date.fromisoformat(contract_end) if contract_end else None
    except ValueError as exc:
        raise InvalidInput("contract_end must be a date YYYY-MM-DD") from exc
    if handover_recipient:
        try:
            x25519.Recipient.from_str(handover_recipient.strip())
        except Exception as exc:  # noqa: BLE001 - pyrage raises its own error type
            raise InvalidInput("handover_recipient must be an age public key (age1...)") from exc
    row = _contract(session, tenant_id)
    before = contract_dict(row, tenant_id) if row.contract_end or row.handover_recipient else None
    row.contract_end, row.updated_at = end, time.time()
    row.handover_recipient = handover_recipient.strip() if handover_recipient else None
    session.flush()
    after = contract_dict(row, tenant_id)
    emit(session, "contract_recorded", entity_type="tenant_contract", entity_id=tenant_id, tenant_id=tenant_id,
         after=after, before=before)
    return after


def set_legal_hold(session: Session, emit, tenant_id: str, *, hold: bool, reason: str | None) -> dict:
    _known(session, tenant_id)
    reason = clean_text(reason, field="reason", max_len=500, required=hold) if (reason or hold) else None
    row = _contract(session, tenant_id)
    before = contract_dict(row, tenant_id)
    row.legal_hold, row.hold_reason, row.updated_at = hold, reason if hold else None, time.time()
    session.flush()
    after = contract_dict(row, tenant_id)
    emit(session, "legal_hold_set" if hold else "legal_hold_released", entity_type="tenant_contract",
         entity_id=tenant_id, tenant_id=tenant_id, after=after, before=before, reason=reason)
    return after


def prune(session: Session, emit, config: Config, tenant_id: str, today: date) -> list[dict]:
    """Delete the tenant's archives if and only if the retention allows it; one event each."""
    row = session.get(TenantContract, tenant_id)
    decision = prune_decision(today, row.contract_end if row else None, bool(row and row.legal_hold))
    if not decision.allowed:
        return []
    pruned = []
    for backup in session.scalars(select(BackupSet).where(BackupSet.tenant_id == tenant_id,
                                                          BackupSet.pruned_at.is_(None))):
        archive_path(config, tenant_id, backup.file_name).unlink(missing_ok=True)
        for receipt in orjson.loads(backup.uploads):
            for t in config.targets:
                if t.name == receipt["target"]:
                    t.delete(receipt["key"])
        backup.pruned_at = time.time()
        session.flush()
        after = set_dict(backup)
        emit(session, "archive_pruned", entity_type="backup_set", entity_id=backup.id, tenant_id=tenant_id,
             after={"id": backup.id, "kind": backup.kind, "as_of": after["as_of"], "pruned_at": after["pruned_at"],
                    "retained_until": decision.retained_until.isoformat()},
             reason=f"retention ended {decision.retained_until.isoformat()}")
        pruned.append(after)
    return pruned


def handovers_due(session: Session, today: date) -> list[TenantContract]:
    return [r for r in session.scalars(select(TenantContract))
            if handover_due(today, r.contract_end, r.handover_set_id is not None)]


def handover_file(session: Session, config: Config, tenant_id: str):
    row = session.get(TenantContract, tenant_id)
    if row is None or row.handover_set_id is None:
        raise NotFound("no hand-over archive exists for this school yet")
    backup = session.get(BackupSet, row.handover_set_id)
    path = archive_path(config, tenant_id, backup.file_name)
    if backup.pruned_at is not None or not path.exists():
        raise NotFound("the hand-over archive is no longer kept")
    return backup, path


def count_sets(session: Session, tenant_id: str) -> int:
    return session.scalar(select(func.count()).select_from(BackupSet).where(BackupSet.tenant_id == tenant_id)) or 0
