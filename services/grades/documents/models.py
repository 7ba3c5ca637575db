"""Tables of the documents area, in the grades database (same metadata as `services.grades.models`).

`document_printouts`: every document handed out (what, for which class/year/period/pupil,
its fingerprint and each pupil's digest, who, when), the record that verification compares
with. `document_files` + `document_chunks`: a generated file stored in pieces, so neither a
class's download nor a whole school's set is ever held whole in memory and any replica can
serve it. `document_jobs`: a school's year-end set generated in the background.
"""
from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import created_column, id_column, tenant_column

from ..models import Base


class DocumentPrintout(Base):
    __tablename__ = "document_printouts"
    __table_args__ = (Index("ix_document_printouts_fingerprint", "tenant_id", "fingerprint"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # year_catalog | report_card | catalog_xlsx
    class_id: Mapped[str] = mapped_column(String(36), nullable=False)
    class_name: Mapped[str] = mapped_column(String(50), nullable=False)
    school_year: Mapped[str] = mapped_column(String(20), nullable=False)
    period_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    student_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    pupil_digests: Mapped[str] = mapped_column(Text, nullable=False)  # JSON {student_id: sha256}
    printed_by: Mapped[str] = mapped_column(String(36), nullable=False)
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    printed_at: Mapped[float] = created_column()


class DocumentJob(Base):
    __tablename__ = "document_jobs"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    school_year: Mapped[str] = mapped_column(String(20), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(36), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # running | done
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[float] = created_column()
    heartbeat_at: Mapped[float] = created_column()
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class DocumentFile(Base):
    __tablename__ = "document_files"
    __table_args__ = (Index("ix_document_files_job", "job_id"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    owner_id: Mapped[str] = mapped_column(String(36), nullable=False)
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    class_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # ready | failed
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    chunks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = created_column()


class DocumentChunk(Base):
    __tablename__ = "document_chunks"
    file_id: Mapped[str] = mapped_column(ForeignKey("document_files.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
