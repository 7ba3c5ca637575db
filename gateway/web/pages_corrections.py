"""Rectification in the browser (issue 11 through issue 12): a pupil's or parent's grade dispute
(opened from the pupil's grades, escalated to the director after a teacher's rejection), the
subject teacher's and the director's decisions, and requests to rectify registry data with the
registry clerk's or school admin's decision.

Every form calls the RPC of the JSON route (gateway/routes/rights_grades.py,
rights_registry.py) with its body model; the grades and registry services check who may ask
and who may decide, on which record and at which step.
"""
from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from services.kernel.errors import NotFound

from ..deps import ServicesDep
from ..routes.rights_grades import DisputeDecisionIn, EscalationIn, GradeDisputeIn
from ..routes.rights_registry import DecisionIn, RectificationIn, RestrictionIn
from . import sources
from .forms import flash_args, form_of, or_raise, page_or_refusal, status_of, validated
from .render import render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)
YES_NO = {"yes": True, "no": False}


def _int_or_none(value: str | None):
    """A form's number: the text itself when it is not one, so the body model names the field."""
    if not value:
        return None
    return int(value) if value.isdigit() else value


# --- a grade dispute, asked ------------------------------------------------------------------------
async def _dispute_form(request: Request, services: ServicesDep, grade_id: str, *, status_code: int = 200,
                        form: dict | None = None, **flash):
    grade = next((g for g in await sources.all_items(services, "grades", "list_grades") if g["id"] == grade_id),
                 None)
    if grade is None:
        raise NotFound("grade not found")
    return render(request, "grade_dispute_new.html", status_code=status_code, grade=grade, form=form or {}, **flash)


@router.get("/grade-disputes/new", summary="Dispute one of my (or my child's) grades")
async def dispute_form(request: Request, services: ServicesDep, grade_id: UUID):
    return await _dispute_form(request, services, str(grade_id))


@router.post("/grade-disputes", summary="Dispute a grade")
async def open_dispute(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(GradeDisputeIn, {"grade_id": form.get("grade_id", ""), "reason": form.get("reason", ""),
                                          "proposed_value": _int_or_none(form.get("proposed_value")),
                                          "attachment_ref": form.get("attachment_ref") or None})
        await services.call("grades", "open_grade_dispute", grade_id=str(body.grade_id), reason=body.reason,
                            proposed_value=body.proposed_value, proposed_qualifier=None,
                            attachment_ref=body.attachment_ref)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _dispute_form(
            request, services, form.get("grade_id", ""), status_code=status_of(refusal), form=form,
            **flash_args(refusal)))
    return see_other("/web/my-data/requests?done=dispute")


