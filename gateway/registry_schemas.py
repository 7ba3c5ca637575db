"""Request bodies of the registry routes: shapes and bounds at the edge; the registry service
validates meaning (nomenclatures, CNP, the regulation's footnote rules) field by field."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from .schemas import Body

Section = dict[str, Any]
DocRef = Field(min_length=1, max_length=120, examples=["Decizia rectorului nr. 112/2026"])
Reason = Field(min_length=1, max_length=500, examples=["cerere de retragere de la studii"])
Year = Field(pattern=r"^\d{4}-\d{4}$", examples=["2025-2026"])


class Record(Body):
    personal: Section = Field(default_factory=dict, description="Secțiunea I.1, see the JSON Schema")
    prior_education: Section = Field(default_factory=dict, description="Secțiunile I.3.a/I.3.b")
    administrative: Section = Field(default_factory=dict, description="Secțiunea I.4")


class RegistryPersonIn(Body):
    last_name: str | None = Field(None, min_length=1, max_length=100)
    first_name: str | None = Field(None, min_length=1, max_length=100)
    cnp: str | None = Field(None, min_length=13, max_length=13, pattern=r"^\d{13}$")
    birth_date: date | None = None
    record: Record | None = None
    external_id: str | None = Field(None, min_length=1, max_length=64,
                                    description="your own system's id: re-sending it changes nothing")

    model_config = {**Body.model_config, "json_schema_extra": {"examples": [{
        "last_name": "Popescu", "first_name": "Ioana", "cnp": "6050315400019",
        "record": {"personal": {"last_name_at_birth": "Popescu", "birth_country": "RO", "birth_county": "B",
                                "civil_status": "necasatorit", "domicile_country": "RO", "domicile_county": "CJ"}}}]}}


class PersonChangeIn(Body):
    changes: dict[str, Section] = Field(examples=[{"personal": {"phone": "+40722000111"}}])
    reason: str = Reason
    document_ref: str | None = Field(None, min_length=1, max_length=120)
    document_date: date | None = None


class StatusIn(Body):
    status: Literal["active", "interrupted", "graduated", "withdrawn", "expelled", "deceased"]
    reason: str = Reason
    document_ref: str = DocRef
    document_date: date


class CorrectionIn(Body):
    changes: dict[str, Section]
    reason: str = Reason
    document_ref: str = DocRef
    document_date: date


class NomenclatureValueIn(Body):
    code: str = Field(min_length=1, max_length=60)
    label: str = Field(min_length=1, max_length=300)
    valid_from: str = Year


class RetireIn(Body):
    last_valid_year: str = Year
    reason: str = Reason


class EnrolmentIn(Body):
    academic_year: str = Year
    cycle: str = Field(min_length=1, max_length=30, examples=["licenta"])
    institution: str | None = Field(None, max_length=200)
    faculty: str | None = Field(None, max_length=200)
    fundamental_domain: str | None = Field(None, max_length=100)
    domain: str | None = Field(None, max_length=100)
    programme: str | None = Field(None, max_length=200)
    programme_locality: str | None = Field(None, max_length=100)
    programme_language: str | None = Field(None, max_length=40)
    programme_duration_years: float | None = Field(None, ge=0.5, le=8)
    programme_credits: int | None = Field(None, ge=0, le=480)
    study_year: int | None = Field(None, ge=1, le=8)
    form: str | None = Field(None, max_length=10)
    financing: str | None = Field(None, max_length=30)
    scholarship_type: str | None = Field(None, max_length=40)
    scholarship_value: float | None = Field(None, ge=0, le=100000)
    scholarship_months: int | None = Field(None, ge=0, le=12)
    enrolment_situation: str | None = Field(None, max_length=40)
    start_situation: str | None = Field(None, max_length=40)
    end_situation: str | None = Field(None, max_length=40)
    other_schooling: str | None = Field(None, max_length=500)
    external_id: str | None = Field(None, max_length=64)
    document_ref: str | None = Field(None, max_length=120)
    document_date: date | None = None


class EnrolmentChangeIn(Body):
    changes: dict[str, Any]
    reason: str = Reason
    document_ref: str | None = Field(None, min_length=1, max_length=120)
    document_date: date | None = None


class DiplomaIn(Body):
    cycle: str = Field(min_length=1, max_length=30)
    diploma_type: str = Field(min_length=1, max_length=40)
    series: str = Field(min_length=1, max_length=20)
    number: str = Field(min_length=1, max_length=20)
    issued_on: date
    issuer: str = Field(min_length=1, max_length=200)
    exam_date: date | None = None
    final_average: float | None = Field(None, ge=5, le=10)
    exam_average: float | None = Field(None, ge=5, le=10)
    recognition_documents: str | None = Field(None, max_length=500)
    academic_year: str | None = Field(None, pattern=r"^\d{4}-\d{4}$")
    enrolment_id: str | None = Field(None, max_length=36)


class BatchIn(Body):
    mode: Literal["validate", "all_or_nothing", "accept_valid"] = "all_or_nothing"
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class ScopedExportIn(Body):
    body: Literal["transport"] = Field(description="the authorised external body the export is for")
    purpose: str = Field(min_length=1, max_length=300, examples=["reduceri transport HG 42/2017"])
    academic_year: str = Year


class AccountRequestIn(Body):
    email: str = Field(min_length=3, max_length=254)
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["registry_clerk"] = "registry_clerk"
    reason: str = Reason


class AccountCreationIn(Body):
    password: str = Field(min_length=1, max_length=1024,
                          description="a first password, given to the holder (who must enrol a second factor "
                                      "at the first sign-in)")
