"""The teacher's and the homeroom teacher's pages: my classes, a subject's grid (grade entry),
a lesson's absences, the class catalog, a grade's history with its change and cancel forms,
and the homeroom teacher's motivation of absences.

Every page reads the grades service's own views (`teacher_classes`, `class_catalog`,
`grade_history`, `list_absences`, `list_motivation_requests`); every form calls the same RPC
as the JSON route, validated by the API's own body model.
"""
from __future__ import annotations

import functools
from collections import defaultdict
from datetime import date
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from markupsafe import Markup, escape

from services.kernel.errors import NotFound

from ..catalog_schemas import AbsencesIn, CancelIn, GradeChangeIn, MotivateIn
from ..deps import ServicesDep
from ..schemas import GradeIn
from . import sources
from .forms import Refusal, flash_args, form_of, or_raise, page_or_refusal, status_of, validated
from .i18n import date_text, translations
from .messages import translate_error
from .render import lang_of, render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)

HOURS = range(1, 15)
MOTIVATION_REASONS = ("medical", "parent_request", "school_activity", "other")


# --- shared reading of the class catalog ---------------------------------------------------------
async def catalog_of(services: ServicesDep, class_id: str) -> dict:
    """The class catalog in the pages' shape (`grades.views.compact_catalog`): a cell per pupil ×
    subject with every mark of the year in one list."""
    return await services.call("grades", "class_catalog", class_id=class_id, shape="compact")


async def full_catalog_of(services: ServicesDep, class_id: str) -> dict:
    """The class catalog in its API shape (a cell per period, conduct), for the pages that read
    a period's own grades and absences."""
    return await services.call("grades", "class_catalog", class_id=class_id)


def period_today(catalog: dict) -> dict | None:
    today = date.today().isoformat()
    for p in catalog["school_year"]["periods"]:
        if p["starts_on"] <= today <= p["ends_on"]:
            return p
    return None


def pupil_name(pupil: dict, n: int, gettext) -> str:
    name = " ".join(x for x in (pupil.get("last_name"), pupil.get("first_name")) if x)
    return name or gettext("Pupil %(n)s") % {"n": n}


def subject_cells(pupil: dict, subject_id: str) -> tuple[list[dict], dict]:
    """A pupil's grades in one subject over every period shown (oldest first) and the absences,
    from a report card (the full shape)."""
    cell = pupil["subjects"].get(subject_id) or {"periods": {}}
    grades, absences = [], {"total": 0, "motivated": 0, "unmotivated": 0}
    for period in cell["periods"].values():
        grades.extend(period["grades"])
        if period.get("thesis"):
            grades.append({**period["thesis"], "kind": "thesis"})
        for k in absences:
            absences[k] += period["absences"][k]
    grades.sort(key=lambda g: g["awarded_on"])
    return grades, absences


_NO_MARKS = Markup('<span class="muted none">—</span>')
_NO_CELL = {"marks": [], "averages": {}, "annual": None, "absences": {"total": 0, "motivated": 0, "unmotivated": 0}}


@functools.lru_cache(maxsize=16384)
def _mark_text(value, day: str, kind: str, lang: str) -> tuple[str, str]:
    """A mark's class attribute and inner HTML (value and date), escaped once: a page repeats
    the same few values and dates hundreds of times."""
    return ("mark thesis" if kind == "thesis" else "mark",
            f"{escape(str(value))}<small>{escape(date_text(day, lang))}</small>")


def marks(grades: list[dict], lang: str, *, links: bool) -> Markup:
    """A pupil's grades (report-card dicts) as the page shows them (a link to each grade's
    history when the reader may change it)."""
    return compact_marks([[g["id"], g["value"], g["awarded_on"], g.get("kind", "")] for g in grades], lang,
                         links=links)


def compact_marks(cell_marks: list[list], lang: str, *, links: bool) -> Markup:
    """Marks `[id, value, awarded_on, kind]` as HTML, built in one go."""
    if not cell_marks:
        return _NO_MARKS
    if links:
        out = []
        for gid, value, day, kind in cell_marks:
            css, inner = _mark_text(value, day, kind, lang)
            out.append(f'<a class="{css}" href="/web/grades/{escape(gid)}">{inner}</a>')
        return Markup("".join(out))
    return Markup("".join('<span class="%s">%s</span>' % _mark_text(value, day, kind, lang)
                          for _gid, value, day, kind in cell_marks))


