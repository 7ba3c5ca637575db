"""The electronic catalog: grades (the hot routes, first), school structure, rosters.

Absences, delegation and closing are in `catalog_records`; views, statistics and alerts in
`catalog_views`. Writes accept an `Idempotency-Key` header: a retry with the same key gets the
first answer again and creates nothing new.
"""
from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query

from ..catalog_schemas import (CancelIn, ConductIn, CurriculumIn, FinalQualifierIn, GradeChangeIn, PostponedIn,
                               SchoolYearIn, TransferOutIn, YearSettingsIn)
from ..deps import ServicesDep
from ..schemas import AssignmentIn, ClassIn, EnrolmentIn, GradeIn, HomeroomIn, SubjectIn

router = APIRouter(prefix="/v1", tags=["catalog"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=100,
                                              description="retrying with the same key repeats nothing")]


def _opt(value: UUID | None) -> str | None:
    return str(value) if value else None


def _iso(value) -> str | None:
    return value.isoformat() if value else None


# The grade routes come first: routes are matched in order, and these carry the traffic.
@router.get("/me/grades", summary="A student's own grades")
async def my_grades(services: ServicesDep, subject_id: UUID | None = None, limit: Limit = 50, offset: Offset = 0):
    return await services.respond("grades", "list_grades", subject_id=_opt(subject_id), limit=limit,
                                  offset=offset)


@router.get("/grades", summary="Grades you may see, filtered and paginated",
            description="Teachers see what they teach (and their homeroom class), parents their children's, "
                        "the director the school's. Cancelled grades are left out (see a grade's history).")
async def list_grades(services: ServicesDep, class_id: UUID | None = None, subject_id: UUID | None = None,
                      student_id: UUID | None = None, limit: Limit = 50, offset: Offset = 0):
    return await services.respond("grades", "list_grades", class_id=_opt(class_id), subject_id=_opt(subject_id),
                                  student_id=_opt(student_id), limit=limit, offset=offset)


@router.post("/grades", status_code=201, summary="Record a grade or qualifier (the subject's teacher or delegate)",
             description="`value` 1..10 from level V up, `qualifier` FB/B/S/I for levels 0 to IV. Refused for a "
                         "date outside the year's periods or in the future, a pupil not in the class that day, and "
                         "with 409 `period_closed` in a closed period without an approved amendment.")
async def record_grade(body: GradeIn, services: ServicesDep, idempotency_key: IdempotencyKey = None):
    return await services.respond(
        "grades", "record_grade", status_code=201, class_id=str(body.class_id), subject_id=str(body.subject_id),
        student_id=str(body.student_id), value=body.value, qualifier=body.qualifier, kind=body.kind,
        comment=body.comment, awarded_on=_iso(body.awarded_on), reason=body.reason, idempotency_key=idempotency_key)


@router.patch("/grades/{grade_id}", summary="Change a grade: a new version, with a reason",
              description="`expected_version` must be the current version, else 409 `stale_version` with "
                          "`current`. The assigned teacher and the director are alerted.")
async def change_grade(grade_id: UUID, body: GradeChangeIn, services: ServicesDep,
                       idempotency_key: IdempotencyKey = None):
    return await services.call("grades", "change_grade", grade_id=str(grade_id), **_change_args(body),
                               idempotency_key=idempotency_key)


def _change_args(body: GradeChangeIn) -> dict:
    args = body.model_dump()
    args["awarded_on"] = _iso(body.awarded_on)
    return args


@router.post("/grades/{grade_id}/cancel", summary="Cancel a grade (it stays in the history), with a reason")
async def cancel_grade(grade_id: UUID, body: CancelIn, services: ServicesDep, idempotency_key: IdempotencyKey = None):
    return await services.call("grades", "cancel_grade", grade_id=str(grade_id), **body.model_dump(),
                               idempotency_key=idempotency_key)


@router.get("/grades/{grade_id}/history", summary="Every version of a grade: who, when, why, by which right")
async def grade_history(grade_id: UUID, services: ServicesDep):
    return await services.call("grades", "grade_history", grade_id=str(grade_id))


@router.put("/classes/{class_id}/qualifiers", summary="Set a pupil's final qualifier of a period (levels 0-IV)")
async def set_final_qualifier(class_id: UUID, body: FinalQualifierIn, services: ServicesDep):
    return await services.call("grades", "set_final_qualifier", class_id=str(class_id),
                               subject_id=str(body.subject_id), student_id=str(body.student_id),
                               period_id=str(body.period_id), qualifier=body.qualifier)


@router.put("/classes/{class_id}/conduct", summary="Propose a pupil's conduct grade of a period (homeroom teacher)")
async def set_conduct(class_id: UUID, body: ConductIn, services: ServicesDep):
    return await services.call("grades", "set_conduct_grade", class_id=str(class_id),
                               student_id=str(body.student_id), period_id=str(body.period_id), value=body.value,
                               reason=body.reason)


