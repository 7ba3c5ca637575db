"""Catalog views (one call each), statistics with no personal data, alerts."""
from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field

from ..deps import ServicesDep
from ..schemas import Body
from .catalog import Limit, Offset, _opt

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/classes/{class_id}/catalog", summary="The class catalog: pupils × subjects, for a period or the year",
            description="Grades, thesis, absences and averages (exact decimals as strings). The director, the "
                        "homeroom teacher and integrators see every subject; a teacher their own subjects.")
async def class_catalog(class_id: UUID, services: ServicesDep, period_id: UUID | None = None):
    # forwarded as the service wrote it: the answer is large, decoding and re-encoding it would cost
    return await services.respond("grades", "class_catalog", class_id=str(class_id), period_id=_opt(period_id))


@router.get("/classes/{class_id}/students/{student_id}/report-card",
            summary="A pupil's report card for a period or the year")
async def report_card(class_id: UUID, student_id: UUID, services: ServicesDep, period_id: UUID | None = None):
    return await services.call("grades", "report_card", class_id=str(class_id), student_id=str(student_id),
                               period_id=_opt(period_id))


@router.get("/me/classes", summary="A teacher's classes and subjects, with what they may write today")
async def my_classes(services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("grades", "teacher_classes", limit=limit, offset=offset)


@router.get("/me/children", summary="A parent's children and their classes")
async def my_children(services: ServicesDep):
    return await services.call("grades", "my_children")


@router.get("/stats/grades", summary="Grade statistics with no personal data (CAT-19)",
            description="Distributions, means by subject and by class, absence rates. A cell computed from "
                        "fewer than 5 pupils is suppressed (null), and so is a complementary cell wherever a "
                        "total would let it be derived.")
async def grade_statistics(services: ServicesDep,
                           school_year: Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$")] = None):
    return await services.call("grades", "grade_statistics", school_year=school_year)


@router.get("/alerts", summary="Grades changed, cancelled, or written by a delegate or under an amendment")
async def list_alerts(services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("grades", "list_alerts", limit=limit, offset=offset)


class NoticesIn(Body):
    grades: Literal["off", "immediate", "digest"] = Field(description="messages about new grades")
    absences: Literal["off", "immediate", "digest"] = Field(description="messages about new absences")


@router.get("/me/catalog-notices", summary="Your choice of catalog messages (parents and pupils)")
async def get_notices(services: ServicesDep):
    return await services.call("auth", "get_catalog_notices")


@router.put("/me/catalog-notices", summary="Opt in to new-grade and new-absence messages, now or as a daily digest",
            description="Sent by e-mail to your account's address; a subject line never carries a grade.")
async def set_notices(body: NoticesIn, services: ServicesDep):
    return await services.call("auth", "set_catalog_notices", grades=body.grades, absences=body.absences)
