"""Per-request web state: language, CSRF, and the session cookie opened (refreshed when due)."""
from __future__ import annotations

from fastapi import Request

from services.kernel.errors import AppError, Forbidden, NotAuthenticated

from ..rpc import RemoteError
from .i18n import pick_language
from .session import (CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE, WebSession,
                      clear_cookie_header, cookie_header)

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_REFUSED = "the form has expired or did not come from this site; reload the page and try again"


def schedule_cookie(request: Request, header: str) -> None:
    """Sent with whatever answers this request (page, redirect or error page): GatewayMiddleware."""
    cookies = request.scope.setdefault("state", {}).setdefault("set_cookies", [])
    cookies.append(header)


def keys(request: Request):
    return request.app.state.web.keys


def csrf_nonce(request: Request) -> str:
    """The nonce of this browser; a new one (and its cookie) on the first visit."""
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce is None:
        nonce = request.cookies.get(CSRF_COOKIE)
        if not nonce or len(nonce) > 64:
            nonce = renew_csrf(request)
        request.state.csrf_nonce = nonce
    return nonce


def renew_csrf(request: Request) -> str:
    nonce = keys(request).new_nonce()
    request.state.csrf_nonce = nonce
    schedule_cookie(request, cookie_header(CSRF_COOKIE, nonce))
    return nonce


def csrf_token(request: Request) -> str:
    return keys(request).csrf_token(csrf_nonce(request))


def store_session(request: Request, session: WebSession | None) -> None:
    if session is None:
        schedule_cookie(request, clear_cookie_header(SESSION_COOKIE))
    else:
        schedule_cookie(request, cookie_header(SESSION_COOKIE, keys(request).seal(session), max_age=SESSION_MAX_AGE))
    request.state.web_session = session


async def open_session(request: Request) -> str | None:
    """Runs before every web route (from `enforce_policy`): returns the access token to check."""
    request.state.lang = pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    if request.method not in ("GET", "HEAD"):
        form = await request.form()
        sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not keys(request).csrf_ok(request.cookies.get(CSRF_COOKIE), sent if isinstance(sent, str) else None):
            raise Forbidden(CSRF_REFUSED)
    session = keys(request).unseal(request.cookies.get(SESSION_COOKIE))
    request.state.web_session = session
    if session is None:
        return None
    try:
        request.app.state.verifier.verify(session.access_token)
        return session.access_token
    except AppError:
        pass
    if not session.refresh_token:  # a half-finished sign-in that timed out
        store_session(request, None)
        return None
    return await _refresh(request, session)


async def _refresh(request: Request, session: WebSession) -> str | None:
    """The access token expired: rotate the refresh token once, transparently."""
    client = request.app.state.rpc
    try:
        answer = await client.call("auth", "refresh", kwargs={"refresh_token": session.refresh_token},
                                   context={"correlation_id": request.state.request_id},
                                   timeout=request.app.state.rpc_timeout)
    except RemoteError as exc:
        if exc.exc_type in ("NotAuthenticated", "InvalidInput"):
            store_session(request, None)
            raise NotAuthenticated("your session has expired; sign in again") from exc
        raise
    store_session(request, WebSession(answer["access_token"], answer.get("refresh_token")))
    return answer["access_token"]
