"""Tenants, accounts, memberships and password login: plain functions over a session.

Entry points in `service.py` only parse arguments and call these; the rules here do
not know about nameko or the broker.
"""
from __future__ import annotations

import time
import json
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import ADMIN_ROLES, PLATFORM_TENANT, Principal, Role
from services.kernel.validation import clean_email, clean_text, page_args

from .models import ActionToken, Membership, ParentLink, Tenant, User
from .security.passwords import PasswordRejected, check_password_policy, hash_password
from .security.tokens import new_token, token_hash
from .sessions import clear_account_throttle, revoke_sessions, user_by_email

TENANT_KINDS = ("school", "university")
# Roles an institution's administrator may hand out; operator-only roles are not in it.
ASSIGNABLE_ROLES = {
    "school": {Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.TEACHER, Role.STUDENT, Role.PARENT,
               Role.STATISTICS_VIEWER},
    "university": {Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.STUDENT, Role.STATISTICS_VIEWER},
    # the platform's own people: only the operator grants these
    "platform": {Role.OPERATOR, Role.CENTRAL_AUTHORITY},
}

def tenant_dict(t: Tenant) -> dict:
    return {"id": t.id, "name": t.name, "kind": t.kind}


def user_dict(u: User, roles: list[str] | None = None) -> dict:
    data = {"id": u.id, "email": u.email, "full_name": u.full_name, "person_id": u.person_id,
            "status": u.status}
    if roles is not None:
        data["roles"] = sorted(roles)
    return data


def new_password_hash(password: str | None, *user_inputs: str | None) -> str | None:
    """Policy check and argon2 hash. Slow on purpose: call it before opening a transaction."""
    if not password:
        return None
    try:
        check_password_policy(password, user_inputs=user_inputs)
    except PasswordRejected as exc:
        raise InvalidInput(str(exc)) from exc
    return hash_password(password)


def ensure_platform_operator(session: Session, email: str, password_hash: str) -> bool:
    """Create the platform tenant and the first operator (from configuration) once."""
    email = clean_email(email)
    if session.get(Tenant, PLATFORM_TENANT) is None:
        session.add(Tenant(id=PLATFORM_TENANT, name="Platform operations", kind="platform"))
        session.flush()
    if session.scalar(select(User).where(User.email == email)) is not None:
        return False
    user = User(email=email, full_name="Platform operator", password_hash=password_hash)
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id, tenant_id=PLATFORM_TENANT, role=Role.OPERATOR))
    return True


def _roles_in(session: Session, user_id: str, tenant_id: str) -> list[str]:
    return list(session.scalars(select(Membership.role).where(
        Membership.user_id == user_id, Membership.tenant_id == tenant_id)))


def create_tenant(session: Session, emit, principal: Principal, *, name: str, kind: str,
                  admin_email: str, admin_full_name: str, admin_password_hash: str | None) -> dict:
    if Role.OPERATOR not in principal.roles:
        raise Forbidden("only the platform operator creates institutions")
    name = clean_text(name, field="name")
    if kind not in TENANT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(TENANT_KINDS)}")
    tenant = Tenant(name=name, kind=kind)
    session.add(tenant)
    session.flush()
    emit(session, "tenant_created", entity_type="tenant", entity_id=tenant.id,
         after=tenant_dict(tenant), tenant_id=tenant.id)
    admin = _add_member(session, emit, tenant, email=admin_email, full_name=admin_full_name,
                        password_hash=admin_password_hash, role=Role.SCHOOL_ADMIN, person_id=None)
    return {"tenant": tenant_dict(tenant), "admin": admin}


def _add_member(session: Session, emit, tenant: Tenant, *, email: str, full_name: str,
                password_hash: str | None, role: str, person_id: str | None, consented: bool = False) -> dict:
    """Create the account, or give an existing one another role *in an institution it
    already belongs to*. Joining a new institution needs the person's consent: an
    invitation they accept (`consented`). Otherwise any admin could annex another
    school's account (and read its name and registry link)."""
    email = clean_email(email)
    full_name = clean_text(full_name, field="full_name")
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        if not password_hash:
            raise InvalidInput("password is required for a new account")
        user = User(email=email, full_name=full_name, person_id=person_id, password_hash=password_hash)
        session.add(user)
        session.flush()
        emit(session, "user_created", entity_type="user", entity_id=user.id,
             after=user_dict(user), tenant_id=tenant.id)
    else:
        if not consented and not _roles_in(session, user.id, tenant.id):
            raise Conflict("an account with this e-mail already exists; send it an invitation instead")
        if person_id and user.person_id and user.person_id != person_id:
            raise Conflict("this email belongs to another person")
    exists = session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.tenant_id == tenant.id, Membership.role == role))
    if exists is not None:
        raise Conflict("this account already has that role in this institution")
    if person_id and not user.person_id:
        user.person_id = person_id
    membership = Membership(user_id=user.id, tenant_id=tenant.id, role=role)
    session.add(membership)
    session.flush()
    emit(session, "role_granted", entity_type="user", entity_id=user.id,
         after={"user_id": user.id, "tenant_id": tenant.id, "role": role}, tenant_id=tenant.id)
    return user_dict(user, _roles_in(session, user.id, tenant.id))


