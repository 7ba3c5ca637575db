from __future__ import annotations

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import make_base
from services.kernel.outbox import ID_TYPE

Base = make_base()


class AuditEntry(Base):
    """One row per event, append-only; `event_id` makes consumption idempotent."""
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_tenant_id", "tenant_id", "id"),
                      Index("ix_audit_entity", "entity_type", "entity_id"))
    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    actor_id: Mapped[str] = mapped_column(String(36), nullable=False)
    actor_role: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(60), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    occurred_at: Mapped[str] = mapped_column(String(40), nullable=False)
    recorded_at: Mapped[float] = mapped_column(Float, nullable=False)
    correlation_id: Mapped[str] = mapped_column(String(64), nullable=False)
    envelope: Mapped[str] = mapped_column(Text, nullable=False)
