"""One cluster backup run, start to end: pgBackRest steps, retention, the record, the metrics."""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime, timezone

from sqlalchemy import inspect, text

from services.kernel.logging import get_logger

from . import metrics, runs
from .pgbackrest import BackupInfo, PgBackRest, PgBackRestError, count_retention, progress_of, time_retention
from .retention import ContractTerm, offsite_retention_days
from .schedule import FULL
from .settings import ClusterBackupSettings

log = get_logger("backup.cluster")


def tenant_contracts(session) -> list[ContractTerm] | None:
    """The schools' contract end dates and legal holds, as the tenant-level backups record them
    (table `tenant_contracts`); None when the contracts are unknown: the table does not exist
    (a backup database without the tenant level) or no contract is recorded in it yet. Unknown
    contracts keep every off-site backup, since an expired backup cannot be brought back."""
    bind = session.connection()
    if not inspect(bind).has_table("tenant_contracts"):
        return None
    rows = session.execute(text("SELECT contract_end, legal_hold FROM tenant_contracts")).all()
    if not rows:
        return None
    return [ContractTerm(end if isinstance(end, date) or end is None else date.fromisoformat(str(end)[:10]),
                         bool(hold)) for end, hold in rows]


def plan(kind: str, settings: ClusterBackupSettings) -> list[int]:
    """The repositories a run writes, in order: a full goes on site (the base of the month's
    incrementals) and off site; an incremental on site only."""
    if kind == FULL and settings.offsite_repo and settings.offsite_repo != settings.local_repo:
        return [settings.local_repo, settings.offsite_repo]
    return [settings.local_repo]


def execute(sessions, engine: PgBackRest, settings: ClusterBackupSettings, run_id: str, kind: str) -> dict:
    """Run the backup `run_id` (already claimed), record how it went, and return the record."""
    made: list[BackupInfo] = []
    error = None
    try:
        repos = plan(kind, settings)
        with sessions.begin() as s:
            runs.set_step(s, run_id, "checking the stanza", 0.02)
        engine.stanza_create()  # idempotent: creates the stanza on a new repository, checks it otherwise
        for i, repo in enumerate(repos):
            if repo == settings.offsite_repo:
                existing, _ = engine.info()
                with sessions.begin() as s:
                    contracts = tenant_contracts(s)
                fulls = [b.day for b in existing if b.repo == repo and b.type == "full"]
                today = datetime.now(timezone.utc).date()
                days = offsite_retention_days(today, fulls + [today], contracts, settings.offsite_min_retention_days)
                metrics.OFFSITE_RETENTION_DAYS.set(days)
                retention = time_retention(repo, days)
            else:
                retention = count_retention(repo, settings.local_retention_full)
            with sessions.begin() as s:
                runs.set_step(s, run_id, f"{kind} backup into repository {repo} ({i + 1} of {len(repos)})",
                              round(0.05 + 0.9 * i / len(repos), 3))
            made.append(engine.backup(kind, repo, *retention))
    except PgBackRestError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - an unexpected failure is still a failed backup, recorded
        log.error("cluster_backup.crashed", run_id=run_id, error_type=type(exc).__name__, exc_info=exc)
        error = f"{type(exc).__name__}: {exc}"[:1000]
    with sessions.begin() as s:
        record = runs.finish(s, run_id, ok=error is None, backups=[asdict(b) for b in made],
                             size=max((b.size for b in made), default=None),
                             stored=sum(b.repo_delta for b in made) if made else None, error=error)
    metrics.record_run(record)
    log.info("cluster_backup.finished", run_id=run_id, kind=kind, status=record["status"],
             seconds=record["duration_seconds"], labels=json.dumps([b.label for b in made]))
    return record


def live_progress(engine: PgBackRest) -> float | None:
    """pgBackRest's own progress of the backup running now (None: none, or cannot tell)."""
    try:
        _, status = engine.info()
    except PgBackRestError:
        return None
    return progress_of(status)
