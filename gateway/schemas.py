"""Request bodies, validated at the edge: unknown fields are refused, sizes bounded."""
from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Email = Field(min_length=3, max_length=254)
Password = Field(min_length=1, max_length=1024)
Name = Field(min_length=1, max_length=200)


class LoginIn(Body):
    email: str = Email
    password: str = Password
    tenant_id: str | None = Field(None, max_length=36)


class TenantIn(Body):
    name: str = Name
    kind: Literal["school", "university"]
    admin_email: str = Email
    admin_full_name: str = Name
    admin_password: str = Password


class UserIn(Body):
    email: str = Email
    full_name: str = Name
    role: Literal["school_admin", "director", "teacher", "parent", "statistics_viewer", "registry_clerk",
                  "central_authority", "operator"]
    password: str | None = Field(None, min_length=1, max_length=1024)
    tenant_id: str | None = Field(None, max_length=36, description="operator only: act for this institution")


class PersonIn(Body):
    last_name: str = Field(min_length=1, max_length=100)
    first_name: str = Field(min_length=1, max_length=100)
    cnp: str = Field(min_length=13, max_length=13, pattern=r"^\d{13}$")
    birth_date: date | None = None


class StudentIn(PersonIn):
    email: str = Email
    password: str = Password


class ClassIn(Body):
    name: str = Field(min_length=1, max_length=50)
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$", examples=["2026-2027"])
    level: int | None = Field(None, ge=0, le=12, strict=True,
                              description="0 (preparatory) to 12 (XII); 0-4 are assessed by qualifiers")


class SubjectIn(Body):
    name: str = Field(min_length=1, max_length=120)
    weekly_hours: int = Field(ge=1, le=20)


class EnrolmentIn(Body):
    student_id: UUID
    enrolled_on: date | None = Field(None, description="the first day in the class (default: the year's start)")
    transferred_in: bool = Field(False, description="the pupil arrives by transfer (then enrolled_on is required)")


class ChildIn(Body):
    student_id: UUID = Field(description="the pupil's registry person id")


class HomeroomIn(Body):
    teacher_id: UUID


class AssignmentIn(Body):
    subject_id: UUID
    teacher_id: UUID


class GradeIn(Body):
    class_id: UUID
    subject_id: UUID
    student_id: UUID
    value: int | None = Field(None, ge=1, le=10, strict=True, description="1..10, from level V up")
    qualifier: Literal["FB", "B", "S", "I"] | None = Field(None, description="levels 0 to IV")
    kind: Literal["oral", "written", "practical", "project", "thesis"] = "oral"
    comment: str | None = Field(None, max_length=500)
    awarded_on: date | None = None
    reason: str | None = Field(None, max_length=500)


Code = Field(min_length=4, max_length=32)
Token = Field(min_length=16, max_length=200)


class SecondFactorIn(Body):
    method: Literal["totp", "sms", "recovery"]
    code: str = Code


class CodeIn(Body):
    code: str = Code


class PhoneIn(Body):
    phone: str = Field(min_length=6, max_length=20, examples=["+40712345678"])


class RefreshIn(Body):
    refresh_token: str = Token


class ForgotIn(Body):
    email: str = Email


class ResetIn(Body):
    token: str = Token
    new_password: str = Password


class TokenIn(Body):
    token: str = Token


class PasswordChangeIn(Body):
    current_password: str = Password
    new_password: str = Password


class EmailChangeIn(Body):
    current_password: str = Password
    new_email: str = Email


class InvitationIn(Body):
    email: str = Email
    role: Literal["school_admin", "director", "teacher", "parent", "statistics_viewer", "registry_clerk"]


class InvitationAcceptIn(Body):
    token: str = Token
    full_name: str = Name
    password: str = Password


class ClientIn(Body):
    name: str = Field(min_length=1, max_length=120)
    scopes: list[Literal["catalog:read", "registry:read", "registry:write"]] = Field(min_length=1, max_length=3)
    tenant_id: str | None = Field(None, max_length=36, description="operator only")
