"""Registry routes: imports (streamed to the registry in chunks), the batch web service, the
import templates and the published schemas."""
from __future__ import annotations

import base64
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from services.kernel.errors import InvalidInput

from ..deps import ServicesDep
from ..registry_schemas import BatchIn, ScopedExportIn

router = APIRouter(prefix="/v1", tags=["registry"])
CHUNK = 256 * 1024  # what one RPC carries: the gateway never holds more of an upload than this
SECTIONS = ("personal", "prior_education", "administrative", "enrolments", "persons_enrolments")


@router.post("/registry/imports", status_code=202,
             summary="Import a file (CSV UTF-8, XLSX or XML): a job with progress and a per-row report",
             description="Send the file as the raw request body (`Content-Type: text/csv`, "
                         "`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` or "
                         "`application/xml`). It is streamed to the registry in chunks and processed in the "
                         "background; follow `GET /v1/registry/imports/{id}`. Modes: `validate` (report only), "
                         "`all_or_nothing` (every row or none), `accept_valid` (valid rows; the others in the "
                         "report). Re-importing the same file changes nothing (institution + external_id).",
             responses={202: {"description": "the job, queued"}})
async def start_import(request: Request, services: ServicesDep,
                       format: Annotated[Literal["csv", "xlsx", "xml"], Query()] = "csv",  # noqa: A002
                       mode: Annotated[Literal["validate", "all_or_nothing", "accept_valid"], Query()] =
                       "all_or_nothing"):
    job = await services.call("registry", "start_import", format=format, mode=mode)
    return JSONResponse(await send_import(services, job["id"], request.stream()), status_code=202)


async def send_import(services, job_id: str, pieces) -> dict:
    """The file, as it arrives (`pieces`: an async iterator of bytes), to the registry in chunks of
    CHUNK; then the job is queued. The web import page sends its upload through here too."""
    seq, buffer = 0, bytearray()
    async for piece in pieces:
        buffer += piece
        while len(buffer) >= CHUNK:
            await services.call("registry", "add_import_chunk", job_id=job_id, seq=seq,
                                data=base64.b64encode(bytes(buffer[:CHUNK])).decode("ascii"))
            del buffer[:CHUNK]
            seq += 1
    if buffer:
        await services.call("registry", "add_import_chunk", job_id=job_id, seq=seq,
                            data=base64.b64encode(bytes(buffer)).decode("ascii"))
    if seq == 0 and not buffer:
        raise InvalidInput("the request body (the file) is empty")
    return await services.call("registry", "finish_import", job_id=job_id)


@router.get("/registry/imports/{job_id}", summary="An import's progress: rows done, total, rate, errors so far")
async def get_import(job_id: UUID, services: ServicesDep):
    return await services.call("registry", "get_import_job", job_id=str(job_id))


@router.get("/registry/imports/{job_id}/problems.csv", summary="The per-row report (row, field, message) as CSV",
            response_class=StreamingResponse)
async def import_problems(job_id: UUID, services: ServicesDep):
    return await problems_csv(services, str(job_id))


async def problems_csv(services, job_id: str) -> StreamingResponse:
    """The per-row report as CSV, read page by page (the first page is asked before answering, so
    a job the caller may not see is refused with its error, not an empty file)."""
    first = await services.call("registry", "list_import_problems", job_id=job_id, after=0, limit=2000)

    async def lines():
        page = first
        yield "\ufeffrow,field,message\r\n".encode()
        while True:
            yield "".join(_csv_line(p) for p in page["items"]).encode()
            if not page["next"]:
                return
            page = await services.call("registry", "list_import_problems", job_id=job_id, after=page["next"],
                                       limit=2000)
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="import-{job_id}-erori.csv"'})


def _csv_line(p: dict) -> str:
    def cell(v) -> str:
        text = str(v)
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text
    return f"{p['row']},{cell(p['field'])},{cell(p['message'])}\r\n"


@router.post("/registry/batch", summary="Batch upsert for integrators (web-service transfer, REG-7)",
             description="Up to 1000 rows of the same flat columns as the import files (see the JSON Schema "
                         "at `/v1/registry/schemas/batch.schema.json`), with the same validation and modes.")
async def batch_upsert(body: BatchIn, services: ServicesDep):
    return await services.call("registry", "batch_upsert", mode=body.mode, rows=body.rows)


@router.get("/registry/templates/{section}.csv", summary="The CSV import template of one section (UTF-8)")
async def template(section: Literal[SECTIONS], services: ServicesDep):  # type: ignore[valid-type]
    layouts = await services.call("registry", "import_layouts")
    header = ",".join(layouts["sections"][section]) + "\r\n"
    return Response(("\ufeff" + header).encode(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="sablon-{section}.csv"'})


@router.get("/registry/schemas/import.xsd", summary="The XML Schema of import files")
async def import_xsd(services: ServicesDep):
    return Response((await services.call("registry", "import_layouts"))["xsd"], media_type="application/xml")


@router.get("/registry/schemas/batch.schema.json", summary="The JSON Schema of the batch upsert body")
async def batch_schema(services: ServicesDep):
    return JSONResponse((await services.call("registry", "import_layouts"))["json_schema"],
                        media_type="application/schema+json")


# --- reports (REG-3, REG-10) ----------------------------------------------------------------------
Year = Annotated[str, Query(pattern=r"^\d{4}-\d{4}$", examples=["2025-2026"])]


@router.get("/registry/reports/counts", summary="Students per institution, cycle, programme, financing, year")
async def report_counts(services: ServicesDep, academic_year: Year):
    return await services.call("registry", "report_counts", academic_year=academic_year)


@router.get("/registry/reports/late-changes",
            summary="Status changes recorded more than 15 Romanian working days after their document")
async def report_late(services: ServicesDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                      offset: Annotated[int, Query(ge=0)] = 0):
    return await services.call("registry", "report_late_changes", limit=limit, offset=offset)


@router.get("/registry/reports/double-financing",
            summary="Persons budget-funded in two programmes of one cycle in the same year (central authority)")
async def report_double_financing(services: ServicesDep, academic_year: Year):
    return await services.call("registry", "report_double_financing", academic_year=academic_year)


@router.get("/registry/reports/diploma-readiness",
            summary="Graduates whose data allow approving diploma forms, and what is missing for the others")
async def report_diploma_readiness(services: ServicesDep, academic_year: Year):
    return await services.call("registry", "report_diploma_readiness", academic_year=academic_year)


@router.get("/registry/reports/statistics",
            summary="Statistics without personal data for central bodies (cells under 5 suppressed)")
async def report_statistics(services: ServicesDep, academic_year: Year):
    return await services.call("registry", "report_statistics", academic_year=academic_year)


@router.post("/registry/exports/enrolled",
             summary="Currently enrolled students for an authorised body (only its fields; audited)")
async def export_enrolled(body: ScopedExportIn, services: ServicesDep,
                          limit: Annotated[int, Query(ge=1, le=5000)] = 1000, offset: Annotated[int, Query(ge=0)] = 0):
    return await services.call("registry", "export_enrolled", body=body.body, purpose=body.purpose,
                               academic_year=body.academic_year, limit=limit, offset=offset)