def create_user(session: Session, emit, principal: Principal, *, email: str, full_name: str,
                role: str, password_hash: str | None = None, person_id: str | None = None,
                tenant_id: str | None = None) -> dict:
    if not principal.has_any(ADMIN_ROLES):
        raise Forbidden("only administrators create accounts")
    # The tenant is the caller's own; only the operator may act for another institution.
    target = principal.tenant_id
    if tenant_id and tenant_id != principal.tenant_id:
        if Role.OPERATOR not in principal.roles:
            raise Forbidden("you may only manage your own institution")
        target = tenant_id
    tenant = session.get(Tenant, target)
    if tenant is None or (tenant.kind == "platform" and Role.OPERATOR not in principal.roles):
        raise NotFound("institution not found")
    if role not in ASSIGNABLE_ROLES[tenant.kind]:
        raise InvalidInput(f"role {role!r} cannot be granted in a {tenant.kind}")
    if role == Role.STUDENT and not person_id:
        raise InvalidInput("a student account must be linked to a registry person")
    return _add_member(session, emit, tenant, email=email, full_name=full_name, password_hash=password_hash,
                       role=role, person_id=person_id)


def get_member(session: Session, principal: Principal, user_id: str) -> dict:
    """A user as seen from the caller's institution; other institutions' users do not exist."""
    user = session.get(User, user_id)
    roles = _roles_in(session, user_id, principal.tenant_id) if user else []
    if not roles:
        raise NotFound("user not found")
    return user_dict(user, roles)


MAX_NAMES = 500


def names_for_documents(session: Session, principal: Principal, user_ids: list[str]) -> dict:
    """What a printed document names: the school, the accounts asked for (teachers, approvers)
    and the school's directors. Names only (no e-mail, no status), and only of members of the
    caller's own institution; an id of anyone else is simply left out."""
    if principal.is_integrator or not principal.roles:
        raise Forbidden("your role may not do this")
    if not isinstance(user_ids, list) or len(user_ids) > MAX_NAMES or not all(isinstance(u, str) for u in user_ids):
        raise InvalidInput(f"user_ids must be a list of at most {MAX_NAMES} ids")
    tenant = session.get(Tenant, principal.tenant_id)
    rows = session.execute(select(User.id, User.full_name, Membership.role).join(
        Membership, Membership.user_id == User.id).where(
        Membership.tenant_id == principal.tenant_id,
        (User.id.in_(set(user_ids))) | (Membership.role == Role.DIRECTOR))).all()
    members = {uid: name for uid, name, _ in rows if uid in set(user_ids)}
    directors = sorted({name for _, name, role in rows if role == Role.DIRECTOR})
    return {"school": tenant.name if tenant else "", "members": members, "directors": directors}


def list_members(session: Session, principal: Principal, *, limit: int | None, offset: int | None,
                 role: str | None = None) -> dict:
    if not principal.has_any(ADMIN_ROLES | {Role.DIRECTOR}):
        raise Forbidden("only administrators and the director list accounts")
    limit, offset = page_args(limit, offset)
    q = (select(User, Membership.role).join(Membership, Membership.user_id == User.id)
         .where(Membership.tenant_id == principal.tenant_id))
    if role:
        q = q.where(Membership.role == role)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.execute(q.order_by(User.email, Membership.role).limit(limit).offset(offset)).all()
    items = [{**user_dict(u), "role": r} for u, r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def list_tenants(session: Session, principal: Principal, *, limit: int | None, offset: int | None) -> dict:
    """The institutions on the platform, newest first (the operator's list; the platform's own
    tenant is not an institution)."""
    if Role.OPERATOR not in principal.roles:
        raise Forbidden("only the platform operator lists institutions")
    limit, offset = page_args(limit, offset)
    q = select(Tenant).where(Tenant.kind != "platform")
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(Tenant.created_at.desc(), Tenant.id).limit(limit).offset(offset)).all()
    return {"items": [tenant_dict(t) for t in rows], "total": total, "limit": limit, "offset": offset}


# --- account self-service (CAT-17) and administration --------------------------------------

