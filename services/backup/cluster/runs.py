"""The runs table: claim a run, report progress, record its outcome; read-outs for the operator."""
from __future__ import annotations

import json
import time

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.kernel.db import insert_ignoring_duplicates
from services.kernel.model_base import new_id

from .models import ClusterBackupRun
from .schedule import KINDS

TABLE = ClusterBackupRun.__table__


def as_dict(run: ClusterBackupRun) -> dict:
    return {"id": run.id, "kind": run.kind, "trigger": run.trigger, "scheduled_for": run.scheduled_for,
            "requested_by": run.requested_by, "status": run.status, "step": run.step,
            "progress": run.progress, "started_at": run.started_at, "finished_at": run.finished_at,
            "duration_seconds": run.duration_seconds, "size_bytes": run.size_bytes,
            "stored_bytes": run.stored_bytes, "backups": json.loads(run.backups or "[]"), "error": run.error}


def claim(session: Session, kind: str, trigger: str, requested_by: str, scheduled_for: float | None) -> str | None:
    """A new running run, or None if another replica already claimed this scheduled fire time."""
    row = {"id": new_id(), "kind": kind, "trigger": trigger, "scheduled_for": scheduled_for,
           "requested_by": requested_by, "status": "running", "step": "queued", "progress": 0.0,
           "started_at": time.time(), "backups": "[]"}
    made = insert_ignoring_duplicates(session, TABLE, [row], returning=TABLE.c.id)
    return row["id"] if made else None


def running(session: Session) -> list[dict]:
    return [as_dict(r) for r in session.scalars(select(ClusterBackupRun).where(ClusterBackupRun.status == "running"))]


def set_step(session: Session, run_id: str, step: str, progress: float) -> None:
    session.execute(update(TABLE).where(TABLE.c.id == run_id).values(step=step[:200], progress=progress))


def finish(session: Session, run_id: str, *, ok: bool, backups: list[dict], size: int | None, stored: int | None,
           error: str | None) -> dict:
    run = session.get(ClusterBackupRun, run_id)
    run.finished_at = time.time()
    run.duration_seconds = round(run.finished_at - run.started_at, 3)
    run.status = "succeeded" if ok else "failed"
    run.step = "done" if ok else "failed"
    run.progress = 1.0 if ok else run.progress
    run.backups = json.dumps(backups)
    run.size_bytes, run.stored_bytes = size, stored
    run.error = error[:1000] if error else None
    return as_dict(run)


def abandon_interrupted(session: Session, older_than: float) -> int:
    """Runs left "running" by a process that died: failed, so they neither block nor hide."""
    result = session.execute(update(TABLE).where(TABLE.c.status == "running", TABLE.c.started_at < older_than)
                             .values(status="failed", step="interrupted", finished_at=time.time(),
                                     error="the backup service stopped while this backup was running"))
    return result.rowcount or 0


def last_fired(session: Session) -> dict[str, float | None]:
    rows = session.execute(select(TABLE.c.kind, func.max(TABLE.c.scheduled_for)).group_by(TABLE.c.kind)).all()
    found = {kind: at for kind, at in rows}
    return {kind: found.get(kind) for kind in KINDS}


def last_by_kind(session: Session, status: str) -> dict[str, dict]:
    out = {}
    for kind in KINDS:
        run = session.scalars(select(ClusterBackupRun).where(ClusterBackupRun.kind == kind,
                                                             ClusterBackupRun.status == status)
                              .order_by(ClusterBackupRun.started_at.desc()).limit(1)).first()
        if run is not None:
            out[kind] = as_dict(run)
    return out


def page(session: Session, *, kind: str | None, limit: int, offset: int) -> dict:
    query = select(ClusterBackupRun)
    counted = select(func.count()).select_from(TABLE)
    if kind:
        query = query.where(ClusterBackupRun.kind == kind)
        counted = counted.where(TABLE.c.kind == kind)
    rows = session.scalars(query.order_by(ClusterBackupRun.started_at.desc(), ClusterBackupRun.id)
                           .limit(limit).offset(offset)).all()
    return {"items": [as_dict(r) for r in rows], "total": session.scalar(counted), "limit": limit, "offset": offset}
