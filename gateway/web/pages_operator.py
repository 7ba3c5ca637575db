"""The operator's backup pages: the cluster's replication and backups at a glance (with the
embedded SQLite mode's "CAT-6 not met" statement when the status says so), each school's
contract end and legal hold (CAT-8) with their forms, the restore drills and the cluster runs.

Every form calls the same RPC as the JSON route, validated by the API's own body model.
"""
from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from ..deps import ServicesDep
from ..routes.backup_tenant import ContractIn, LegalHoldIn
from . import sources
from .forms import Refusal, flash_args, form_of, or_raise, page_or_refusal, status_of, validated
from .render import render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)


async def _backup_page(request: Request, services: ServicesDep, *, status_code: int = 200, failed: str | None = None,
                       form: dict | None = None, **flash):
    status = await services.call("backup", "cluster_status")
    known = await sources.all_items(services, "backup", "backup_tenants")
    names = {t["id"]: t["name"] for t in await sources.tenants(services)}
    drills = (await services.call("backup", "jobs_list", kind="drill", limit=10, offset=0)).get("items", [])
    runs = (await services.call("backup", "list_cluster_runs", limit=10, offset=0)).get("items", [])
    cat6 = status.get("cat6") or {}
    embedded = any(d.get("backend") == "sqlite" for d in (cat6.get("databases") or {}).values())
    schools = sorted(({**t, "name": names.get(t["tenant_id"], t["tenant_id"])} for t in known),
                     key=lambda t: t["name"])
    return render(request, "operator_backup.html", status_code=status_code, status=status, cat6=cat6,
                  embedded=embedded, schools=schools, drills=drills, runs=runs, failed=failed, form=form or {},
                  done=request.query_params.get("done"), **flash)


@router.get("/operator/backup", summary="Backups, replication, restore drills and each school's retention")
async def backup(request: Request, services: ServicesDep):
    return await _backup_page(request, services)


async def _school_form(request: Request, services: ServicesDep, tenant_id: str, what: str, act):
    form = await form_of(request)
    try:
        await act(form)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _backup_page(
            request, services, status_code=status_of(refusal), failed=f"{what}:{tenant_id}", form=form,
            **flash_args(refusal)))
    return see_other(f"/web/operator/backup?done={what}")


@router.post("/operator/tenants/{tenant_id}/contract", summary="Record a school's contract end (empty: still running)")
async def contract(tenant_id: UUID, request: Request, services: ServicesDep):
    async def act(form):
        if "contract_end" not in form:  # an empty date is a choice ("still running"); no field is not
            raise Refusal("invalid_input", "check the highlighted fields", ("contract_end",))
        body = validated(ContractIn, {"contract_end": form["contract_end"] or None,
                                      "handover_recipient": form.get("handover_recipient") or None})
        await services.call("backup", "backup_record_contract", tenant_id=str(tenant_id),
                            contract_end=body.contract_end.isoformat() if body.contract_end else None,
                            handover_recipient=body.handover_recipient)
    return await _school_form(request, services, str(tenant_id), "contract", act)


@router.post("/operator/tenants/{tenant_id}/legal-hold", summary="Place or lift a school's legal hold")
async def legal_hold(tenant_id: UUID, request: Request, services: ServicesDep):
    async def act(form):
        body = validated(LegalHoldIn, {"hold": {"yes": True, "no": False}.get(form.get("hold", "")),
                                       "reason": form.get("reason") or None})
        await services.call("backup", "backup_set_legal_hold", tenant_id=str(tenant_id), hold=body.hold,
                            reason=body.reason)
    return await _school_form(request, services, str(tenant_id), "hold", act)
