"""Sign-in (password, then a TOTP/SMS/recovery code), first enrolment, sign-out, language,
forgotten password, reset, invitation acceptance, e-mail confirmation."""
from __future__ import annotations

import segno
from fastapi import APIRouter, Request

from ..deps import ServicesDep
from ..routes.auth import _client_ip
from ..schemas import CodeIn, ForgotIn, InvitationAcceptIn, LoginIn, PhoneIn, ResetIn, SecondFactorIn, TokenIn
from .context import renew_csrf, schedule_cookie, store_session
from .forms import Refusal, flash_args, form_of, validated
from .forms import or_raise as _or_raise
from .forms import status_of as _status
from .i18n import LANGUAGES
from .pages_rights import notice_redirect
from .render import local_path, render, see_other
from .session import LANG_COOKIE, WebSession, cookie_header

router = APIRouter(prefix="/web", include_in_schema=False)
HOME = "/web/home"


def _signed_in(request: Request, answer: dict, next_url: str | None = None):
    """Store what the auth service answered and go where the answer says."""
    status = answer.get("status")
    store_session(request, WebSession(answer["access_token"], answer.get("refresh_token")))
    renew_csrf(request)  # a new session, a new CSRF nonce
    if status == "second_factor_required":
        return see_other("/web/sign-in/code")
    if status == "enrolment_required":
        return see_other("/web/enrol")
    return see_other(notice_redirect(answer, local_path(next_url, HOME)))


@router.get("/", summary="The web application: your home page, or sign-in")
async def root(request: Request):
    return see_other(HOME if getattr(request.state, "web_session", None) else "/web/sign-in")


@router.get("/lang/{lang}", summary="Switch the language (ro/en) and return")
async def switch_language(lang: str, request: Request, next: str | None = None):
    if lang in LANGUAGES:
        schedule_cookie(request, cookie_header(LANG_COOKIE, lang, max_age=365 * 24 * 3600))
    return see_other(local_path(next, "/web/"))


@router.get("/sign-in", summary="Sign in: e-mail and password")
async def sign_in_form(request: Request, next: str | None = None):
    return render(request, "sign_in.html", next=local_path(next, ""), email="", tenants=None)


@router.post("/sign-in")
async def sign_in(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(LoginIn, {"email": form.get("email", ""), "password": form.get("password", ""),
                                   "tenant_id": form.get("tenant_id") or None})
        answer = await services.call("auth", "login", **body.model_dump(), client_ip=_client_ip(request))
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "sign_in.html", status_code=_status(refusal), email=form.get("email", ""),
                      next=local_path(form.get("next"), ""), tenants=None, **flash_args(refusal))
    if answer.get("status") == "choose_tenant":
        return render(request, "sign_in.html", email=form.get("email", ""), tenants=answer.get("tenants") or [],
                      next=local_path(form.get("next"), ""))
    return _signed_in(request, answer, form.get("next"))


@router.get("/sign-in/code", summary="Second step of sign-in: the code")
async def code_form(request: Request, sent: int = 0):
    return render(request, "sign_in_code.html", sent=bool(sent), method="totp")


@router.post("/sign-in/code")
async def code_submit(request: Request, services: ServicesDep):
    form = await form_of(request)
    method = form.get("method") or "totp"
    try:
        body = validated(SecondFactorIn, {"method": method, "code": form.get("code", "").replace(" ", "")})
        answer = await services.call("auth", "verify_second_factor", method=body.method, code=body.code)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "sign_in_code.html", status_code=_status(refusal), sent=False, method=method,
                      **flash_args(refusal))
    return _signed_in(request, answer)


@router.post("/sign-in/sms", summary="Text me a sign-in code")
async def code_by_sms(request: Request, services: ServicesDep):
    try:
        await services.call("auth", "send_login_sms")
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "sign_in_code.html", status_code=_status(refusal), sent=False, method="sms",
                      **flash_args(refusal))
    return see_other("/web/sign-in/code?sent=1")


# -- enrolment of a second factor (first sign-in of a role that needs one, or from the profile)
@router.get("/enrol", summary="Choose a second factor to enrol")
async def enrol_choice(request: Request, services: ServicesDep):
    status = await services.call("auth", "factor_status")
    return render(request, "enrol.html", status=status)