RESET_TTL = 30 * 60
EMAIL_CHANGE_TTL = 24 * 3600
INVITATION_TTL = 7 * 24 * 3600


def _new_action_token(session: Session, purpose: str, ttl: int, *, user_id: str | None = None,
                      tenant_id: str | None = None, payload: dict | None = None) -> str:
    token = new_token()
    session.add(ActionToken(token_hash=token_hash(token), purpose=purpose, user_id=user_id, tenant_id=tenant_id,
                            payload=json.dumps(payload or {}, ensure_ascii=False), expires_at=time.time() + ttl))
    return token


def _spend_action_token(session: Session, token: str, purpose: str) -> ActionToken:
    row = session.get(ActionToken, token_hash(token or ""))
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at < time.time():
        raise InvalidInput("this link is invalid or has expired; ask for a new one")
    row.used_at = time.time()
    return row


def password_hash_of(session: Session, user_id: str) -> str:
    return session.get(User, user_id).password_hash


def change_password(session: Session, emit, principal: Principal, *, current_ok: bool, new_hash: str) -> dict:
    """Current password already verified by the caller (outside the transaction)."""
    if not current_ok:
        raise InvalidInput("the current password is not correct")
    user = session.get(User, principal.user_id)
    user.password_hash, user.password_changed_at = new_hash, time.time()
    emit(session, "password_changed", entity_type="user", entity_id=user.id, after={"by": "self"})
    revoke_sessions(session, emit, user.id, reason="password_changed", keep=principal.session_id)
    return {"status": "ok"}


def request_password_reset(session: Session, emit, *, email: str, base_url: str) -> tuple[str, str, str] | None:
    """Returns the e-mail to send, or None; the caller answers the same either way."""
    user = user_by_email(session, email)
    if user is None:
        return None
    token = _new_action_token(session, "password_reset", RESET_TTL, user_id=user.id)
    emit(session, "password_reset_requested", entity_type="user", entity_id=user.id, after={}, tenant_id=None)
    body = (f"Pentru a vă schimba parola, folosiți acest cod în aplicație (valabil 30 de minute):\n\n{token}\n\n"
            f"API: POST {base_url}/v1/auth/password/reset\nDacă nu ați cerut schimbarea, ignorați mesajul.")
    return user.email, "Resetarea parolei", body


def reset_target(session: Session, token: str) -> tuple[str, str]:
    """(email, full name) of the account a reset token is for, to check the new password
    against them and hash it before the transaction that spends the token."""
    row = session.get(ActionToken, token_hash(token or ""))
    if row is None or row.purpose != "password_reset" or row.used_at is not None or row.expires_at < time.time():
        raise InvalidInput("this link is invalid or has expired; ask for a new one")
    user = session.get(User, row.user_id)
    return user.email, user.full_name


def reset_password(session: Session, emit, *, token: str, new_hash: str) -> dict:
    """Signs nobody in: the next login still asks for the second factor."""
    row = _spend_action_token(session, token, "password_reset")
    user = session.get(User, row.user_id)
    user.password_hash, user.password_changed_at = new_hash, time.time()
    emit(session, "password_reset", entity_type="user", entity_id=user.id, after={"by": "email_token"},
         tenant_id=None)
    revoke_sessions(session, emit, user.id, reason="password_reset")
    return {"status": "ok"}


def request_email_change(session: Session, emit, principal: Principal, *, current_ok: bool, new_email: str,
                         base_url: str) -> tuple[str, str, str]:
    if not current_ok:
        raise InvalidInput("the current password is not correct")
    new_email = clean_email(new_email)
    if session.scalar(select(User.id).where(User.email == new_email)):
        raise Conflict("that e-mail address is already used by another account")
    token = _new_action_token(session, "email_change", EMAIL_CHANGE_TTL, user_id=principal.user_id,
                              payload={"email": new_email})
    emit(session, "email_change_requested", entity_type="user", entity_id=principal.user_id, after={})
    body = (f"Confirmați noua adresă de e-mail cu acest cod (valabil 24 de ore):\n\n{token}\n\n"
            f"API: POST {base_url}/v1/me/email/confirm")
    return new_email, "Confirmarea adresei de e-mail", body


def confirm_email_change(session: Session, emit, *, token: str) -> dict:
    row = _spend_action_token(session, token, "email_change")
    new_email = json.loads(row.payload)["email"]
    if session.scalar(select(User.id).where(User.email == new_email)):
        raise Conflict("that e-mail address is already used by another account")
    user = session.get(User, row.user_id)
    old = user.email
    user.email = new_email
    emit(session, "email_changed", entity_type="user", entity_id=user.id, after={"email": new_email},
         before={"email": old}, tenant_id=None)
    return {"status": "ok", "email": new_email}


