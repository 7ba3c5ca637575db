"""GET /v1/me: who the caller is, answered from the verified token alone.

Its own module because it is the most frequent request of all (every client asks on start
and after each refresh) and routes are matched in order: the app includes it right after the
probes (see `gateway/app.py`)."""
from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from ..deps import get_services

router = APIRouter(prefix="/v1")


@router.get("/me", tags=["auth"], summary="The caller as the token describes them",
            description="`privacy_notice_pending` is `{\"version\": n}` while the school's current privacy notice "
                        "is not acknowledged (show it, then `POST /v1/privacy-notice/acknowledgement`), else null.")
async def me(request: Request):
    # answered from the verified token alone, except while it says a privacy notice was pending when
    # it was issued (claim `pnp`): then auth is asked whether it still is. A notice published later
    # shows up with the next token (a refresh, at most the access token's lifetime later).
    p = request.state.principal
    pending = None
    if p.claims.get("pnp") and not p.is_partial:
        services = await get_services(request)
        pending = (await services.call("auth", "privacy_notice_pending"))["privacy_notice_pending"]
    body = {"user_id": p.user_id, "tenant_id": p.tenant_id, "roles": sorted(p.roles), "factors": sorted(p.factors),
            "person_id": p.person_id, "stage": p.stage, "children": sorted(p.children),
            "privacy_notice_pending": pending}
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type="application/json")
