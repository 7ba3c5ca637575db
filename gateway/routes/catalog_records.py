"""The catalog's other records: absences and their motivation, delegation of rights, closing."""
from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter

from ..catalog_schemas import (AbsencesIn, AmendmentIn, CancelIn, CloseIn, DecisionIn, DelegationIn, MotivateIn,
                               MotivationRequestIn, ReexaminationIn, RevokeIn)
from ..deps import ServicesDep
from .catalog import IdempotencyKey, Limit, Offset, _iso, _opt

router = APIRouter(prefix="/v1", tags=["catalog"])


# --- absences -------------------------------------------------------------------------------------
@router.post("/absences", status_code=201, summary="Record the absent pupils of one lesson (the subject's teacher)",
             description="One absence per pupil, date, timetable hour and subject; all the lesson's absent "
                         "pupils in one call.")
async def record_absences(body: AbsencesIn, services: ServicesDep, idempotency_key: IdempotencyKey = None):
    return await services.call("grades", "record_absences", class_id=str(body.class_id),
                               subject_id=str(body.subject_id), occurred_on=body.occurred_on.isoformat(),
                               hour=body.hour, student_ids=[str(s) for s in body.student_ids],
                               idempotency_key=idempotency_key)


@router.post("/absences/{absence_id}/cancel", summary="Cancel an absence recorded by mistake, with a reason")
async def cancel_absence(absence_id: UUID, body: CancelIn, services: ServicesDep):
    return await services.call("grades", "cancel_absence", absence_id=str(absence_id), **body.model_dump())


@router.get("/classes/{class_id}/absences", summary="A class's or a pupil's absences, with totals, paginated")
async def list_absences(class_id: UUID, services: ServicesDep, student_id: UUID | None = None,
                        period_id: UUID | None = None, limit: Limit = 50, offset: Offset = 0):
    return await services.call("grades", "list_absences", class_id=str(class_id), student_id=_opt(student_id),
                               period_id=_opt(period_id), limit=limit, offset=offset)


@router.post("/classes/{class_id}/absences/motivate", summary="Motivate a pupil's absences (homeroom teacher)",
             description="The absences listed in `absence_ids`, or every unmotivated one from `from_date` to "
                         "`to_date`. A medical motivation needs the document's reference.")
async def motivate(class_id: UUID, body: MotivateIn, services: ServicesDep, idempotency_key: IdempotencyKey = None):
    return await services.call("grades", "motivate_absences", class_id=str(class_id),
                               student_id=str(body.student_id), reason=body.reason, document_ref=body.document_ref,
                               from_date=_iso(body.from_date), to_date=_iso(body.to_date),
                               absence_ids=[str(a) for a in body.absence_ids] if body.absence_ids else None,
                               idempotency_key=idempotency_key)


@router.post("/motivation-requests", status_code=201, summary="A parent asks for a child's absences to be motivated",
             description="Within the school's limit of days per period or year; the director decides.")
async def request_motivation(body: MotivationRequestIn, services: ServicesDep, idempotency_key: IdempotencyKey = None):
    return await services.call("grades", "request_motivation", student_id=str(body.student_id),
                               from_date=body.from_date.isoformat(), to_date=body.to_date.isoformat(),
                               reason=body.reason, idempotency_key=idempotency_key)


@router.get("/motivation-requests", summary="Parents' motivation requests you may see, paginated")
async def list_motivation_requests(services: ServicesDep, limit: Limit = 50, offset: Offset = 0,
                                   status: Literal["pending", "approved", "rejected"] | None = None):
    return await services.call("grades", "list_motivation_requests", status=status, limit=limit, offset=offset)


@router.post("/motivation-requests/{request_id}/decision", summary="Approve or reject a motivation request (director)")
async def decide_motivation(request_id: UUID, body: DecisionIn, services: ServicesDep):
    return await services.call("grades", "decide_motivation", request_id=str(request_id), **body.model_dump())


# --- delegation -----------------------------------------------------------------------------------
@router.post("/delegations", status_code=201, summary="Ask for another teacher to write a class's subject for a while",
             description="In force only once the director approves it, and only from `starts_on` to `ends_on`.")
async def request_delegation(body: DelegationIn, services: ServicesDep):
    return await services.call("grades", "request_delegation", class_id=str(body.class_id),
                               subject_id=str(body.subject_id), delegate_id=str(body.delegate_id),
                               starts_on=body.starts_on.isoformat(), ends_on=body.ends_on.isoformat(),
                               reason=body.reason)


@router.get("/delegations", summary="Delegations you may see (the director: the school's), paginated",
            description="Listing records the expiry (`delegation_expired`) of any delegation past its end.")
async def list_delegations(services: ServicesDep, limit: Limit = 50, offset: Offset = 0,
                           status: Literal["requested", "approved", "rejected", "revoked"] | None = None):
    return await services.call("grades", "list_delegations", status=status, limit=limit, offset=offset)


@router.post("/delegations/{delegation_id}/decision", summary="Approve or reject a delegation (director)")
async def decide_delegation(delegation_id: UUID, body: DecisionIn, services: ServicesDep):
    return await services.call("grades", "decide_delegation", delegation_id=str(delegation_id), **body.model_dump())


@router.post("/delegations/{delegation_id}/revoke", summary="End a delegation early")
async def revoke_delegation(delegation_id: UUID, body: RevokeIn, services: ServicesDep):
    return await services.call("grades", "revoke_delegation", delegation_id=str(delegation_id), reason=body.reason)


# --- closing --------------------------------------------------------------------------------------
@router.get("/periods/{period_id}/closing-check", summary="What is wrong before closing a period (director)")
async def closing_check(period_id: UUID, services: ServicesDep):
    return await services.call("grades", "closing_check", period_id=str(period_id))


@router.post("/periods/{period_id}/close", summary="Close (lock) a period (director)",
             description="With warnings, answers 409 listing them unless `confirm` is true.")
async def close_period(period_id: UUID, body: CloseIn, services: ServicesDep):
    return await services.call("grades", "close_period", period_id=str(period_id), confirm=body.confirm)


@router.post("/periods/{period_id}/reopen", summary="Reopen a closed period, with a reason (director)")
async def reopen_period(period_id: UUID, body: RevokeIn, services: ServicesDep):
    return await services.call("grades", "reopen_period", period_id=str(period_id), reason=body.reason)


@router.post("/school-years/{school_year_id}/close", summary="Close the school year: freeze averages and situations",
             description="Closes every open period and freezes each pupil's averages and situation in one action.")
async def close_year(school_year_id: UUID, body: CloseIn, services: ServicesDep):
    return await services.call("grades", "close_year", school_year_id=str(school_year_id), confirm=body.confirm)


@router.post("/periods/{period_id}/amendments", status_code=201,
             summary="Allow a correction in a closed period for one pupil and subject (director)")
async def approve_amendment(period_id: UUID, body: AmendmentIn, services: ServicesDep):
    return await services.call("grades", "approve_amendment", period_id=str(period_id), class_id=str(body.class_id),
                               student_id=str(body.student_id), subject_id=str(body.subject_id), reason=body.reason)


@router.post("/classes/{class_id}/reexaminations", status_code=201,
             summary="Record a re-examination (corigență) or a late closing; the situation is recomputed")
async def record_reexamination(class_id: UUID, body: ReexaminationIn, services: ServicesDep):
    return await services.call("grades", "record_reexamination", class_id=str(class_id),
                               student_id=str(body.student_id), subject_id=str(body.subject_id), kind=body.kind,
                               average=body.average)