@router.post("/grade-disputes/{dispute_id}/escalation", summary="Ask the director to decide a rejected dispute")
async def escalate(dispute_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(EscalationIn, {"reason": form.get("reason") or None})
        await services.call("grades", "escalate_grade_dispute", dispute_id=str(dispute_id), reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _requests(request, services, status_code=status_of(refusal),
                                                                 **flash_args(refusal)))
    return see_other("/web/my-data/requests?done=escalated")


# --- my requests: disputes and registry rectifications ---------------------------------------------
async def _requests(request: Request, services: ServicesDep, *, status_code: int = 200, form: dict | None = None,
                    **flash):
    disputes = await sources.all_items(services, "grades", "list_grade_disputes")
    rectifications = await sources.all_items(services, "registry", "list_rectifications")
    children = []
    if "parent" in request.state.principal.roles:
        children = [{"id": c["student_id"], "name": " ".join(x for x in (c.get("last_name"), c.get("first_name")) if x)}
                    for c in (await services.call("grades", "my_children")).get("items", [])]
    return render(request, "my_requests.html", status_code=status_code, disputes=disputes,
                  rectifications=rectifications, children=children, form=form or {},
                  done=request.query_params.get("done"), **flash)


@router.get("/my-data/requests", summary="My rectification requests and grade disputes")
async def my_requests(request: Request, services: ServicesDep):
    return await _requests(request, services)


@router.post("/my-data/rectifications", summary="Ask for a rectification of my registry data")
async def request_rectification(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(RectificationIn, {"person_id": form.get("person_id") or None, "field": form.get("field", ""),
                                           "proposed_value": form.get("proposed_value") or None,
                                           "reason": form.get("reason", ""),
                                           "attachment_ref": form.get("attachment_ref") or None})
        await services.call("registry", "request_rectification", field=body.field,
                            proposed_value=body.proposed_value, reason=body.reason,
                            person_id=str(body.person_id) if body.person_id else None,
                            attachment_ref=body.attachment_ref)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _requests(request, services, status_code=status_of(refusal),
                                                                 form=form, **flash_args(refusal)))
    return see_other("/web/my-data/requests?done=rectification")


# --- the deciders ----------------------------------------------------------------------------------
async def _disputes_to_decide(request: Request, services: ServicesDep, *, status_code: int = 200,
                              failed: str | None = None, **flash):
    disputes = await sources.all_items(services, "grades", "list_grade_disputes", status="open")
    return render(request, "teacher_disputes.html", status_code=status_code, disputes=disputes, failed=failed,
                  done=request.query_params.get("done"), **flash)


@router.get("/teacher/grade-disputes", summary="Disputes of the grades of my subjects, to decide")
async def teacher_disputes(request: Request, services: ServicesDep):
    return await _disputes_to_decide(request, services)


@router.post("/grade-disputes/{dispute_id}/decision", summary="Decide a grade dispute (teacher; director once escalated)")
async def decide_dispute(dispute_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    director = "director" in request.state.principal.roles and "teacher" not in request.state.principal.roles
    back = "/web/director/approvals" if director else "/web/teacher/grade-disputes"
    try:
        body = validated(DisputeDecisionIn, {"approve": YES_NO.get(form.get("approve", "")),
                                             "reason": form.get("reason", ""),
                                             "value": _int_or_none(form.get("value"))})
        await services.call("grades", "decide_grade_dispute", dispute_id=str(dispute_id), approve=body.approve,
                            reason=body.reason, value=body.value, qualifier=None)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        if director:
            from .pages_director import _queue
            return await page_or_refusal(request, refusal, _queue(
                request, services, status_code=status_of(refusal), failed=f"dispute:{dispute_id}",
                **flash_args(refusal)))
        return await page_or_refusal(request, refusal, _disputes_to_decide(
            request, services, status_code=status_of(refusal), failed=str(dispute_id), **flash_args(refusal)))
    return see_other(f"{back}?done=dispute")


async def _rectifications(request: Request, services: ServicesDep, *, status_code: int = 200,
                          failed: str | None = None, **flash):
    pending = await sources.all_items(services, "registry", "list_rectifications", status="pending")
    return render(request, "registry_rectifications.html", status_code=status_code, pending=pending, failed=failed,
                  done=request.query_params.get("done"), **flash)


@router.get("/registry/rectifications", summary="Pending rectifications of registry data, to decide")
async def rectifications(request: Request, services: ServicesDep):
    return await _rectifications(request, services)


@router.post("/registry/rectifications/{request_id}/decision", summary="Approve or reject a rectification")
async def decide_rectification(request_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(DecisionIn, {"approve": YES_NO.get(form.get("approve", "")), "reason": form.get("reason", "")})
        await services.call("registry", "decide_rectification", request_id=str(request_id), approve=body.approve,
                            reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _rectifications(
            request, services, status_code=status_of(refusal), failed=str(request_id), **flash_args(refusal)))
    return see_other("/web/registry/rectifications?done=1")


# --- restriction of processing (registry) ----------------------------------------------------------
async def _restriction(request: Request, services: ServicesDep, person_id: str, *, status_code: int = 200,
                       form: dict | None = None, **flash):
    state = await services.call("registry", "get_processing_restriction", person_id=person_id)
    return render(request, "person_restriction.html", status_code=status_code, state=state, person_id=person_id,
                  form=form or {}, done=request.query_params.get("done"), **flash)


@router.get("/persons/{person_id}/restriction", summary="A person's restriction of processing, with its history")
async def restriction(person_id: UUID, request: Request, services: ServicesDep):
    return await _restriction(request, services, str(person_id))


@router.post("/persons/{person_id}/restriction", summary="Set (restrict=yes) or lift the restriction, with a reason")
async def change_restriction(person_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(RestrictionIn, {"reason": form.get("reason", "")})
        method = "set_processing_restriction" if form.get("restrict") == "yes" else "lift_processing_restriction"
        await services.call("registry", method, person_id=str(person_id), reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _restriction(
            request, services, str(person_id), status_code=status_of(refusal), form=form, **flash_args(refusal)))
    return see_other(f"/web/persons/{person_id}/restriction?done=1")
