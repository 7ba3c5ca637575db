"""The school year's remaining pages: a teacher's delegation requests, the homeroom teacher's
conduct proposal, the director's closing of the year, alerts about grade changes, a record's
audit history, the year-end documents (PDF, XLSX, the whole school's set as a job), and a
teacher's own warnings before a period closes.

Every form calls the same RPC as its JSON route, validated by the API's own body model; every
download streams through the API route's own function, so a page never builds a document.
"""
from __future__ import annotations

from datetime import date
from uuid import UUID

from fastapi import APIRouter, Request

from services.grades import averages as av
from services.kernel.errors import Forbidden, NotFound

from ..catalog_schemas import CloseIn, ConductIn, DelegationIn, RevokeIn
from ..deps import ServicesDep
from ..routes import documents
from . import sources
from .forms import Refusal, flash_args, form_of, or_raise, page_or_refusal, status_of, validated
from .i18n import translations
from .pages_director import describe_warnings
from .pages_teacher import full_catalog_of, period_today, pupil_name
from .render import lang_of, render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(UUID(value or ""))
    except ValueError:
        return None


# --- 1. a teacher's delegation requests (CAT-14) ------------------------------------------------------
async def _delegations_page(request: Request, services: ServicesDep, *, status_code: int = 200,
                            form: dict | None = None, failed: str | None = None, **flash):
    classes = await sources.teacher_classes(services)
    mine = await sources.all_items(services, "grades", "list_delegations")
    # what the teacher may delegate: the subjects assigned to them (a delegate does not pass it on)
    choices = [{"value": f"{c['class_id']}:{s['subject_id']}", "class_name": c["class_name"],
                "subject_name": s["subject_name"], "school_year": c["school_year"]}
               for c in classes for s in c["subjects"] if s["right"] == "assignment"]
    class_names = {c["class_id"]: c["class_name"] for c in classes}
    subject_names = {s["subject_id"]: s["subject_name"] for c in classes for s in c["subjects"]}
    people = {d[k] for d in mine for k in ("delegate_id", "requested_by")}
    names = (await services.call("auth", "names_for_documents", user_ids=sorted(people)))["members"] if people else {}
    me = request.state.principal.user_id
    return render(request, "teacher_delegations.html", status_code=status_code, choices=choices, delegations=mine,
                  class_names=class_names, subject_names=subject_names, names=names, me=me,
                  today=date.today().isoformat(), form=form or {}, failed=failed,
                  done=request.query_params.get("done"), **flash)


@router.get("/teacher/delegations", summary="A teacher's delegations: ask for one, follow and revoke them")
async def teacher_delegations(request: Request, services: ServicesDep):
    return await _delegations_page(request, services)


