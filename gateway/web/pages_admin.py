"""Administration pages: accounts, invitations, the school's classes and subjects, API clients,
institutions (operator), the audit trail; and every person's profile."""
from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from ..deps import ServicesDep
from ..routes.accounts import _register_or_reuse
from ..schemas import (AssignmentIn, ChildIn, ClassIn, ClientIn, EmailChangeIn, EnrolmentIn, HomeroomIn, InvitationIn,
                       PasswordChangeIn, StudentIn, SubjectIn, TenantIn, UserIn, CodeIn)
from . import sources
from .context import store_session
from .forms import Refusal, flash_args, form_of, or_raise, status_of, validated
from .render import render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)
ROLES = ("school_admin", "director", "teacher", "parent", "statistics_viewer", "registry_clerk")


# -- accounts and invitations ----------------------------------------------------------------
async def _users_page(request: Request, services: ServicesDep, *, status_code: int = 200, offset: int = 0,
                      role: str | None = None, **flash):
    page = await services.call("auth", "list_members", limit=50, offset=offset, role=role)
    return render(request, "admin_users.html", status_code=status_code, page=page, roles=ROLES, role=role or "",
                  **flash)


@router.get("/admin/users", summary="Accounts of the institution")
async def users(request: Request, services: ServicesDep, offset: int = 0, role: str | None = None):
    return await _users_page(request, services, offset=max(0, min(offset, 10**6)),
                             role=role if role in ROLES else None, done=request.query_params.get("done"))


