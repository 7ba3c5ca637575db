"""The catalog pages: a teacher's classes and grade entry, pupils' and parents' grades, the
school overview and statistics."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from markupsafe import Markup, escape

from ..deps import ServicesDep
from ..schemas import GradeIn
from . import sources
from .forms import Refusal, flash_args, form_of, or_raise, status_of, validated
from .render import lang_of, render, see_other
from .i18n import date_text, translations
from .messages import translate_error

router = APIRouter(prefix="/web", include_in_schema=False)


def _tenant(request: Request) -> str:
    return request.state.principal.tenant_id or ""


@router.get("/teacher/classes", summary="A teacher's classes and subjects")
async def teacher_classes(request: Request, services: ServicesDep):
    pairs = await sources.teacher_pairs(services)
    return render(request, "teacher_classes.html", pairs=pairs)


async def _grid(request: Request, services: ServicesDep, class_id: str, subject_id: str, *,
                status_code: int = 200, focus: str | None = None, extra_pupil: str | None = None, **flash):
    page = await sources.grades(services, class_id=class_id, subject_id=subject_id, limit=200)
    by_pupil: dict[str, list[dict]] = defaultdict(list)
    subject_name = ""
    for g in page["items"]:
        by_pupil[g["student_id"]].append(g)
        subject_name = g.get("subject_name") or subject_name
    if extra_pupil and extra_pupil not in by_pupil:
        by_pupil[extra_pupil] = []
    names = await sources.pupil_names(services, _tenant(request), list(by_pupil))
    lang = lang_of(request)
    gettext = translations(lang).gettext
    rows = sorted(({"id": pid, "name": names.get(pid) or "", "grades": _dated(gs, lang)}
                   for pid, gs in by_pupil.items()), key=lambda r: (r["name"] == "", r["name"], r["id"]))
    # the row texts are made here, not by the template: a template call costs more than the work
    for i, r in enumerate(rows, 1):
        r["name"] = r["name"] or gettext("Pupil %(n)s") % {"n": i}
        r["label"] = gettext("New grade for %(name)s") % {"name": r["name"]}
        r["marks"] = _marks(r["grades"])
    return render(request, "teacher_grid.html", status_code=status_code, rows=rows, class_id=class_id,
                  subject_id=subject_id, subject_name=subject_name, today=date.today().isoformat(),
                  focus=focus, total=page.get("total", 0), **flash)


@router.get("/teacher/classes/{class_id}/subjects/{subject_id}", summary="A class's grades in one subject: entry")
async def teacher_grid(class_id: UUID, subject_id: UUID, request: Request, services: ServicesDep,
                       focus: UUID | None = None, pupil: UUID | None = None):
    return await _grid(request, services, str(class_id), str(subject_id), focus=str(focus) if focus else None,
                       extra_pupil=str(pupil) if pupil else None)


@router.post("/teacher/grades", summary="Record grades: one (the page's script) or every box typed (the form)")
async def teacher_record_grade(request: Request, services: ServicesDep):
    form = await form_of(request)
    scripted = request.headers.get("x-requested-with") == "fetch"
    entries = ([(form.get("student_id", ""), form.get("value", ""))] if "student_id" in form else
               [(k[2:], v) for k, v in form.items() if k.startswith("v-") and v])
    saved: list[dict] = []
    try:
        if not entries:
            raise Refusal("invalid_input", "check the highlighted fields", ("value",))
        for student_id, value in entries:
            saved.append(await _record(services, form, student_id, value))
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        if refusal.fields == ("value",):  # the API's own words for the one field a teacher types
            refusal = Refusal("invalid_input", "grade must be a whole number from 1 to 10", ("value",))
        if scripted:
            text = translate_error(translations(lang_of(request)).gettext, refusal.code, refusal.message)
            return JSONResponse({"error": refusal.code, "message": text}, status_code=status_of(refusal))
        if not (_uuid(form.get("class_id", "")) and _uuid(form.get("subject_id", ""))):
            return render(request, "error.html", status_code=status_of(refusal), code=refusal.code,
                          message=refusal.message)
        return await _grid(request, services, form["class_id"], form["subject_id"], status_code=status_of(refusal),
                           focus=entries[len(saved)][0] if entries else None, **flash_args(refusal))
    if scripted:
        grade = saved[0]
        return JSONResponse({"id": grade["id"], "value": grade["value"], "awarded_on": grade["awarded_on"],
                             "date": render_date(request, grade["awarded_on"])}, status_code=201)
    grade = saved[-1]
    return see_other(f"/web/teacher/classes/{grade['class_id']}/subjects/{grade['subject_id']}?saved=1")


async def _record(services: ServicesDep, form: dict, student_id: str, value: str) -> dict:
    body = validated(GradeIn, {"class_id": form.get("class_id"), "subject_id": form.get("subject_id"),
                               "student_id": student_id, "value": int(value) if value.isdigit() else value,
                               "awarded_on": form.get("awarded_on") or None, "reason": form.get("reason") or None})
    return await services.call("grades", "record_grade", class_id=str(body.class_id), subject_id=str(body.subject_id),
                               student_id=str(body.student_id), value=body.value,
                               awarded_on=body.awarded_on.isoformat() if body.awarded_on else None, reason=body.reason)


def render_date(request: Request, value: str) -> str:
    return date_text(value, lang_of(request))


def _marks(grades: list[dict]) -> Markup:
    """A pupil's grades as the page shows them, built in one go (values are numbers, dates ours)."""
    if not grades:
        return Markup('<span class="muted none">—</span>')
    return Markup("".join(f'<span class="mark">{int(g["value"])}<small>{escape(g["date"])}</small></span>'
                          for g in grades))


def _dated(grades: list[dict], lang: str) -> list[dict]:
    """Oldest first (the API answers newest first; the same day keeps the order given), each
    with its date as the page shows it."""
    out = sorted(reversed(grades), key=lambda g: g["awarded_on"])
    for g in out:
        g["date"] = date_text(g["awarded_on"], lang)
    return out


def _uuid(value: str) -> bool:
    try:
        UUID(value)
        return True
    except ValueError:
        return False


def _by_subject(items: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for g in items:
        groups[g.get("subject_name") or ""].append(g)
    return [{"subject": name, "grades": sorted(reversed(gs), key=lambda g: g["awarded_on"])}
            for name, gs in sorted(groups.items())]


@router.get("/student/grades", summary="A pupil's own grades")
async def student_grades(request: Request, services: ServicesDep):
    page = await sources.grades(services)
    return render(request, "student_grades.html", subjects=_by_subject(page["items"]), total=page.get("total", 0))


@router.get("/parent/grades", summary="A parent's children's grades")
async def parent_grades(request: Request, services: ServicesDep):
    children = sorted(request.state.principal.children)
    page = await sources.grades(services)
    per_child = defaultdict(list)
    for g in page["items"]:
        per_child[g["student_id"]].append(g)
    kids = [{"id": c, "number": i + 1, "subjects": _by_subject(per_child.get(c, []))} for i, c in enumerate(children)]
    return render(request, "parent_grades.html", children=kids)


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
