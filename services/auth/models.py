from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import created_column, id_column, make_base

Base = make_base()


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # platform | school | university
    created_at: Mapped[float] = created_column()


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    person_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    password_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = created_column()


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "tenant_id", "role", name="uq_membership"),)
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(40), nullable=False)
    created_at: Mapped[float] = created_column()


class AuthSession(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False)
    factors: Mapped[str] = mapped_column(String(100), nullable=False)
    roles: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    created_at: Mapped[float] = created_column()
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class SecondFactor(Base):
    """A user's enrolled second factors: TOTP (sealed secret) and/or a verified phone."""
    __tablename__ = "second_factors"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    totp_secret: Mapped[str | None] = mapped_column(String(300), nullable=True)   # sealed (AES-GCM)
    totp_pending: Mapped[str | None] = mapped_column(String(300), nullable=True)  # sealed, awaiting first code
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    phone_pending: Mapped[str | None] = mapped_column(String(20), nullable=True)
    updated_at: Mapped[float] = created_column()


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class OneTimeCode(Base):
    """SMS codes: stored hashed, single use, short-lived, attempt-limited."""
    __tablename__ = "one_time_codes"
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)  # sms_login | sms_enrol
    destination: Mapped[str] = mapped_column(String(20), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[float] = created_column()
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class RefreshToken(Base):
    """Rotating refresh tokens, stored hashed. A used one presented again revokes its session."""
    __tablename__ = "refresh_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), nullable=False, index=True)
    created_at: Mapped[float] = created_column()
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Throttle(Base):
    """Failure counters per login key (hashed e-mail, client address, API client)."""
    __tablename__ = "throttles"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_failure_at: Mapped[float] = mapped_column(Float, nullable=False)
    last_failure_at: Mapped[float] = mapped_column(Float, nullable=False)


class ActionToken(Base):
    """Single-use e-mailed tokens: password reset, e-mail change, invitation. Stored hashed."""
    __tablename__ = "action_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[float] = created_column()
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ApiClient(Base):
    """OAuth2 client-credentials clients of integrators, bound to one tenant."""
    __tablename__ = "api_clients"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[str] = mapped_column(String(300), nullable=False)
    created_by: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[float] = created_column()
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ParentLink(Base):
    """A parent's access to one pupil's catalog, granted by the school."""
    __tablename__ = "parent_links"
    __table_args__ = (UniqueConstraint("tenant_id", "parent_user_id", "student_person_id", name="uq_parent_link"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    parent_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    student_person_id: Mapped[str] = mapped_column(String(36), nullable=False)
    created_by: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[float] = created_column()


class CatalogNoticePreference(Base):
    """Whether a parent or pupil wants catalog messages (new grades, new absences): off,
    immediately, or as a daily digest. Staff alerts (changed/cancelled grades) are always sent."""
    __tablename__ = "catalog_notice_preferences"
    __table_args__ = (UniqueConstraint("user_id", "tenant_id", name="uq_notice_preference"),)
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False)
    grades: Mapped[str] = mapped_column(String(10), nullable=False, default="off")
    absences: Mapped[str] = mapped_column(String(10), nullable=False, default="off")
    created_at: Mapped[float] = created_column()


class CatalogDigestItem(Base):
    """A line of tomorrow's digest e-mail, sent once (then `sent_at` is set)."""
    __tablename__ = "catalog_digest_items"
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    line: Mapped[str] = mapped_column(String(300), nullable=False)
    created_at: Mapped[float] = created_column()
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
