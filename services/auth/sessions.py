"""Login, second factors, sessions and refresh tokens (CAT-5, ASVS level 2).

A login is two steps. The password step always yields a *partial* access token when a
second factor is owed: stage "mfa" (the user has one: prove it) or "enrol" (the role
requires one and none exists: enrol it). A partial token opens only the verification
and enrolment endpoints, and never comes with a refresh token, so neither refresh,
password reset nor an invitation can skip the second factor.

Functions here take a session and return plain dicts; messages to send (SMS) are
returned to the caller, which sends them after the transaction commits.
"""
from __future__ import annotations

import base64
import hashlib
import math
import time
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.kernel.errors import Forbidden, InvalidInput, NotAuthenticated, RateLimited
from services.kernel.identity import Principal, Role, TokenSigner, second_factor_mandatory
from services.kernel.validation import clean_email

from .config import AuthSecrets, get_auth_settings
from .models import (AuthSession, Membership, OneTimeCode, ParentLink, RecoveryCode, RefreshToken, SecondFactor, Tenant,
                     Throttle, User)
from . import privacy
from .security import otp_codes, recovery_codes, throttle, totp
from .security.passwords import dummy_verify, verify_password
from .security.tokens import new_token, token_hash

GENERIC_LOGIN_ERROR = "invalid email or password"
LOCKED_MESSAGE = "this account is locked after too many failed attempts; ask your administrator to unlock it"
DEACTIVATED_MESSAGE = ("this account has been deactivated by the school; its record is kept, but it can no longer "
                       "sign in. Ask the school's administrator if you think this is a mistake")
FAILED = {"status": "failed"}
ADDRESS_WINDOW_SECONDS = 15 * 60
SMS_POLICY = otp_codes.OtpPolicy()


# --- throttling ----------------------------------------------------------------------

def throttle_keys(email: str, client_ip: str | None) -> list[str]:
    """Keyed by the e-mail as typed (hashed), so unknown and known accounts behave alike."""
    try:
        normalised = clean_email(email)
    except InvalidInput:
        normalised = (email or "").strip().lower()
    keys = ["acct:" + hashlib.sha256(normalised.encode()).hexdigest()[:40]]
    if client_ip:
        try:
            keys.append("addr:" + throttle.address_key(client_ip))
        except ValueError:
            pass
    return keys


def address_backoff() -> throttle.Backoff:
    base = throttle.ADDRESS_BACKOFF
    return throttle.Backoff(free_failures=get_auth_settings().address_free_failures,
                            base_seconds=base.base_seconds, cap_seconds=base.cap_seconds)


def check_throttle(session: Session, keys: list[str], now: float) -> None:
    for key in keys:
        row = session.get(Throttle, key)
        if row is None:
            continue
        if key.startswith("addr:"):
            if now - row.first_failure_at > ADDRESS_WINDOW_SECONDS:
                continue
            wait = throttle.retry_after(row.failures, last_failure_at=row.last_failure_at, now=now,
                                        backoff=address_backoff())
        else:
            if throttle.should_lock(row.failures):
                raise NotAuthenticated(LOCKED_MESSAGE)
            wait = throttle.retry_after(row.failures, last_failure_at=row.last_failure_at, now=now)
        if wait > 0:
            raise RateLimited(f"too many failed attempts; try again in {math.ceil(wait)} seconds", math.ceil(wait))


def record_failure(session: Session, keys: list[str], now: float) -> int:
    """Returns the account key's consecutive failures after this one."""
    account_failures = 0
    for key in keys:
        row = session.get(Throttle, key)
        if row is None:
            row = Throttle(key=key, failures=0, first_failure_at=now, last_failure_at=now)
            session.add(row)
        elif key.startswith("addr:") and now - row.first_failure_at > ADDRESS_WINDOW_SECONDS:
            row.failures, row.first_failure_at = 0, now
        row.failures += 1
        row.last_failure_at = now
        if key.startswith("acct:"):
            account_failures = row.failures
    return account_failures


def clear_throttle(session: Session, key: str) -> None:
    row = session.get(Throttle, key)
    if row is not None:
        session.delete(row)


def clear_account_throttle(session: Session, email: str) -> None:
    """Success (or an admin unlock) resets the account's count; address counts stay."""
    clear_throttle(session, throttle_keys(email, None)[0])


# --- the password step ---------------------------------------------------------------

