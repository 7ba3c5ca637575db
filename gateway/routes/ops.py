"""Liveness, readiness, metrics, and operator read-outs."""
from __future__ import annotations

import asyncio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.kernel.settings import SERVICES

from ..deps import ServicesDep

router = APIRouter()


@router.get("/healthz", tags=["ops"], summary="The gateway process is alive")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"], summary="Broker reachable and every service answering")
async def readyz(request: Request):
    client = request.app.state.rpc
    timeout = request.app.state.readiness_timeout
    checks: dict[str, str] = {"broker": "ok" if client.connected else "unreachable"}
    details: dict[str, dict] = {}

    async def ping(name: str) -> None:
        try:
            answer = await client.call(name, "ping", timeout=timeout)
            checks[name] = "ok"
            if isinstance(answer, dict) and answer.get("details"):
                details[name] = answer["details"]
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
            checks[name] = type(exc).__name__

    if client.connected:
        await asyncio.gather(*(ping(name) for name in SERVICES))
    else:
        checks.update({name: "unknown" for name in SERVICES})
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    if details:
        body["details"] = details  # e.g. backup: whether CAT-6 (two sources at save) is met
    return JSONResponse(body,
                        status_code=200 if ready else 503)


@router.get("/metrics", tags=["ops"], include_in_schema=False)
async def metrics():
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/backup/stats", tags=["ops"], summary="Events the backup service has seen, per type")
async def backup_stats(services: ServicesDep):
    return await services.call("backup", "stats")