def _subject(catalog: dict, subject_id: str) -> dict | None:
    return next((s for s in catalog["subjects"] if s["id"] == subject_id), None)


# --- my classes ------------------------------------------------------------------------------------
@router.get("/teacher/classes", summary="A teacher's classes and subjects, with what they may write today")
async def teacher_classes(request: Request, services: ServicesDep):
    return render(request, "teacher_classes.html", classes=await sources.teacher_classes(services))


# --- a subject's grid: grade entry ------------------------------------------------------------------
async def _grid(request: Request, services: ServicesDep, class_id: str, subject_id: str, *,
                status_code: int = 200, focus: str | None = None, **flash):
    catalog = await catalog_of(services, class_id)
    subject = _subject(catalog, subject_id)
    if subject is None:
        raise NotFound("subject not found in this class")
    lang = lang_of(request)
    gettext = translations(lang).gettext
    period = period_today(catalog)
    key = period["id"] if period else "-"  # "-": a class whose school year has no periods
    rows = []
    for i, pupil in enumerate(catalog["pupils"], 1):
        name = pupil_name(pupil, i, gettext)
        cell = pupil["subjects"].get(subject["id"]) or _NO_CELL
        rows.append({"id": pupil["student_id"], "name": name, "enrolled": pupil["status"] == "enrolled",
                     "label": gettext("New grade for %(name)s") % {"name": name},
                     "marks": compact_marks(cell["marks"], lang, links=True), "absences": cell["absences"],
                     "average": cell["averages"].get(key), "annual": cell["annual"]})
    return render(request, "teacher_grid.html", status_code=status_code, rows=rows, catalog=catalog,
                  class_id=class_id, subject_id=subject_id, subject_name=subject["name"], period=period,
                  today=date.today().isoformat(), focus=focus, **flash)


@router.get("/teacher/classes/{class_id}/subjects/{subject_id}", summary="A class's grades in one subject: entry")
async def teacher_grid(class_id: UUID, subject_id: UUID, request: Request, services: ServicesDep,
                       focus: UUID | None = None):
    return await _grid(request, services, str(class_id), str(subject_id), focus=str(focus) if focus else None)


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
        return await page_or_refusal(request, refusal, _grid(
            request, services, form["class_id"], form["subject_id"], status_code=status_of(refusal),
            focus=entries[len(saved)][0] if entries else None, **flash_args(refusal)))
    if scripted:
        grade = saved[0]
        return JSONResponse({"id": grade["id"], "value": grade["value"], "awarded_on": grade["awarded_on"],
                             "date": date_text(grade["awarded_on"], lang_of(request))}, status_code=201)
    grade = saved[-1]
    return see_other(f"/web/teacher/classes/{grade['class_id']}/subjects/{grade['subject_id']}?saved=1")


async def _record(services: ServicesDep, form: dict, student_id: str, value: str) -> dict:
    body = validated(GradeIn, {"class_id": form.get("class_id"), "subject_id": form.get("subject_id"),
                               "student_id": student_id, "value": int(value) if value.isdigit() else value,
                               "awarded_on": form.get("awarded_on") or None, "reason": form.get("reason") or None})
    return await services.call("grades", "record_grade", class_id=str(body.class_id), subject_id=str(body.subject_id),
                               student_id=str(body.student_id), value=body.value,
                               awarded_on=body.awarded_on.isoformat() if body.awarded_on else None, reason=body.reason)


def _uuid(value: str) -> bool:
    try:
        UUID(value)
        return True
    except ValueError:
        return False


def _int(value: str | None):
    return int(value) if value and value.isdigit() else value


# --- a lesson's absences ------------------------------------------------------------------------------
async def _absences_page(request: Request, services: ServicesDep, class_id: str, subject_id: str, *,
                         status_code: int = 200, form: dict | None = None, **flash):
    catalog = await catalog_of(services, class_id)
    subject = _subject(catalog, subject_id)
    if subject is None:
        raise NotFound("subject not found in this class")
    gettext = translations(lang_of(request)).gettext
    pupils = [{"id": p["student_id"], "name": pupil_name(p, i, gettext)}
              for i, p in enumerate(catalog["pupils"], 1) if p["status"] == "enrolled"]
    return render(request, "teacher_absences.html", status_code=status_code, catalog=catalog, class_id=class_id,
                  subject_id=subject_id, subject_name=subject["name"], pupils=pupils, hours=HOURS,
                  today=date.today().isoformat(), form=form or {}, **flash)