def user_by_email(session: Session, email: str) -> User | None:
    """The account for an e-mail as typed; malformed input simply matches nobody."""
    try:
        email = clean_email(email)
    except InvalidInput:
        return None
    return session.scalar(select(User).where(User.email == email))


def login_candidate(session: Session, email: str) -> dict | None:
    """First read of a login: the stored hash, so verification can run outside any transaction."""
    user = user_by_email(session, email)
    if user is None:
        return None
    return {"id": user.id, "password_hash": user.password_hash, "status": user.status}


def check_password(candidate: dict | None, password: str) -> tuple[bool, str | None]:
    """argon2 verification (slow: call outside a transaction); an unknown user costs the
    same as a wrong password because a dummy hash is verified instead."""
    if candidate is None:
        dummy_verify(password or "")
        return False, None
    return verify_password(candidate["password_hash"], password or "")


def _factor_methods(session: Session, user_id: str) -> list[str]:
    factor = session.get(SecondFactor, user_id)
    methods = []
    if factor and factor.totp_secret:
        methods.append("totp")
    if factor and factor.phone:
        methods.append("sms")
    if methods and session.scalar(select(RecoveryCode.id).where(RecoveryCode.user_id == user_id,
                                                                RecoveryCode.used_at.is_(None)).limit(1)):
        methods.append("recovery")
    return methods


def _tenant_roles(session: Session, user_id: str) -> dict[str, dict]:
    rows = session.execute(select(Membership.tenant_id, Membership.role, Tenant.name)
                           .join(Tenant, Tenant.id == Membership.tenant_id)
                           .where(Membership.user_id == user_id)).all()
    tenants: dict[str, dict] = {}
    for tid, role, tname in rows:
        tenants.setdefault(tid, {"id": tid, "name": tname, "roles": []})["roles"].append(role)
    return tenants


def finish_login(session: Session, emit, signer: TokenSigner, candidate: dict | None, ok: bool,
                 new_hash: str | None, *, email: str, tenant_id: str | None, client_ip: str | None,
                 partial_ttl: int, refresh_ttl: int) -> dict:
    """Record the outcome of the password step. Failures are returned, not raised, so the
    caller commits the counters and the audit event before answering 401."""
    now = time.time()
    keys = throttle_keys(email, client_ip)
    if candidate is None or not ok:
        failures = record_failure(session, keys, now)
        user = session.get(User, candidate["id"]) if candidate else None
        if user is not None:
            user.failed_logins = failures
            if throttle.should_lock(failures) and user.status == "active":
                user.status = "locked"
                emit(session, "account_locked", entity_type="user", entity_id=user.id,
                     after={"status": "locked", "failed_logins": failures}, tenant_id=None)
        emit(session, "login_failed", entity_type="user", entity_id=user.id if user else "unknown",
             after={"reason": "bad_credentials", "consecutive_failures": failures}, tenant_id=None)
        return FAILED
    user = session.get(User, candidate["id"])
    if user.status in ("locked", "deactivated"):
        return {"status": user.status}
    if new_hash:
        user.password_hash = new_hash
    user.failed_logins = 0
    clear_account_throttle(session, email)
    tenants = _tenant_roles(session, user.id)
    if tenant_id is None and len(tenants) > 1:
        return {"status": "choose_tenant", "tenants": sorted(tenants.values(), key=lambda t: t["name"])}
    chosen = tenants.get(tenant_id) if tenant_id else next(iter(tenants.values()), None)
    if chosen is None:
        raise Forbidden("you have no access to that institution")
    methods = _factor_methods(session, user.id)
    stage = "mfa" if methods else ("enrol" if second_factor_mandatory(chosen["roles"]) else None)
    auth_session = AuthSession(id=str(uuid.uuid4()), user_id=user.id, tenant_id=chosen["id"], factors="pwd",
                               roles=",".join(sorted(chosen["roles"])))
    session.add(auth_session)
    session.flush()
    emit(session, "login_succeeded", entity_type="user", entity_id=user.id,
         after={"session_id": auth_session.id, "factors": ["pwd"], "second_factor": stage or "not_required"},
         tenant_id=chosen["id"])
    if stage is None:
        return {"status": "ok", **_full_tokens(session, signer, auth_session, user, refresh_ttl)}
    token, ttl = signer.issue(user_id=user.id, tenant_id=chosen["id"], roles=chosen["roles"], factors=["pwd"],
                              session_id=auth_session.id, person_id=user.person_id, extra={"stage": stage},
                              ttl_seconds=partial_ttl)
    status = "second_factor_required" if stage == "mfa" else "enrolment_required"
    return {"status": status, "access_token": token, "token_type": "Bearer", "expires_in": ttl,
            "tenant_id": chosen["id"], "roles": sorted(chosen["roles"]), "factors": ["pwd"],
            "methods": methods if stage == "mfa" else ["totp", "sms"]}


