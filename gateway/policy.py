"""One declarative access table: every route → who may call it. Deny by default.

A route missing from `POLICY` answers 403 to everyone, and a test lists any route
without an entry, so a new endpoint cannot ship unguarded. The tenant always comes from
the verified token, never from the request. Services check again on their side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fastapi import Request

from services.kernel.errors import Forbidden, NotAuthenticated, SecondFactorRequired
from services.kernel.identity import Principal, Role, TokenVerifier, second_factor_mandatory


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str] = frozenset()
    public: bool = False
    # A token still owing a second factor (stage "mfa"/"enrol") reaches only routes that
    # say so: the verification and enrolment steps themselves.
    partial_ok: bool = False
    # Integrator (API client) tokens pass only where a rule names a scope they hold.
    scope: str | None = None


PUBLIC = Rule(public=True)
HUMANS = frozenset(r.value for r in Role if r is not Role.INTEGRATOR)


def allow(*roles: Role, scope: str | None = None) -> Rule:
    return Rule(roles=frozenset(r.value for r in roles), scope=scope)


ANY_USER = Rule(roles=HUMANS)
SIGNING_IN = Rule(roles=HUMANS, partial_ok=True)
MANAGERS = allow(Role.SCHOOL_ADMIN, Role.DIRECTOR)
ADMINS = allow(Role.OPERATOR, Role.SCHOOL_ADMIN)

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/v1/auth/login"): PUBLIC,
    ("POST", "/v1/auth/refresh"): PUBLIC,
    ("POST", "/v1/auth/password/forgot"): PUBLIC,
    ("POST", "/v1/auth/password/reset"): PUBLIC,
    ("POST", "/v1/me/email/confirm"): PUBLIC,
    ("POST", "/v1/invitations/accept"): PUBLIC,
    ("POST", "/v1/oauth/token"): PUBLIC,
    # the second step of a login, and enrolment of a first factor
    ("POST", "/v1/auth/2fa/verify"): SIGNING_IN,
    ("POST", "/v1/auth/2fa/sms/send"): SIGNING_IN,
    ("GET", "/v1/auth/2fa"): SIGNING_IN,
    ("POST", "/v1/auth/2fa/totp"): SIGNING_IN,
    ("POST", "/v1/auth/2fa/totp/confirm"): SIGNING_IN,
    ("POST", "/v1/auth/2fa/sms"): SIGNING_IN,
    ("POST", "/v1/auth/2fa/sms/confirm"): SIGNING_IN,
    ("POST", "/v1/auth/logout"): SIGNING_IN,
    ("GET", "/v1/me"): SIGNING_IN,
    # signed-in users
    ("POST", "/v1/auth/2fa/totp/disable"): ANY_USER,
    ("POST", "/v1/auth/2fa/recovery-codes"): ANY_USER,
    ("POST", "/v1/auth/logout-all"): ANY_USER,
    ("POST", "/v1/me/password"): ANY_USER,
    ("POST", "/v1/me/email"): ANY_USER,
    ("POST", "/v1/invitations"): ADMINS,
    ("POST", "/v1/users/{user_id}/unlock"): ADMINS,
    ("POST", "/v1/users/{user_id}/children"): allow(Role.SCHOOL_ADMIN),
    ("POST", "/v1/integrations/clients"): ADMINS,
    ("GET", "/v1/integrations/clients"): ADMINS,
    ("DELETE", "/v1/integrations/clients/{client_id}"): ADMINS,
    ("POST", "/v1/tenants"): allow(Role.OPERATOR),
    ("POST", "/v1/users"): allow(Role.OPERATOR, Role.SCHOOL_ADMIN),
    ("GET", "/v1/users"): allow(Role.OPERATOR, Role.SCHOOL_ADMIN, Role.DIRECTOR),
    ("POST", "/v1/students"): allow(Role.SCHOOL_ADMIN),
    ("POST", "/v1/registry/persons"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/persons/{person_id}"): allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY,
        Role.STUDENT, scope="registry:read"),
    ("POST", "/v1/classes"): MANAGERS,
    ("POST", "/v1/subjects"): MANAGERS,
    ("POST", "/v1/classes/{class_id}/students"): MANAGERS,
    ("POST", "/v1/classes/{class_id}/teachers"): MANAGERS,
    ("PUT", "/v1/classes/{class_id}/homeroom"): MANAGERS,
    # CAT-13/CAT-18: grade writes are for teachers only; administrators never.
    ("POST", "/v1/grades"): allow(Role.TEACHER),
    ("GET", "/v1/grades"): allow(Role.TEACHER, Role.DIRECTOR, Role.PARENT, scope="catalog:read"),
    ("GET", "/v1/me/grades"): allow(Role.STUDENT),
    # CAT-19: the statistics viewer reaches aggregate endpoints only
    ("GET", "/v1/stats/grades"): allow(Role.DIRECTOR, Role.STATISTICS_VIEWER),
    ("GET", "/v1/audit/events"): allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN),
    ("GET", "/v1/backup/stats"): allow(Role.OPERATOR),
    # --- catalog: school years, grades, absences, averages, closing, delegation, alerts ---
    # --- end of catalog ---
    # --- audit: the verifiable log, proofs, checkpoints ---
    # --- end of audit ---
    # --- registry: persons, enrolments, nomenclatures, imports, reports ---
    # --- end of registry ---
    # --- documents: year-end catalog, report cards, verification ---
    # --- end of documents ---
    # --- backup: status, restores, drills, contracts ---
    #
    # per-tenant backups (backup-tenant): operator only, but a school's own administrator and
    # director download its hand-over archive (the service checks the tenant)
    ("GET", "/v1/backup/tenants"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/tenants/{tenant_id}"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/tenants/{tenant_id}/sets"): allow(Role.OPERATOR),
    ("POST", "/v1/backup/tenants/{tenant_id}/sets"): allow(Role.OPERATOR),
    ("PUT", "/v1/backup/tenants/{tenant_id}/contract"): allow(Role.OPERATOR),
    ("PUT", "/v1/backup/tenants/{tenant_id}/legal-hold"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/tenants/{tenant_id}/handover"): allow(Role.OPERATOR, Role.SCHOOL_ADMIN, Role.DIRECTOR),
    ("POST", "/v1/backup/restores"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/restores"): allow(Role.OPERATOR),
    ("POST", "/v1/backup/drills"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/drills"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/jobs"): allow(Role.OPERATOR),
    ("POST", "/v1/backup/jobs"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/jobs/{job_id}"): allow(Role.OPERATOR),
    # --- end of backup ---
    # --- data-subject rights ---
    # --- end of data-subject rights ---
    # --- web pages (gateway/web/) ---
    # --- end of web pages ---
}


def rule_for(request: Request) -> Rule | None:
    route = request.scope.get("route")
    path = getattr(route, "path_format", None)
    return POLICY.get((request.method, path)) if path else None


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("missing bearer access token")
    return token.strip()


def authorize(request: Request, verifier: TokenVerifier, revoked: Callable[[str], bool]) -> Principal | None:
    rule = rule_for(request)
    if rule is None:
        raise Forbidden("no access rule is defined for this route")
    if rule.public:
        return None
    token = bearer_token(request)
    principal = verifier.verify(token)
    if revoked(principal.session_id):
        raise NotAuthenticated("this session has ended; sign in again")
    if principal.is_integrator:
        if rule.scope is None or rule.scope not in principal.scopes:
            raise Forbidden("this API client's scopes do not allow this endpoint")
    else:
        if principal.is_partial and not rule.partial_ok:
            raise SecondFactorRequired(
                "enrol a second factor first" if principal.stage == "enrol"
                else "complete two-factor authentication first")
        if (not rule.partial_ok and second_factor_mandatory(principal.roles)
                and not principal.has_second_factor):
            raise SecondFactorRequired("your role requires two-factor authentication")
        if rule.roles and not principal.has_any(rule.roles):
            raise Forbidden("your role may not use this endpoint")
    request.state.access_token = token
    request.state.principal = principal
    return principal
