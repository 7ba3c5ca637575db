"""The school's overview and statistics pages, and the home page by role (the teacher's pages
are in pages_teacher, the director's in pages_director, parents' and pupils' in pages_family)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from ..deps import ServicesDep
from .render import render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)


async def _statistics(request: Request, services: ServicesDep, template: str, **extra):
    stats = await services.call("grades", "grade_statistics")
    return render(request, template, stats=stats, **extra)


@router.get("/director/overview", summary="The school overview for the director")
async def director_overview(request: Request, services: ServicesDep):
    users = await services.call("auth", "list_members", limit=1, offset=0)
    return await _statistics(request, services, "director_overview.html", accounts=users.get("total", 0))


@router.get("/statistics", summary="Grade statistics, no personal data (CAT-19)")
async def statistics(request: Request, services: ServicesDep):
    return await _statistics(request, services, "statistics.html")


@router.get("/home", summary="Your home page (by role)")
async def home(request: Request):
    principal = request.state.principal
    roles = set(principal.roles)
    # one role's page is the home page; a person with several roles sees the links to all
    for role, url in (("teacher", "/web/teacher/classes"), ("student", "/web/student/grades"),
                      ("parent", "/web/parent/grades"), ("director", "/web/director/overview"),
                      ("statistics_viewer", "/web/statistics"), ("operator", "/web/operator/tenants")):
        if roles == {role}:
            return see_other(url)
    return render(request, "home.html", roles=sorted(roles))