def _full_tokens(session: Session, signer: TokenSigner, auth_session: AuthSession, user: User,
                 refresh_ttl: int) -> dict:
    factors = auth_session.factors.split()
    roles = [r for r in auth_session.roles.split(",") if r]
    extra = None
    if Role.PARENT in roles:
        # the pupils whose catalog this parent may read, fixed for the token's 15 minutes
        extra = {"kids": sorted(session.scalars(select(ParentLink.student_person_id).where(
            ParentLink.tenant_id == auth_session.tenant_id, ParentLink.parent_user_id == user.id)))}
    notice = privacy.pending(session, user.id, auth_session.tenant_id)
    if notice:
        # lets /v1/me (answered from the token) know it must ask whether it is still pending
        extra = {**(extra or {}), "pnp": notice["version"]}
    access, ttl = signer.issue(user_id=user.id, tenant_id=auth_session.tenant_id, roles=roles, factors=factors,
                               session_id=auth_session.id, person_id=user.person_id, extra=extra)
    refresh = new_token()
    session.add(RefreshToken(token_hash=token_hash(refresh), session_id=auth_session.id,
                             expires_at=time.time() + refresh_ttl))
    return {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "refresh_token": refresh,
            "tenant_id": auth_session.tenant_id, "roles": sorted(roles), "factors": sorted(factors),
            "privacy_notice_pending": notice}


def _live_session(session: Session, principal: Principal) -> AuthSession:
    auth_session = session.get(AuthSession, principal.session_id)
    if auth_session is None or auth_session.revoked_at is not None or auth_session.user_id != principal.user_id:
        raise NotAuthenticated("this session has ended; sign in again")
    return auth_session


def _upgrade(session: Session, emit, signer: TokenSigner, principal: Principal, factor: str,
             refresh_ttl: int) -> dict:
    """The second factor is proven: the session gains it and full tokens are issued."""
    auth_session = _live_session(session, principal)
    auth_session.factors = " ".join(sorted(set(auth_session.factors.split()) | {factor}))
    emit(session, "second_factor_succeeded", entity_type="user", entity_id=principal.user_id,
         after={"session_id": auth_session.id, "factor": factor})
    return {"status": "ok", **_full_tokens(session, signer, auth_session, session.get(User, principal.user_id),
                                           refresh_ttl)}


# --- second factor: verification at login ---------------------------------------------

def verify_second_factor(session: Session, emit, signer: TokenSigner, secrets: AuthSecrets, principal: Principal,
                         *, method: str, code: str, refresh_ttl: int) -> dict:
    if principal.stage != "mfa":
        raise InvalidInput("no second factor is pending for this session")
    now = time.time()
    keys = ["mfa:" + principal.user_id]
    check_throttle(session, keys, now)
    factor = session.get(SecondFactor, principal.user_id)
    proven = False
    if method == "totp" and factor and factor.totp_secret:
        secret = _open_totp(secrets, factor.totp_secret, principal.user_id)
        step = totp.verify_totp(secret, code, last_used_step=factor.totp_last_step, now=now)
        if step is not None:
            factor.totp_last_step = step
            proven = True
    elif method == "sms" and factor and factor.phone:
        proven = _consume_sms_code(session, secrets, principal.user_id, "sms_login", code, now)
    elif method == "recovery":
        proven = _consume_recovery_code(session, secrets, principal.user_id, code, now)
        if proven:
            emit(session, "recovery_code_used", entity_type="user", entity_id=principal.user_id,
                 after={"remaining": _remaining_recovery_codes(session, principal.user_id)})
    elif method not in ("totp", "sms", "recovery"):
        raise InvalidInput("method must be totp, sms or recovery")
    if not proven:
        record_failure(session, keys, now)
        emit(session, "second_factor_failed", entity_type="user", entity_id=principal.user_id,
             after={"method": method})
        return FAILED
    clear_throttle(session, keys[0])
    factor_name = {"totp": "otp", "sms": "sms", "recovery": "recovery"}[method]
    return _upgrade(session, emit, signer, principal, factor_name, refresh_ttl)


