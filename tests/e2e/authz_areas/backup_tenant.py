"""Matrix rows of the per-tenant backups: operator only, except the hand-over download, which
the school's own administrator and director may use (the backup service checks the tenant)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from tests.e2e.authz import (ACCEPTED, ADM, ADMT, DIR, INVALID, MATRIX, NOT_FOUND, OK, OP, PREPARE, Call, Row,
                             World, only, route)

T = "/v1/backup/tenants/{tenant_id}"
NO_HANDOVER = (404, "not_found", "no hand-over archive exists for this school yet")
CONFIRM_LIVE = (422, "invalid_input", "confirm it by repeating the tenant id")

MATRIX.update({
    ("GET", "/v1/backup/tenants"): Row(only({OP: OK})),
    ("GET", T): Row(only({OP: OK})),
    ("GET", T + "/sets"): Row(only({OP: OK})),
    ("POST", T + "/sets"): Row(only({OP: ACCEPTED})),
    ("PUT", T + "/contract"): Row(only({OP: OK}), variants={"other-record": {OP: INVALID}}),
    ("PUT", T + "/legal-hold"): Row(only({OP: OK})),
    # school A's archive: its own administrators and director; school B's id: not theirs
    ("GET", T + "/handover"): Row(
        only({OP: OK, ADM: OK, DIR: OK, ADMT: OK}),
        variants={"other-tenant": {OP: NO_HANDOVER, ADM: NO_HANDOVER, DIR: NO_HANDOVER, ADMT: NO_HANDOVER}}),
    # a live restore must be confirmed (the service refuses it otherwise); a fresh one starts
    ("POST", "/v1/backup/restores"): Row(only({OP: ACCEPTED}), variants={"other-record": {OP: CONFIRM_LIVE}}),
    ("GET", "/v1/backup/restores"): Row(only({OP: OK})),
    ("POST", "/v1/backup/drills"): Row(only({OP: ACCEPTED})),
    ("GET", "/v1/backup/drills"): Row(only({OP: OK})),
    ("GET", "/v1/backup/jobs"): Row(only({OP: OK})),
    ("POST", "/v1/backup/jobs"): Row(only({OP: ACCEPTED})),
    ("GET", "/v1/backup/jobs/{job_id}"): Row(only({OP: OK}), variants={"other-record": {OP: NOT_FOUND}}),
})


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def _prepare(w: World) -> None:
    """School A's contract ends today: its hand-over archive is made (kept 24 months)."""
    op, tenant = w.token(OP), w.ids["A.tenant"]
    w.ok("PUT", f"/v1/backup/tenants/{tenant}/contract", op, json={"contract_end": _today()})
    job = w.ok("POST", f"/v1/backup/tenants/{tenant}/sets", op, json={"kind": "handover"})
    deadline = time.monotonic() + 60
    while w.ok("GET", f"/v1/backup/jobs/{job['id']}", op)["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the hand-over job did not finish"
        time.sleep(0.3)
    assert w.ok("GET", f"/v1/backup/jobs/{job['id']}", op)["status"] == "succeeded"
    w.ids["backup.job"] = job["id"]


PREPARE.append(_prepare)


def _tenant(w: World, v: str) -> str:
    return w.ids["B.tenant" if v == "other-tenant" else "A.tenant"]


for _suffix in ("", "/sets"):
    route("GET", T + _suffix)(lambda w, c, v, s=_suffix: Call(w.token(c), "GET", f"/v1/backup/tenants/{_tenant(w, v)}{s}"))


@route("GET", "/v1/backup/tenants")
def _tenants(w, c, v):
    return Call(w.token(c), "GET", "/v1/backup/tenants")


@route("POST", T + "/sets")
def _start_set(w, c, v):
    return Call(w.token(c), "POST", f"/v1/backup/tenants/{_tenant(w, v)}/sets", json={"kind": "incremental"})


@route("PUT", T + "/contract")
def _contract(w, c, v):
    body = {"contract_end": _today()}
    if v == "other-record":  # not an age public key
        body["handover_recipient"] = "age1notakey"
    return Call(w.token(c), "PUT", f"/v1/backup/tenants/{_tenant(w, v)}/contract", json=body)


@route("PUT", T + "/legal-hold")
def _hold(w, c, v):
    return Call(w.token(c), "PUT", f"/v1/backup/tenants/{_tenant(w, v)}/legal-hold", json={"hold": False})


@route("GET", T + "/handover")
def _handover(w, c, v):
    return Call(w.token(c), "GET", f"/v1/backup/tenants/{_tenant(w, v)}/handover")


@route("POST", "/v1/backup/restores")
def _restore(w, c, v):
    body = {"tenant_id": w.ids["A.tenant"], "mode": "live" if v == "other-record" else "fresh"}
    return Call(w.token(c), "POST", "/v1/backup/restores", json=body)


@route("POST", "/v1/backup/drills")
def _drill(w, c, v):
    return Call(w.token(c), "POST", "/v1/backup/drills", json={"tenant_id": w.ids["A.tenant"]})


@route("POST", "/v1/backup/jobs")
def _job(w, c, v):
    return Call(w.token(c), "POST", "/v1/backup/jobs", json={"kind": "retention"})


for _path in ("/v1/backup/restores", "/v1/backup/drills", "/v1/backup/jobs"):
    route("GET", _path)(lambda w, c, v, p=_path: Call(w.token(c), "GET", p))


@route("GET", "/v1/backup/jobs/{job_id}")
def _get_job(w, c, v):
    job = "00000000-0000-4000-8000-000000000000" if v == "other-record" else w.ids["backup.job"]
    return Call(w.token(c), "GET", f"/v1/backup/jobs/{job}")
