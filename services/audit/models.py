from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import make_base
from services.kernel.outbox import ID_TYPE

Base = make_base()


class AuditEntry(Base):
    """One row per event, append-only; `event_id` makes consumption idempotent.

    `leaf_index` is the entry's position in the Merkle log, given by the sequencer in commit
    order; `leaf_hash` = SHA-256(0x00 || leaf_index || "\\n" || envelope) (see `log.leaf_bytes`).
    The other columns repeat fields of `envelope` for the queries; the verifier checks them."""
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_tenant_id", "tenant_id", "id"),
                      Index("ix_audit_entity", "entity_type", "entity_id"),
                      Index("ix_audit_tenant_leaf", "tenant_id", "leaf_index"),
                      Index("ix_audit_actor_leaf", "actor_id", "leaf_index"),
                      Index("ix_audit_type_leaf", "type", "leaf_index"),
                      Index("ix_audit_correlation", "correlation_id"),
                      # a person's export: entries about them (entity id) in their institution
                      Index("ix_audit_tenant_entity_leaf", "tenant_id", "entity_id", "leaf_index"))
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
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class MerkleNode(Base):
    """Every perfect subtree of the log above the leaves: (level ≥ 1, index) → hash."""
    __tablename__ = "merkle_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class LogState(Base):
    """One row: the tree size, its right edge (compact range) and the last checkpoint."""
    __tablename__ = "log_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    compact_range: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    checkpoint_at: Mapped[float] = mapped_column(Float, nullable=False)


class SignedCheckpoint(Base):
    """A C2SP tlog-checkpoint signed note, in issue order (sizes never decrease)."""
    __tablename__ = "checkpoints"
    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    issued_at: Mapped[float] = mapped_column(Float, nullable=False)
