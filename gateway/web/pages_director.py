"""The director's pages: one approvals queue (delegations, parents' motivation requests,
amendments of a closed period) and closing a period after reading its warnings.

The queue reads the grades service's lists (`list_delegations`, `list_motivation_requests`);
each decision form calls the same RPC as the JSON route. Closing shows the service's own
`closing_check` warnings and closes with `confirm` only when the director ticks it.
"""
from __future__ import annotations

import re
from uuid import UUID

from fastapi import APIRouter, Request

from ..catalog_schemas import AmendmentIn, CloseIn, DecisionIn
from ..deps import ServicesDep
from . import sources
from .forms import Refusal, flash_args, form_of, or_raise, status_of, validated
from .i18n import translations
from .pages_teacher import catalog_of, pupil_name
from .render import lang_of, render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)
_TOO_FEW = re.compile(r"^(\d+) of at least (\d+) grades$")


# --- the approvals queue ---------------------------------------------------------------------------
async def _queue(request: Request, services: ServicesDep, *, status_code: int = 200, failed: str | None = None,
                 form: dict | None = None, **flash):
    delegations = await sources.all_items(services, "grades", "list_delegations", status="requested")
    motivations = await sources.all_items(services, "grades", "list_motivation_requests", status="pending")
    directory = await sources.school_directory(services)
    teachers = await sources.all_items(services, "auth", "list_members", role="teacher")
    classes = {c["id"]: c for c in directory["classes"]}
    subjects = {s["id"]: s["name"] for s in directory["subjects"]}
    people = {t["id"]: t.get("full_name") or t.get("email") for t in teachers}
    pupils = await sources.pupil_names(services, request.state.principal.tenant_id or "",
                                       [m["student_id"] for m in motivations])
    years = (await services.call("grades", "list_school_years")).get("items", [])
    closed_periods = [{**p, "year": y["name"]} for y in years for p in y["periods"] if p["closed"]]
    amend_class = (form or {}).get("class_id") or request.query_params.get("amend_class")
    roster = []
    if amend_class in classes:
        gettext = translations(lang_of(request)).gettext
        catalog = await catalog_of(services, amend_class)
        roster = [{"id": p["student_id"], "name": pupil_name(p, i, gettext)}
                  for i, p in enumerate(catalog["pupils"], 1)]
    else:
        amend_class = None
    disputes = await sources.all_items(services, "grades", "list_grade_disputes", status="escalated")
    return render(request, "director_approvals.html", status_code=status_code, delegations=delegations,
                  disputes=disputes,
                  motivations=motivations, classes=classes, subjects=subjects, people=people, pupils=pupils,
                  directory=directory, closed_periods=closed_periods, amend_class=amend_class, roster=roster,
                  done=request.query_params.get("done"), failed=failed, form=form or {}, **flash)


@router.get("/director/approvals", summary="The director's approvals queue")
async def approvals(request: Request, services: ServicesDep):
    return await _queue(request, services)


async def _decide(request: Request, services: ServicesDep, method: str, key: str, item_id: str, done: str):
    form = await form_of(request)
    try:
        body = validated(DecisionIn, {"approve": {"yes": True, "no": False}.get(form.get("approve", ""), None),
                                      "reason": form.get("reason") or None})
        await services.call("grades", method, **{key: item_id}, approve=body.approve, reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _queue(request, services, status_code=status_of(refusal), failed=f"{done}:{item_id}",
                            **flash_args(refusal))
    return see_other(f"/web/director/approvals?done={done}")


@router.post("/director/delegations/{delegation_id}/decision", summary="Approve or reject a delegation")
async def decide_delegation(delegation_id: UUID, request: Request, services: ServicesDep):
    return await _decide(request, services, "decide_delegation", "delegation_id", str(delegation_id), "delegation")


@router.post("/director/motivation-requests/{request_id}/decision", summary="Approve or reject a motivation request")
async def decide_motivation(request_id: UUID, request: Request, services: ServicesDep):
    return await _decide(request, services, "decide_motivation", "request_id", str(request_id), "motivation")


@router.post("/director/amendments", summary="Allow a correction in a closed period for one pupil and subject")
async def amendment(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(AmendmentIn, {k: form.get(k, "") for k in ("class_id", "student_id", "subject_id", "reason")})
        await services.call("grades", "approve_amendment", period_id=_period_id(form), class_id=str(body.class_id),
                            student_id=str(body.student_id), subject_id=str(body.subject_id), reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _queue(request, services, status_code=status_of(refusal), failed="amendment", form=form,
                            **flash_args(refusal))
    return see_other("/web/director/approvals?done=amendment")


def _period_id(form: dict) -> str:
    try:
        return str(UUID(form.get("period_id", "")))
    except ValueError:
        raise Refusal("invalid_input", "check the highlighted fields", ("period_id",)) from None


# --- closing a period -------------------------------------------------------------------------------
def describe_warnings(warnings: list[dict], gettext) -> None:
    """The service's detail is English; each warning gets the page's own, in the user's language
    (also used by the year's closing, pages_school_year.py)."""
    for w in warnings:
        m = _TOO_FEW.match(w.get("detail") or "")
        w["detail_text"] = gettext("%(n)s of at least %(m)s grades") % {"n": m[1], "m": m[2]} if m else ""


@router.get("/director/periods", summary="The school years, their periods to close, and the classes' catalogs")
async def periods(request: Request, services: ServicesDep):
    years = (await services.call("grades", "list_school_years")).get("items", [])
    classes = (await sources.school_directory(services))["classes"]
    return render(request, "director_periods.html", years=years, classes=classes,
                  done=request.query_params.get("done"))


async def _closing(request: Request, services: ServicesDep, period_id: str, *, status_code: int = 200, **flash):
    check = await services.call("grades", "closing_check", period_id=period_id)
    describe_warnings(check["warnings"], translations(lang_of(request)).gettext)
    return render(request, "director_close.html", status_code=status_code, check=check, period=check["period"],
                  **flash)


@router.get("/director/periods/{period_id}/close", summary="A period's warnings before closing it")
async def closing_check(period_id: UUID, request: Request, services: ServicesDep):
    return await _closing(request, services, str(period_id))


@router.post("/director/periods/{period_id}/close", summary="Close a period (confirming its warnings)")
async def close_period(period_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(CloseIn, {"confirm": form.get("confirm") == "yes"})
        await services.call("grades", "close_period", period_id=str(period_id), confirm=body.confirm)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _closing(request, services, str(period_id), status_code=status_of(refusal),
                              **flash_args(refusal))
    return see_other("/web/director/periods?done=closed")