# --- structure ----------------------------------------------------------------------------------
@router.post("/school-years", status_code=201, summary="Configure a school year and its periods",
             description="`modules`: five modules (today's structure); `semesters`: two; `custom`: 1 to 6. "
                         "Settings: the parents' motivation limit and the conduct thresholds.")
async def create_school_year(body: SchoolYearIn, services: ServicesDep):
    periods = [{"name": p.name, "starts_on": p.starts_on.isoformat(), "ends_on": p.ends_on.isoformat(),
                "holidays": [h.isoformat() for h in p.holidays]} for p in body.periods]
    return await services.call("grades", "create_school_year", name=body.name, structure=body.structure,
                               periods=periods, settings=body.settings.given() if body.settings else None)


@router.get("/school-years", summary="The school's years with their periods and settings")
async def list_school_years(services: ServicesDep):
    return await services.call("grades", "list_school_years")


@router.put("/school-years/{school_year_id}/settings", summary="Change a school year's limits and thresholds")
async def update_year_settings(school_year_id: UUID, body: YearSettingsIn, services: ServicesDep):
    return await services.call("grades", "update_school_year_settings", school_year_id=str(school_year_id),
                               settings=body.given())


@router.post("/classes", status_code=201, summary="Create a class (level 0 = preparatory .. 12 = XII)")
async def create_class(body: ClassIn, services: ServicesDep):
    return await services.call("grades", "create_class", **body.model_dump())


@router.get("/classes", summary="The school's classes (a teacher: their own), paginated")
async def list_classes(services: ServicesDep, limit: Limit = 50, offset: Offset = 0,
                       school_year: Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$")] = None):
    return await services.call("grades", "list_classes", school_year=school_year, limit=limit, offset=offset)


@router.post("/subjects", status_code=201, summary="Create a subject of the school")
async def create_subject(body: SubjectIn, services: ServicesDep):
    return await services.call("grades", "create_subject", **body.model_dump())


@router.put("/classes/{class_id}/curriculum/{subject_id}", summary="Put a subject in a class's curriculum",
            description="Weekly hours in this class, optional or not, and the periods with a thesis.")
async def set_curriculum(class_id: UUID, subject_id: UUID, body: CurriculumIn, services: ServicesDep):
    return await services.call("grades", "set_curriculum_entry", class_id=str(class_id), subject_id=str(subject_id),
                               weekly_hours=body.weekly_hours, optional=body.optional,
                               thesis_periods=[str(p) for p in body.thesis_periods])


@router.post("/classes/{class_id}/students", status_code=201, summary="Enrol a registry person in a class",
             description="With `transferred_in` (and `enrolled_on`, the first day in the class) the pupil "
                         "arrives by transfer from another class or school.")
async def enrol_student(class_id: UUID, body: EnrolmentIn, services: ServicesDep):
    return await services.call("grades", "enrol_student", class_id=str(class_id), student_id=str(body.student_id),
                               enrolled_on=_iso(body.enrolled_on), transferred_in=body.transferred_in)


@router.post("/classes/{class_id}/students/{student_id}/transfer-out",
             summary="Transfer a pupil out of a class from a date (their history stays)")
async def transfer_out(class_id: UUID, student_id: UUID, body: TransferOutIn, services: ServicesDep):
    return await services.call("grades", "transfer_out", class_id=str(class_id), student_id=str(student_id),
                               effective_on=body.effective_on.isoformat(), reason=body.reason)


@router.put("/classes/{class_id}/students/{student_id}/postponed",
            summary="Postpone (amâna) a pupil's end-of-year situation, or resume it (director)")
async def set_postponed(class_id: UUID, student_id: UUID, body: PostponedIn, services: ServicesDep):
    return await services.call("grades", "set_postponed", class_id=str(class_id), student_id=str(student_id),
                               postponed=body.postponed, reason=body.reason)


@router.post("/classes/{class_id}/teachers", status_code=201, summary="Assign a teacher to a subject in a class")
async def assign_teacher(class_id: UUID, body: AssignmentIn, services: ServicesDep):
    return await services.call("grades", "assign_teacher", class_id=str(class_id),
                               subject_id=str(body.subject_id), teacher_id=str(body.teacher_id))


@router.put("/classes/{class_id}/homeroom", summary="Make a teacher the class's diriginte (sees its whole catalog)")
async def set_homeroom(class_id: UUID, body: HomeroomIn, services: ServicesDep):
    return await services.call("grades", "set_homeroom_teacher", class_id=str(class_id), teacher_id=str(body.teacher_id))

