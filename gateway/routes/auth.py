"""Sign-in (password, second factor), sessions, account self-service, integrator tokens."""
from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request

from services.kernel.errors import InvalidInput

from ..deps import ServicesDep
from ..schemas import (ChildIn, ClientIn, CodeIn, EmailChangeIn, ForgotIn, InvitationAcceptIn, InvitationIn, LoginIn,
                       PasswordChangeIn, PhoneIn, RefreshIn, ResetIn, SecondFactorIn, TokenIn)

router = APIRouter(prefix="/v1")


def _client_ip(request: Request) -> str | None:
    # behind a proxy, uvicorn's --forwarded-allow-ips decides what request.client is
    return request.client.host if request.client else None


@router.post("/auth/login", tags=["auth"], summary="Password step of a login",
             description="`status` tells what comes next: `ok` (tokens), `second_factor_required` or "
                         "`enrolment_required` (a short-lived token for the /v1/auth/2fa endpoints only), "
                         "or `choose_tenant` (repeat with `tenant_id`).")
async def login(body: LoginIn, request: Request, services: ServicesDep):
    return await services.call("auth", "login", **body.model_dump(), client_ip=_client_ip(request))


@router.post("/auth/2fa/verify", tags=["auth"], summary="Second step: a TOTP, SMS or recovery code")
async def verify_second_factor(body: SecondFactorIn, services: ServicesDep):
    return await services.call("auth", "verify_second_factor", method=body.method, code=body.code)


@router.post("/auth/2fa/sms/send", tags=["auth"], summary="Text a login code to the enrolled phone")
async def send_login_sms(services: ServicesDep):
    return await services.call("auth", "send_login_sms")


@router.get("/auth/2fa", tags=["auth"], summary="Which second factors are enrolled")
async def factor_status(services: ServicesDep):
    return await services.call("auth", "factor_status")


@router.post("/auth/2fa/totp", tags=["auth"], summary="Start TOTP enrolment: secret and QR code (PNG, base64)")
async def totp_enrol(services: ServicesDep):
    return await services.call("auth", "totp_enrol")


@router.post("/auth/2fa/totp/confirm", tags=["auth"], summary="Confirm TOTP with a first code")
async def totp_confirm(body: CodeIn, services: ServicesDep):
    return await services.call("auth", "totp_confirm", code=body.code)


@router.post("/auth/2fa/totp/disable", tags=["auth"], summary="Turn TOTP off (needs a current code)")
async def totp_disable(body: CodeIn, services: ServicesDep):
    return await services.call("auth", "totp_disable", code=body.code)


@router.post("/auth/2fa/sms", tags=["auth"], summary="Start SMS enrolment: a code is texted to the number")
async def sms_enrol(body: PhoneIn, services: ServicesDep):
    return await services.call("auth", "sms_enrol", phone=body.phone)


@router.post("/auth/2fa/sms/confirm", tags=["auth"], summary="Confirm the phone with the texted code")
async def sms_confirm(body: CodeIn, services: ServicesDep):
    return await services.call("auth", "sms_confirm", code=body.code)


@router.post("/auth/2fa/recovery-codes", tags=["auth"], summary="New set of 10 recovery codes (old ones die)")
async def regenerate_recovery_codes(services: ServicesDep):
    return await services.call("auth", "regenerate_recovery_codes")


@router.post("/auth/refresh", tags=["auth"], summary="Rotate a refresh token for new tokens")
async def refresh(body: RefreshIn, services: ServicesDep):
    return await services.call("auth", "refresh", refresh_token=body.refresh_token)


@router.post("/auth/logout", tags=["auth"], summary="End this session")
async def logout(services: ServicesDep):
    return await services.call("auth", "logout")


@router.post("/auth/logout-all", tags=["auth"], summary="End every session of this account")
async def logout_all(services: ServicesDep):
    return await services.call("auth", "logout_everywhere")


@router.post("/auth/password/forgot", status_code=202, tags=["auth"],
             summary="E-mail a reset code (same answer whether or not the account exists)")
async def forgot_password(body: ForgotIn, services: ServicesDep):
    return await services.call("auth", "request_password_reset", email=body.email)


@router.post("/auth/password/reset", tags=["auth"], summary="Set a new password with the e-mailed code")
async def reset_password(body: ResetIn, services: ServicesDep):
    return await services.call("auth", "reset_password", token=body.token, new_password=body.new_password)


@router.post("/me/password", tags=["auth"], summary="Change your password (other sessions end)")
async def change_password(body: PasswordChangeIn, services: ServicesDep):
    return await services.call("auth", "change_password", current_password=body.current_password,
                               new_password=body.new_password)


@router.post("/me/email", status_code=202, tags=["auth"], summary="Change your e-mail: a code goes to the new one")
async def change_email(body: EmailChangeIn, services: ServicesDep):
    return await services.call("auth", "request_email_change", current_password=body.current_password,
                               new_email=body.new_email)


@router.post("/me/email/confirm", tags=["auth"], summary="Confirm a new e-mail address")
async def confirm_email(body: TokenIn, services: ServicesDep):
    return await services.call("auth", "confirm_email_change", token=body.token)


@router.post("/invitations", status_code=201, tags=["accounts"], summary="Invite someone to your institution")
async def invite(body: InvitationIn, services: ServicesDep):
    return await services.call("auth", "create_invitation", email=body.email, role=body.role)


@router.post("/invitations/accept", status_code=201, tags=["accounts"],
             summary="Complete an invitation (then sign in normally)")
async def accept_invitation(body: InvitationAcceptIn, services: ServicesDep):
    return await services.call("auth", "accept_invitation", token=body.token, full_name=body.full_name,
                               password=body.password)


@router.post("/users/{user_id}/unlock", tags=["accounts"], summary="Unlock an account locked by failed logins")
async def unlock(user_id: UUID, services: ServicesDep):
    return await services.call("auth", "unlock_user", user_id=str(user_id))


@router.post("/users/{user_id}/children", status_code=201, tags=["accounts"],
             summary="Let a parent account follow a pupil's catalog")
async def link_child(user_id: UUID, body: ChildIn, services: ServicesDep):
    return await services.call("auth", "link_parent", parent_user_id=str(user_id),
                               student_person_id=str(body.student_id))


@router.post("/integrations/clients", status_code=201, tags=["integrations"],
             summary="Create an API client (the secret is shown once)")
async def create_client(body: ClientIn, services: ServicesDep):
    return await services.call("auth", "create_client", name=body.name, scopes=body.scopes,
                               tenant_id=body.tenant_id)


@router.get("/integrations/clients", tags=["integrations"])
async def list_clients(services: ServicesDep):
    return await services.call("auth", "list_clients")


@router.delete("/integrations/clients/{client_id}", tags=["integrations"], summary="Revoke an API client")
async def revoke_client(client_id: UUID, services: ServicesDep):
    return await services.call("auth", "revoke_client", client_id=str(client_id))


@router.post("/oauth/token", tags=["integrations"], summary="OAuth2 client-credentials grant (RFC 6749 §4.4)")
async def oauth_token(services: ServicesDep, grant_type: Annotated[str, Form(max_length=40)],
                      client_id: Annotated[str, Form(max_length=64)],
                      client_secret: Annotated[str, Form(max_length=200)],
                      scope: Annotated[str | None, Form(max_length=200)] = None):
    if grant_type != "client_credentials":
        raise InvalidInput("grant_type must be client_credentials")
    return await services.call("auth", "client_token", client_id=client_id, client_secret=client_secret, scope=scope)
