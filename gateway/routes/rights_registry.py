"""Routes of the data-subject rights owned by the registry (issue 11, CAT-11, REG-8): the
restriction of processing of a person, and rectification requests of registry data.
See docs/architecture.md ("Data-subject rights in the registry")."""
from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field

from ..deps import ServicesDep
from ..schemas import Body

router = APIRouter(prefix="/v1", tags=["rights"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]
Reason = Field(min_length=1, max_length=500)
Number = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=500)]

_STATE_EXAMPLE = {"person_id": "3f0c2a4e-8d51-4b7a-9b0e-2c6f1d9a7e10", "tenant_id": "8a1d…", "restricted": True,
                  "reason": "cererea elevei din 12.03.2027 (art. 18 GDPR), până la soluționarea contestației",
                  "since": "2027-03-12T09:41:00+00:00",
                  "history": [{"id": "c2b1…", "reason": "cererea elevei din 12.03.2027", "set_by": "5e9f…",
                               "set_at": "2027-03-12T09:41:00+00:00", "lift_reason": None, "lifted_by": None,
                               "lifted_at": None, "active": True}]}
_REQUEST_EXAMPLE = {"id": "a7c4…", "person_id": "3f0c…", "field": "personal.birth_date",
                    "proposed_value": "2009-04-05", "sealed": False, "reason": "ziua și luna sunt inversate",
                    "attachment_ref": "certificat de naștere seria N nr. 123456", "requester_id": "5e9f…",
                    "requester_role": "student", "status": "pending", "decided_by": None, "decision_reason": None,
                    "decided_at": None, "version": None, "created_at": "2027-03-12T09:41:00+00:00"}


class RestrictionIn(Body):
    reason: str = Field(min_length=1, max_length=500,
                        examples=["cererea scrisă a elevei din 12.03.2027 (art. 18 GDPR)"])


class RectificationIn(Body):
    person_id: UUID | None = Field(None, description="whose record: yourself by default; a parent names their "
                                                     "child, staff the person they act for")
    field: str = Field(min_length=1, max_length=80, pattern=r"^([a-z_]+\.)?[a-z_]+$",
                       description="`section.key` of the chapter V record (a bare key means `personal.`)",
                       examples=["personal.birth_date"])
    proposed_value: Text | bool | int | Number | None = Field(
        description="the correct value (null clears an optional field)", examples=["2009-04-05"])
    reason: str = Field(min_length=1, max_length=500, examples=["ziua și luna nașterii sunt inversate"])
    attachment_ref: str | None = Field(None, min_length=1, max_length=200,
                                       examples=["certificat de naștere seria N nr. 123456"])


class DecisionIn(Body):
    approve: bool
    reason: str = Field(min_length=1, max_length=500, examples=["verificat cu certificatul de naștere"])


@router.get("/persons/{person_id}/processing-restriction",
            summary="Whether processing of a person's data is restricted, with every period",
            description="For the school's administrator, director and registrar. A person registered by "
                        "another institution is not found.",
            responses={200: {"content": {"application/json": {"example": _STATE_EXAMPLE}}}})
async def get_restriction(person_id: UUID, services: ServicesDep):
    return await services.call("registry", "get_processing_restriction", person_id=str(person_id))


@router.put("/persons/{person_id}/processing-restriction",
            summary="Restrict processing of a person's data, at their request (with the reason)",
            description="While it holds, the person stays in the legal record and visible to the staff "
                        "who need it, and is left out of statistics, exports to external bodies, notifications "
                        "and other non-essential processing in every service (they learn it from the event "
                        "`registry.processing_restricted`). Already restricted: 409.",
            responses={200: {"content": {"application/json": {"example": _STATE_EXAMPLE}}},
                       409: {"description": "already restricted"}})
async def set_restriction(person_id: UUID, body: RestrictionIn, services: ServicesDep):
    return await services.call("registry", "set_processing_restriction", person_id=str(person_id),
                               reason=body.reason)


@router.post("/persons/{person_id}/processing-restriction/lift",
             summary="Lift the restriction of processing (with the reason)",
             description="Recorded as `registry.processing_restriction_lifted`; the period stays in the "
                         "history. Not restricted: 409.",
             responses={409: {"description": "not restricted"}})
async def lift_restriction(person_id: UUID, body: RestrictionIn, services: ServicesDep):
    return await services.call("registry", "lift_processing_restriction", person_id=str(person_id),
                               reason=body.reason)


@router.post("/rights/registry-rectifications", status_code=201,
             summary="Ask for a rectification of one field of a registry record",
             description="By the student themselves (`person_id` left out), a parent for their child, or the "
                         "school's staff on the person's behalf. The value is checked as any change of the "
                         "record is; a birth date or sex must agree with the CNP (rectify `personal.cnp`, "
                         "which brings both). The proposed value of a sensitive field (ethnicity, medical or "
                         "social situation) is sealed. The registrar or the school's administrator decides.",
             responses={201: {"content": {"application/json": {"example": _REQUEST_EXAMPLE}}}})
async def request_rectification(body: RectificationIn, services: ServicesDep):
    return await services.call("registry", "request_rectification", field=body.field,
                               proposed_value=body.proposed_value, reason=body.reason,
                               person_id=str(body.person_id) if body.person_id else None,
                               attachment_ref=body.attachment_ref)


@router.get("/rights/registry-rectifications", summary="Rectification requests, paginated",
            description="Staff see their institution's requests; a student their own; a parent their "
                        "children's. A sealed proposed value is shown to the registrar only.")
async def list_rectifications(services: ServicesDep,
                              status: Literal["pending", "approved", "rejected"] | None = None,
                              person_id: UUID | None = None, limit: Limit = 50, offset: Offset = 0):
    return await services.call("registry", "list_rectifications", status=status,
                               person_id=str(person_id) if person_id else None, limit=limit, offset=offset)


@router.post("/rights/registry-rectifications/{request_id}/decision",
             summary="Approve (a new version of the record) or reject (with the reason) a rectification",
             description="The registrar or the school's administrator (a sensitive field: the registrar). "
                         "Approved, the change is a new version of the record (REG-8), "
                         "`registry.person_rectified`; either way `registry.rectification_approved` or "
                         "`registry.rectification_rejected` carries the reason and the requester, who is "
                         "told by e-mail. An archived record (studies ended) is corrected through the "
                         "central authority instead (409).",
             responses={200: {"content": {"application/json": {"example": {
                 **_REQUEST_EXAMPLE, "status": "approved", "decided_by": "9b2e…",
                 "decision_reason": "verificat cu certificatul de naștere", "version": 3}}}},
                        409: {"description": "already decided, or the record is archived"}})
async def decide_rectification(request_id: UUID, body: DecisionIn, services: ServicesDep):
    return await services.call("registry", "decide_rectification", request_id=str(request_id),
                               approve=body.approve, reason=body.reason)