@router.post("/teacher/delegations", summary="Ask for another teacher to write one of my subjects for a while")
async def request_delegation(request: Request, services: ServicesDep):
    form = await form_of(request)
    class_id, _, subject_id = form.get("class_subject", "").partition(":")
    try:
        body = validated(DelegationIn, {"class_id": class_id, "subject_id": subject_id,
                                        "delegate_id": form.get("delegate_id", ""),
                                        "starts_on": form.get("starts_on") or None,
                                        "ends_on": form.get("ends_on") or None, "reason": form.get("reason", "")})
        await services.call("grades", "request_delegation", class_id=str(body.class_id),
                            subject_id=str(body.subject_id), delegate_id=str(body.delegate_id),
                            starts_on=body.starts_on.isoformat(), ends_on=body.ends_on.isoformat(),
                            reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        if set(refusal.fields) & {"class_id", "subject_id"}:
            refusal = Refusal(refusal.code, refusal.message, (*refusal.fields, "class_subject"))
        return await page_or_refusal(request, refusal, _delegations_page(
            request, services, status_code=status_of(refusal), form=form, failed="request", **flash_args(refusal)))
    return see_other("/web/teacher/delegations?done=requested")


@router.post("/teacher/delegations/{delegation_id}/revoke", summary="End a delegation I asked for, with a reason")
async def revoke_delegation(delegation_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(RevokeIn, {"reason": form.get("reason", "")})
        await services.call("grades", "revoke_delegation", delegation_id=str(delegation_id), reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _delegations_page(
            request, services, status_code=status_of(refusal), failed=f"revoke:{delegation_id}",
            **flash_args(refusal)))
    return see_other("/web/teacher/delegations?done=revoked")


# --- 2. the homeroom teacher's conduct proposal ----------------------------------------------------------
def _unmotivated_in(pupil: dict, period_id: str) -> int:
    return sum((cell["periods"].get(period_id) or {}).get("absences", {}).get("unmotivated", 0)
               for cell in pupil["subjects"].values())


async def _conduct_page(request: Request, services: ServicesDep, class_id: str, period_id: str | None, *,
                        status_code: int = 200, form: dict | None = None, **flash):
    catalog = await full_catalog_of(services, class_id)
    if catalog["class"]["homeroom_teacher_id"] != request.state.principal.user_id:
        raise Forbidden("only the class's homeroom teacher proposes conduct grades")
    periods = catalog["school_year"]["periods"]
    period = next((p for p in periods if p["id"] == period_id), None) or period_today(catalog) or \
        next(iter(periods), None)
    if period_id and period and period["id"] != period_id:
        raise NotFound("period not found")
    gettext = translations(lang_of(request)).gettext
    years = (await services.call("grades", "list_school_years")).get("items", [])
    year = next((y for y in years if y["id"] == catalog["school_year"]["id"]), None)
    thresholds = ((year or {}).get("settings") or {}).get("conduct_thresholds") or av.DEFAULT_CONDUCT_THRESHOLDS
    rows = []
    if period:
        for i, p in enumerate(catalog["pupils"], 1):
            if p["status"] != "enrolled":
                continue
            unmotivated = _unmotivated_in(p, period["id"])
            rows.append({"id": p["student_id"], "name": pupil_name(p, i, gettext), "unmotivated": unmotivated,
                         "suggested": av.conduct_suggestion(unmotivated, thresholds),
                         "current": p["conduct"]["periods"].get(period["id"])})
    return render(request, "homeroom_conduct.html", status_code=status_code, catalog=catalog, class_id=class_id,
                  period=period, periods=periods, rows=rows, form=form or {},
                  done=request.query_params.get("done"), **flash)


@router.get("/homeroom/classes/{class_id}/conduct", summary="The homeroom teacher's conduct grades of a period")
async def homeroom_conduct(class_id: UUID, request: Request, services: ServicesDep, period_id: UUID | None = None):
    return await _conduct_page(request, services, str(class_id), str(period_id) if period_id else None)


@router.post("/homeroom/classes/{class_id}/conduct", summary="Propose the conduct grades of a period")
async def homeroom_set_conduct(class_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    period_id = _uuid_or_none(form.get("period_id"))
    # a box still showing the grade already saved (`o-`: the page's copy of it) is not sent again
    entries = [(k[2:], v) for k, v in form.items()
               if k.startswith("c-") and v and (v != form.get(f"o-{k[2:]}") or form.get(f"r-{k[2:]}"))]
    saved = 0
    try:
        if period_id is None or not any(k.startswith("c-") and v for k, v in form.items()):
            raise Refusal("invalid_input", "check the highlighted fields", ("value",))
        bodies = []
        for student_id, value in entries:  # every box checked first: one wrong box saves none
            try:
                bodies.append(validated(ConductIn, {"student_id": student_id, "period_id": period_id,
                                                    "value": int(value) if value.isdigit() else value,
                                                    "reason": form.get(f"r-{student_id}") or None}))
            except Refusal as refusal:  # the box of this pupil, highlighted
                message = ("conduct grade must be a whole number from 1 to 10" if "value" in refusal.fields
                           else refusal.message)
                raise Refusal(refusal.code, message, tuple(f"{f}:{student_id}" for f in refusal.fields)) from None
        for body in bodies:
            await services.call("grades", "set_conduct_grade", class_id=str(class_id),
                                student_id=str(body.student_id), period_id=str(body.period_id), value=body.value,
                                reason=body.reason)
            saved += 1
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _conduct_page(
            request, services, str(class_id), period_id, status_code=status_of(refusal), form=form,
            **flash_args(refusal)))
    return see_other(f"/web/homeroom/classes/{class_id}/conduct?period_id={period_id}&done={saved}")


# --- 3. the director closes the school year ---------------------------------------------------------------
async def _year_closing(request: Request, services: ServicesDep, school_year_id: str, *, status_code: int = 200,
                        **flash):
    years = (await services.call("grades", "list_school_years")).get("items", [])
    year = next((y for y in years if y["id"] == school_year_id), None)
    if year is None:
        raise NotFound("school year not found")
    warnings, count = [], 0
    if not year["closed"]:
        for p in year["periods"]:
            if p["closed"]:
                continue
            check = await services.call("grades", "closing_check", period_id=p["id"])
            count += check["warning_count"]
            warnings.extend({**w, "period_name": p["name"]} for w in check["warnings"])
    describe_warnings(warnings, translations(lang_of(request)).gettext)
    return render(request, "director_close_year.html", status_code=status_code, year=year,
                  warnings=warnings[:500], warning_count=count, **flash)


@router.get("/director/school-years/{school_year_id}/close", summary="The school year's warnings before closing it")
async def year_closing_check(school_year_id: UUID, request: Request, services: ServicesDep):
    return await _year_closing(request, services, str(school_year_id))


@router.post("/director/school-years/{school_year_id}/close",
             summary="Close the school year (confirming its warnings): averages and situations are frozen")
async def close_year(school_year_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(CloseIn, {"confirm": form.get("confirm") == "yes"})
        await services.call("grades", "close_year", school_year_id=str(school_year_id), confirm=body.confirm)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _year_closing(
            request, services, str(school_year_id), status_code=status_of(refusal), **flash_args(refusal)))
    return see_other("/web/director/periods?done=year_closed")


# --- 4. alerts about grade changes, and a record's audit history --------------------------------------------
ALERTS_PER_PAGE = 50


@router.get("/alerts", summary="Grades changed, cancelled, or written by a delegate or under an amendment")
async def alerts(request: Request, services: ServicesDep, offset: int = 0):
    offset = min(max(offset, 0), 1_000_000)
    page = await services.call("grades", "list_alerts", limit=ALERTS_PER_PAGE, offset=offset)
    pupils = await sources.pupil_names(services, request.state.principal.tenant_id or "",
                                       [a["student_id"] for a in page["items"] if a.get("student_id")])
    total = page.get("total", 0)
    pages = {"previous": max(offset - ALERTS_PER_PAGE, 0) if offset > 0 else None,
             "next": offset + ALERTS_PER_PAGE if offset + ALERTS_PER_PAGE < total else None}
    return render(request, "alerts.html", alerts=page["items"], total=total, pupils=pupils, pages=pages)


HISTORY_TYPES = ("grade", "person", "final_mark", "delegation", "absence", "period", "school_year", "class")


@router.get("/audit/history/{entity_type}/{entity_id}", summary="Every change to one record: who, when, why")
async def audit_history(entity_type: str, entity_id: UUID, request: Request, services: ServicesDep,
                        after: int | None = None):
    if entity_type not in HISTORY_TYPES:
        raise NotFound("no history is kept for that kind of record")
    page = await services.call("audit", "entity_history", entity_type=entity_type, entity_id=str(entity_id),
                               after_sequence=max(0, min(after or 0, 2**62)) or None, limit=50)
    items = [{**e, "changes": _changes(e.get("before"), e.get("after"))} for e in page.get("items", [])]
    name = None
    if entity_type == "person":
        name = (await sources.pupil_names(services, request.state.principal.tenant_id or "", [str(entity_id)])
                ).get(str(entity_id))
    return render(request, "audit_history.html", entity_type=entity_type, entity_id=str(entity_id), items=items,
                  next_after=page.get("next_after_sequence"), name=name)


_HIDDEN_FIELDS = {"id", "tenant_id", "class_id", "subject_id", "student_id", "grade_id", "period_id", "version"}


def _changes(before: dict | None, after: dict | None) -> list[dict]:
    """What one event changed, field by field (ids left out: the page names the record)."""
    before, after = before or {}, after or {}
    out = []
    for key in dict.fromkeys([*after, *before]):
        if key in _HIDDEN_FIELDS or key.endswith("_id"):
            continue
        old, new = before.get(key), after.get(key)
        if old != new and not isinstance(new, (dict, list)) and not isinstance(old, (dict, list)):
            out.append({"field": key, "before": old, "after": new})
    return out[:12]


# --- 5. the year-end documents --------------------------------------------------------------------------
@router.get("/classes/{class_id}/documents/year-end-catalog.pdf", summary="The class's year-end catalog (PDF)")
async def year_end_catalog(class_id: UUID, services: ServicesDep):
    return await documents.year_end_catalog(class_id, services)


@router.get("/classes/{class_id}/documents/catalog.xlsx", summary="The class catalog as a spreadsheet (XLSX)")
async def catalog_xlsx(class_id: UUID, services: ServicesDep):
    return await documents.catalog_xlsx(class_id, services)


@router.post("/director/year-end-sets", summary="Generate the year-end catalogs of every class (a job)")
async def start_year_end_set(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(documents.YearEndSetIn, {"school_year": form.get("school_year", "")})
        job = await services.call("grades", "documents_start_year_end_set", school_year=body.school_year)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return render(request, "error.html", status_code=status_of(refusal), code=refusal.code,
                      message=refusal.message)
    return see_other(f"/web/director/year-end-sets/{job['id']}")


@router.get("/director/year-end-sets/{job_id}", summary="A year-end set's progress and files")
async def year_end_set(job_id: UUID, request: Request, services: ServicesDep):
    job = await services.call("grades", "documents_job", job_id=str(job_id))
    return render(request, "director_year_end_set.html", job=job)


@router.get("/director/year-end-sets/{job_id}/archive.zip", summary="Download a finished year-end set (ZIP)")
async def year_end_set_archive(job_id: UUID, services: ServicesDep):
    return await documents.year_end_set_archive(job_id, services)


# --- 6. a teacher's own warnings before a period closes -------------------------------------------------
async def _subject_warnings(services: ServicesDep, klass: dict, gettext) -> list[dict]:
    """The pupils of the teacher's subjects in one class with fewer grades than the period needs
    (the director's `closing_check` rule: weekly hours, at least 2, one more for a pupil at risk)."""
    catalog = await full_catalog_of(services, klass["class_id"])
    period = period_today(catalog)
    if period is None or period["closed"]:
        return []
    mine = {s["subject_id"] for s in klass["subjects"]}
    out = []
    for subject in catalog["subjects"]:
        if subject["id"] not in mine or subject.get("assessment") == "qualifiers":
            continue
        for i, pupil in enumerate(catalog["pupils"], 1):
            if pupil["status"] != "enrolled":
                continue
            cell = ((pupil["subjects"].get(subject["id"]) or {}).get("periods") or {}).get(period["id"]) or {}
            grades = [g["value"] for g in cell.get("grades", []) if isinstance(g.get("value"), int)]
            if subject.get("optional") and not grades:
                continue
            thesis = (cell.get("thesis") or {}).get("value")
            needed = av.minimum_grades(subject["weekly_hours"], at_risk=av.at_risk(grades, thesis))
            if len(grades) < needed:
                out.append({"class_id": klass["class_id"], "class_name": klass["class_name"],
                            "subject_id": subject["id"], "subject_name": subject["name"],
                            "period_name": period["name"], "period_ends_on": period["ends_on"],
                            "pupil": pupil_name(pupil, i, gettext), "have": len(grades), "needed": needed})
    return out


@router.get("/teacher/closing-warnings", summary="My subjects' pupils with too few grades for the period")
async def teacher_closing_warnings(request: Request, services: ServicesDep):
    gettext = translations(lang_of(request)).gettext
    warnings = []
    for klass in await sources.teacher_classes(services):
        if klass["subjects"]:
            warnings.extend(await _subject_warnings(services, klass, gettext))
    return render(request, "teacher_closing_warnings.html", warnings=warnings)

