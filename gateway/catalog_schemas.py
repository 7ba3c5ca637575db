"""Request bodies of the catalog routes, validated at the edge (the service checks meaning again)."""
from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field

from .schemas import Body

Reason = Field(min_length=1, max_length=500)
Qualifier = Literal["FB", "B", "S", "I"]
Kind = Literal["oral", "written", "practical", "project", "thesis"]


class PeriodIn(Body):
    name: str | None = Field(None, min_length=1, max_length=60, examples=["Modulul 1"])
    starts_on: date
    ends_on: date
    holidays: list[date] = Field(default_factory=list, max_length=60)


class YearSettingsIn(Body):
    parent_motivation_days: int | None = Field(None, ge=0, le=100)
    parent_motivation_scope: Literal["year", "period"] | None = None
    conduct_thresholds: list[tuple[int, int]] | None = Field(
        None, max_length=20, description="[unmotivated absences, conduct grade] pairs",
        examples=[[[10, 9], [20, 8], [30, 7]]])

    def given(self) -> dict:
        return self.model_dump(exclude_none=True)


class SchoolYearIn(Body):
    name: str = Field(pattern=r"^\d{4}-\d{4}$", examples=["2026-2027"])
    structure: Literal["modules", "semesters", "custom"] = Field(
        description="modules: the five modules of today's school year; semesters: the older two")
    periods: list[PeriodIn] = Field(min_length=1, max_length=6)
    settings: YearSettingsIn | None = None


class CurriculumIn(Body):
    weekly_hours: int = Field(ge=1, le=20)
    optional: bool = False
    thesis_periods: list[UUID] = Field(default_factory=list, max_length=6,
                                       description="the periods in which the subject has a thesis (teză)")


class TransferOutIn(Body):
    effective_on: date = Field(description="the first day the pupil is no longer in the class")
    reason: str | None = Field(None, max_length=500)


class PostponedIn(Body):
    postponed: bool
    reason: str = Reason


class GradeChangeIn(Body):
    expected_version: int = Field(ge=1, le=1_000_000, strict=True, description="the version you are changing")
    reason: str = Reason
    value: int | None = Field(None, ge=1, le=10, strict=True)
    qualifier: Qualifier | None = None
    awarded_on: date | None = None
    kind: Kind | None = None
    comment: str | None = Field(None, max_length=500)


class CancelIn(Body):
    expected_version: int = Field(ge=1, le=1_000_000, strict=True)
    reason: str = Reason


class FinalQualifierIn(Body):
    subject_id: UUID
    student_id: UUID
    period_id: UUID
    qualifier: Qualifier


class ConductIn(Body):
    student_id: UUID
    period_id: UUID
    value: int = Field(ge=1, le=10, strict=True)
    reason: str | None = Field(None, max_length=500)


class AbsencesIn(Body):
    class_id: UUID
    subject_id: UUID
    occurred_on: date
    hour: int = Field(ge=1, le=14, strict=True, description="the timetable hour of the lesson")
    student_ids: list[UUID] = Field(min_length=1, max_length=60, description="every absent pupil of the lesson")


class MotivateIn(Body):
    student_id: UUID
    reason: Literal["medical", "parent_request", "school_activity", "other"]
    document_ref: str | None = Field(None, max_length=200, examples=["adeverință medicală 123/2026"])
    from_date: date | None = None
    to_date: date | None = None
    absence_ids: list[UUID] | None = Field(None, max_length=500)


class MotivationRequestIn(Body):
    student_id: UUID
    from_date: date
    to_date: date
    reason: str = Reason


class DecisionIn(Body):
    approve: bool
    reason: str | None = Field(None, max_length=500)


class DelegationIn(Body):
    class_id: UUID
    subject_id: UUID
    delegate_id: UUID = Field(description="the substitute teacher's account")
    starts_on: date
    ends_on: date
    reason: str = Reason


class RevokeIn(Body):
    reason: str = Reason


class CloseIn(Body):
    confirm: bool = Field(False, description="close despite the warnings listed by the closing check")


class AmendmentIn(Body):
    class_id: UUID
    student_id: UUID
    subject_id: UUID
    reason: str = Reason


class ReexaminationIn(Body):
    student_id: UUID
    subject_id: UUID
    kind: Literal["corigenta", "incheiere"]
    average: str = Field(pattern=r"^(10(\.0{1,2})?|[1-9](\.\d{1,2})?)$", examples=["7.50"])
