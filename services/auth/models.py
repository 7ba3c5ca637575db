from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
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
    # the pupil the line is about (None: lines queued before issue 11), to honour a restriction
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    person_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[float] = created_column()
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)


# --- data-subject rights (issue 11): privacy notices, restrictions, subject exports ---------------

class PrivacyNotice(Base):
    """A published version of a school's privacy notice (version 1 is the template, never stored
    unless the school publishes over it: see services/auth/privacy.py)."""
    __tablename__ = "privacy_notices"
    __table_args__ = (UniqueConstraint("tenant_id", "version", name="uq_privacy_notice_version"),)
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    text_ro: Mapped[str] = mapped_column(Text, nullable=False)
    text_en: Mapped[str] = mapped_column(Text, nullable=False)
    published_by: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[float] = created_column()


class PrivacyAcknowledgement(Base):
    __tablename__ = "privacy_acknowledgements"
    __table_args__ = (UniqueConstraint("user_id", "tenant_id", "version", name="uq_privacy_ack"),)
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[float] = created_column()


class RestrictedPerson(Base):
    """The registry's restriction of processing, as auth last learnt it (newest event wins)."""
    __tablename__ = "restricted_persons"
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    restricted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    occurred_at: Mapped[str] = mapped_column(String(40), nullable=False)


class SubjectExport(Base):
    """A person's export job (access and portability): progress per service in `parts` (JSON)."""
    __tablename__ = "subject_exports"
    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    requested_by: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    requester_role: Mapped[str] = mapped_column(String(40), nullable=False)
    person_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    parts: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[float] = created_column()
    # set by the replica running it at each step: a job whose beat stopped is taken over
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SubjectExportFile(Base):
    """A finished export file (JSON or PDF) kept in auth's database, in chunks, with the hash of
    its one-time download token."""
    __tablename__ = "subject_export_files"
    id: Mapped[str] = id_column()
    export_id: Mapped[str] = mapped_column(ForeignKey("subject_exports.id"), nullable=False, index=True)
    format: Mapped[str] = mapped_column(String(10), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    chunks: Mapped[int] = mapped_column(Integer, nullable=False)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)
    downloaded_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SubjectExportChunk(Base):
    __tablename__ = "subject_export_chunks"
    file_id: Mapped[str] = mapped_column(ForeignKey("subject_export_files.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
