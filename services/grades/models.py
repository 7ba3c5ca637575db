from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import created_column, id_column, make_base, tenant_column

Base = make_base()


class SchoolClass(Base):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("tenant_id", "school_year", "name", name="uq_class_name"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    school_year: Mapped[str] = mapped_column(String(9), nullable=False)  # e.g. 2026-2027
    # the diriginte: sees the whole catalog of the class
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


class ClassStudent(Base):
    __tablename__ = "class_students"
    __table_args__ = (UniqueConstraint("class_id", "student_id", name="uq_class_student"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)  # registry person id
    created_at: Mapped[float] = created_column()


class TeachingAssignment(Base):
    """CAT-13: only the teacher assigned to a class and subject writes its grades."""
    __tablename__ = "teaching_assignments"
    __table_args__ = (UniqueConstraint("class_id", "subject_id", "teacher_id", name="uq_assignment"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    teacher_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)  # auth user id
    created_at: Mapped[float] = created_column()


class Grade(Base):
    __tablename__ = "grades"
    __table_args__ = (Index("ix_grades_student", "tenant_id", "student_id", "subject_id"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), nullable=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    student_id: Mapped[str] = mapped_column(String(36), nullable=False)
    value: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    awarded_on: Mapped[date] = mapped_column(Date, nullable=False)
    teacher_id: Mapped[str] = mapped_column(String(36), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