def _open_totp(secrets: AuthSecrets, sealed: str, user_id: str) -> str:
    return secrets.box.open(sealed, associated_data=user_id.encode())


def _consume_sms_code(session: Session, secrets: AuthSecrets, user_id: str, purpose: str, code: str,
                      now: float) -> bool:
    row = session.scalar(select(OneTimeCode).where(OneTimeCode.user_id == user_id, OneTimeCode.purpose == purpose)
                         .order_by(OneTimeCode.created_at.desc()).limit(1))
    if row is None:
        return False
    outcome = otp_codes.check_otp(
        otp_codes.StoredOtp(code_hash=row.code_hash, created_at=row.created_at, attempts=row.attempts,
                            used=row.used_at is not None), code, pepper=secrets.pepper, now=now, policy=SMS_POLICY)
    if outcome is otp_codes.OtpOutcome.OK:
        row.used_at = now
        return True
    row.attempts += 1
    return False


def _consume_recovery_code(session: Session, secrets: AuthSecrets, user_id: str, code: str, now: float) -> bool:
    rows = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id,
                                                      RecoveryCode.used_at.is_(None))).all()
    index = recovery_codes.match_recovery_code(code, [r.code_hash for r in rows], pepper=secrets.pepper)
    if index is None:
        return False
    rows[index].used_at = now
    return True


def _remaining_recovery_codes(session: Session, user_id: str) -> int:
    return len(session.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user_id,
                                                             RecoveryCode.used_at.is_(None))).all())


def issue_sms_code(session: Session, emit, secrets: AuthSecrets, user_id: str, *, purpose: str,
                   destination: str) -> tuple[str, str]:
    """Creates a code and returns (number, text) for the caller to send after commit."""
    now = time.time()
    recent = session.scalars(select(OneTimeCode.created_at).where(
        OneTimeCode.user_id == user_id, OneTimeCode.created_at > now - 3600)).all()
    recent_to_number = session.scalars(select(OneTimeCode.created_at).where(
        OneTimeCode.destination == destination, OneTimeCode.created_at > now - 3600)).all()
    if not (otp_codes.may_send(recent, now=now, policy=SMS_POLICY)
            and otp_codes.may_send(recent_to_number, now=now, policy=SMS_POLICY)):
        raise RateLimited("too many codes sent in the last hour; try again later or use another method")
    code = otp_codes.new_numeric_code(6)
    session.add(OneTimeCode(user_id=user_id, purpose=purpose, destination=destination,
                            code_hash=otp_codes.hash_code(code, pepper=secrets.pepper), created_at=now))
    emit(session, "sms_code_sent", entity_type="user", entity_id=user_id,
         after={"purpose": purpose, "to": _masked_phone(destination)})
    return destination, f"Codul dumneavoastră de autentificare: {code}. Expiră în 5 minute."


def send_login_sms(session: Session, emit, secrets: AuthSecrets, principal: Principal) -> tuple[str, str]:
    if principal.stage != "mfa":
        raise InvalidInput("no second factor is pending for this session")
    factor = session.get(SecondFactor, principal.user_id)
    if factor is None or not factor.phone:
        raise InvalidInput("no phone number is enrolled for this account")
    return issue_sms_code(session, emit, secrets, principal.user_id, purpose="sms_login", destination=factor.phone)


def _masked_phone(phone: str) -> str:
    return phone[:3] + "*" * max(0, len(phone) - 6) + phone[-3:]


# --- second factor: enrolment ---------------------------------------------------------

def _factor_row(session: Session, user_id: str) -> SecondFactor:
    row = session.get(SecondFactor, user_id)
    if row is None:
        row = SecondFactor(user_id=user_id, updated_at=time.time())
        session.add(row)
    return row


def start_totp_enrolment(session: Session, secrets: AuthSecrets, principal: Principal, *, issuer: str) -> dict:
    _require_enrolment_allowed(session, principal)
    user = session.get(User, principal.user_id)
    secret = totp.new_secret()
    factor = _factor_row(session, user.id)
    # bound to the user id: a sealed secret copied onto another account does not open
    factor.totp_pending = secrets.box.seal(secret, associated_data=user.id.encode())
    uri = totp.provisioning_uri(secret, user.email, issuer)
    return {"secret": secret, "otpauth_uri": uri,
            "qr_png_base64": base64.b64encode(totp.qr_png(uri)).decode("ascii")}


