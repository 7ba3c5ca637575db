"""Integrators' OAuth2 client-credentials clients: tenant-bound, scoped, revocable.

Secrets are 256-bit random values shown once and stored as SHA-256 (high entropy, so a
slow hash adds nothing). Tokens carry role `integrator` and the granted scopes; the
gateway and the services let an integrator through only where a route names its scope.
"""
from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import Forbidden, InvalidInput, NotFound
from services.kernel.identity import ADMIN_ROLES, PLATFORM_TENANT, Principal, Role, TokenSigner
from services.kernel.validation import clean_text

from .models import ApiClient, Tenant
from .security.tokens import new_token, token_hash, tokens_equal
from .sessions import FAILED, check_throttle, record_failure

SCOPES = frozenset({"catalog:read", "registry:read", "registry:write"})


def client_dict(c: ApiClient) -> dict:
    return {"client_id": c.id, "name": c.name, "scopes": c.scopes.split(), "tenant_id": c.tenant_id,
            "created_at": c.created_at, "revoked": c.revoked_at is not None}


def _parse_scopes(scopes) -> list[str]:
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise InvalidInput("scopes must be a non-empty list")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise InvalidInput(f"unknown scopes: {', '.join(unknown)}; known: {', '.join(sorted(SCOPES))}")
    return sorted(set(scopes))


def _target_tenant(principal: Principal, tenant_id: str | None) -> str:
    if not principal.has_any(ADMIN_ROLES):
        raise Forbidden("only administrators manage API clients")
    if tenant_id and tenant_id != principal.tenant_id and Role.OPERATOR not in principal.roles:
        raise Forbidden("you may only manage your own institution")
    return tenant_id or principal.tenant_id


def create_client(session: Session, emit, principal: Principal, *, name: str, scopes: list[str],
                  tenant_id: str | None = None) -> dict:
    target = _target_tenant(principal, tenant_id)
    tenant = session.get(Tenant, target)
    if tenant is None or tenant.id == PLATFORM_TENANT:
        raise NotFound("institution not found")
    secret = new_token()
    client = ApiClient(tenant_id=target, name=clean_text(name, field="name", max_len=120),
                       secret_hash=token_hash(secret), scopes=" ".join(_parse_scopes(scopes)),
                       created_by=principal.user_id)
    session.add(client)
    session.flush()
    emit(session, "api_client_created", entity_type="api_client", entity_id=client.id, after=client_dict(client),
         tenant_id=target)
    return {**client_dict(client), "client_secret": secret}


def list_clients(session: Session, principal: Principal) -> dict:
    target = _target_tenant(principal, None)
    rows = session.scalars(select(ApiClient).where(ApiClient.tenant_id == target).order_by(ApiClient.created_at))
    return {"items": [client_dict(c) for c in rows]}


def revoke_client(session: Session, emit, principal: Principal, *, client_id: str) -> dict:
    client = session.get(ApiClient, client_id)
    if client is None or (client.tenant_id != principal.tenant_id and Role.OPERATOR not in principal.roles):
        raise NotFound("API client not found")
    _target_tenant(principal, client.tenant_id)
    if client.revoked_at is None:
        client.revoked_at = time.time()
        emit(session, "api_client_revoked", entity_type="api_client", entity_id=client.id,
             after=client_dict(client), tenant_id=client.tenant_id)
        # the gateway drops the client's live tokens at once, as for a revoked session
        emit(session, "session_revoked", entity_type="session", entity_id=f"client:{client.id}",
             after={"session_id": f"client:{client.id}", "reason": "client_revoked"}, tenant_id=client.tenant_id)
    return client_dict(client)


def issue_client_token(session: Session, emit, signer: TokenSigner, *, client_id: str, client_secret: str,
                       scope: str | None) -> dict:
    now = time.time()
    keys = [f"client:{client_id}"[:100]]
    check_throttle(session, keys, now)
    client = session.get(ApiClient, client_id) if isinstance(client_id, str) and len(client_id) <= 36 else None
    valid = client is not None and client.revoked_at is None and tokens_equal(
        client.secret_hash, token_hash(client_secret or ""))
    if not valid:
        record_failure(session, keys, now)
        emit(session, "api_token_refused", entity_type="api_client", entity_id=str(client_id)[:64],
             after={"reason": "bad_client_credentials"}, tenant_id=client.tenant_id if client else None)
        return FAILED
    granted = client.scopes.split()
    if scope:
        asked = scope.split()
        if not set(asked) <= set(granted):
            raise InvalidInput("requested scope exceeds what this client was granted")
        granted = asked
    token, ttl = signer.issue(user_id=client.id, tenant_id=client.tenant_id, roles=[Role.INTEGRATOR],
                              factors=["client_secret"], session_id=f"client:{client.id}",
                              extra={"scope": " ".join(granted)})
    emit(session, "api_token_issued", entity_type="api_client", entity_id=client.id,
         after={"scope": " ".join(granted)}, tenant_id=client.tenant_id)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(granted)}
