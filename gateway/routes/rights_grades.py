"""Data-subject rights in the catalog (issue 11): grade disputes (rectification of a grade), and a
school's portability (its whole catalog out as a documented JSON format, and into a fresh school).

A pupil disputes their own grade, a parent a child's; the subject's teacher decides; after a
teacher's rejection the requester may escalate and the director decides finally. An approval
changes the grade as a new version (the normal change, with the reason). The grades service
checks every rule again (who, which grade, which step).
"""
from __future__ import annotations

from typing import Literal
from uuid import UUID

import contextlib

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from services.kernel.errors import InvalidInput

from ..catalog_schemas import Qualifier
from ..deps import ServicesDep
from ..json_sections import SectionStream
from ..schemas import Body
from .catalog import Limit, Offset

router = APIRouter(prefix="/v1", tags=["rights"])

DisputeStatus = Literal["open", "rejected_by_teacher", "escalated", "approved", "rejected"]


class GradeDisputeIn(Body):
    grade_id: UUID
    reason: str = Field(min_length=1, max_length=1000, examples=["Am răspuns corect la toate întrebările."])
    proposed_value: int | None = Field(None, ge=1, le=10, strict=True, examples=[9],
                                       description="the grade you believe right (classes V-XII)")
    proposed_qualifier: Qualifier | None = Field(None, description="the qualifier you believe right (0-IV)")
    attachment_ref: str | None = Field(None, min_length=1, max_length=200, examples=["lucrare-scanata-2026-10-12"])


class DisputeDecisionIn(Body):
    approve: bool
    reason: str = Field(min_length=1, max_length=1000, examples=["Punctajul a fost adunat greșit."])
    value: int | None = Field(None, ge=1, le=10, strict=True,
                              description="the corrected grade (default: the one proposed)")
    qualifier: Qualifier | None = Field(None, description="the corrected qualifier (default: the one proposed)")


class EscalationIn(Body):
    reason: str | None = Field(None, min_length=1, max_length=1000,
                               examples=["Cer reanalizarea lucrării de către director."])


@router.post("/rights/grade-disputes", status_code=201, summary="Dispute a grade (the pupil, or a parent)",
             description="Asks for a grade to be rectified: a reason, optionally the value or qualifier you "
                         "believe right and a reference to an attachment. The subject's teacher decides. One "
                         "undecided dispute per grade.")
async def open_dispute(body: GradeDisputeIn, services: ServicesDep):
    return await services.call("grades", "open_grade_dispute", grade_id=str(body.grade_id), reason=body.reason,
                               proposed_value=body.proposed_value, proposed_qualifier=body.proposed_qualifier,
                               attachment_ref=body.attachment_ref)


@router.get("/rights/grade-disputes", summary="Grade disputes that concern you, paginated",
            description="The director: the school's; a teacher: those of the subjects they teach in each class; "
                        "a parent: their children's; a pupil: their own. Newest first.")
async def list_disputes(services: ServicesDep, status: DisputeStatus | None = None, limit: Limit = 50,
                        offset: Offset = 0):
    return await services.call("grades", "list_grade_disputes", status=status, limit=limit, offset=offset)


@router.post("/rights/grade-disputes/{dispute_id}/decision",
             summary="Decide a grade dispute (the subject's teacher; the director once escalated)",
             description="Approving changes the grade as a new version with the reason (to the proposed value "
                         "unless `value`/`qualifier` is given); a closed period answers 409 `period_closed` until "
                         "the director approves an amendment. A rejection carries its reason.")
async def decide_dispute(dispute_id: UUID, body: DisputeDecisionIn, services: ServicesDep):
    return await services.call("grades", "decide_grade_dispute", dispute_id=str(dispute_id), approve=body.approve,
                               reason=body.reason, value=body.value, qualifier=body.qualifier)


@router.post("/rights/grade-disputes/{dispute_id}/escalation",
             summary="Ask the director to decide a dispute the teacher rejected (the requester)")
async def escalate_dispute(dispute_id: UUID, body: EscalationIn, services: ServicesDep):
    return await services.call("grades", "escalate_grade_dispute", dispute_id=str(dispute_id), reason=body.reason)


# --- a school's portability (issue 11 §6) ------------------------------------------------------------
EXPORT_PAGE = 1000
IMPORT_CHUNK = 500
IMPORT_TIMEOUT_SECONDS = 300.0
# the format's sections (services/grades/portability.py SECTIONS) and the header's list members
SECTIONS = frozenset({"school_years", "periods", "subjects", "classes", "curriculum", "teaching_assignments",
                      "rosters", "delegations", "motivation_requests", "grades", "grade_versions", "period_marks",
                      "absences", "amendments", "year_results", "reexaminations", "grade_disputes"})