RECENT_SIGN_IN_SECONDS = 15 * 60


def _require_enrolment_allowed(session: Session, principal: Principal) -> None:
    # A "mfa" token has not proven the existing factor yet: it must not add or replace one.
    if principal.stage == "mfa":
        raise Forbidden("verify your existing second factor first")
    # Changing factors when one already exists is a sensitive step: only soon after a full
    # sign-in (a stolen, refreshed session cannot swap in the thief's device).
    if _factor_methods(session, principal.user_id):
        auth_session = _live_session(session, principal)
        if time.time() - auth_session.created_at > RECENT_SIGN_IN_SECONDS:
            raise Forbidden("sign in again to change your second factor")


def confirm_totp(session: Session, emit, signer: TokenSigner, secrets: AuthSecrets, principal: Principal, *,
                 code: str, refresh_ttl: int) -> dict:
    _require_enrolment_allowed(session, principal)
    factor = session.get(SecondFactor, principal.user_id)
    if factor is None or not factor.totp_pending:
        raise InvalidInput("start TOTP enrolment first")
    secret = _open_totp(secrets, factor.totp_pending, principal.user_id)
    step = totp.verify_totp(secret, code, last_used_step=None)
    if step is None:
        raise InvalidInput("that code is not valid; check the time on your device and try again")
    factor.totp_secret, factor.totp_pending, factor.totp_last_step = factor.totp_pending, None, step
    factor.updated_at = time.time()
    emit(session, "totp_enabled", entity_type="user", entity_id=principal.user_id, after={"method": "totp"})
    return _after_enrolment(session, emit, signer, secrets, principal, "otp", refresh_ttl)


def start_sms_enrolment(session: Session, emit, secrets: AuthSecrets, principal: Principal, *,
                        phone: str) -> tuple[str, str]:
    _require_enrolment_allowed(session, principal)
    number = normalise_phone(phone)
    _factor_row(session, principal.user_id).phone_pending = number
    return issue_sms_code(session, emit, secrets, principal.user_id, purpose="sms_enrol", destination=number)


def confirm_sms(session: Session, emit, signer: TokenSigner, secrets: AuthSecrets, principal: Principal, *,
                code: str, refresh_ttl: int) -> dict:
    _require_enrolment_allowed(session, principal)
    factor = session.get(SecondFactor, principal.user_id)
    if factor is None or not factor.phone_pending:
        raise InvalidInput("start SMS enrolment first")
    if not _consume_sms_code(session, secrets, principal.user_id, "sms_enrol", code, time.time()):
        return FAILED
    factor.phone, factor.phone_pending, factor.updated_at = factor.phone_pending, None, time.time()
    emit(session, "sms_factor_enabled", entity_type="user", entity_id=principal.user_id,
         after={"method": "sms", "to": _masked_phone(factor.phone)})
    return _after_enrolment(session, emit, signer, secrets, principal, "sms", refresh_ttl)


def _after_enrolment(session: Session, emit, signer: TokenSigner, secrets: AuthSecrets, principal: Principal,
                     factor: str, refresh_ttl: int) -> dict:
    """First factor enrolled → recovery codes; an "enrol" session becomes a full one; a full
    session that changed its factors ends every other session of the user."""
    result: dict = {"status": "ok"}
    if _remaining_recovery_codes(session, principal.user_id) == 0:
        result["recovery_codes"] = _new_recovery_codes(session, emit, secrets, principal.user_id)
    if principal.stage == "enrol":
        result.update(_upgrade(session, emit, signer, principal, factor, refresh_ttl))
    else:
        revoke_sessions(session, emit, principal.user_id, reason="factor_changed", keep=principal.session_id)
    return result


def _new_recovery_codes(session: Session, emit, secrets: AuthSecrets, user_id: str) -> list[str]:
    session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
                    .values(used_at=time.time()))
    codes = recovery_codes.generate_recovery_codes()
    for digest in recovery_codes.hash_recovery_codes(codes, pepper=secrets.pepper):
        session.add(RecoveryCode(user_id=user_id, code_hash=digest))
    emit(session, "recovery_codes_generated", entity_type="user", entity_id=user_id, after={"count": len(codes)})
    return codes


def regenerate_recovery_codes(session: Session, emit, secrets: AuthSecrets, principal: Principal) -> dict:
    if not _factor_methods(session, principal.user_id):
        raise InvalidInput("enrol a second factor first")
    return {"recovery_codes": _new_recovery_codes(session, emit, secrets, principal.user_id)}


