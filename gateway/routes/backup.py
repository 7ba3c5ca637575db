"""Routes of the backup area (see docs/architecture.md).

Cluster level first (`/v1/backup/status`, `/v1/backup/cluster/...`: PostgreSQL replication and
pgBackRest, for the operator); the per-tenant routes follow below.
"""
from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ..deps import ServicesDep

router = APIRouter(prefix="/v1")

# --- cluster level: replication (CAT-6) and pgBackRest (CAT-7) ---


class ClusterBackupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: Literal["full", "incr"] = Field(description="full: on site and off site; incr: on site",
                                          examples=["incr"])
    reason: str | None = Field(None, max_length=500, examples=["before the database upgrade"])


_STATUS_EXAMPLE = {
    "cat6": {"cat6_met": True, "statement": "CAT-6 met: every watched database commits on a primary and a "
                                            "synchronous standby",
             "databases": {"grades": {"backend": "postgresql", "sync_standbys": 1, "cat6_met": True,
                                      "synchronous_commit": "on", "problems": []}}},
    "pgbackrest": {"configured": True, "stanza": "catalog",
                   "schedules": {"full": "30 1 1 * *", "incr": "0 2 * * *"},
                   "repositories": {"local": 1, "offsite": 2}},
    "last_success": {"incr": {"kind": "incr", "status": "succeeded", "age_seconds": 3600.0}},
    "last_failure": {}, "running": [], "backups": [],
}


@router.get("/backup/status", tags=["backup"], summary="Cluster backups and replication at a glance (operator)",
            description="Whether CAT-6 is met (every database commits on a primary and a synchronous "
                        "standby; never in the embedded SQLite mode), the pgBackRest schedules, the last "
                        "success and failure of each kind, the runs in progress with their progress, and "
                        "the backups in the repositories.",
            responses={200: {"content": {"application/json": {"example": _STATUS_EXAMPLE}}}})
async def backup_status(services: ServicesDep):
    return await services.call("backup", "cluster_status")


@router.get("/backup/cluster/runs", tags=["backup"], summary="Cluster backup runs, newest first (operator)",
            description="Each scheduled or on-demand pgBackRest run: outcome, size, duration, progress.")
async def list_cluster_runs(services: ServicesDep, kind: Literal["full", "incr"] | None = None,
                            limit: Annotated[int, Query(ge=1, le=200)] = 50,
                            offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    return await services.call("backup", "list_cluster_runs", kind=kind, limit=limit, offset=offset)


@router.post("/backup/cluster/runs", status_code=202, tags=["backup"],
             summary="Start a cluster backup now (operator)",
             description="Besides the schedules: answers at once with the run (status `running`); "
                         "follow it at `GET /v1/backup/cluster/runs/{run_id}`. 409 if one is running.")
async def trigger_cluster_backup(body: ClusterBackupIn, services: ServicesDep):
    return await services.call("backup", "trigger_cluster_backup", kind=body.kind, reason=body.reason)


@router.get("/backup/cluster/runs/{run_id}", tags=["backup"], summary="One cluster backup run (operator)",
            description="Its step and progress while it runs; outcome, size and duration once done.")
async def get_cluster_run(run_id: UUID, services: ServicesDep):
    return await services.call("backup", "get_cluster_run", run_id=str(run_id))


# --- end of cluster level ---
# --- per-tenant backups: tenants, sets, contracts, restores, drills, jobs (backup-tenant) ---
# defined in their own module, on this router
from . import backup_tenant  # noqa: E402,F401
