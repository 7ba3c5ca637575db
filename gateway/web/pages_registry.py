"""The registry in the browser (issue 12): the registrar's (registry clerk's, or the university's
school admin's) person search, a person's page, match confirmation on re-enrolment, imports with
their progress and per-row report, the reports; the central authority's nomenclatures, reports
and corrections to decide.

Every page calls the RPC of the JSON route it mirrors (gateway/routes/registry*.py) with that
route's body model, and its policy entry names that route's roles; the registry service checks
roles and institution again.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from services.registry.fields import current_academic_year

from ..deps import ServicesDep
from ..registry_schemas import NomenclatureValueIn, RetireIn
from ..routes.registry_imports import problems_csv, send_import
from .forms import Refusal, flash_args, form_of, or_raise, page_or_refusal, status_of, validated
from .render import render, see_other

router = APIRouter(prefix="/web/registry", include_in_schema=False)
PAGE = 20
# a form's empty field is "no year" (all years, or the current one), not a mistake
YearQ = Annotated[str | None, Query(pattern=r"^(\d{4}-\d{4})?$")]
FORMATS = {"csv": "csv", "xlsx": "xlsx", "xml": "xml"}
MODES = ("accept_valid", "all_or_nothing", "validate")
UPLOAD_PIECE = 64 * 1024
FINISHED = ("done", "failed")


def _year(value: str | None) -> str:
    return value or current_academic_year(date.today())


def _year_or_none(value: str | None) -> str | None:
    return value or None


# --- persons ---------------------------------------------------------------------------------------
@router.get("/persons", summary="Search the registry's persons: matriculation code, CNP or name")
async def persons(request: Request, services: ServicesDep, q: Annotated[str, Query(max_length=100)] = "",
                  offset: Annotated[int, Query(ge=0)] = 0):
    found = await services.call("registry", "list_persons", q=q.strip() or None, status=None, limit=PAGE,
                                offset=offset)
    return render(request, "registry_persons.html", found=found, q=q)


@router.get("/persons/{person_id}", summary="A person's record, versions, enrolments and diplomas")
async def person(person_id: UUID, request: Request, services: ServicesDep,
                 offset: Annotated[int, Query(ge=0)] = 0):
    pid = str(person_id)
    record = await services.call("registry", "get_person", person_id=pid)
    history = await services.call("registry", "person_history", person_id=pid, limit=50, offset=offset)
    enrolments = await services.call("registry", "list_enrolments", person_id=pid)
    diplomas = await services.call("registry", "list_diplomas", person_id=pid)
    return render(request, "registry_person.html", person=record, history=history["items"], offset=offset,
                  enrolments=enrolments["items"], diplomas=diplomas["items"], page_size=50)


# --- match candidates ------------------------------------------------------------------------------
async def _matches(request: Request, services: ServicesDep, *, status_code: int = 200, failed: str | None = None,
                   **flash):
    pending = (await services.call("registry", "list_matches", status="pending", limit=200, offset=0))["items"]
    return render(request, "registry_matches.html", status_code=status_code, pending=pending, failed=failed,
                  done=request.query_params.get("done"), **flash)


@router.get("/matches", summary="Match candidates on re-enrolment, with the common data, to confirm or reject")
async def matches(request: Request, services: ServicesDep):
    return await _matches(request, services)


@router.post("/matches/{candidate_id}/decision", summary="Confirm (decision=confirm) or reject a match candidate")
async def decide_match(candidate_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        decision = form.get("decision")
        if decision not in ("confirm", "reject"):
            raise Refusal("invalid_input", "check the highlighted fields", ("decision",))
        await services.call("registry", "decide_match", candidate_id=str(candidate_id), confirm=decision == "confirm")
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _matches(
            request, services, status_code=status_of(refusal), failed=str(candidate_id), **flash_args(refusal)))
    return see_other(f"/web/registry/matches?done={decision}")


# --- imports ---------------------------------------------------------------------------------------
def _import_form(request: Request, *, status_code: int = 200, form: dict | None = None, **flash):
    return render(request, "registry_import_new.html", status_code=status_code, form=form or {}, modes=MODES,
                  **flash)


@router.get("/imports", summary="Upload a file to import (CSV, XLSX or XML)")
async def import_form(request: Request):
    return _import_form(request)


async def _pieces(upload: UploadFile):
    while piece := await upload.read(UPLOAD_PIECE):
        yield piece


@router.post("/imports", summary="Start an import from the uploaded file; then its job page")
async def start_import(request: Request, services: ServicesDep):
    form = await form_of(request)
    upload = (await request.form()).get("file")
    try:
        mode = form.get("mode") or "accept_valid"
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Refusal("invalid_input", "check the highlighted fields", ("file",))
        fmt = FORMATS.get(upload.filename.rsplit(".", 1)[-1].lower())
        if fmt is None or mode not in MODES:
            raise Refusal("invalid_input", "check the highlighted fields", ("file",) if fmt is None else ("mode",))
        job = await services.call("registry", "start_import", format=fmt, mode=mode)
        job = await send_import(services, job["id"], _pieces(upload))
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return _import_form(request, status_code=status_of(refusal), form=form, **flash_args(refusal))
    return see_other(f"/web/registry/imports/{job['id']}")


@router.get("/imports/{job_id}", summary="An import's progress and its per-row report")
async def import_job(job_id: UUID, request: Request, services: ServicesDep):
    job = await services.call("registry", "get_import_job", job_id=str(job_id))
    return render(request, "registry_import_job.html", job=job, finished=job["status"] in FINISHED)


@router.get("/imports/{job_id}/progress", summary="An import's progress as JSON (for the page's script)")
async def import_progress(job_id: UUID, services: ServicesDep):
    job = await services.call("registry", "get_import_job", job_id=str(job_id))
    return JSONResponse({**job, "finished": job["status"] in FINISHED}, headers={"Cache-Control": "no-store"})


@router.get("/imports/{job_id}/problems.csv", summary="An import's per-row report (row, field, message) as CSV")
async def import_problems(job_id: UUID, services: ServicesDep):
    return await problems_csv(services, str(job_id))


# --- reports ---------------------------------------------------------------------------------------
REPORTS = ("counts", "late-changes", "double-financing", "statistics")


async def _report(request: Request, kind: str, data: dict, year: str | None = None):
    return render(request, "registry_reports.html", kind=kind, data=data, year=year)


@router.get("/reports/counts", summary="Students per institution, cycle, programme, financing and year")
async def report_counts(request: Request, services: ServicesDep, academic_year: YearQ = None):
    year = _year(academic_year)
    return await _report(request, "counts", await services.call("registry", "report_counts", academic_year=year), year)


@router.get("/reports/late-changes", summary="Status changes recorded after 15 working days (REG-3)")
async def report_late(request: Request, services: ServicesDep, offset: Annotated[int, Query(ge=0)] = 0):
    data = await services.call("registry", "report_late_changes", limit=200, offset=offset)
    return await _report(request, "late-changes", {**data, "offset": offset})


@router.get("/reports/double-financing", summary="Persons budget-funded twice in one cycle and year")
async def report_double(request: Request, services: ServicesDep, academic_year: YearQ = None):
    year = _year(academic_year)
    data = await services.call("registry", "report_double_financing", academic_year=year)
    return await _report(request, "double-financing", data, year)


@router.get("/reports/statistics", summary="Statistics without personal data (small cells suppressed)")
async def report_statistics(request: Request, services: ServicesDep, academic_year: YearQ = None):
    year = _year(academic_year)
    data = await services.call("registry", "report_statistics", academic_year=year)
    return await _report(request, "statistics", data, year)


# --- nomenclatures (the central authority) ---------------------------------------------------------
async def _nomenclatures(request: Request, services: ServicesDep, name: str | None, year: str | None, *,
                         status_code: int = 200, form: dict | None = None, failed: str | None = None, **flash):
    every = (await services.call("registry", "list_nomenclatures", nomenclature=None, academic_year=year))
    names = sorted(every["nomenclatures"])
    name = name if name in names else (names[0] if names else None)
    values = every["nomenclatures"].get(name, [])
    return render(request, "registry_nomenclatures.html", status_code=status_code, names=names, name=name,
                  values=values, year=year or "", form=form or {}, failed=failed,
                  done=request.query_params.get("done"), next_year=current_academic_year(date.today()), **flash)


@router.get("/nomenclatures", summary="The nomenclatures per academic year: values, add, retire")
async def nomenclatures(request: Request, services: ServicesDep,
                        name: Annotated[str | None, Query(max_length=40)] = None, academic_year: YearQ = None):
    return await _nomenclatures(request, services, name, _year_or_none(academic_year))


def _back_to(name: str, done: str) -> str:
    return "/web/registry/nomenclatures?" + urlencode({"name": name, "done": done})


@router.post("/nomenclatures/{name}/values", summary="Add a value from an academic year on")
async def add_value(name: str, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(NomenclatureValueIn, {"code": form.get("code", ""), "label": form.get("label", ""),
                                               "valid_from": form.get("valid_from", "")})
        await services.call("registry", "add_nomenclature_value", nomenclature=name[:40], code=body.code,
                            label=body.label, valid_from=body.valid_from)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _nomenclatures(
            request, services, name[:40], None, status_code=status_of(refusal), form=form, failed="add",
            **flash_args(refusal)))
    return see_other(_back_to(name[:40], "added"))


@router.post("/nomenclatures/{name}/values/{code}/retire", summary="Retire a value after an academic year")
async def retire_value(name: str, code: str, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(RetireIn, {"last_valid_year": form.get("last_valid_year", ""),
                                    "reason": form.get("reason", "")})
        await services.call("registry", "retire_nomenclature_value", nomenclature=name[:40], code=code[:60],
                            last_valid_year=body.last_valid_year, reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _nomenclatures(
            request, services, name[:40], None, status_code=status_of(refusal), form=form, failed=code[:60],
            **flash_args(refusal)))
    return see_other(_back_to(name[:40], "retired"))


# --- corrections of archived records ---------------------------------------------------------------
async def _corrections(request: Request, services: ServicesDep, *, status_code: int = 200,
                       failed: str | None = None, **flash):
    pending = (await services.call("registry", "list_corrections", status="pending", limit=200, offset=0))["items"]
    return render(request, "registry_corrections.html", status_code=status_code, pending=pending, failed=failed,
                  done=request.query_params.get("done"), **flash)


@router.get("/corrections", summary="Corrections of archived records awaiting the central authority")
async def corrections(request: Request, services: ServicesDep):
    return await _corrections(request, services)


@router.post("/corrections/{correction_id}/decision", summary="Approve (approve=yes) or reject a correction")
async def decide_correction(correction_id: UUID, request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        approve = {"yes": True, "no": False}.get(form.get("approve", ""))
        if approve is None:
            raise Refusal("invalid_input", "check the highlighted fields", ("approve",))
        await services.call("registry", "decide_correction", correction_id=str(correction_id), approve=approve)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await page_or_refusal(request, refusal, _corrections(
            request, services, status_code=status_of(refusal), failed=str(correction_id), **flash_args(refusal)))
    return see_other("/web/registry/corrections?done=" + ("approved" if approve else "rejected"))