def _qr(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")


@router.post("/enrol/totp", summary="Start TOTP enrolment: the QR code")
async def enrol_totp(request: Request, services: ServicesDep):
    answer = await services.call("auth", "totp_enrol")
    return render(request, "enrol_totp.html", qr=_qr(answer["otpauth_uri"]), secret=answer["secret"],
                  otpauth_uri=answer["otpauth_uri"])


@router.post("/enrol/totp/confirm", summary="Confirm TOTP with a first code")
async def enrol_totp_confirm(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(CodeIn, {"code": form.get("code", "").replace(" ", "")})
        answer = await services.call("auth", "totp_confirm", code=body.code)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        uri = form.get("otpauth_uri", "")
        return render(request, "enrol_totp.html", status_code=_status(refusal),
                      qr=_qr(uri) if uri.startswith("otpauth://") else None, secret=form.get("secret", ""),
                      otpauth_uri=uri, **flash_args(refusal))
    return _enrolled(request, answer)


@router.post("/enrol/sms", summary="Start SMS enrolment: a code is texted to the number")
async def enrol_sms(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(PhoneIn, {"phone": form.get("phone", "")})
        await services.call("auth", "sms_enrol", phone=body.phone)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        status = await services.call("auth", "factor_status")
        return render(request, "enrol.html", status_code=_status(refusal), status=status, phone=form.get("phone"),
                      **flash_args(refusal))
    return render(request, "enrol_sms.html", phone=body.phone)


@router.post("/enrol/sms/confirm", summary="Confirm the phone with the texted code")
async def enrol_sms_confirm(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(CodeIn, {"code": form.get("code", "").replace(" ", "")})
        answer = await services.call("auth", "sms_confirm", code=body.code)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "enrol_sms.html", status_code=_status(refusal), phone=form.get("phone", ""),
                      **flash_args(refusal))
    return _enrolled(request, answer)


def _enrolled(request: Request, answer: dict):
    if answer.get("access_token"):  # the enrolment finished a sign-in: a full session now
        store_session(request, WebSession(answer["access_token"], answer.get("refresh_token")))
    codes = answer.get("recovery_codes")
    if codes:
        return render(request, "recovery_codes.html", codes=codes)
    return see_other("/web/profile?done=factor")


@router.post("/sign-out", summary="Sign out of this browser")
async def sign_out(request: Request, services: ServicesDep):
    try:
        await services.call("auth", "logout")
    except Exception as exc:  # noqa: BLE001 - an already ended session is signed out all the same
        _or_raise(exc)
    store_session(request, None)
    renew_csrf(request)
    return see_other("/web/sign-in")


# -- without a session ------------------------------------------------------------------
@router.get("/password/forgot", summary="Forgotten password: ask for a reset code")
async def forgot_form(request: Request):
    return render(request, "forgot.html", sent=False)


@router.post("/password/forgot")
async def forgot(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(ForgotIn, {"email": form.get("email", "")})
        await services.call("auth", "request_password_reset", email=body.email)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "forgot.html", status_code=_status(refusal), sent=False, **flash_args(refusal))
    return render(request, "forgot.html", sent=True)


@router.get("/password/reset", summary="Set a new password with the e-mailed code")
async def reset_form(request: Request, token: str = ""):
    return render(request, "reset.html", token=token[:200], done=False)


@router.post("/password/reset")
async def reset(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        _same_password(form)
        body = validated(ResetIn, {"token": form.get("token", ""), "new_password": form.get("new_password", "")})
        await services.call("auth", "reset_password", token=body.token, new_password=body.new_password)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "reset.html", status_code=_status(refusal), token=form.get("token", ""), done=False,
                      **flash_args(refusal))
    return render(request, "reset.html", token="", done=True)


@router.get("/invitation", summary="Accept an invitation: name and password")
async def invitation_form(request: Request, token: str = ""):
    return render(request, "invitation.html", token=token[:200], done=False, full_name="")


@router.post("/invitation")
async def invitation(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        _same_password(form, "password")
        body = validated(InvitationAcceptIn, {"token": form.get("token", ""), "full_name": form.get("full_name", ""),
                                              "password": form.get("password", "")})
        await services.call("auth", "accept_invitation", token=body.token, full_name=body.full_name,
                            password=body.password)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "invitation.html", status_code=_status(refusal), token=form.get("token", ""),
                      done=False, full_name=form.get("full_name", ""), **flash_args(refusal))
    return render(request, "invitation.html", token="", done=True, full_name="")


@router.get("/email/confirm", summary="Confirm a new e-mail address with the e-mailed code")
async def email_confirm_form(request: Request, token: str = ""):
    return render(request, "email_confirm.html", token=token[:200], done=False)


@router.post("/email/confirm")
async def email_confirm(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(TokenIn, {"token": form.get("token", "")})
        await services.call("auth", "confirm_email_change", token=body.token)
    except Exception as exc:  # noqa: BLE001
        refusal = _or_raise(exc)
        return render(request, "email_confirm.html", status_code=_status(refusal), token=form.get("token", ""),
                      done=False, **flash_args(refusal))
    return render(request, "email_confirm.html", token="", done=True)


def _same_password(form: dict, field: str = "new_password") -> None:
    if form.get(field) != form.get("confirm_password"):
        raise Refusal("invalid_input", "the two passwords are not the same", (field, "confirm_password"))

