"""Erasure requests and account deactivation (issue 11 §5).

Nothing is ever deleted: a request to erase is answered (and recorded) with the legal reasons
the data are kept. What a school can do is deactivate an account: its sign-ins end (sessions and
refresh tokens are revoked, a later password is refused with a clear message) and the record stays.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text

from .models import Membership, User
from .sessions import revoke_sessions

ERASURE_REASONS = {
    "ro": [
        "Catalogul școlar este documentul legal al școlii: notele, absențele și situațiile școlare se "
        "păstrează pe durata prevăzută de lege și nu pot fi șterse la cerere.",
        "Registrul matricol păstrează datele pe toată durata vieții persoanei (REG-8): nicio înregistrare "
        "nu se șterge, o corectură devine o versiune nouă.",
        "Puteți cere în schimb rectificarea datelor inexacte, restricționarea prelucrării sau exportul "
        "datelor; școala poate dezactiva contul, fără a șterge înregistrările.",
    ],
    "en": [
        "The school catalog is the school's legal record: grades, absences and school results are kept "
        "for as long as the law requires and cannot be erased on request.",
        "The matriculation registry keeps the data for the person's lifetime (REG-8): no record is ever "
        "deleted; a correction becomes a new version.",
        "You may instead ask for inaccurate data to be rectified, for processing to be restricted, or for "
        "an export of your data; the school may deactivate the account without deleting any record.",
    ],
}


def _subject_person(principal: Principal, person_id: str | None) -> str | None:
    """Whose erasure is asked: the caller themselves, or a parent's child."""
    if person_id is None or person_id == principal.person_id:
        return principal.person_id
    if Role.PARENT in principal.roles and person_id in principal.children:
        return person_id
    raise Forbidden("you may ask this only for yourself or for your own child")


def answer_erasure_request(session: Session, emit, principal: Principal, *, person_id: str | None,
                           reason: str | None) -> dict:
    if principal.is_integrator:
        raise Forbidden("your role may not do this")
    subject = _subject_person(principal, person_id)
    reason = clean_text(reason, field="reason", max_len=1000) if reason else None
    after = {"person_id": subject, "account_id": principal.user_id if subject == principal.person_id else None,
             "erased": False, "decision": "refused_legal_obligation"}
    envelope = emit(session, "erasure_request_answered", entity_type="user", entity_id=principal.user_id,
                    after=after, reason=reason)
    return {"request_id": envelope.event_id, "erased": False, "decision": "refused_legal_obligation",
            "person_id": subject, "reasons": ERASURE_REASONS}


def _member_here(session: Session, principal: Principal, user_id: str) -> User:
    require(principal, Role.SCHOOL_ADMIN)
    user = session.get(User, user_id)
    if user is None or not session.scalar(select(Membership.id).where(
            Membership.user_id == user_id, Membership.tenant_id == principal.tenant_id)):
        raise NotFound("user not found")
    return user


def deactivate(session: Session, emit, principal: Principal, *, user_id: str, reason: str) -> dict:
    user = _member_here(session, principal, user_id)
    reason = clean_text(reason, field="reason", max_len=500)
    if user.id == principal.user_id:
        raise InvalidInput("you cannot deactivate your own account")
    elsewhere = session.scalar(select(Membership.tenant_id).where(Membership.user_id == user.id,
                                                                  Membership.tenant_id != principal.tenant_id))
    if elsewhere:
        raise Conflict("this account also belongs to another institution; it cannot be deactivated from here")
    if user.status == "deactivated":
        raise Conflict("this account is already deactivated")
    before = {"status": user.status}
    user.status = "deactivated"
    ended = revoke_sessions(session, emit, user.id, reason="deactivated")
    emit(session, "account_deactivated", entity_type="user", entity_id=user.id,
         after={"status": "deactivated", "sessions_ended": len(ended)}, before=before, reason=reason)
    return {"id": user.id, "status": "deactivated", "sessions_ended": len(ended)}


def reactivate(session: Session, emit, principal: Principal, *, user_id: str, reason: str) -> dict:
    user = _member_here(session, principal, user_id)
    reason = clean_text(reason, field="reason", max_len=500)
    if user.status != "deactivated":
        raise Conflict("this account is not deactivated")
    user.status, user.failed_logins = "active", 0
    emit(session, "account_reactivated", entity_type="user", entity_id=user.id, after={"status": "active"},
         before={"status": "deactivated"}, reason=reason)
    return {"id": user.id, "status": "active"}
