"""Data-subject rights, auth's share (issue 11): the privacy notice and its acknowledgement, erasure
requests (answered with the reasons the data are kept), account deactivation, and a person's
export (a background job in auth gathering every service's part; JSON + PDF, one-time links).

The download streams the file chunk by chunk from auth; the link's token is the secret (auth
keeps only its hash), and it works once for the person who asked for the export.
"""
from __future__ import annotations

import base64
from typing import Annotated, AsyncIterator, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..deps import Services, ServicesDep
from ..params import Limit, Offset
from .documents import content_disposition

router = APIRouter(prefix="/v1", tags=["rights"])
EXPORTS = "/v1/rights/exports"
_PERSON = "3f2c9b7e-8a41-4c55-9a0e-1b2c3d4e5f60"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoticeIn(Strict):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "text_ro": "Notă de informare... Operator: Școala Gimnazială nr. 1. Scopuri: ținerea catalogului... "
                   "Temei legal... Păstrare: registrul matricol nu se șterge niciodată (REG-8)... Destinatari: "
                   "sistemele ministerului...",
        "text_en": "Privacy notice... Controller: Școala Gimnazială nr. 1. Purposes: keeping the catalog... Legal "
                   "basis... Retention: registry data are never deleted (REG-8)... Recipients: the ministry's "
                   "systems..."}]})
    text_ro: str = Field(min_length=200, max_length=50_000, description="the notice in Romanian")
    text_en: str = Field(min_length=200, max_length=50_000, description="the notice in English")


class AcknowledgementIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": 1}]})
    version: int = Field(ge=1, le=1_000_000, description="the version read (must be the current one)")


class ErasureIn(Strict):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {}, {"reason": "I left the school"}, {"person_id": _PERSON, "reason": "my child moved abroad"}]})
    person_id: UUID | None = Field(None, description="a parent's child; by default the caller")
    reason: str | None = Field(None, max_length=1000)


class ReasonIn(Strict):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra={"examples": [{"reason": "the pupil left the school"}]})
    reason: str = Field(min_length=1, max_length=500)


class ExportIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {}, {"person_id": _PERSON}, {"user_id": "0b6f7a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"}]})
    person_id: UUID | None = Field(None, description="whose data: a parent's child, or (school admin) a pupil "
                                                     "of the school; by default the caller")
    user_id: UUID | None = Field(None, description="school admin only: the account of the person asking at the desk")


