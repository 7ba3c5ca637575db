"""The electronic catalog: classes, subjects, enrolments, teaching assignments, grades."""
from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from ..deps import ServicesDep
from ..schemas import AssignmentIn, ClassIn, EnrolmentIn, GradeIn, HomeroomIn, SubjectIn

router = APIRouter(prefix="/v1", tags=["catalog"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


def _opt(value: UUID | None) -> str | None:
    return str(value) if value else None


# The grade routes come first: routes are matched in order, and these carry the traffic.
@router.get("/me/grades", summary="A student's own grades")
async def my_grades(services: ServicesDep, subject_id: UUID | None = None, limit: Limit = 50, offset: Offset = 0):
    return await services.respond("grades", "list_grades", subject_id=_opt(subject_id), limit=limit,
                                  offset=offset)


@router.get("/grades", summary="Grades you may see, filtered and paginated")
async def list_grades(services: ServicesDep, class_id: UUID | None = None, subject_id: UUID | None = None,
                      student_id: UUID | None = None, limit: Limit = 50, offset: Offset = 0):
    return await services.respond("grades", "list_grades", class_id=_opt(class_id), subject_id=_opt(subject_id),
                               student_id=_opt(student_id), limit=limit, offset=offset)


@router.post("/grades", status_code=201, summary="Record a grade (the subject's teacher only)")
async def record_grade(body: GradeIn, services: ServicesDep):
    return await services.respond(
        "grades", "record_grade", status_code=201, class_id=str(body.class_id), subject_id=str(body.subject_id),
        student_id=str(body.student_id), value=body.value,
        awarded_on=body.awarded_on.isoformat() if body.awarded_on else None, reason=body.reason)


@router.post("/classes", status_code=201)
async def create_class(body: ClassIn, services: ServicesDep):
    return await services.call("grades", "create_class", **body.model_dump())


@router.post("/subjects", status_code=201)
async def create_subject(body: SubjectIn, services: ServicesDep):
    return await services.call("grades", "create_subject", **body.model_dump())


@router.post("/classes/{class_id}/students", status_code=201, summary="Enrol a registry person in a class")
async def enrol_student(class_id: UUID, body: EnrolmentIn, services: ServicesDep):
    return await services.call("grades", "enrol_student", class_id=str(class_id), student_id=str(body.student_id))


@router.post("/classes/{class_id}/teachers", status_code=201, summary="Assign a teacher to a subject in a class")
async def assign_teacher(class_id: UUID, body: AssignmentIn, services: ServicesDep):
    return await services.call("grades", "assign_teacher", class_id=str(class_id),
                               subject_id=str(body.subject_id), teacher_id=str(body.teacher_id))


@router.put("/classes/{class_id}/homeroom", summary="Make a teacher the class's diriginte (sees its whole catalog)")
async def set_homeroom(class_id: UUID, body: HomeroomIn, services: ServicesDep):
    return await services.call("grades", "set_homeroom_teacher", class_id=str(class_id), teacher_id=str(body.teacher_id))


@router.get("/stats/grades", summary="Grades per subject: counts and means, no personal data (CAT-19)")
async def grade_statistics(services: ServicesDep):
    return await services.call("grades", "grade_statistics")
