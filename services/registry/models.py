from __future__ import annotations

from datetime import date

from sqlalchemy import (JSON, Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import created_column, id_column, make_base, tenant_column

Base = make_base()


class Person(Base):
    """One record per human (REG-1); the matriculation code never changes (REG-6).

    `data` holds the chapter V sections without the sensitive fields; those are sealed
    (AES-GCM, bound to the person id) in `sensitive`. Every change writes a `RecordVersion`."""
    __tablename__ = "persons"
    __table_args__ = (Index("ix_persons_foreign", "foreign_id", "citizenship"),)
    id: Mapped[str] = id_column()
    matriculation_code: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    cnp: Mapped[str | None] = mapped_column(String(13), nullable=True, unique=True)
    foreign_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    citizenship: Mapped[str | None] = mapped_column(String(2), nullable=True)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active", server_default="active")
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    sensitive: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()


class PersonLink(Base):
    """Which institutions have registered a person: the tenant boundary of the registry."""
    __tablename__ = "person_links"
    __table_args__ = (UniqueConstraint("person_id", "tenant_id", name="uq_person_link"),
                      UniqueConstraint("tenant_id", "external_id", name="uq_person_link_external"))
    id: Mapped[str] = id_column()
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = created_column()


class RecordVersion(Base):
    """Nothing is deleted (REG-8): every state of a person, enrolment or diploma, with who, when,
    why and the administrative document it rests on."""
    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("entity_type", "entity_id", "version", name="uq_record_version"),
                      Index("ix_record_versions_person", "person_id", "recorded_at"),
                      Index("ix_record_versions_late", "tenant_id", "status_change"))
    id: Mapped[str] = id_column()
    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(36), nullable=False)
    person_id: Mapped[str] = mapped_column(String(36), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    tenant_id: Mapped[str] = tenant_column()
    actor_id: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_role: Mapped[str] = mapped_column(String(40), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    document_ref: Mapped[str | None] = mapped_column(String(120), nullable=True)
    document_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status_change: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    recorded_on: Mapped[date] = mapped_column(Date, nullable=False)
    snapshot: Mapped[dict] = mapped_column(JSON, nullable=False)
    recorded_at: Mapped[float] = created_column()


class MatchCandidate(Base):
    """A CNP (or foreign identity) already known, submitted by another institution: nothing of
    that institution is linked to the person until it confirms (art. 11(5))."""
    __tablename__ = "match_candidates"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    person_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # cnp | foreign | doubtful
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    submitted: Mapped[dict] = mapped_column(JSON, nullable=False)
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = created_column()


class Enrolment(Base):
    """Schooling per academic year (chapter V, section I.2); pupils' rows come from the catalog."""
    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id", name="uq_enrolment_external"),
                      UniqueConstraint("class_id", "person_id", "academic_year", name="uq_enrolment_class"),
                      Index("ix_enrolments_report", "academic_year", "cycle", "financing"))
    id: Mapped[str] = id_column()
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    tenant_id: Mapped[str] = tenant_column()
    kind: Mapped[str] = mapped_column(String(12), nullable=False, default="university")
    academic_year: Mapped[str] = mapped_column(String(9), nullable=False)
    cycle: Mapped[str] = mapped_column(String(30), nullable=False)
    programme: Mapped[str | None] = mapped_column(String(200), nullable=True)
    financing: Mapped[str | None] = mapped_column(String(30), nullable=True)
    study_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    end_situation: Mapped[str | None] = mapped_column(String(40), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    class_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()


class Diploma(Base):
    """Series and number of every diploma issued (REG-4), unique per issuer."""
    __tablename__ = "diplomas"
    __table_args__ = (UniqueConstraint("issuer_key", "series", "number", name="uq_diploma_series_number"),)
    id: Mapped[str] = id_column()
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    tenant_id: Mapped[str] = tenant_column()
    issuer_key: Mapped[str] = mapped_column(String(200), nullable=False)
    series: Mapped[str] = mapped_column(String(20), nullable=False)
    number: Mapped[str] = mapped_column(String(20), nullable=False)
    data: Mapped[dict] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()


class Correction(Base):
    """A change to an archived record: a new version once the central authority approves it."""
    __tablename__ = "corrections"
    id: Mapped[str] = id_column()
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    tenant_id: Mapped[str] = tenant_column()
    changes: Mapped[dict] = mapped_column(JSON, nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    document_ref: Mapped[str] = mapped_column(String(120), nullable=False)
    document_date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = created_column()


class NomenclatureValue(Base):
    """A value of a nomenclature valid from one academic year until it is retired (REG-5)."""
    __tablename__ = "nomenclature_values"
    __table_args__ = (UniqueConstraint("nomenclature", "code", "first_year", name="uq_nomenclature_value"),)
    id: Mapped[str] = id_column()
    nomenclature: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(60), nullable=False)
    label: Mapped[str] = mapped_column(String(300), nullable=False)
    first_year: Mapped[int] = mapped_column(Integer, nullable=False)   # start year of "2015-2016"
    last_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    changed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[float] = created_column()


class ImportJob(Base):
    __tablename__ = "import_jobs"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_role: Mapped[str] = mapped_column(String(40), nullable=False)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="receiving")
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    chunks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    bytes_received: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    errors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = created_column()


class ImportChunk(Base):
    """The upload, as the gateway streamed it over RPC: no disk shared with the gateway."""
    __tablename__ = "import_chunks"
    job_id: Mapped[str] = mapped_column(ForeignKey("import_jobs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class ImportProblem(Base):
    __tablename__ = "import_problems"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("import_jobs.id"), nullable=False, index=True)
    row: Mapped[int] = mapped_column(Integer, nullable=False)
    field: Mapped[str] = mapped_column(String(80), nullable=False)
    message: Mapped[str] = mapped_column(String(500), nullable=False)


class AccountRequest(Base):
    """REG-9: registry accounts are created by the administrator on a request approved by the
    central authority (art. 7 c)."""
    __tablename__ = "account_requests"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(40), nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[float] = created_column()


class ProcessingRestriction(Base):
    """A restriction of processing (GDPR art. 18, CAT-11) of one person by one institution: one row
    per period, never deleted. Open while `lifted_at` is null; the rows are the history."""
    __tablename__ = "processing_restrictions"
    __table_args__ = (Index("ix_processing_restrictions_person", "tenant_id", "person_id", "lifted_at"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    set_by: Mapped[str] = mapped_column(String(64), nullable=False)
    set_at: Mapped[float] = created_column()
    lift_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lifted_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class RectificationRequest(Base):
    """A person's request to rectify one field of their record (CAT-11); approved, it becomes a
    new version of the record (REG-8). A sensitive field's proposed value is sealed like the
    record's own sensitive part (`proposed_sealed`), never stored in the clear."""
    __tablename__ = "rectification_requests"
    __table_args__ = (Index("ix_rectification_requests_tenant", "tenant_id", "status", "created_at"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    field: Mapped[str] = mapped_column(String(80), nullable=False)
    proposed: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    proposed_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    attachment_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    requester_id: Mapped[str] = mapped_column(String(64), nullable=False)
    requester_role: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the record version it became
    created_at: Mapped[float] = created_column()
