"""Jinja2 pages: one environment, the user's language and CSRF token in every template."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .context import csrf_token
from .i18n import LANGUAGES, date_text, translations
from .messages import translate_error

TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html",)),
                  extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True, auto_reload=False)


def lang_of(request: Request) -> str:
    return getattr(request.state, "lang", "ro")


def render(request: Request, template: str, *, status_code: int = 200, **context) -> HTMLResponse:
    lang = lang_of(request)
    tr = translations(lang)
    principal = getattr(request.state, "principal", None)
    page = ENV.get_template(template).render(
        request=request, lang=lang, languages=LANGUAGES, _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext,
        csrf=csrf_token(request), principal=principal, path=request.url.path,
        date=lambda value, style="short": date_text(value, lang, style),
        error_text=lambda code, message: translate_error(tr.gettext, code, message), **context)
    return HTMLResponse(page, status_code=status_code)


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: 303 so that a reload does not post again."""
    return RedirectResponse(url, status_code=303)


def local_path(value: str | None, default: str = "/web/") -> str:
    """Only a path of this site (never `//evil.example` or a scheme) is a safe place to return to."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
