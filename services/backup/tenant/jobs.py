"""Backup, restore, drill and retention jobs: a row per run with its progress, run in the
background of the backup service (a full export outlives any RPC timeout)."""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import orjson
from sqlalchemy import select, update

from services.kernel.errors import AppError, InvalidInput, NotFound
from services.kernel.logging import get_logger

from . import contracts, drills, restoring, sets
from .metrics import (DRILL_DURATION, DRILL_LAST, DRILL_RESULT, DRILL_TENANT_RESULT, JOB_DURATION, JOB_FAILURES,
                      LAST_SIZE, LAST_SUCCESS)
from .models import BackupJob

log = get_logger(__name__)
KINDS = ("full", "incremental", "handover", "restore", "drill", "retention")


@dataclass
class SystemContext:
    """The caller of events a job emits after its request: the system, correlated by job id."""
    correlation_id: str
    principal: Any = None


def job_dict(row: BackupJob) -> dict:
    def iso(t):
        return datetime.fromtimestamp(t, timezone.utc).isoformat() if t else None
    return {"id": row.id, "kind": row.kind, "tenant_id": row.tenant_id, "status": row.status,
            "progress": round(row.progress, 3), "step": row.step, "requested_by": row.requested_by,
            "params": orjson.loads(row.params), "result": orjson.loads(row.result) if row.result else None,
            "error": row.error, "created_at": iso(row.created_at), "started_at": iso(row.started_at),
            "finished_at": iso(row.finished_at)}


def create(session, emit, kind: str, tenant_id: str | None, requested_by: str, params: dict,
           job_id: str | None = None) -> BackupJob:
    if kind not in KINDS:
        raise InvalidInput(f"unknown job kind {kind}")
    row = BackupJob(kind=kind, tenant_id=tenant_id, status="queued", progress=0.0, step="queued",
                    requested_by=requested_by, params=orjson.dumps(params).decode(), attempts=0)
    if job_id:
        row.id = job_id
    session.add(row)
    session.flush()
    emit(session, "job_requested", entity_type="backup_job", entity_id=row.id, tenant_id=tenant_id,
         after={"id": row.id, "kind": kind, "tenant_id": tenant_id, "params": params, "requested_by": requested_by})
    return row


def get(session, job_id: str) -> BackupJob:
    row = session.get(BackupJob, job_id)
    if row is None:
        raise NotFound("job not found")
    return row


def page(session, *, kind: str | None, tenant_id: str | None, limit: int, offset: int) -> list[BackupJob]:
    query = select(BackupJob).order_by(BackupJob.created_at.desc(), BackupJob.id).limit(limit).offset(offset)
    if kind:
        query = query.where(BackupJob.kind == kind)
    if tenant_id:
        query = query.where(BackupJob.tenant_id == tenant_id)
    return list(session.scalars(query))


