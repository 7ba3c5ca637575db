"""Data-subject rights in the browser (issue 11 through issue 12): the privacy notice (read and
acknowledged after sign-in, and from the menu at any time; the school admin publishes a new
version) and "my data": a person's export as a job with its progress and one-time downloads,
and an erasure request answered with the legal reasons the data are kept.

Every form calls the same auth RPC as the JSON route (gateway/routes/rights.py) and is checked
by the same body models; the auth service re-checks who may do what. The download links the
service issues point at this page's own download route, which streams the file from auth.
"""
from __future__ import annotations

import base64
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ..deps import ServicesDep
from ..routes.documents import content_disposition
from ..routes.rights import AcknowledgementIn, ErasureIn, ExportIn, NoticeIn
from .forms import flash_args, form_of, or_raise, page_or_refusal, status_of, validated
from .render import lang_of, local_path, render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)
HOME = "/web/home"
EXPORTS = "/web/my-data/exports"
EXPORTERS = frozenset({"student", "parent", "school_admin"})


def notice_redirect(answer: dict, next_url: str) -> str:
    """Where a finished sign-in goes: the notice first while its current version is unacknowledged."""
    if answer.get("privacy_notice_pending"):
        return f"/web/privacy-notice?next={quote(next_url, safe='/')}"
    return next_url


# --- the privacy notice ----------------------------------------------------------------------------
async def _notice_page(request: Request, services: ServicesDep, next_url: str, *, status_code: int = 200, **flash):
    notice = await services.call("auth", "privacy_notice", lang=lang_of(request))
    return render(request, "privacy_notice.html", status_code=status_code, notice=notice, next=next_url,
                  done=request.query_params.get("done"), **flash)


@router.get("/privacy-notice", summary="The school's privacy notice, and its acknowledgement")
async def privacy_notice(request: Request, services: ServicesDep, next: str | None = None):
    return await _notice_page(request, services, local_path(next, ""))


@router.post("/privacy-notice", summary="I have read the privacy notice")
async def acknowledge(request: Request, services: ServicesDep):
    form = await form_of(request)
    next_url = local_path(form.get("next"), "")
    try:
        body = validated(AcknowledgementIn, {"version": form.get("version", "")})
        await services.call("auth", "acknowledge_privacy_notice", version=body.version)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _notice_page(
            request, services, next_url, status_code=status_of(refusal), **flash_args(refusal)))
    return see_other(next_url or "/web/privacy-notice?done=1")


async def _publish_page(request: Request, services: ServicesDep, *, status_code: int = 200,
                        form: dict | None = None, **flash):
    notice = await services.call("auth", "privacy_notice")
    texts = form or notice["texts"]
    return render(request, "admin_privacy_notice.html", status_code=status_code, notice=notice,
                  text_ro=texts.get("text_ro", texts.get("ro", "")), text_en=texts.get("text_en", texts.get("en", "")),
                  done=request.query_params.get("done"), **flash)


@router.get("/admin/privacy-notice", summary="Publish a new version of the privacy notice")
async def publish_form(request: Request, services: ServicesDep):
    return await _publish_page(request, services)


@router.post("/admin/privacy-notice")
async def publish(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(NoticeIn, {"text_ro": form.get("text_ro", ""), "text_en": form.get("text_en", "")})
        await services.call("auth", "publish_privacy_notice", text_ro=body.text_ro, text_en=body.text_en)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _publish_page(request, services, status_code=status_of(refusal), form=form,
                                   **flash_args(refusal))
    return see_other("/web/admin/privacy-notice?done=1")


# --- my data ---------------------------------------------------------------------------------------
def _name(child: dict) -> str:
    return " ".join(x for x in (child.get("last_name"), child.get("first_name")) if x) or child["student_id"]


async def _my_data(request: Request, services: ServicesDep, *, status_code: int = 200, erasure: dict | None = None,
                   **flash):
    roles = set(request.state.principal.roles)
    exports = children = []
    if roles & EXPORTERS:
        exports = (await services.call("auth", "list_subject_exports", limit=20, offset=0)).get("items", [])
    if "parent" in roles:
        children = [{"id": c["student_id"], "name": _name(c)}
                    for c in (await services.call("grades", "my_children")).get("items", [])]
    names = {c["id"]: c["name"] for c in children}
    return render(request, "my_data.html", status_code=status_code, exports=exports, children=children,
                  names=names, can_export=bool(roles & EXPORTERS), can_request=bool(roles & {"student", "parent"}),
                  erasure=erasure, **flash)


@router.get("/my-data", summary="My data: export, erasure request")
async def my_data(request: Request, services: ServicesDep):
    return await _my_data(request, services)


@router.post("/my-data/exports", summary="Export everything the platform holds about me (or my child)")
async def start_export(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(ExportIn, {"person_id": form.get("person_id") or None})
        job = await services.call("auth", "start_subject_export",
                                  person_id=str(body.person_id) if body.person_id else None, user_id=None)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _my_data(request, services, status_code=status_of(refusal), **flash_args(refusal))
    return see_other(f"{EXPORTS}/{job['id']}")


@router.get("/my-data/exports/{export_id}", summary="An export's progress and its one-time download links")
async def export_job(export_id: UUID, request: Request, services: ServicesDep):
    job = await services.call("auth", "subject_export_job", export_id=str(export_id), base_path=EXPORTS)
    return render(request, "my_data_export.html", job=job)


@router.get("/my-data/exports/{export_id}/download", summary="Download a finished export (one-time link)")
async def download(export_id: UUID, request: Request, services: ServicesDep,
                   token: Annotated[str, Query(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]):
    file = await services.call("auth", "open_subject_export_download", export_id=str(export_id), token=token)

    async def chunks():
        for seq in range(file["chunks"]):
            part = await services.call("auth", "subject_export_chunk", file_id=file["file_id"], seq=seq)
            yield base64.b64decode(part["data"])

    return StreamingResponse(chunks(), media_type=file["content_type"], headers={
        "Content-Disposition": content_disposition(file["filename"]), "Content-Length": str(file["size"]),
        "Cache-Control": "no-store"})


@router.post("/my-data/erasure", summary="Ask for my data (or my child's) to be erased: the legal answer")
async def erasure(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(ErasureIn, {"person_id": form.get("person_id") or None, "reason": form.get("reason") or None})
        answer = await services.call("auth", "erasure_request", person_id=str(body.person_id) if body.person_id
                                     else None, reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _my_data(request, services, status_code=status_of(refusal), **flash_args(refusal))
    return await _my_data(request, services, erasure=answer)
