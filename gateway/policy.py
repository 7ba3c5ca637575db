"""One declarative access table: every route → who may call it. Deny by default.

A route missing from `POLICY` answers 403 to everyone, and a test lists any route
without an entry, so a new endpoint cannot ship unguarded. The tenant always comes from
the verified token, never from the request. Services check again on their side.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
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
    # A web page (gateway/web/): the token comes from the sealed session cookie, never from
    # an Authorization header; API routes stay bearer-only. POSTs also need the CSRF token.
    web: bool = False


PUBLIC = Rule(public=True)
HUMANS = frozenset(r.value for r in Role if r is not Role.INTEGRATOR)


def allow(*roles: Role, scope: str | None = None) -> Rule:
    return Rule(roles=frozenset(r.value for r in roles), scope=scope)


ANY_USER = Rule(roles=HUMANS)
SIGNING_IN = Rule(roles=HUMANS, partial_ok=True)
MANAGERS = allow(Role.SCHOOL_ADMIN, Role.DIRECTOR)
ADMINS = allow(Role.OPERATOR, Role.SCHOOL_ADMIN)


def web(rule: Rule) -> Rule:
    """The same rule for a web page: its token is the session cookie's."""
    return replace(rule, web=True)


WEB_PUBLIC = Rule(public=True, web=True)

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
    ("GET", "/v1/backup/stats"): allow(Role.OPERATOR),
    # --- catalog: school years, grades, absences, averages, closing, delegation, alerts ---
    # CAT-13/CAT-18: grades, qualifiers and absences are written by teachers only (the service
    # then checks the assignment or an approved delegation); administrators never.
    ("POST", "/v1/grades"): allow(Role.TEACHER),
    ("GET", "/v1/grades"): allow(Role.TEACHER, Role.DIRECTOR, Role.PARENT, scope="catalog:read"),
    ("GET", "/v1/me/grades"): allow(Role.STUDENT),
    ("PATCH", "/v1/grades/{grade_id}"): allow(Role.TEACHER),
    ("POST", "/v1/grades/{grade_id}/cancel"): allow(Role.TEACHER),
    ("GET", "/v1/grades/{grade_id}/history"): allow(Role.TEACHER, Role.DIRECTOR, Role.PARENT, Role.STUDENT),
    ("PUT", "/v1/classes/{class_id}/qualifiers"): allow(Role.TEACHER),
    ("PUT", "/v1/classes/{class_id}/conduct"): allow(Role.TEACHER),
    ("POST", "/v1/school-years"): MANAGERS,
    ("GET", "/v1/school-years"): allow(Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.TEACHER),
    ("PUT", "/v1/school-years/{school_year_id}/settings"): MANAGERS,
    ("POST", "/v1/classes"): MANAGERS,
    ("GET", "/v1/classes"): allow(Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.TEACHER),
    ("POST", "/v1/subjects"): MANAGERS,
    ("PUT", "/v1/classes/{class_id}/curriculum/{subject_id}"): MANAGERS,
    ("POST", "/v1/classes/{class_id}/students"): MANAGERS,
    ("POST", "/v1/classes/{class_id}/students/{student_id}/transfer-out"): MANAGERS,
    ("PUT", "/v1/classes/{class_id}/students/{student_id}/postponed"): allow(Role.DIRECTOR),
    ("POST", "/v1/classes/{class_id}/teachers"): MANAGERS,
    ("PUT", "/v1/classes/{class_id}/homeroom"): MANAGERS,
    ("POST", "/v1/absences"): allow(Role.TEACHER),
    ("POST", "/v1/absences/{absence_id}/cancel"): allow(Role.TEACHER),
    ("GET", "/v1/classes/{class_id}/absences"): allow(Role.DIRECTOR, Role.TEACHER, Role.PARENT, Role.STUDENT),
    # the homeroom teacher motivates (the service checks that the caller is the class's diriginte)
    ("POST", "/v1/classes/{class_id}/absences/motivate"): allow(Role.TEACHER),
    ("POST", "/v1/motivation-requests"): allow(Role.PARENT),
    ("GET", "/v1/motivation-requests"): allow(Role.DIRECTOR, Role.TEACHER, Role.PARENT),
    ("POST", "/v1/motivation-requests/{request_id}/decision"): allow(Role.DIRECTOR),
    # CAT-14: asked for by the subject's teacher or the school, approved by the director
    ("POST", "/v1/delegations"): allow(Role.TEACHER, Role.DIRECTOR, Role.SCHOOL_ADMIN),
    ("GET", "/v1/delegations"): allow(Role.TEACHER, Role.DIRECTOR, Role.SCHOOL_ADMIN),
    ("POST", "/v1/delegations/{delegation_id}/decision"): allow(Role.DIRECTOR),
    ("POST", "/v1/delegations/{delegation_id}/revoke"): allow(Role.TEACHER, Role.DIRECTOR, Role.SCHOOL_ADMIN),
    # closing, amendments and re-examinations: the director (a re-examination also its teacher)
    ("GET", "/v1/periods/{period_id}/closing-check"): allow(Role.DIRECTOR),
    ("POST", "/v1/periods/{period_id}/close"): allow(Role.DIRECTOR),
    ("POST", "/v1/periods/{period_id}/reopen"): allow(Role.DIRECTOR),
    ("POST", "/v1/school-years/{school_year_id}/close"): allow(Role.DIRECTOR),
    ("POST", "/v1/periods/{period_id}/amendments"): allow(Role.DIRECTOR),
    ("POST", "/v1/classes/{class_id}/reexaminations"): allow(Role.DIRECTOR, Role.TEACHER),
    # views (CAT-16: the director sees the school; CAT-17: parents their children, pupils themselves)
    ("GET", "/v1/classes/{class_id}/catalog"): allow(Role.DIRECTOR, Role.TEACHER, scope="catalog:read"),
    ("GET", "/v1/classes/{class_id}/students/{student_id}/report-card"): allow(
        Role.DIRECTOR, Role.TEACHER, Role.PARENT, Role.STUDENT, scope="catalog:read"),
    ("GET", "/v1/me/classes"): allow(Role.TEACHER),
    ("GET", "/v1/me/children"): allow(Role.PARENT),
    # CAT-19: the statistics viewer reaches aggregate endpoints only
    ("GET", "/v1/stats/grades"): allow(Role.DIRECTOR, Role.STATISTICS_VIEWER),
    ("GET", "/v1/alerts"): allow(Role.DIRECTOR, Role.TEACHER),
    ("GET", "/v1/me/catalog-notices"): allow(Role.PARENT, Role.STUDENT),
    ("PUT", "/v1/me/catalog-notices"): allow(Role.PARENT, Role.STUDENT),
    # --- end of catalog ---
    # --- audit: the verifiable log, proofs, checkpoints ---
    # (the central authority reads registry entries; the service narrows each answer)
    ("GET", "/v1/audit/events"): allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/audit/history/{entity_type}/{entity_id}"): allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/audit/entries/{event_id}/proof"): allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/audit/checkpoints"): allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/audit/consistency"): allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/audit/verification"): allow(Role.OPERATOR),
    ("GET", "/v1/audit/kit"): allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN),
    # --- end of audit ---
    # --- registry: persons, enrolments, nomenclatures, imports, reports ---
    ("POST", "/v1/registry/persons"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/persons"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY,
          scope="registry:read"),
    ("GET", "/v1/registry/persons/{person_id}"): allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY, Role.STUDENT,
        scope="registry:read"),
    ("PATCH", "/v1/registry/persons/{person_id}"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    # reaches the gateway's refusal with the legal reason (REG-8): nothing is deleted
    ("DELETE", "/v1/registry/persons/{person_id}"): allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY, Role.OPERATOR, scope="registry:write"),
    ("GET", "/v1/registry/persons/{person_id}/history"): allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY, Role.STUDENT,
        scope="registry:read"),
    ("POST", "/v1/registry/persons/{person_id}/status"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("POST", "/v1/registry/persons/{person_id}/corrections"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/corrections"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY, scope="registry:write"),
    ("POST", "/v1/registry/corrections/{correction_id}/approve"): allow(Role.CENTRAL_AUTHORITY),
    ("POST", "/v1/registry/corrections/{correction_id}/reject"): allow(Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/registry/matches"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY, scope="registry:write"),
    ("POST", "/v1/registry/matches/{candidate_id}/confirm"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY, scope="registry:write"),
    ("POST", "/v1/registry/matches/{candidate_id}/reject"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY, scope="registry:write"),
    ("GET", "/v1/registry/nomenclatures"): PUBLIC,
    ("GET", "/v1/registry/nomenclatures/export.json"): PUBLIC,
    ("POST", "/v1/registry/nomenclatures/{name}/values"): allow(Role.CENTRAL_AUTHORITY),
    ("POST", "/v1/registry/nomenclatures/{name}/values/{code}/retire"): allow(Role.CENTRAL_AUTHORITY),
    ("POST", "/v1/registry/persons/{person_id}/enrolments"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/persons/{person_id}/enrolments"): allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY, Role.STUDENT,
        scope="registry:read"),
    ("PATCH", "/v1/registry/enrolments/{enrolment_id}"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("POST", "/v1/registry/persons/{person_id}/diplomas"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/persons/{person_id}/diplomas"): allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY, Role.STUDENT,
        scope="registry:read"),
    ("POST", "/v1/registry/imports"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/imports/{job_id}"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/imports/{job_id}/problems.csv"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("POST", "/v1/registry/batch"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, scope="registry:write"),
    ("GET", "/v1/registry/templates/{section}.csv"): PUBLIC,
    ("GET", "/v1/registry/schemas/import.xsd"): PUBLIC,
    ("GET", "/v1/registry/schemas/batch.schema.json"): PUBLIC,
    ("GET", "/v1/registry/reports/counts"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/registry/reports/late-changes"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/registry/reports/double-financing"): allow(Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/registry/reports/diploma-readiness"): allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY),
    ("GET", "/v1/registry/reports/statistics"): allow(Role.CENTRAL_AUTHORITY, Role.STATISTICS_VIEWER),
    ("POST", "/v1/registry/exports/enrolled"): allow(Role.CENTRAL_AUTHORITY),
    ("POST", "/v1/registry/account-requests"): allow(Role.SCHOOL_ADMIN),
    ("GET", "/v1/registry/account-requests"): allow(Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY, Role.OPERATOR),
    ("POST", "/v1/registry/account-requests/{request_id}/approve"): allow(Role.CENTRAL_AUTHORITY),
    ("POST", "/v1/registry/account-requests/{request_id}/reject"): allow(Role.CENTRAL_AUTHORITY),
    ("POST", "/v1/registry/account-requests/{request_id}/create-account"): allow(Role.OPERATOR),
    # --- end of registry ---
    # --- documents: year-end catalog, report cards, verification ---
    # the director and the class's homeroom teacher (checked by the grades service)
    ("GET", "/v1/classes/{class_id}/documents/year-end-catalog.pdf"): allow(Role.DIRECTOR, Role.TEACHER),
    ("GET", "/v1/classes/{class_id}/documents/catalog.xlsx"): allow(Role.DIRECTOR, Role.TEACHER),
    # ... and a parent their own child's, a pupil their own
    ("GET", "/v1/classes/{class_id}/students/{student_id}/report-card.pdf"): allow(
        Role.DIRECTOR, Role.TEACHER, Role.PARENT, Role.STUDENT),
    ("POST", "/v1/documents/verify"): allow(Role.DIRECTOR, Role.TEACHER),
    ("GET", "/v1/documents/verify"): allow(Role.DIRECTOR, Role.TEACHER),
    ("POST", "/v1/documents/year-end-sets"): allow(Role.DIRECTOR),
    ("GET", "/v1/documents/year-end-sets/{job_id}"): allow(Role.DIRECTOR),
    ("GET", "/v1/documents/year-end-sets/{job_id}/archive.zip"): allow(Role.DIRECTOR),
    # --- end of documents ---
    # --- backup: status, restores, drills, contracts ---
    # cluster level (PostgreSQL replication, pgBackRest): the platform operator only
    ("GET", "/v1/backup/status"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/cluster/runs"): allow(Role.OPERATOR),
    ("POST", "/v1/backup/cluster/runs"): allow(Role.OPERATOR),
    ("GET", "/v1/backup/cluster/runs/{run_id}"): allow(Role.OPERATOR),
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
    # rregistry: the restriction of processing (the school's staff of the person's institution;
    # the registry checks the institution), rectification of registry data (asked by the person,
    # a parent for their child, or staff on the person's behalf; decided by the registrar or the
    # school's administrator)
    ("GET", "/v1/persons/{person_id}/processing-restriction"): allow(Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.REGISTRY_CLERK),
    ("PUT", "/v1/persons/{person_id}/processing-restriction"): allow(Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.REGISTRY_CLERK),
    ("POST", "/v1/persons/{person_id}/processing-restriction/lift"): allow(
        Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.REGISTRY_CLERK),
    ("POST", "/v1/rights/registry-rectifications"): allow(
        Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.REGISTRY_CLERK),
    ("GET", "/v1/rights/registry-rectifications"): allow(
        Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.REGISTRY_CLERK),
    ("POST", "/v1/rights/registry-rectifications/{request_id}/decision"): allow(Role.REGISTRY_CLERK, Role.SCHOOL_ADMIN),
    # rgrades: grade disputes (the grades service checks the pupil, the parent, the subject's teacher)
    ("POST", "/v1/rights/grade-disputes"): allow(Role.STUDENT, Role.PARENT),
    ("GET", "/v1/rights/grade-disputes"): allow(Role.STUDENT, Role.PARENT, Role.TEACHER, Role.DIRECTOR),
    ("POST", "/v1/rights/grade-disputes/{dispute_id}/decision"): allow(Role.TEACHER, Role.DIRECTOR),
    ("POST", "/v1/rights/grade-disputes/{dispute_id}/escalation"): allow(Role.STUDENT, Role.PARENT),
    # rgrades: a school's portability (the whole catalog out, and into a fresh school)
    ("GET", "/v1/school-export"): allow(Role.SCHOOL_ADMIN),
    ("POST", "/v1/school-import"): allow(Role.SCHOOL_ADMIN),
    # end of rgrades
    # rauth: the privacy notice, erasure requests, deactivation, a person's export (the services check
    # whose data: a student their own, a parent their own child's, the school admin anyone's of the school)
    ("GET", "/v1/privacy-notice"): ANY_USER,
    ("POST", "/v1/privacy-notice/acknowledgement"): ANY_USER,
    ("PUT", "/v1/admin/privacy-notice"): allow(Role.SCHOOL_ADMIN),
    ("POST", "/v1/rights/erasure-requests"): ANY_USER,
    ("POST", "/v1/admin/users/{user_id}/deactivation"): allow(Role.SCHOOL_ADMIN),
    ("POST", "/v1/admin/users/{user_id}/reactivation"): allow(Role.SCHOOL_ADMIN),
    ("POST", "/v1/rights/exports"): allow(Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN),
    ("GET", "/v1/rights/exports"): allow(Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN),
    ("GET", "/v1/rights/exports/{export_id}"): allow(Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN),
    ("GET", "/v1/rights/exports/{export_id}/download"): allow(Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN),
    # --- end of data-subject rights ---
    # --- web pages (gateway/web/) ---
    # web=True: the token comes from the session cookie (never a bearer header), POSTs need the
    # CSRF token; the same roles and second-factor rules as the API routes the page calls.
    ("GET", "/web/"): WEB_PUBLIC,
    ("GET", "/web/lang/{lang}"): WEB_PUBLIC,
    ("GET", "/web/sign-in"): WEB_PUBLIC,
    ("POST", "/web/sign-in"): WEB_PUBLIC,
    ("GET", "/web/password/forgot"): WEB_PUBLIC,
    ("POST", "/web/password/forgot"): WEB_PUBLIC,
    ("GET", "/web/password/reset"): WEB_PUBLIC,
    ("POST", "/web/password/reset"): WEB_PUBLIC,
    ("GET", "/web/invitation"): WEB_PUBLIC,
    ("POST", "/web/invitation"): WEB_PUBLIC,
    ("GET", "/web/email/confirm"): WEB_PUBLIC,
    ("POST", "/web/email/confirm"): WEB_PUBLIC,
    ("GET", "/web/sign-in/code"): web(SIGNING_IN),
    ("POST", "/web/sign-in/code"): web(SIGNING_IN),
    ("POST", "/web/sign-in/sms"): web(SIGNING_IN),
    ("GET", "/web/enrol"): web(SIGNING_IN),
    ("POST", "/web/enrol/totp"): web(SIGNING_IN),
    ("POST", "/web/enrol/totp/confirm"): web(SIGNING_IN),
    ("POST", "/web/enrol/sms"): web(SIGNING_IN),
    ("POST", "/web/enrol/sms/confirm"): web(SIGNING_IN),
    ("POST", "/web/sign-out"): web(SIGNING_IN),
    ("GET", "/web/home"): web(ANY_USER),
    ("GET", "/web/profile"): web(ANY_USER),
    ("POST", "/web/profile/password"): web(ANY_USER),
    ("POST", "/web/profile/email"): web(ANY_USER),
    ("POST", "/web/profile/totp/disable"): web(ANY_USER),
    ("POST", "/web/profile/recovery-codes"): web(ANY_USER),
    ("POST", "/web/profile/sign-out-everywhere"): web(ANY_USER),
    ("GET", "/web/teacher/classes"): web(allow(Role.TEACHER)),
    ("GET", "/web/teacher/classes/{class_id}/subjects/{subject_id}"): web(allow(Role.TEACHER)),
    ("POST", "/web/teacher/grades"): web(allow(Role.TEACHER)),
    ("GET", "/web/teacher/classes/{class_id}/subjects/{subject_id}/absences"): web(allow(Role.TEACHER)),
    ("POST", "/web/teacher/absences"): web(allow(Role.TEACHER)),
    ("GET", "/web/teacher/classes/{class_id}/catalog"): web(allow(Role.TEACHER, Role.DIRECTOR)),
    ("GET", "/web/grades/{grade_id}"): web(allow(Role.TEACHER, Role.DIRECTOR)),
    ("POST", "/web/grades/{grade_id}/change"): web(allow(Role.TEACHER)),
    ("POST", "/web/grades/{grade_id}/cancel"): web(allow(Role.TEACHER)),
    ("GET", "/web/homeroom/classes/{class_id}/absences"): web(allow(Role.TEACHER)),
    ("POST", "/web/homeroom/classes/{class_id}/motivate"): web(allow(Role.TEACHER)),
    ("GET", "/web/director/approvals"): web(allow(Role.DIRECTOR)),
    ("POST", "/web/director/delegations/{delegation_id}/decision"): web(allow(Role.DIRECTOR)),
    ("POST", "/web/director/motivation-requests/{request_id}/decision"): web(allow(Role.DIRECTOR)),
    ("POST", "/web/director/amendments"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/director/periods"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/director/periods/{period_id}/close"): web(allow(Role.DIRECTOR)),
    ("POST", "/web/director/periods/{period_id}/close"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/student/grades"): web(allow(Role.STUDENT)),
    ("GET", "/web/parent/grades"): web(allow(Role.PARENT)),
    ("POST", "/web/parent/motivation-requests"): web(allow(Role.PARENT)),
    ("GET", "/web/director/overview"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/statistics"): web(allow(Role.DIRECTOR, Role.STATISTICS_VIEWER)),
    ("GET", "/web/admin/users"): web(allow(Role.OPERATOR, Role.SCHOOL_ADMIN, Role.DIRECTOR)),
    ("POST", "/web/admin/users"): web(allow(Role.OPERATOR, Role.SCHOOL_ADMIN)),
    ("POST", "/web/admin/users/{user_id}/unlock"): web(ADMINS),
    ("GET", "/web/admin/invitations"): web(ADMINS),
    ("POST", "/web/admin/invitations"): web(ADMINS),
    ("GET", "/web/admin/school"): web(allow(Role.SCHOOL_ADMIN)),
    ("POST", "/web/admin/classes"): web(MANAGERS),
    ("POST", "/web/admin/subjects"): web(MANAGERS),
    ("POST", "/web/admin/pupils"): web(allow(Role.SCHOOL_ADMIN)),
    ("POST", "/web/admin/assignments"): web(MANAGERS),
    ("POST", "/web/admin/homeroom"): web(MANAGERS),
    ("POST", "/web/admin/parents"): web(allow(Role.SCHOOL_ADMIN)),
    ("GET", "/web/admin/clients"): web(ADMINS),
    ("POST", "/web/admin/clients"): web(ADMINS),
    ("POST", "/web/admin/clients/{client_id}/revoke"): web(ADMINS),
    ("GET", "/web/operator/tenants"): web(allow(Role.OPERATOR)),
    ("POST", "/web/operator/tenants"): web(allow(Role.OPERATOR)),
    ("GET", "/web/audit"): web(allow(Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN)),
    # web4: data-subject rights pages (gateway/web/pages_rights.py), the same roles as the API routes
    ("GET", "/web/privacy-notice"): web(ANY_USER),
    ("POST", "/web/privacy-notice"): web(ANY_USER),
    ("GET", "/web/admin/privacy-notice"): web(allow(Role.SCHOOL_ADMIN)),
    ("POST", "/web/admin/privacy-notice"): web(allow(Role.SCHOOL_ADMIN)),
    ("GET", "/web/my-data"): web(ANY_USER),
    ("POST", "/web/my-data/erasure"): web(ANY_USER),
    ("POST", "/web/my-data/exports"): web(allow(Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN)),
    ("GET", "/web/my-data/exports/{export_id}"): web(allow(Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN)),
    ("GET", "/web/my-data/exports/{export_id}/download"): web(allow(Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN)),
    ("GET", "/web/grade-disputes/new"): web(allow(Role.STUDENT, Role.PARENT)),
    ("POST", "/web/grade-disputes"): web(allow(Role.STUDENT, Role.PARENT)),
    ("POST", "/web/grade-disputes/{dispute_id}/escalation"): web(allow(Role.STUDENT, Role.PARENT)),
    ("GET", "/web/my-data/requests"): web(allow(Role.STUDENT, Role.PARENT)),
    ("POST", "/web/my-data/rectifications"): web(allow(Role.STUDENT, Role.PARENT)),
    ("GET", "/web/teacher/grade-disputes"): web(allow(Role.TEACHER)),
    ("POST", "/web/grade-disputes/{dispute_id}/decision"): web(allow(Role.TEACHER, Role.DIRECTOR)),
    ("GET", "/web/registry/rectifications"): web(allow(Role.REGISTRY_CLERK, Role.SCHOOL_ADMIN)),
    ("POST", "/web/registry/rectifications/{request_id}/decision"): web(allow(Role.REGISTRY_CLERK, Role.SCHOOL_ADMIN)),
    ("GET", "/web/persons/{person_id}/restriction"): web(allow(Role.SCHOOL_ADMIN, Role.DIRECTOR)),
    ("POST", "/web/persons/{person_id}/restriction"): web(allow(Role.SCHOOL_ADMIN, Role.DIRECTOR)),
    # web-registry: the registry's pages (gateway/web/pages_registry.py), the roles of the API route
    # each page calls (the person page: those of the person search it is reached from; the
    # nomenclatures page, public data on the API, manages them: the central authority's)
    ("GET", "/web/registry/persons"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER,
                                                Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/registry/persons/{person_id}"): web(allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.DIRECTOR, Role.TEACHER, Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/registry/matches"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY)),
    ("POST", "/web/registry/matches/{candidate_id}/decision"): web(allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/registry/imports"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK)),
    ("POST", "/web/registry/imports"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK)),
    ("GET", "/web/registry/imports/{job_id}"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK)),
    ("GET", "/web/registry/imports/{job_id}/progress"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK)),
    ("GET", "/web/registry/imports/{job_id}/problems.csv"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK)),
    ("GET", "/web/registry/reports/counts"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/registry/reports/late-changes"): web(allow(
        Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/registry/reports/double-financing"): web(allow(Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/registry/reports/statistics"): web(allow(Role.CENTRAL_AUTHORITY, Role.STATISTICS_VIEWER)),
    ("GET", "/web/registry/nomenclatures"): web(allow(Role.CENTRAL_AUTHORITY)),
    ("POST", "/web/registry/nomenclatures/{name}/values"): web(allow(Role.CENTRAL_AUTHORITY)),
    ("POST", "/web/registry/nomenclatures/{name}/values/{code}/retire"): web(allow(Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/registry/corrections"): web(allow(Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY)),
    ("POST", "/web/registry/corrections/{correction_id}/decision"): web(allow(Role.CENTRAL_AUTHORITY)),
    # web-school: the school year's pages (pages_school_year.py) and the operator's backup pages
    # (pages_operator.py), the same roles as the API routes they call
    ("GET", "/web/teacher/delegations"): web(allow(Role.TEACHER)),
    ("POST", "/web/teacher/delegations"): web(allow(Role.TEACHER)),
    ("POST", "/web/teacher/delegations/{delegation_id}/revoke"): web(allow(Role.TEACHER)),
    ("GET", "/web/homeroom/classes/{class_id}/conduct"): web(allow(Role.TEACHER)),
    ("POST", "/web/homeroom/classes/{class_id}/conduct"): web(allow(Role.TEACHER)),
    ("GET", "/web/director/school-years/{school_year_id}/close"): web(allow(Role.DIRECTOR)),
    ("POST", "/web/director/school-years/{school_year_id}/close"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/alerts"): web(allow(Role.DIRECTOR, Role.TEACHER)),
    ("GET", "/web/audit/history/{entity_type}/{entity_id}"): web(allow(
        Role.OPERATOR, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.CENTRAL_AUTHORITY)),
    ("GET", "/web/classes/{class_id}/documents/year-end-catalog.pdf"): web(allow(Role.DIRECTOR, Role.TEACHER)),
    ("GET", "/web/classes/{class_id}/documents/catalog.xlsx"): web(allow(Role.DIRECTOR, Role.TEACHER)),
    ("POST", "/web/director/year-end-sets"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/director/year-end-sets/{job_id}"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/director/year-end-sets/{job_id}/archive.zip"): web(allow(Role.DIRECTOR)),
    ("GET", "/web/teacher/closing-warnings"): web(allow(Role.TEACHER)),
    ("GET", "/web/operator/backup"): web(allow(Role.OPERATOR)),
    ("POST", "/web/operator/tenants/{tenant_id}/contract"): web(allow(Role.OPERATOR)),
    ("POST", "/web/operator/tenants/{tenant_id}/legal-hold"): web(allow(Role.OPERATOR)),
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


def authorize(request: Request, verifier: TokenVerifier, revoked: Callable[[str], bool],
              rule: Rule | None = None, session_token: str | None = None) -> Principal | None:
    """`session_token`: for a web rule, the access token the session cookie carried (or None)."""
    rule = rule or rule_for(request)
    if rule is None:
        raise Forbidden("no access rule is defined for this route")
    if rule.public:
        return None
    if rule.web:
        if not session_token:
            raise NotAuthenticated("sign in first")
        token = session_token
    else:
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