class Runner:
    """Runs one job to the end: progress into its row, outcome as an event and in metrics."""

    def __init__(self, store, config: sets.Config, fleet_factory: Callable[[], Any]):
        self.store = store
        self.config = config
        self.fleet_factory = fleet_factory

    def emitter(self, job_id: str):
        ctx = SystemContext(correlation_id=job_id)
        return lambda session, fact, **kw: self.store.emit(session, ctx, fact, **kw)

    def _progress(self, job_id: str) -> Callable[[float, str], None]:
        def update(fraction: float, step: str) -> None:
            with self.store.transaction() as s:
                row = s.get(BackupJob, job_id)
                row.progress, row.step = max(row.progress, min(1.0, fraction)), step[:200]
        return update

    def run(self, job_id: str) -> dict:
        with self.store.transaction() as s:  # claim: of replicas racing for a job, one wins
            claimed = s.execute(update(BackupJob).where(BackupJob.id == job_id, BackupJob.status == "queued")
                                .values(status="running", started_at=time.time(),
                                        attempts=BackupJob.attempts + 1)).rowcount
            if not claimed:
                return {}
            row = s.get(BackupJob, job_id)
            kind, tenant_id, params = row.kind, row.tenant_id, orjson.loads(row.params)
        started = time.perf_counter()
        emit = self.emitter(job_id)
        try:
            with self.fleet_factory() as fleet:
                result = self._dispatch(kind, tenant_id, params, fleet, job_id, emit)
            status, error = "succeeded", None
            if kind == "drill" and not result.get("ok", False):
                status, error = "failed", "the restore drill found a problem: see the result"
        except Exception as exc:  # noqa: BLE001 - recorded on the job, shown to the operator
            result = None
            status = "failed"
            error = (exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}")[:1000]
            log.error("backup.job_failed", job_id=job_id, kind=kind, error=error, trace=traceback.format_exc()[-2000:])
        elapsed = time.perf_counter() - started
        JOB_DURATION.labels(kind, status).observe(elapsed)
        if status == "succeeded":
            LAST_SUCCESS.labels(kind).set(time.time())
            if isinstance(result, dict) and result.get("size_bytes") is not None:
                LAST_SIZE.labels(kind).set(result["size_bytes"])
        else:
            JOB_FAILURES.labels(kind).inc()
        with self.store.transaction() as s:
            row = s.get(BackupJob, job_id)
            row.status, row.error, row.finished_at = status, error, time.time()
            row.progress, row.step = (1.0, "done") if status == "succeeded" else (row.progress, "failed")
            row.result = orjson.dumps(result).decode() if result is not None else None
            emit(s, "job_succeeded" if status == "succeeded" else "job_failed", entity_type="backup_job",
                 entity_id=job_id, tenant_id=tenant_id,
                 after={"id": job_id, "kind": kind, "status": status, "error": error,
                        "seconds": round(elapsed, 3)})
        return {"status": status, "result": result, "error": error}

    def _dispatch(self, kind: str, tenant_id: str | None, params: dict, fleet, job_id: str, emit) -> dict:
        progress = self._progress(job_id)
        if kind == "full":
            return sets.export_full(fleet, self.store, self.config, tenant_id, progress=progress, emit=emit)
        if kind == "incremental":
            return sets.seal_incremental(self.store, self.config, tenant_id, fleet=fleet, progress=progress,
                                         emit=emit)
        if kind == "handover":
            return self._handover(fleet, tenant_id, progress, emit)
        if kind == "restore":
            return self._restore(fleet, tenant_id, params, progress, emit)
        if kind == "drill":
            return self._drill(fleet, tenant_id, progress, emit)
        if kind == "retention":
            return self._retention(fleet, progress, emit, job_id)
        raise InvalidInput(f"unknown job kind {kind}")

    def _handover(self, fleet, tenant_id: str, progress, emit) -> dict:
        from pyrage import x25519
        with self.store.reading() as s:
            row = s.get(contracts.TenantContract, tenant_id)
            recipient = row.handover_recipient if row else None
        extra = (x25519.Recipient.from_str(recipient),) if recipient else ()
        result = sets.export_full(fleet, self.store, self.config, tenant_id, kind="handover", progress=progress,
                                  emit=emit, extra_recipients=extra)
        with self.store.transaction() as s:
            contract = contracts._contract(s, tenant_id)
            contract.handover_set_id = result["id"]
            emit(s, "handover_created", entity_type="tenant_contract", entity_id=tenant_id, tenant_id=tenant_id,
                 after={"handover_set_id": result["id"], "encrypted_to_school": bool(recipient)})
        return result

    def _restore(self, fleet, tenant_id: str, params: dict, progress, emit) -> dict:
        at = datetime.fromisoformat(params["at"]).timestamp() if params.get("at") else time.time()
        with self.store.reading() as s:
            full, incrementals = restoring.choose_sets(s, tenant_id, at)
            s.expunge_all()
        if params.get("mode") == "live":
            report = restoring.restore_live(fleet, self.config, full, incrementals, at,
                                            services=tuple(params.get("services") or ()) or None, progress=progress)
        else:
            template = params["database_url_template"]
            report = restoring.restore_fresh(self.config, full, incrementals, at,
                                             lambda svc: template.format(service=svc), progress=progress)
        with self.store.transaction() as s:
            emit(s, "tenant_restored", entity_type="tenant", entity_id=tenant_id, tenant_id=tenant_id,
                 after={"mode": params.get("mode", "fresh"), "at": params.get("at"), "full_set_id": full.id,
                        "incremental_set_ids": [r.id for r in incrementals]},
                 reason=params.get("reason"))
        return report

    def _drill(self, fleet, tenant_id: str | None, progress, emit) -> dict:
        started = time.time()
        with self.store.reading() as s:
            tenants = [tenant_id] if tenant_id else drills.tenants_with_sets(s)
        reports = []
        for i, tenant in enumerate(tenants):
            progress(i / max(1, len(tenants)), f"drilling {tenant}")
            report = drills.drill_tenant(fleet, self.store, self.config, tenant)
            DRILL_TENANT_RESULT.labels(tenant).set(1 if report["ok"] else 0)
            reports.append(report)
        ok = all(r["ok"] for r in reports)
        DRILL_LAST.set(time.time())
        DRILL_RESULT.set(1 if ok else 0)
        DRILL_DURATION.set(time.time() - started)
        with self.store.transaction() as s:
            for r in reports:
                emit(s, "drill_completed", entity_type="tenant", entity_id=r["tenant_id"], tenant_id=r["tenant_id"],
                     after={"ok": r["ok"], "full_set_id": r.get("full_set_id"), "checks": r["checks"],
                            "error": r.get("error"), "seconds": r["seconds"]})
        return {"ok": ok, "tenants": reports}

    def _retention(self, fleet, progress, emit, job_id: str) -> dict:
        today = datetime.now(timezone.utc).date()
        handed, pruned = [], []
        with self.store.reading() as s:
            due = [r.tenant_id for r in contracts.handovers_due(s, today)]
            tenants = contracts.known_tenants(s)
        for tenant in due:
            handed.append(self._handover(fleet, tenant, progress, emit)["id"])
        for tenant in tenants:
            with self.store.transaction() as s:
                pruned.extend(p["id"] for p in contracts.prune(s, emit, self.config, tenant, today))
        return {"handovers": handed, "pruned": pruned}
