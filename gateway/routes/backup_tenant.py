"""Per-tenant backups for the operator (CAT-7, CAT-8): each school's sets, its contract end and
legal hold, restores, restore drills and the jobs that run them; and the hand-over archive,
which the school's own administrator and director may download at contract end."""
from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from ..deps import ServicesDep
from ..schemas import Body
from .backup import router

TAGS = ["backup"]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]
JOB_EXAMPLE = {"id": "5d0c1f8e-2d7a-4f4e-9a3e-3c1d2b9a7f10", "kind": "full", "status": "queued", "progress": 0.0,
               "step": "queued", "tenant_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}


class SetIn(Body):
    kind: Literal["full", "incremental", "handover"] = Field(
        description="full: every service's rows of the school, one snapshot; incremental: seal the change log "
                    "received since the last set; handover: the final archive at contract end",
        examples=["full"])


class ContractIn(Body):
    contract_end: date | None = Field(description="the day the school's contract ends (null: still running)",
                                      examples=["2026-08-31"])
    handover_recipient: str | None = Field(
        None, max_length=100, pattern=r"^age1[0-9a-z]+$",
        description="the school's own age public key: the hand-over archive is encrypted to it too",
        examples=["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"])


class LegalHoldIn(Body):
    hold: bool = Field(description="true stops every prune of this school's archives", examples=[True])
    reason: str | None = Field(None, max_length=500, examples=["Cerere a inspectoratului școlar nr. 123/2026"])


class RestoreIn(Body):
    tenant_id: UUID
    mode: Literal["fresh", "live"] = Field(
        "fresh", description="fresh: into empty databases; live: back into the platform, this school only")
    at: datetime | None = Field(None, description="point in time (default: now)",
                                examples=["2026-11-30T18:00:00+00:00"])
    database_url_template: str | None = Field(
        None, max_length=500, description="fresh mode: where to, with {service} (default: SQLite files on the "
                                          "backup host)", examples=["postgresql://restore@db/restore_{service}"])
    confirm_tenant_id: UUID | None = Field(None, description="live mode: repeat the tenant id to confirm")
    services: list[Literal["auth", "registry", "grades", "audit"]] | None = Field(
        None, max_length=4, description="live mode: which services to write back (default: all but audit)")
    reason: str | None = Field(None, max_length=500, examples=["Ștergere accidentală a notelor clasei a IX-a A"])


class DrillIn(Body):
    tenant_id: UUID | None = Field(None, description="one school (default: every school with a full set)")


class JobIn(Body):
    kind: Literal["retention"] = Field(description="retention: hand-overs due and prunes allowed, now",
                                       examples=["retention"])


@router.get("/backup/tenants", tags=TAGS, summary="Schools and their backup state",
            description="Every school the backup service knows, with contract end, retention date, legal hold "
                        "and how many sets it has.")
async def list_tenants(services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("backup", "backup_tenants", limit=limit, offset=offset)


@router.get("/backup/tenants/{tenant_id}", tags=TAGS, summary="One school's retention and latest sets")
async def get_tenant(tenant_id: UUID, services: ServicesDep):
    return await services.call("backup", "backup_tenant", tenant_id=str(tenant_id))


@router.get("/backup/tenants/{tenant_id}/sets", tags=TAGS, summary="A school's backup sets, newest first",
            description="Full, incremental and hand-over sets: time, size, SHA-256 of the encrypted archive, "
                        "row counts per table, off-site copies.")
async def list_sets(tenant_id: UUID, services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("backup", "backup_sets", tenant_id=str(tenant_id), limit=limit, offset=offset)


@router.post("/backup/tenants/{tenant_id}/sets", tags=TAGS, status_code=202, summary="Back a school up now",
             description="Starts a job (follow it at /v1/backup/jobs/{id}); the schedule does this on its own.",
             responses={202: {"content": {"application/json": {"example": JOB_EXAMPLE}}}})
async def start_set(tenant_id: UUID, body: SetIn, services: ServicesDep):
    return await services.call("backup", "backup_start", tenant_id=str(tenant_id), kind=body.kind)


@router.put("/backup/tenants/{tenant_id}/contract", tags=TAGS, summary="Record a school's contract end (CAT-8)",
            description="Archives are kept until contract end + 24 months, then pruned (unless on legal hold).")
async def put_contract(tenant_id: UUID, body: ContractIn, services: ServicesDep):
    return await services.call("backup", "backup_record_contract", tenant_id=str(tenant_id),
                               contract_end=body.contract_end.isoformat() if body.contract_end else None,
                               handover_recipient=body.handover_recipient)


@router.put("/backup/tenants/{tenant_id}/legal-hold", tags=TAGS, summary="Place or lift a legal hold",
            description="While held, none of the school's archives is pruned, whatever the retention date.")
async def put_legal_hold(tenant_id: UUID, body: LegalHoldIn, services: ServicesDep):
    return await services.call("backup", "backup_set_legal_hold", tenant_id=str(tenant_id), hold=body.hold,
                               reason=body.reason)


@router.get("/backup/tenants/{tenant_id}/handover", tags=TAGS, summary="Download the school's hand-over archive",
            description="The final archive made at contract end (age-encrypted; to the school's own key when it "
                        "gave one). The operator, and the school's administrator and director, may download it.",
            response_class=StreamingResponse)
async def download_handover(tenant_id: UUID, services: ServicesDep):
    first = await services.call("backup", "backup_handover_chunk", tenant_id=str(tenant_id), offset=0)

    async def body():
        chunk = first
        while True:
            data = base64.b64decode(chunk["data"])
            yield data
            if chunk["done"] or not data:
                return
            chunk = await services.call("backup", "backup_handover_chunk", tenant_id=str(tenant_id),
                                        offset=chunk["offset"] + len(data))
    return StreamingResponse(body(), media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{first["file_name"]}"',
        "Content-Length": str(first["size_bytes"]), "X-Content-SHA256": first["sha256"]})


@router.post("/backup/restores", tags=TAGS, status_code=202, summary="Restore one school at a point in time",
             description="Full set + incrementals up to `at`, into fresh databases or (with confirmation) back "
                         "into the live platform for that school only; every other school is untouched.",
             responses={202: {"content": {"application/json": {"example": {**JOB_EXAMPLE, "kind": "restore"}}}}})
async def start_restore(body: RestoreIn, services: ServicesDep):
    return await services.call(
        "backup", "restore_start", tenant_id=str(body.tenant_id), mode=body.mode,
        at=body.at.isoformat() if body.at else None, database_url_template=body.database_url_template,
        confirm_tenant_id=str(body.confirm_tenant_id) if body.confirm_tenant_id else None,
        services=body.services, reason=body.reason)


@router.get("/backup/restores", tags=TAGS, summary="Restore jobs, newest first")
async def list_restores(services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("backup", "jobs_list", kind="restore", limit=limit, offset=offset)


@router.post("/backup/drills", tags=TAGS, status_code=202, summary="Run a restore drill now",
             description="Restores the latest set of each school into scratch databases and compares checksums "
                         "with the set and the live data; also runs monthly on its own.")
async def start_drill(body: DrillIn, services: ServicesDep):
    return await services.call("backup", "drill_start", tenant_id=str(body.tenant_id) if body.tenant_id else None)


@router.get("/backup/drills", tags=TAGS, summary="Restore drills and their per-school results, newest first")
async def list_drills(services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("backup", "jobs_list", kind="drill", limit=limit, offset=offset)


@router.get("/backup/jobs", tags=TAGS, summary="Backup, restore, drill and retention jobs with their progress")
async def list_jobs(services: ServicesDep, limit: Limit = 50, offset: Offset = 0,
                    kind: Annotated[str | None, Query(max_length=20)] = None,
                    tenant_id: UUID | None = None):
    return await services.call("backup", "jobs_list", kind=kind, tenant_id=str(tenant_id) if tenant_id else None,
                               limit=limit, offset=offset)


@router.post("/backup/jobs", tags=TAGS, status_code=202, summary="Start a platform-wide backup job now",
             description="retention: make the hand-over archives that are due and prune what CAT-8 allows.")
async def start_job(body: JobIn, services: ServicesDep):
    return await services.call("backup", "retention_start")


@router.get("/backup/jobs/{job_id}", tags=TAGS, summary="One job: status, progress, result")
async def get_job(job_id: UUID, services: ServicesDep):
    return await services.call("backup", "job_get", job_id=str(job_id))