def disable_totp(session: Session, emit, secrets: AuthSecrets, principal: Principal, *, code: str) -> dict:
    """Only with a current code, and only if the role does not require a second factor
    (or another factor remains)."""
    factor = session.get(SecondFactor, principal.user_id)
    if factor is None or not factor.totp_secret:
        raise InvalidInput("TOTP is not enabled")
    secret = _open_totp(secrets, factor.totp_secret, principal.user_id)
    step = totp.verify_totp(secret, code, last_used_step=factor.totp_last_step)
    if step is None:
        raise InvalidInput("that code is not valid")
    if second_factor_mandatory(principal.roles) and not factor.phone:
        raise Forbidden("your role requires a second factor; enrol another one before removing this one")
    factor.totp_secret, factor.totp_last_step, factor.updated_at = None, step, time.time()
    if not factor.phone:
        session.execute(update(RecoveryCode).where(RecoveryCode.user_id == principal.user_id,
                                                   RecoveryCode.used_at.is_(None)).values(used_at=time.time()))
    emit(session, "totp_disabled", entity_type="user", entity_id=principal.user_id, after={"method": "totp"})
    revoke_sessions(session, emit, principal.user_id, reason="factor_changed", keep=principal.session_id)
    return {"status": "ok", "methods": _factor_methods(session, principal.user_id)}


def factor_status(session: Session, principal: Principal) -> dict:
    methods = _factor_methods(session, principal.user_id)
    return {"methods": methods, "required": second_factor_mandatory(principal.roles),
            "recovery_codes_left": _remaining_recovery_codes(session, principal.user_id)}


def normalise_phone(phone: str) -> str:
    """E.164; a Romanian national number (07xx xxx xxx) gets +40."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit() or ch == "+")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0") and len(digits) == 10:
        digits = "+40" + digits[1:]
    if not (digits.startswith("+") and 9 <= len(digits) <= 16 and digits[1:].isdigit()):
        raise InvalidInput("phone must be a number in international format, e.g. +40712345678")
    return digits


# --- sessions ---------------------------------------------------------------------------

def refresh(session: Session, emit, signer: TokenSigner, *, refresh_token: str, refresh_ttl: int) -> dict:
    """Rotate: the presented token is spent and a new one issued. A spent token presented
    again means it was stolen or replayed: the whole session is revoked."""
    row = session.get(RefreshToken, token_hash(refresh_token or ""))
    now = time.time()
    if row is None:
        return FAILED
    auth_session = session.get(AuthSession, row.session_id)
    if row.used_at is not None:
        emit(session, "refresh_token_reused", entity_type="session", entity_id=row.session_id,
             after={"session_id": row.session_id}, tenant_id=auth_session.tenant_id)
        revoke_sessions(session, emit, auth_session.user_id, reason="refresh_reuse", only=auth_session.id)
        return FAILED
    if auth_session.revoked_at is not None or row.expires_at < now:
        return FAILED
    row.used_at = now
    user = session.get(User, auth_session.user_id)
    if user.status != "active":
        return FAILED
    # roles may have changed since login: take them from the memberships again
    roles = _tenant_roles(session, user.id).get(auth_session.tenant_id, {}).get("roles", [])
    if not roles:
        return FAILED
    auth_session.roles = ",".join(sorted(roles))
    return {"status": "ok", **_full_tokens(session, signer, auth_session, user, refresh_ttl)}


def revoke_sessions(session: Session, emit, user_id: str, *, reason: str, keep: str | None = None,
                    only: str | None = None) -> list[str]:
    """Revoke the user's live sessions (all, all but `keep`, or `only` one); one event each,
    which the gateway consumes to refuse their access tokens at once."""
    q = select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if only:
        q = q.where(AuthSession.id == only)
    revoked = []
    now = time.time()
    for auth_session in session.scalars(q).all():
        if auth_session.id == keep:
            continue
        auth_session.revoked_at, auth_session.revoked_reason = now, reason
        emit(session, "session_revoked", entity_type="session", entity_id=auth_session.id,
             after={"session_id": auth_session.id, "user_id": user_id, "reason": reason},
             tenant_id=auth_session.tenant_id)
        revoked.append(auth_session.id)
    return revoked


def recent_revocations(session: Session, since: float) -> list[str]:
    return list(session.scalars(select(AuthSession.id).where(AuthSession.revoked_at >= since)))
