"""Tables of the per-tenant backups, in the backup service's own database."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, Index, Integer, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.backup.models import Base
from services.kernel.model_base import created_column, id_column


class TenantChange(Base):
    """The continuous change log: every mutation event of a tenant, as received (CAT-6/7)."""
    __tablename__ = "tenant_changes"
    __table_args__ = (Index("ix_tenant_changes_tenant_time", "tenant_id", "occurred_at"),)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(60), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    occurred_at: Mapped[float] = mapped_column(Float, nullable=False)
    received_at: Mapped[float] = mapped_column(Float, nullable=False)
    lag_ms: Mapped[float] = mapped_column(Float, nullable=False)
    envelope: Mapped[str] = mapped_column(Text, nullable=False)  # the whole envelope, after-image included
    sealed_in: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class BackupSet(Base):
    """One archive of one tenant: a monthly full export, a daily incremental, a hand-over."""
    __tablename__ = "backup_sets"
    __table_args__ = (Index("ix_backup_sets_tenant_kind", "tenant_id", "kind", "as_of"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # full | incremental | handover
    as_of: Mapped[float] = mapped_column(Float, nullable=False)
    covers_from: Mapped[float | None] = mapped_column(Float, nullable=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of the encrypted archive
    file_name: Mapped[str] = mapped_column(String(200), nullable=False)
    manifest: Mapped[str] = mapped_column(Text, nullable=False)  # signed manifest (JSON), counts + hashes only
    uploads: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    pruned_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = created_column()


class TenantContract(Base):
    """CAT-8: the school's contract end (recorded by the operator) and any legal hold."""
    __tablename__ = "tenant_contracts"
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contract_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    handover_set_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # the school's own age public key: the hand-over archive is encrypted to it as well
    handover_recipient: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[float] = created_column()


class BackupJob(Base):
    """A backup, restore, drill or prune run with its progress, for the operator."""
    __tablename__ = "backup_jobs"
    __table_args__ = (Index("ix_backup_jobs_kind_started", "kind", "created_at"),)
    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    step: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    requested_by: Mapped[str] = mapped_column(String(80), nullable=False)
    params: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[float] = created_column()
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class AuditCheckpoint(Base):
    """The newest signed audit checkpoint received, per tenant ("*" for a global one)."""
    __tablename__ = "audit_checkpoints"
    scope: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), nullable=False)
    occurred_at: Mapped[float] = mapped_column(Float, nullable=False)
    checkpoint: Mapped[str] = mapped_column(Text, nullable=False)
