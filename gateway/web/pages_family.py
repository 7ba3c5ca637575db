"""Parents' and pupils' pages: each child's report card (grades, absences, averages) and a
parent's request to motivate absences; a pupil's own.

A parent's children come from the grades service's `my_children`, each child's card from its
`report_card` (the pupil's current class: the newest school year's); a pupil's class from
their own grades (the grades service has no "my class" view for pupils yet), so a pupil with
no grade sees the empty list.
"""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from ..catalog_schemas import MotivationRequestIn
from ..deps import ServicesDep
from . import sources
from .forms import flash_args, form_of, or_raise, status_of, validated
from .pages_teacher import marks, period_today, subject_cells
from .render import lang_of, render, see_other

router = APIRouter(prefix="/web", include_in_schema=False)


def card_rows(card: dict, lang: str) -> list[dict]:
    pupil = card["pupil"]
    period = period_today(card)
    key = period["id"] if period else "-"
    rows = []
    for s in card["subjects"]:
        grades, absences = subject_cells(pupil, s["id"])
        cell = pupil["subjects"].get(s["id"]) or {"periods": {}}
        rows.append({"subject": s["name"], "marks": marks(grades, lang, links=False), "absences": absences,
                     "average": (cell["periods"].get(key) or {}).get("average"),
                     "annual": cell.get("annual_average")})
    return rows


async def _card(services: ServicesDep, class_id: str, student_id: str, lang: str) -> dict:
    card = await services.call("grades", "report_card", class_id=class_id, student_id=student_id)
    return {"card": card, "rows": card_rows(card, lang), "period": period_today(card)}


def current_class(classes: list[dict]) -> dict | None:
    """The class of this school year (September to August), else the newest one enrolled in."""
    today = date.today()
    start = today.year if today.month >= 9 else today.year - 1
    enrolled = [c for c in classes if c["status"] == "enrolled"]
    return next((c for c in enrolled if c["school_year"] == f"{start}-{start + 1}"), enrolled[0] if enrolled else None)


# --- the parent ------------------------------------------------------------------------------------
async def _parent_page(request: Request, services: ServicesDep, *, status_code: int = 200, failed: str | None = None,
                       form: dict | None = None, **flash):
    lang = lang_of(request)
    children = (await services.call("grades", "my_children")).get("items", [])
    requests_ = await sources.all_items(services, "grades", "list_motivation_requests")
    kids = []
    for n, child in enumerate(children, 1):
        name = " ".join(x for x in (child.get("last_name"), child.get("first_name")) if x)
        current = current_class(child["classes"])
        kid = {"id": child["student_id"], "name": name, "number": n, "class": current,
               "requests": [r for r in requests_ if r["student_id"] == child["student_id"]]}
        if current:
            kid.update(await _card(services, current["class_id"], child["student_id"], lang))
            names = {s["id"]: s["name"] for s in kid["card"]["subjects"]}
            grades = (await sources.grades(services, student_id=child["student_id"]))["items"]
            kid["disputable"] = [{**g, "subject": names.get(g["subject_id"], "")} for g in grades
                                 if g.get("status") != "cancelled"]
        kids.append(kid)
    return render(request, "parent_grades.html", status_code=status_code, children=kids, today=date.today().isoformat(),
                  done=request.query_params.get("requested"), failed=failed, form=form or {}, **flash)


@router.get("/parent/grades", summary="A parent's children: report card, absences, motivation requests")
async def parent_grades(request: Request, services: ServicesDep):
    return await _parent_page(request, services)


@router.post("/parent/motivation-requests", summary="Ask the school to motivate a child's absences")
async def request_motivation(request: Request, services: ServicesDep):
    form = await form_of(request)
    try:
        body = validated(MotivationRequestIn, {"student_id": form.get("student_id", ""),
                                               "from_date": form.get("from_date") or None,
                                               "to_date": form.get("to_date") or None, "reason": form.get("reason", "")})
        await services.call("grades", "request_motivation", student_id=str(body.student_id),
                            from_date=body.from_date.isoformat(), to_date=body.to_date.isoformat(), reason=body.reason)
    except Exception as exc:  # noqa: BLE001
        refusal = or_raise(exc)
        return await _parent_page(request, services, status_code=status_of(refusal), failed=form.get("student_id"),
                                  form=form, **flash_args(refusal))
    return see_other("/web/parent/grades?requested=1")


# --- the pupil -------------------------------------------------------------------------------------
@router.get("/student/grades", summary="A pupil's own report card")
async def student_grades(request: Request, services: ServicesDep):
    page = await sources.grades(services)
    me = request.state.principal.person_id
    # the newest grade's class is the pupil's current class
    newest = max(page["items"], key=lambda g: g["awarded_on"], default=None)
    card = await _card(services, newest["class_id"], me, lang_of(request)) if newest and me else None
    names = {s["id"]: s["name"] for s in card["card"]["subjects"]} if card else {}
    disputable = [{**g, "subject": names.get(g["subject_id"], "")} for g in page["items"]
                  if g.get("status") != "cancelled"]
    return render(request, "student_grades.html", card=card, total=page.get("total", 0), disputable=disputable)
