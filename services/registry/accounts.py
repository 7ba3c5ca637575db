"""Account requests (REG-9, art. 7 c): an institution asks for a registry account, the central
authority approves it, the platform's administrator (operator) creates it in auth (the gateway
calls auth's `create_user` with the operator's own token, then records the account here)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_email, clean_text, page_args

from .models import AccountRequest

REQUESTABLE = ("registry_clerk",)


def request_dict(r: AccountRequest) -> dict:
    return {"id": r.id, "tenant_id": r.tenant_id, "email": r.email, "full_name": r.full_name, "role": r.role,
            "reason": r.reason, "status": r.status, "user_id": r.user_id}


def create_request(session: Session, emit, principal: Principal, *, email: str, full_name: str, role: str,
                   reason: str) -> dict:
    require(principal, Role.SCHOOL_ADMIN)
    if role not in REQUESTABLE:
        raise InvalidInput(f"an institution may request these roles: {', '.join(REQUESTABLE)}")
    row = AccountRequest(tenant_id=principal.tenant_id, email=clean_email(email),
                         full_name=clean_text(full_name, field="full_name"), role=role,
                         reason=clean_text(reason, field="reason", max_len=500), requested_by=principal.user_id)
    session.add(row)
    session.flush()
    emit(session, "account_requested", entity_type="account_request", entity_id=row.id, after=request_dict(row))
    return request_dict(row)


def list_requests(session: Session, principal: Principal, *, status: str | None, limit, offset) -> dict:
    require(principal, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY, Role.OPERATOR)
    limit, offset = page_args(limit, offset)
    q = select(AccountRequest).order_by(AccountRequest.created_at)
    if Role.SCHOOL_ADMIN in principal.roles and not principal.has_any((Role.CENTRAL_AUTHORITY, Role.OPERATOR)):
        q = q.where(AccountRequest.tenant_id == principal.tenant_id)
    if status:
        q = q.where(AccountRequest.status == status)
    return {"items": [request_dict(r) for r in session.scalars(q.limit(limit).offset(offset))]}


def _pending(session: Session, request_id: str, status: str) -> AccountRequest:
    row = session.get(AccountRequest, request_id)
    if row is None:
        raise NotFound("account request not found")
    if row.status != status:
        raise Conflict(f"this request is {row.status}")
    return row


def decide(session: Session, emit, principal: Principal, request_id: str, *, approve: bool) -> dict:
    require(principal, Role.CENTRAL_AUTHORITY)
    row = _pending(session, request_id, "pending")
    row.status, row.decided_by = ("approved" if approve else "rejected"), principal.user_id
    emit(session, "account_request_approved" if approve else "account_request_rejected",
         entity_type="account_request", entity_id=row.id, after=request_dict(row), tenant_id=row.tenant_id)
    return request_dict(row)


def approved(session: Session, principal: Principal, request_id: str) -> dict:
    """What the operator's account creation needs (the request must be approved)."""
    require(principal, Role.OPERATOR)
    return request_dict(_pending(session, request_id, "approved"))


def mark_created(session: Session, emit, principal: Principal, request_id: str, *, user_id: str) -> dict:
    require(principal, Role.OPERATOR)
    row = _pending(session, request_id, "approved")
    row.status, row.user_id = "created", user_id
    emit(session, "account_request_fulfilled", entity_type="account_request", entity_id=row.id,
         after=request_dict(row), tenant_id=row.tenant_id)
    return request_dict(row)
