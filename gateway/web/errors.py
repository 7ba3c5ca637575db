"""The error table as pages: a refusal is a page in the user's language; an ended or missing
session goes to sign-in, a second factor still owed goes to its step."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from .context import store_session
from .i18n import pick_language
from .render import render, see_other
from .session import LANG_COOKIE


async def error_page(request: Request, status: int, code: str, message: str) -> Response:
    if not hasattr(request.state, "lang"):
        request.state.lang = pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    if code == "not_authenticated":
        if getattr(request.state, "web_session", None) is not None:
            store_session(request, None)  # an ended session: forget the cookie
        here = request.url.path if request.method == "GET" else "/web/home"
        return see_other(f"/web/sign-in?next={quote(here)}")
    if code == "second_factor_required":
        owes_enrolment = "enrol" in message or "requires" in message
        return see_other("/web/enrol" if owes_enrolment else "/web/sign-in/code")
    return render(request, "error.html", status_code=status, code=code, message=message,
                  request_id=getattr(request.state, "request_id", ""))
