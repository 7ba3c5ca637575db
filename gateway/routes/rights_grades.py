"""Data-subject rights in the catalog (issue 11): grade disputes (rectification of a grade).

A pupil disputes their own grade, a parent a child's; the subject's teacher decides; after a
teacher's rejection the requester may escalate and the director decides finally. An approval
changes the grade as a new version (the normal change, with the reason). The grades service
checks every rule again (who, which grade, which step).
"""
from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from ..catalog_schemas import Qualifier
from ..deps import ServicesDep
from ..schemas import Body
from .catalog import Limit, Offset

router = APIRouter(prefix="/v1", tags=["rights"])

DisputeStatus = Literal["open", "rejected_by_teacher", "escalated", "approved", "rejected"]


class GradeDisputeIn(Body):
    grade_id: UUID
    reason: str = Field(min_length=1, max_length=1000, examples=["Am răspuns corect la toate întrebările."])
    proposed_value: int | None = Field(None, ge=1, le=10, strict=True, examples=[9],
                                       description="the grade you believe right (classes V-XII)")
    proposed_qualifier: Qualifier | None = Field(None, description="the qualifier you believe right (0-IV)")
    attachment_ref: str | None = Field(None, min_length=1, max_length=200, examples=["lucrare-scanata-2026-10-12"])


class DisputeDecisionIn(Body):
    approve: bool
    reason: str = Field(min_length=1, max_length=1000, examples=["Punctajul a fost adunat greșit."])
    value: int | None = Field(None, ge=1, le=10, strict=True,
                              description="the corrected grade (default: the one proposed)")
    qualifier: Qualifier | None = Field(None, description="the corrected qualifier (default: the one proposed)")


class EscalationIn(Body):
    reason: str | None = Field(None, min_length=1, max_length=1000,
                               examples=["Cer reanalizarea lucrării de către director."])


@router.post("/rights/grade-disputes", status_code=201, summary="Dispute a grade (the pupil, or a parent)",
             description="Asks for a grade to be rectified: a reason, optionally the value or qualifier you "
                         "believe right and a reference to an attachment. The subject's teacher decides. One "
                         "undecided dispute per grade.")
async def open_dispute(body: GradeDisputeIn, services: ServicesDep):
    return await services.call("grades", "open_grade_dispute", grade_id=str(body.grade_id), reason=body.reason,
                               proposed_value=body.proposed_value, proposed_qualifier=body.proposed_qualifier,
                               attachment_ref=body.attachment_ref)


@router.get("/rights/grade-disputes", summary="Grade disputes that concern you, paginated",
            description="The director: the school's; a teacher: those of the subjects they teach in each class; "
                        "a parent: their children's; a pupil: their own. Newest first.")
async def list_disputes(services: ServicesDep, status: DisputeStatus | None = None, limit: Limit = 50,
                        offset: Offset = 0):
    return await services.call("grades", "list_grade_disputes", status=status, limit=limit, offset=offset)


@router.post("/rights/grade-disputes/{dispute_id}/decision",
             summary="Decide a grade dispute (the subject's teacher; the director once escalated)",
             description="Approving changes the grade as a new version with the reason (to the proposed value "
                         "unless `value`/`qualifier` is given); a closed period answers 409 `period_closed` until "
                         "the director approves an amendment. A rejection carries its reason.")
async def decide_dispute(dispute_id: UUID, body: DisputeDecisionIn, services: ServicesDep):
    return await services.call("grades", "decide_grade_dispute", dispute_id=str(dispute_id), approve=body.approve,
                               reason=body.reason, value=body.value, qualifier=body.qualifier)


@router.post("/rights/grade-disputes/{dispute_id}/escalation",
             summary="Ask the director to decide a dispute the teacher rejected (the requester)")
async def escalate_dispute(dispute_id: UUID, body: EscalationIn, services: ServicesDep):
    return await services.call("grades", "escalate_grade_dispute", dispute_id=str(dispute_id), reason=body.reason)
