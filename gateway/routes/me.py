"""GET /v1/me: who the caller is, answered from the verified token alone.

Its own module because it is the most frequent request of all (every client asks on start
and after each refresh) and routes are matched in order: the app includes it right after the
probes (see `gateway/app.py`)."""
from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

router = APIRouter(prefix="/v1")


@router.get("/me", tags=["auth"], summary="The caller as the token describes them")
async def me(request: Request):
    # answered from the verified token alone: no service call, encoded once
    p = request.state.principal
    body = {"user_id": p.user_id, "tenant_id": p.tenant_id, "roles": sorted(p.roles), "factors": sorted(p.factors),
            "person_id": p.person_id, "stage": p.stage, "children": sorted(p.children)}
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type="application/json")