def _id(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


@router.get("/privacy-notice", summary="The school's current privacy notice",
            description="Version, controller and text (both languages, or the one asked for with `lang`); "
                        "`acknowledged` tells whether the caller has acknowledged this version. Version 1 is the "
                        "platform's template with the school's name until the school publishes its own.")
async def privacy_notice(services: ServicesDep,
                         lang: Annotated[Literal["ro", "en"] | None, Query(description="ro or en")] = None):
    return await services.call("auth", "privacy_notice", lang=lang)


@router.put("/admin/privacy-notice", summary="Publish a new version of the school's privacy notice",
            description="Both texts, Romanian and English. The version number goes up by one; every user is asked "
                        "to acknowledge it at their next sign-in (`auth.privacy_notice_published`). School admin.")
async def publish_privacy_notice(body: NoticeIn, services: ServicesDep):
    return await services.call("auth", "publish_privacy_notice", text_ro=body.text_ro, text_en=body.text_en)


@router.post("/privacy-notice/acknowledgement", summary="Acknowledge the current privacy notice",
             description="Recorded as `auth.privacy_notice_acknowledged`; `privacy_notice_pending` of the sign-in "
                         "answer and of /v1/me becomes null. 409 if the version is not the current one.")
async def acknowledge_privacy_notice(body: AcknowledgementIn, services: ServicesDep):
    return await services.call("auth", "acknowledge_privacy_notice", version=body.version)


@router.post("/rights/erasure-requests", summary="Ask for your data to be erased (answered with the reasons they "
                                                  "are kept)",
             description="Nothing is deleted: the answer gives, in Romanian and English, the legal reasons (the "
                         "catalog is the school's legal record; the registry keeps data for life, REG-8) and the "
                         "request is recorded (`auth.erasure_request_answered`). For yourself, or a parent for "
                         "their child.")
async def erasure_request(body: ErasureIn, services: ServicesDep):
    return await services.call("auth", "erasure_request", person_id=_id(body.person_id), reason=body.reason)


@router.post("/admin/users/{user_id}/deactivation", summary="Deactivate an account (the record is kept)",
             description="Its sign-ins end at once (sessions and refresh tokens revoked) and a later sign-in is "
                         "refused with a clear message; nothing is deleted (`auth.account_deactivated`). "
                         "School admin, for an account of the school only.")
async def deactivate_user(user_id: UUID, body: ReasonIn, services: ServicesDep):
    return await services.call("auth", "deactivate_user", user_id=str(user_id), reason=body.reason)


@router.post("/admin/users/{user_id}/reactivation", summary="Reactivate a deactivated account",
             description="`auth.account_reactivated`. School admin.")
async def reactivate_user(user_id: UUID, body: ReasonIn, services: ServicesDep):
    return await services.call("auth", "reactivate_user", user_id=str(user_id), reason=body.reason)


@router.post("/rights/exports", status_code=202, summary="Export everything the platform holds about a person",
             description="Starts a job (`auth.subject_export_requested`) gathering the person's data from auth, "
                         "the registry, the catalog and the audit trail. A student exports their own data, a "
                         "parent their own child's, a school admin any person's of the school on their behalf "
                         "(`person_id` or `user_id`). `GET` the job for progress and, when done, the download "
                         "links (JSON following docs/schemas/subject-export.v1.schema.json, and PDF).")
async def start_export(body: ExportIn, services: ServicesDep):
    return await services.call("auth", "start_subject_export", person_id=_id(body.person_id),
                               user_id=_id(body.user_id))


@router.get("/rights/exports", summary="Your exports, newest first (paginated)",
            description="The jobs you asked for, with their progress. The download links are given only when "
                        "one finished job is read (`GET /v1/rights/exports/{export_id}`).")
async def list_exports(services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("auth", "list_subject_exports", limit=limit, offset=offset)


@router.get("/rights/exports/{export_id}", summary="Progress of an export, and its one-time download links",
            description="`progress` shows each service's part (pending, running, done, failed) and its records so "
                        "far. When `status` is `done`, `downloads` holds a link per format not yet downloaded: each "
                        "read issues fresh links (earlier ones stop working); a link works once and expires 24 h "
                        "after the export finished. Only the person who asked for it.")
async def export_job(export_id: UUID, services: ServicesDep):
    return await services.call("auth", "subject_export_job", export_id=str(export_id), base_path=EXPORTS)


async def _chunks(services: Services, file: dict) -> AsyncIterator[bytes]:
    for seq in range(file["chunks"]):
        part = await services.call("auth", "subject_export_chunk", file_id=file["file_id"], seq=seq)
        yield base64.b64decode(part["data"])


@router.get("/rights/exports/{export_id}/download", response_class=StreamingResponse,
            responses={200: {"description": "the file, streamed",
                             "content": {"application/json": {}, "application/pdf": {}}}},
            summary="Download a finished export (one-time link)",
            description="The link's `token` works once (`auth.subject_export_downloaded`); a second use answers "
                        "409. Only the person who asked for the export.")
async def download_export(export_id: UUID, services: ServicesDep,
                          token: Annotated[str, Query(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+$",
                                                      description="the secret of the link")]):
    file = await services.call("auth", "open_subject_export_download", export_id=str(export_id), token=token)
    headers = {"Content-Disposition": content_disposition(file["filename"]), "Content-Length": str(file["size"]),
               "Cache-Control": "no-store"}
    return StreamingResponse(_chunks(services, file), media_type=file["content_type"], headers=headers)