@router.get("/teacher/classes/{class_id}/subjects/{subject_id}/absences", summary="A lesson's absences: entry form")
async def teacher_absences(class_id: UUID, subject_id: UUID, request: Request, services: ServicesDep):
    return await _absences_page(request, services, str(class_id), str(subject_id))


@router.post("/teacher/absences", summary="Record the absent pupils of one lesson")
async def teacher_record_absences(request: Request, services: ServicesDep):
    raw = await request.form()
    form = await form_of(request)
    absent = [v for v in raw.getlist("absent") if isinstance(v, str)]
    try:
        body = validated(AbsencesIn, {"class_id": form.get("class_id"), "subject_id": form.get("subject_id"),
                                      "occurred_on": form.get("occurred_on") or None, "hour": _int(form.get("hour")),
                                      "student_ids": absent})
        answer = await services.call("grades", "record_absences", class_id=str(body.class_id),
                                     subject_id=str(body.subject_id), occurred_on=body.occurred_on.isoformat(),
                                     hour=body.hour, student_ids=[str(s) for s in body.student_ids])
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        if not (_uuid(form.get("class_id", "")) and _uuid(form.get("subject_id", ""))):
            return render(request, "error.html", status_code=status_of(refusal), code=refusal.code,
                          message=refusal.message)
        return await page_or_refusal(request, refusal, _absences_page(
            request, services, form["class_id"], form["subject_id"], status_code=status_of(refusal),
            form={**form, "absent": set(absent)}, **flash_args(refusal)))
    count = len(answer.get("items", []))
    return see_other(f"/web/teacher/classes/{body.class_id}/subjects/{body.subject_id}?absences={count}")


# --- the class catalog (every subject the reader may see) ----------------------------------------------
@router.get("/teacher/classes/{class_id}/catalog", summary="The class catalog: pupils × subjects with averages")
async def class_catalog(class_id: UUID, request: Request, services: ServicesDep):
    catalog = await catalog_of(services, str(class_id))
    lang = lang_of(request)
    gettext = translations(lang).gettext
    period = period_today(catalog)
    key = period["id"] if period else "-"
    director = "director" in request.state.principal.roles
    subject_ids = [s["id"] for s in catalog["subjects"]]
    average_label, annual_label = escape(gettext("average")), escape(gettext("Annual"))
    rows = []
    for i, pupil in enumerate(catalog["pupils"], 1):
        cells = []
        for sid in subject_ids:  # a row's cells as one string: 15 subjects × 30 pupils per page
            cell = pupil["subjects"].get(sid) or _NO_CELL
            average, annual = cell["averages"].get(key), cell["annual"]
            cells.append(f'<td><div class="marks">{compact_marks(cell["marks"], lang, links=False)}</div>'
                         + (f'<p class="avg">{average_label} <strong>{escape(average)}</strong></p>' if average else "")
                         + (f'<p class="avg">{annual_label} <strong>{escape(annual)}</strong></p>' if annual else "")
                         + "</td>")
        rows.append({"name": pupil_name(pupil, i, gettext), "cells": Markup("".join(cells)), "pupil": pupil})
    return render(request, "class_catalog.html", catalog=catalog, rows=rows, period=period, director=director)


# --- a grade: its history, change and cancel ----------------------------------------------------------
async def _grade_page(request: Request, services: ServicesDep, grade_id: str, *, status_code: int = 200,
                      form: dict | None = None, **flash):
    history = await services.call("grades", "grade_history", grade_id=grade_id)
    return render(request, "grade.html", status_code=status_code, history=history, grade=history["grade"],
                  form=form or {}, **flash)


@router.get("/grades/{grade_id}", summary="A grade's history, with its change and cancel forms")
async def grade_page(grade_id: UUID, request: Request, services: ServicesDep):
    return await _grade_page(request, services, str(grade_id), done=request.query_params.get("done"))


async def _grade_action(request: Request, services: ServicesDep, grade_id: str, action, done: str):
    form = await form_of(request)
    try:
        grade = await action(form)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _grade_page(
            request, services, grade_id, status_code=status_of(refusal), form=form, failed=done,
            **flash_args(refusal)))
    return see_other(f"/web/grades/{grade['id']}?done={done}")