@router.post("/admin/users", summary="Create an account")
async def create_user(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(UserIn, {"email": form.get("email", ""), "full_name": form.get("full_name", ""),
                                  "role": form.get("role", ""), "password": form.get("password") or None})
        await services.call("auth", "create_user", **body.model_dump())
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _users_page(request, services, status_code=status_of(refusal), form=form, **flash_args(refusal))
    return see_other("/web/admin/users?done=user")


@router.post("/admin/users/{user_id}/unlock", summary="Unlock an account")
async def unlock_user(user_id: UUID, request: Request, services: ServicesDep):
    await services.call("auth", "unlock_user", user_id=str(user_id))
    return see_other("/web/admin/users?done=unlock")


@router.get("/admin/invitations", summary="Invite someone to the institution")
async def invitations(request: Request):
    return render(request, "admin_invitations.html", roles=ROLES, done=request.query_params.get("done"))


@router.post("/admin/invitations")
async def invite(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(InvitationIn, {"email": form.get("email", ""), "role": form.get("role", "")})
        await services.call("auth", "create_invitation", email=body.email, role=body.role)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return render(request, "admin_invitations.html", status_code=status_of(refusal), roles=ROLES, form=form,
                      **flash_args(refusal))
    return see_other("/web/admin/invitations?done=1")


# -- the school: classes, subjects, pupils, assignments, parents ------------------------------
async def _school_page(request: Request, services: ServicesDep, *, status_code: int = 200, **flash):
    directory = await sources.school_directory(services)
    teachers = await services.call("auth", "list_members", limit=200, offset=0, role="teacher")
    parents = await services.call("auth", "list_members", limit=200, offset=0, role="parent")
    return render(request, "admin_school.html", status_code=status_code, directory=directory,
                  teachers=teachers["items"], parents=parents["items"], done=request.query_params.get("done"), **flash)


@router.get("/admin/school", summary="Classes, subjects, pupils, assignments, parents")
async def school(request: Request, services: ServicesDep):
    return await _school_page(request, services)


async def _school_action(request: Request, services: ServicesDep, action, done: str):
    form = await form_of(request)
    try:
        await action(form)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _school_page(request, services, status_code=status_of(refusal), form=form, failed=done,
                                  **flash_args(refusal))
    return see_other(f"/web/admin/school?done={done}")


@router.post("/admin/classes", summary="Create a class")
async def create_class(request: Request, services: ServicesDep):
    async def act(form):
        body = validated(ClassIn, {"name": form.get("name", ""), "school_year": form.get("school_year", "")})
        await services.call("grades", "create_class", **body.model_dump())
    return await _school_action(request, services, act, "class")


@router.post("/admin/subjects", summary="Create a subject")
async def create_subject(request: Request, services: ServicesDep):
    async def act(form):
        hours = form.get("weekly_hours", "")
        body = validated(SubjectIn, {"name": form.get("name", ""), "weekly_hours": int(hours) if hours.isdigit() else hours})
        await services.call("grades", "create_subject", **body.model_dump())
    return await _school_action(request, services, act, "subject")


@router.post("/admin/pupils", summary="Register a pupil and give them a login")
async def create_pupil(request: Request, services: ServicesDep):
    async def act(form):
        body = validated(StudentIn, {k: form.get(k, "") for k in ("last_name", "first_name", "cnp", "email", "password")})
        person = await _register_or_reuse(services, body)
        await services.call("auth", "create_user", email=body.email, full_name=f"{body.first_name} {body.last_name}",
                            role="student", password=body.password, person_id=person["id"])
        if form.get("class_id"):
            enrol = validated(EnrolmentIn, {"student_id": person["id"]})
            await services.call("grades", "enrol_student", class_id=_id(form["class_id"]),
                                student_id=str(enrol.student_id))
    return await _school_action(request, services, act, "pupil")


@router.post("/admin/assignments", summary="Assign a teacher to a subject in a class")
async def assign(request: Request, services: ServicesDep):
    async def act(form):
        body = validated(AssignmentIn, {"subject_id": form.get("subject_id", ""), "teacher_id": form.get("teacher_id", "")})
        await services.call("grades", "assign_teacher", class_id=_id(form.get("class_id", "")),
                            subject_id=str(body.subject_id), teacher_id=str(body.teacher_id))
    return await _school_action(request, services, act, "assignment")


@router.post("/admin/homeroom", summary="Make a teacher a class's diriginte")
async def homeroom(request: Request, services: ServicesDep):
    async def act(form):
        body = validated(HomeroomIn, {"teacher_id": form.get("teacher_id", "")})
        await services.call("grades", "set_homeroom_teacher", class_id=_id(form.get("class_id", "")),
                            teacher_id=str(body.teacher_id))
    return await _school_action(request, services, act, "homeroom")


@router.post("/admin/parents", summary="Let a parent follow a pupil")
async def link_parent(request: Request, services: ServicesDep):
    async def act(form):
        body = validated(ChildIn, {"student_id": form.get("student_id", "")})
        await services.call("auth", "link_parent", parent_user_id=_id(form.get("parent_id", "")),
                            student_person_id=str(body.student_id))
    return await _school_action(request, services, act, "parent")


def _id(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise Refusal("invalid_input", "check the highlighted fields", ("class_id", "parent_id")) from exc


# -- API clients -------------------------------------------------------------------------------
SCOPES = ("catalog:read", "registry:read", "registry:write")


async def _clients_page(request: Request, services: ServicesDep, *, status_code: int = 200, **extra):
    clients = await services.call("auth", "list_clients")
    return render(request, "admin_clients.html", status_code=status_code, clients=clients.get("items", []),
                  scopes=SCOPES, **extra)


@router.get("/admin/clients", summary="Integrator (API) clients")
async def clients(request: Request, services: ServicesDep):
    return await _clients_page(request, services)


@router.post("/admin/clients", summary="Create an API client (its secret is shown once)")
async def create_client(request: Request, services: ServicesDep):
    form = await request.form()
    try:
        body = validated(ClientIn, {"name": str(form.get("name", "")).strip(),
                                    "scopes": [s for s in form.getlist("scopes") if s in SCOPES]})
        created = await services.call("auth", "create_client", name=body.name, scopes=body.scopes, tenant_id=None)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _clients_page(request, services, status_code=status_of(refusal), **flash_args(refusal))
    return await _clients_page(request, services, created=created)


@router.post("/admin/clients/{client_id}/revoke", summary="Revoke an API client")
async def revoke_client(client_id: UUID, request: Request, services: ServicesDep):
    await services.call("auth", "revoke_client", client_id=str(client_id))
    return see_other("/web/admin/clients")


# -- the operator: institutions ------------------------------------------------------------------
@router.get("/operator/tenants", summary="Institutions on the platform")
async def tenants(request: Request, services: ServicesDep):
    return render(request, "operator_tenants.html", tenants=await sources.tenants(services),
                  done=request.query_params.get("done"))


@router.post("/operator/tenants", summary="Create an institution and its first administrator")
async def create_tenant(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(TenantIn, {k: form.get(k, "") for k in
                                    ("name", "kind", "admin_email", "admin_full_name", "admin_password")})
        await services.call("auth", "create_tenant", **body.model_dump())
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return render(request, "operator_tenants.html", status_code=status_of(refusal),
                      tenants=await sources.tenants(services), form=form, **flash_args(refusal))
    return see_other("/web/operator/tenants?done=1")


# -- the audit trail -----------------------------------------------------------------------------
@router.get("/audit", summary="The audit trail of the institution")
async def audit(request: Request, services: ServicesDep, type: str | None = None, after: int | None = None):
    type = (type or "")[:100] or None
    page = await services.call("audit", "list_events", type=type, after_sequence=max(0, min(after or 0, 2**62)) or None,
                               limit=50)
    return render(request, "audit.html", events=page.get("items", []), next_after=page.get("next_after_sequence"),
                  type=type or "")


# -- the profile ---------------------------------------------------------------------------------
async def _profile(request: Request, services: ServicesDep, *, status_code: int = 200, **extra):
    status = await services.call("auth", "factor_status")
    return render(request, "profile.html", status_code=status_code, factors=status,
                  done=request.query_params.get("done"), **extra)


@router.get("/profile", summary="Your profile: e-mail, password, second factors")
async def profile(request: Request, services: ServicesDep):
    return await _profile(request, services)


async def _profile_action(request: Request, services: ServicesDep, action, done: str):
    form = await form_of(request)
    try:
        result = await action(form)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _profile(request, services, status_code=status_of(refusal), failed=done, **flash_args(refusal))
    if isinstance(result, dict) and result.get("recovery_codes"):
        return render(request, "recovery_codes.html", codes=result["recovery_codes"])
    return see_other(f"/web/profile?done={done}")


@router.post("/profile/password", summary="Change your password")
async def change_password(request: Request, services: ServicesDep):
    async def act(form):
        if form.get("new_password") != form.get("confirm_password"):
            raise Refusal("invalid_input", "the two passwords are not the same", ("new_password", "confirm_password"))
        body = validated(PasswordChangeIn, {"current_password": form.get("current_password", ""),
                                            "new_password": form.get("new_password", "")})
        return await services.call("auth", "change_password", **body.model_dump())
    return await _profile_action(request, services, act, "password")


@router.post("/profile/email", summary="Change your e-mail (a code goes to the new address)")
async def change_email(request: Request, services: ServicesDep):
    async def act(form):
        body = validated(EmailChangeIn, {"current_password": form.get("current_password", ""),
                                         "new_email": form.get("new_email", "")})
        return await services.call("auth", "request_email_change", **body.model_dump())
    return await _profile_action(request, services, act, "email")


@router.post("/profile/totp/disable", summary="Turn the authenticator app off")
async def totp_disable(request: Request, services: ServicesDep):
    async def act(form):
        body = validated(CodeIn, {"code": form.get("code", "").replace(" ", "")})
        return await services.call("auth", "totp_disable", code=body.code)
    return await _profile_action(request, services, act, "totp_off")


@router.post("/profile/recovery-codes", summary="New recovery codes (the old ones stop working)")
async def recovery_codes(request: Request, services: ServicesDep):
    async def act(form):
        return await services.call("auth", "regenerate_recovery_codes")
    return await _profile_action(request, services, act, "codes")


@router.post("/profile/sign-out-everywhere", summary="End every session of your account")
async def sign_out_everywhere(request: Request, services: ServicesDep):
    await services.call("auth", "logout_everywhere")
    store_session(request, None)
    return see_other("/web/sign-in")
