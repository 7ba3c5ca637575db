"""The catalog's tables. Nothing here is ever deleted: corrections are new versions or statuses."""
from __future__ import annotations

from datetime import date

from sqlalchemy import (JSON, Boolean, Date, Float, ForeignKey, Index, Integer, SmallInteger, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import created_column, id_column, make_base, tenant_column

Base = make_base()


# --- the school's structure ----------------------------------------------------------------------

class SchoolYear(Base):
    """A school year of one school, with its rules (limits and thresholds) in `settings`."""
    __tablename__ = "school_years"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_school_year_name"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(9), nullable=False)  # 2026-2027, as classes name it
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    structure: Mapped[str] = mapped_column(String(20), nullable=False)  # modules | semesters | custom
    settings: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    closed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[float] = created_column()


class Period(Base):
    """A semester or a module of a school year; closed means locked (409 `period_closed`)."""
    __tablename__ = "periods"
    __table_args__ = (Index("ix_periods_year_dates", "school_year_id", "starts_on", "ends_on"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    school_year_id: Mapped[str] = mapped_column(ForeignKey("school_years.id"), nullable=False)
    ordinal: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    holidays: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    closed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[float] = created_column()


class SchoolClass(Base):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("tenant_id", "school_year", "name", name="uq_class_name"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    school_year: Mapped[str] = mapped_column(String(9), nullable=False)  # e.g. 2026-2027
    # 0 (preparatory) .. 12; 0-4 are assessed by qualifiers (FB/B/S/I), 5-12 by grades 1-10
    level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    # the diriginte: sees the whole catalog of the class, motivates absences, proposes conduct
    homeroom_teacher_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[float] = created_column()


class Subject(Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_subject_name"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    weekly_hours: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    created_at: Mapped[float] = created_column()


class CurriculumEntry(Base):
    """A subject in a class's curriculum: its weekly hours there, optional or not, thesis periods."""
    __tablename__ = "curriculum"
    __table_args__ = (UniqueConstraint("class_id", "subject_id", name="uq_curriculum_subject"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    weekly_hours: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    optional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    thesis_periods: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    created_at: Mapped[float] = created_column()


class ClassStudent(Base):
    """The roster. A pupil transferred out keeps the row (and their history) with `left_on`."""
    __tablename__ = "class_students"
    __table_args__ = (UniqueConstraint("class_id", "student_id", name="uq_class_student"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)  # registry person id
    # a display-name snapshot taken from the registry at enrolment (the registry owns persons)
    last_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    enrolled_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # None: from the year's start
    left_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # first day no longer in the class
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="enrolled")
    postponed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # situație amânată
    created_at: Mapped[float] = created_column()


class TeachingAssignment(Base):
    """CAT-13: only the teacher assigned to a class and subject writes its grades (per school year,
    since a class belongs to one school year)."""
    __tablename__ = "teaching_assignments"
    __table_args__ = (UniqueConstraint("class_id", "subject_id", "teacher_id", name="uq_assignment"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    teacher_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)  # auth user id
    created_at: Mapped[float] = created_column()


# --- grades ----------------------------------------------------------------------------------------

class Grade(Base):
    """The current state of a grade or qualifier; every state it had is in `grade_versions`."""
    __tablename__ = "grades"
    __table_args__ = (Index("ix_grades_student", "tenant_id", "student_id", "subject_id"),
                      Index("ix_grades_class", "class_id", "subject_id"))
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    value: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  # 1..10
    qualifier: Mapped[str | None] = mapped_column(String(2), nullable=True)  # FB/B/S/I (levels 0-IV)
    kind: Mapped[str] = mapped_column(String(12), nullable=False, default="oral")
    comment: Mapped[str | None] = mapped_column(String(500), nullable=True)
    period_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="active")  # active | cancelled
    awarded_on: Mapped[date] = mapped_column(Date, nullable=False)
    teacher_id: Mapped[str] = mapped_column(String(36), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class GradeVersion(Base):
    """CAT-15: every version of a grade, who made it, when, why, and by which right."""
    __tablename__ = "grade_versions"
    __table_args__ = (UniqueConstraint("grade_id", "version", name="uq_grade_version"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    grade_id: Mapped[str] = mapped_column(String(36), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(10), nullable=False)  # recorded | changed | cancelled
    value: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    qualifier: Mapped[str | None] = mapped_column(String(2), nullable=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    awarded_on: Mapped[date] = mapped_column(Date, nullable=False)
    comment: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    actor_id: Mapped[str] = mapped_column(String(36), nullable=False)
    via: Mapped[str] = mapped_column(String(12), nullable=False)  # assignment | delegation | amendment
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    at: Mapped[float] = created_column()


class FinalMark(Base):
    """A period's closing mark set by a person: the final qualifier of a subject (levels 0-IV, set by
    its teacher) or the conduct grade (kind "conduct", proposed by the homeroom teacher)."""
    __tablename__ = "final_marks"
    __table_args__ = (UniqueConstraint("class_id", "student_id", "period_id", "kind", "subject_key",
                                       name="uq_final_mark"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    period_id: Mapped[str] = mapped_column(String(36), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # qualifier | conduct
    subject_key: Mapped[str] = mapped_column(String(36), nullable=False)  # subject id, "-" for conduct
    value: Mapped[str] = mapped_column(String(4), nullable=False)
    set_by: Mapped[str] = mapped_column(String(36), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()


class IdempotentReply(Base):
    """The first answer to a write sent with an `Idempotency-Key`, given again on a retry."""
    __tablename__ = "idempotent_replies"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "key", name="uq_idempotency_key"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False)
    user_id: Mapped[str] = mapped_column(String(36), nullable=False)
    key: Mapped[str] = mapped_column(String(100), nullable=False)
    operation: Mapped[str] = mapped_column(String(40), nullable=False)
    reply: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[float] = created_column()


# --- absences ----------------------------------------------------------------------------------------

class Absence(Base):
    __tablename__ = "absences"
    __table_args__ = (UniqueConstraint("tenant_id", "student_id", "occurred_on", "hour", "subject_id",
                                       name="uq_absence_lesson"),
                      Index("ix_absences_class", "class_id", "student_id"))
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    period_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    occurred_on: Mapped[date] = mapped_column(Date, nullable=False)
    hour: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # timetable hour 1..14
    teacher_id: Mapped[str] = mapped_column(String(36), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="unmotivated")  # | motivated | cancelled
    motivation_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    document_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    motivated_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    motivated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()


class MotivationRequest(Base):
    """A parent's request to motivate a pupil's absences over some days; the director decides."""
    __tablename__ = "motivation_requests"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    parent_id: Mapped[str] = mapped_column(String(36), nullable=False)
    homeroom_teacher_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    from_date: Mapped[date] = mapped_column(Date, nullable=False)
    to_date: Mapped[date] = mapped_column(Date, nullable=False)
    days: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")  # approved | rejected
    decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[float] = created_column()


# --- rights, closing, alerts ------------------------------------------------------------------------

class Delegation(Base):
    """CAT-14: write rights on a class and subject for another teacher, from one date to another."""
    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_grant", "tenant_id", "class_id", "subject_id", "delegate_id"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    delegate_id: Mapped[str] = mapped_column(String(36), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(36), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    # requested | approved | rejected | revoked   (expiry is a date, recorded by an event)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="requested")
    decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expiry_recorded_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = created_column()


class Amendment(Base):
    """A director-approved correction of one pupil's subject in a closed period."""
    __tablename__ = "amendments"
    __table_args__ = (Index("ix_amendments_target", "period_id", "student_id", "subject_id"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    period_id: Mapped[str] = mapped_column(ForeignKey("periods.id"), nullable=False)
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    approved_by: Mapped[str] = mapped_column(String(36), nullable=False)
    approved_at: Mapped[float] = created_column()


class YearResult(Base):
    """A pupil's frozen end-of-year result (averages, situation), written when the year closes and
    rewritten when a re-examination is recorded."""
    __tablename__ = "year_results"
    __table_args__ = (UniqueConstraint("school_year_id", "class_id", "student_id", name="uq_year_result"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    school_year_id: Mapped[str] = mapped_column(ForeignKey("school_years.id"), nullable=False)
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    result: Mapped[dict] = mapped_column(JSON, nullable=False)
    frozen_at: Mapped[float] = created_column()


class Reexamination(Base):
    """A re-examination result (corigență) or a late closing of a situation (situație încheiată)."""
    __tablename__ = "reexaminations"
    __table_args__ = (UniqueConstraint("class_id", "student_id", "subject_id", name="uq_reexamination"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)  # corigenta | incheiere
    average: Mapped[str] = mapped_column(String(6), nullable=False)  # exact decimal, as text
    recorded_by: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[float] = created_column()


class Alert(Base):
    """A grade changed, cancelled or written by someone other than the assigned teacher."""
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_tenant_created", "tenant_id", "created_at"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    grade_id: Mapped[str] = mapped_column(String(36), nullable=False)
    class_id: Mapped[str] = mapped_column(String(36), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(36), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    actor_id: Mapped[str] = mapped_column(String(36), nullable=False)
    recipients: Mapped[list] = mapped_column(JSON, nullable=False)  # assigned teachers' user ids
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[float] = created_column()


# --- data-subject rights (issue 11) -------------------------------------------------------------------

class GradeDispute(Base):
    """A pupil's (or parent's) request to rectify a grade (CAT-11 rectification): the subject's teacher
    decides first; after a teacher's rejection the requester may escalate and the director decides
    finally. An approval changes the grade as a new version; nothing here is ever deleted."""
    __tablename__ = "grade_disputes"
    __table_args__ = (Index("ix_grade_disputes_grade", "tenant_id", "grade_id"),
                      Index("ix_grade_disputes_student", "tenant_id", "student_id"))
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    grade_id: Mapped[str] = mapped_column(ForeignKey("grades.id"), nullable=False)
    class_id: Mapped[str] = mapped_column(String(36), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(36), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    requester_id: Mapped[str] = mapped_column(String(36), nullable=False)  # the account that asked
    requester_role: Mapped[str] = mapped_column(String(20), nullable=False)  # student | parent
    disputed_version: Mapped[int] = mapped_column(Integer, nullable=False)
    proposed_value: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    proposed_qualifier: Mapped[str | None] = mapped_column(String(2), nullable=True)
    reason: Mapped[str] = mapped_column(String(1000), nullable=False)
    attachment_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # open → approved | rejected_by_teacher → escalated → approved | rejected
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    teacher_decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    teacher_decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    teacher_reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    escalated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    escalation_reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    director_decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    director_decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    director_reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    resulting_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the grade's new version
    created_at: Mapped[float] = created_column()


class RestrictedPerson(Base):
    """What the registry told us about a person's restriction of processing (CAT-11), per tenant:
    the newest `registry.processing_restricted` / `..._lifted` event wins (by `occurred_at`), so
    redelivered or reordered events leave the right state. A lifted restriction keeps its row."""
    __tablename__ = "restricted_persons"
    __table_args__ = (UniqueConstraint("tenant_id", "person_id", name="uq_restricted_person"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    person_id: Mapped[str] = mapped_column(String(36), nullable=False)
    restricted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    occurred_at: Mapped[float] = mapped_column(Float, nullable=False)  # of the event that set this state
    source_event_id: Mapped[str] = mapped_column(String(36), nullable=False)
    updated_at: Mapped[float] = created_column()


class SchoolImport(Base):
    """An import of a catalog-export document into a fresh school (`portability`): staged in chunks
    while the gateway streams the upload, then rebuilt in one transaction."""
    __tablename__ = "school_imports"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    requested_by: Mapped[str] = mapped_column(String(36), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="staging")  # | imported | failed
    counts: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[float] = created_column()
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SchoolImportChunk(Base):
    """Records of one section of an upload, as the gateway sent them; removed once the import ends
    (the only rows the catalog ever deletes: staging, never the catalog itself)."""
    __tablename__ = "school_import_chunks"
    import_id: Mapped[str] = mapped_column(ForeignKey("school_imports.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    section: Mapped[str] = mapped_column(String(30), nullable=False)
    records: Mapped[list] = mapped_column(JSON, nullable=False)
