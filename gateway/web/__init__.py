"""The web application: server-rendered pages for every role (issue 12).

Pages live under `/web/`, are guarded by the same policy table as the API (rules with
`web=True`: the token comes from the sealed session cookie), call the services through the
same RPC client, and show the same error table as pages in the user's language.
Layout: `pages_*.py` (routes), `templates/`, `static/` (own CSS/JS; `static/vendor/` is filled
by the install step from the npm registry and never committed), `locale/` (gettext catalogs).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from .session import SessionKeys

STATIC = Path(__file__).parent / "static"


@dataclass
class WebState:
    keys: SessionKeys


def install(app: FastAPI) -> None:
    """Mount the pages after the API routers (the state is set in the app's lifespan)."""
    from . import (errors, pages_admin, pages_auth, pages_corrections, pages_director, pages_family, pages_operator,
                   pages_registry, pages_rights, pages_school, pages_school_year, pages_teacher)

    for module in (pages_school, pages_teacher, pages_director, pages_family, pages_auth, pages_admin, pages_rights,
                   pages_corrections, pages_registry, pages_school_year, pages_operator):
        app.include_router(module.router)
    app.mount("/web/static", StaticFiles(directory=STATIC, check_dir=False), name="web-static")
    app.state.error_page = errors.error_page


def start(app: FastAPI, keys: SessionKeys) -> None:
    app.state.web = WebState(keys)


def is_web(request: Request) -> bool:
    return request.url.path.startswith("/web/")