@router.post("/grades/{grade_id}/change", summary="Change a grade: a new version, with a reason")
async def change_grade(grade_id: UUID, request: Request, services: ServicesDep):
    async def act(form):
        body = validated(GradeChangeIn, {"expected_version": _int(form.get("expected_version")),
                                         "reason": form.get("reason", ""), "value": _int(form.get("value")) or None})
        return await services.call("grades", "change_grade", grade_id=str(grade_id),
                                   expected_version=body.expected_version, reason=body.reason, value=body.value)
    return await _grade_action(request, services, str(grade_id), act, "changed")


@router.post("/grades/{grade_id}/cancel", summary="Cancel a grade (it stays in the history), with a reason")
async def cancel_grade(grade_id: UUID, request: Request, services: ServicesDep):
    async def act(form):
        body = validated(CancelIn, {"expected_version": _int(form.get("expected_version")),
                                    "reason": form.get("reason", "")})
        return await services.call("grades", "cancel_grade", grade_id=str(grade_id), **body.model_dump())
    return await _grade_action(request, services, str(grade_id), act, "cancelled")


# --- the homeroom teacher: absences and their motivation --------------------------------------------
ABSENCES_PER_PAGE = 200


async def _homeroom_page(request: Request, services: ServicesDep, class_id: str, *, status_code: int = 200,
                         form: dict | None = None, offset: int = 0, **flash):
    catalog = await catalog_of(services, class_id)
    listed = await services.call("grades", "list_absences", class_id=class_id, limit=ABSENCES_PER_PAGE,
                                 offset=offset)
    requests_ = await sources.all_items(services, "grades", "list_motivation_requests")
    gettext = translations(lang_of(request)).gettext
    names = {p["student_id"]: pupil_name(p, i, gettext) for i, p in enumerate(catalog["pupils"], 1)}
    subjects = {s["id"]: s["name"] for s in catalog["subjects"]}
    by_pupil: dict[str, list[dict]] = defaultdict(list)
    for a in listed["items"]:
        by_pupil[a["student_id"]].append({**a, "subject_name": subjects.get(a["subject_id"], "")})
    pupils = [{"id": sid, "name": names.get(sid, sid), "absences": by_pupil[sid]}
              for sid in names if by_pupil.get(sid)]
    mine = [{**r, "pupil": names.get(r["student_id"], "")} for r in requests_ if r["class_id"] == class_id]
    total = listed.get("total", 0)
    pages = {"previous": max(offset - ABSENCES_PER_PAGE, 0) if offset > 0 else None,
             "next": offset + ABSENCES_PER_PAGE if offset + ABSENCES_PER_PAGE < total else None}
    return render(request, "homeroom_absences.html", status_code=status_code, catalog=catalog, class_id=class_id,
                  pupils=pupils, totals=listed.get("totals", {}), requests=mine, reasons=MOTIVATION_REASONS,
                  form=form or {}, done=request.query_params.get("done"), pages=pages, **flash)


@router.get("/homeroom/classes/{class_id}/absences", summary="The homeroom teacher's class absences and requests")
async def homeroom_absences(class_id: UUID, request: Request, services: ServicesDep, offset: int = 0):
    return await _homeroom_page(request, services, str(class_id), offset=min(max(offset, 0), 1_000_000))


@router.post("/homeroom/classes/{class_id}/motivate", summary="Motivate absences: one or many, of one or many pupils")
async def homeroom_motivate(class_id: UUID, request: Request, services: ServicesDep):
    raw = await request.form()
    form = await form_of(request)
    # each ticked box is "pupil:absence"; one motivation call per pupil, as the API takes them
    chosen: dict[str, list[str]] = defaultdict(list)
    for value in raw.getlist("absence"):
        if isinstance(value, str) and value.count(":") == 1:
            pupil, absence = value.split(":")
            chosen[pupil].append(absence)
    done = 0
    try:
        if not chosen:
            raise Refusal("invalid_input", "check the highlighted fields", ("absence",))
        for pupil, absences in chosen.items():
            body = validated(MotivateIn, {"student_id": pupil, "reason": form.get("reason", ""),
                                          "document_ref": form.get("document_ref") or None, "absence_ids": absences})
            await services.call("grades", "motivate_absences", class_id=str(class_id), student_id=str(body.student_id),
                                reason=body.reason, document_ref=body.document_ref,
                                absence_ids=[str(a) for a in body.absence_ids])
            done += len(absences)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _homeroom_page(
            request, services, str(class_id), status_code=status_of(refusal), form=form, **flash_args(refusal)))
    return see_other(f"/web/homeroom/classes/{class_id}/absences?done={done}")
