from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import created_column, id_column, make_base

Base = make_base()


class Person(Base):
    """One record per human (REG-1); the matriculation code never changes (REG-6)."""
    __tablename__ = "persons"
    id: Mapped[str] = id_column()
    matriculation_code: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    cnp: Mapped[str | None] = mapped_column(String(13), nullable=True, unique=True)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[float] = created_column()


class PersonLink(Base):
    """Which institutions have registered a person: the tenant boundary of the registry."""
    __tablename__ = "person_links"
    __table_args__ = (UniqueConstraint("person_id", "tenant_id", name="uq_person_link"),)
    id: Mapped[str] = id_column()
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    created_at: Mapped[float] = created_column()