HEADER_LISTS = frozenset({"sections"})


@router.get("/school-export", response_class=StreamingResponse, tags=["portability"],
            summary="The school's whole catalog as one JSON document (catalog-export v1), streamed",
            description="Structure (school years, periods, subjects, classes, curriculum, assignments), rosters with "
                        "transfers, grades with every version, absences and motivation requests, period marks, "
                        "amendments, closings, frozen year results, re-examinations, grade disputes. One consistent "
                        "snapshot, written section by section. Format: docs/catalog-export-format.md; JSON Schema: "
                        "docs/schemas/catalog-export.v1.schema.json. The school administrator only.",
            responses={200: {"content": {"application/json": {"example": {
                "format": "catalog-export", "version": 1, "exported_at": "2027-07-01T08:00:00+00:00",
                "source": {"tenant_id": "…"}, "school_years": [], "periods": [], "grades": []}}}}})
async def school_export(services: ServicesDep):
    opened = await services.call("grades", "school_export_open")
    session_id, snapshot = opened["session_id"], opened["snapshot"]
    head = orjson.dumps(opened["header"])

    async def body():
        try:
            yield head[:-1]  # the header object, still open
            for section in opened["header"]["sections"]:
                yield b',"' + section.encode() + b'":['
                after, first = None, True
                while True:
                    page = await services.call("grades", "school_export_chunk", session_id=session_id,
                                               snapshot=snapshot, section=section, after=after, limit=EXPORT_PAGE)
                    if page["records"]:
                        yield (b"" if first else b",") + b",".join(orjson.dumps(r) for r in page["records"])
                        first = False
                    after = page["next"]
                    if after is None:
                        break
                yield b"]"
            yield b"}"
        finally:
            await services.call("grades", "school_export_close", session_id=session_id)

    return StreamingResponse(body(), media_type="application/json", headers={
        "Content-Disposition": 'attachment; filename="catalog-export-v1.json"', "Cache-Control": "no-store"})


@router.post("/school-import", status_code=201, tags=["portability"],
             summary="Rebuild a catalog from a catalog-export v1 document, into this fresh school",
             description="The request body is the document GET /v1/school-export wrote (here or on another "
                         "platform), read as it arrives and staged in chunks. Only into a school with no catalog yet (409 "
                         "otherwise, before the body is read); every record or none. "
                         "Registry person ids and account ids are kept; the catalog's own ids are re-derived for "
                         "this school (docs/catalog-export-format.md). The school administrator only.",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object"},
                 "example": {"format": "catalog-export", "version": 1, "exported_at": "2027-07-01T08:00:00+00:00",
                             "source": {"tenant_id": "…"}, "school_years": [], "classes": []}}}}})
async def school_import(request: Request, services: ServicesDep):
    # refused at once (409) if the school has a catalog, before the body is read
    import_id = (await services.call("grades", "school_import_start"))["import_id"]
    header: dict = {}
    pending: dict[str, list] = {}
    seq = 0

    async def send(section: str) -> None:
        nonlocal seq
        records = pending.pop(section, None)
        if records:
            await services.call("grades", "school_import_chunk", import_id=import_id, seq=seq, section=section,
                                records=records)
            seq += 1

    async def handle(events) -> None:
        for kind, key, value in events:
            if kind == "member":
                if key in SECTIONS:
                    raise InvalidInput(f"{key} must be a list")
                header[key] = value
            elif key in SECTIONS:
                pending.setdefault(key, []).append(value)
                if len(pending[key]) >= IMPORT_CHUNK:
                    await send(key)
            elif key in HEADER_LISTS:
                header.setdefault(key, []).append(value)
            else:
                raise InvalidInput(f"unknown sections: {key[:40]}")

    try:
        stream = SectionStream()
        async for piece in request.stream():
            await handle(list(stream.feed(piece)))
        await handle(list(stream.end()))
        for section in list(pending):
            await send(section)
        context = {"correlation_id": services.request_id, "access_token": services.access_token}
        return await services.client.call("grades", "school_import_finish",
                                          kwargs={"import_id": import_id, "header": header}, context=context,
                                          timeout=max(services.timeout, IMPORT_TIMEOUT_SECONDS))
    except BaseException:
        with contextlib.suppress(Exception):  # the staged records go; the error above is the answer
            await services.call("grades", "school_import_abandon", import_id=import_id)
        raise
