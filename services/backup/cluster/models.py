"""The record of every cluster backup run, in the backup service's own database."""
from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.backup.models import Base
from services.kernel.model_base import id_column


class ClusterBackupRun(Base):
    """One pgBackRest run: scheduled (named by its cron fire time) or asked for by an operator."""
    __tablename__ = "cluster_backup_runs"
    __table_args__ = (
        # two replicas racing for the same scheduled fire time: the second insert is ignored
        Index("uq_cluster_backup_runs_slot", "kind", "scheduled_for", unique=True),
        Index("ix_cluster_backup_runs_started", "started_at"),
    )
    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # full | incr
    trigger: Mapped[str] = mapped_column(String(10), nullable=False)  # schedule | operator
    scheduled_for: Mapped[float | None] = mapped_column(Float, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(80), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)  # running | succeeded | failed
    step: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    started_at: Mapped[float] = mapped_column(Float, nullable=False)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # database size backed up
    stored_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # written to the repositories
    backups: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # pgBackRest labels per repo
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