def create_invitation(session: Session, emit, principal: Principal, *, email: str, role: str,
                      base_url: str, person_id: str | None = None) -> tuple[dict, tuple[str, str, str]]:
    if not principal.has_any(ADMIN_ROLES):
        raise Forbidden("only administrators invite")
    tenant = session.get(Tenant, principal.tenant_id)
    if tenant is None or tenant.kind == "platform":
        raise NotFound("institution not found")
    if role not in ASSIGNABLE_ROLES[tenant.kind] or role == Role.STUDENT:
        raise InvalidInput(f"role {role!r} cannot be granted by invitation in a {tenant.kind}")
    email = clean_email(email)
    token = _new_action_token(session, "invitation", INVITATION_TTL, tenant_id=tenant.id,
                              payload={"email": email, "role": role, "person_id": person_id,
                                       "invited_by": principal.user_id})
    emit(session, "invitation_created", entity_type="tenant", entity_id=tenant.id, after={"role": role})
    body = (f"Ați fost invitat(ă) în {tenant.name} ca {role}. Finalizați contul cu acest cod "
            f"(valabil 7 zile):\n\n{token}\n\nAPI: POST {base_url}/v1/invitations/accept")
    return {"status": "sent", "email": email, "role": role}, (email, "Invitație", body)


def accept_invitation(session: Session, emit, *, token: str, full_name: str, password_hash: str | None) -> dict:
    """Creates the account (or adds the role to an existing one); signs nobody in."""
    row = _spend_action_token(session, token, "invitation")
    data = json.loads(row.payload)
    tenant = session.get(Tenant, row.tenant_id)
    user = _add_member(session, emit, tenant, email=data["email"], full_name=full_name,
                       password_hash=password_hash, role=data["role"], person_id=data.get("person_id"),
                       consented=True)
    emit(session, "invitation_accepted", entity_type="user", entity_id=user["id"],
         after={"role": data["role"]}, tenant_id=tenant.id)
    return {"status": "ok", "user": user}


def invitation_email(session: Session, token: str) -> tuple[str, str]:
    """Who the invitation is for (to check the password policy against it before hashing)."""
    row = session.get(ActionToken, token_hash(token or ""))
    if row is None or row.purpose != "invitation":
        raise InvalidInput("this link is invalid or has expired; ask for a new one")
    return json.loads(row.payload)["email"], row.tenant_id


def unlock_user(session: Session, emit, principal: Principal, *, user_id: str) -> dict:
    if not principal.has_any(ADMIN_ROLES):
        raise Forbidden("only administrators unlock accounts")
    user = session.get(User, user_id)
    in_tenant = user is not None and (Role.OPERATOR in principal.roles or _roles_in(session, user_id,
                                                                                   principal.tenant_id))
    if not in_tenant:
        raise NotFound("user not found")
    if user.status == "deactivated":
        raise Conflict("this account is deactivated; reactivate it instead of unlocking it")
    user.status, user.failed_logins = "active", 0
    clear_account_throttle(session, user.email)
    emit(session, "account_unlocked", entity_type="user", entity_id=user.id, after={"status": "active"})
    return user_dict(user)


def link_parent(session: Session, emit, principal: Principal, *, parent_user_id: str, student_person_id: str) -> dict:
    """Give a parent account access to one pupil's catalog in the caller's school."""
    if not principal.has_any(ADMIN_ROLES):
        raise Forbidden("only administrators link parents to pupils")
    if Role.PARENT not in _roles_in(session, parent_user_id, principal.tenant_id):
        raise NotFound("parent account not found in this institution")
    pupil = session.scalar(select(User.id).join(Membership, Membership.user_id == User.id).where(
        User.person_id == student_person_id, Membership.tenant_id == principal.tenant_id,
        Membership.role == Role.STUDENT))
    if pupil is None:
        raise NotFound("pupil not found in this institution")
    if session.scalar(select(ParentLink.id).where(
            ParentLink.tenant_id == principal.tenant_id, ParentLink.parent_user_id == parent_user_id,
            ParentLink.student_person_id == student_person_id)):
        raise Conflict("this parent is already linked to this pupil")
    link = ParentLink(tenant_id=principal.tenant_id, parent_user_id=parent_user_id,
                      student_person_id=student_person_id, created_by=principal.user_id)
    session.add(link)
    session.flush()
    after = {"parent_user_id": parent_user_id, "student_person_id": student_person_id}
    emit(session, "parent_linked", entity_type="user", entity_id=parent_user_id, after=after)
    return after
