"""Authorisation matrix rows of the complete catalog (issue 6): grades' versions and history,
qualifiers and conduct, school years, curriculum, transfers, absences and their motivation,
delegation, closing, amendments, re-examinations, views, alerts and catalog messages.

Records made once (`_prepare`): "A.hr_class", a class of the demo year whose homeroom teacher is
the matrix's teacher (who also teaches Matematică there) with both students; "A.primary", a
level-II class assessed by qualifiers; "A.closed_class" in a closed year (re-examinations); a
throwaway delegate teacher (delegations approved in cells must not give the matrix's own
teachers any right); in B a school year, a delegation and an absence for "other-tenant".
"""
from __future__ import annotations

import itertools
from datetime import date, timedelta

from deploy.local.demo_catalog import seeded
from tests.e2e.authz import (ADM, ADMT, CREATED, DIR, INT, MATRIX, NOT_FOUND, NOT_TEACHING, OK, PAR,
                             PARENTS_OWN_CHILDREN, PREPARE, STU, STU2, TCH, TCH2, Call, Row, World, only,
                             person_body, route, unique)

STUDENTS_OWN = (403, "forbidden", "students see only their own grades")
NOT_IN_CLASS = (403, "forbidden", "you do not teach in this class")
HOMEROOM_MOTIVATES = (403, "forbidden", "only the class's homeroom teacher motivates absences")
HOMEROOM_CONDUCT = (403, "forbidden", "only the class's homeroom teacher proposes conduct grades")
HOMEROOM_ABSENCES = (403, "forbidden", "only the director and the homeroom teacher see all of a class's absences")
REVOKER_ONLY = (403, "forbidden", "only the director or the teacher who asked for it revokes a delegation")
PARENTS_ASK_OWN = (403, "forbidden", "parents ask only for their own children")


def admins_may_not(what: str) -> tuple:
    return 403, "forbidden", f"administrators may not {what}"


_slots = itertools.count(0)


def _lesson() -> tuple[str, int]:
    """A (date, hour) no absence of the demo pupil has used yet: absences are unique per pupil,
    date, hour and subject, cancelled ones included."""
    n = next(_slots)
    return (date.today() - timedelta(days=n // 14)).isoformat(), n % 14 + 1
_years = itertools.count(2040)


# --- rows ---------------------------------------------------------------------------------------
WRITERS = {TCH: OK, TCH2: NOT_TEACHING}
MATRIX.update({
    ("PATCH", "/v1/grades/{grade_id}"): Row(
        only({**WRITERS, ADMT: admins_may_not("change grades")}),
        variants={"other-tenant": {TCH: NOT_FOUND, TCH2: NOT_FOUND}, "other-record": {TCH: NOT_TEACHING}}),
    ("POST", "/v1/grades/{grade_id}/cancel"): Row(
        only({**WRITERS, ADMT: admins_may_not("cancel grades")}),
        variants={"other-tenant": {TCH: NOT_FOUND, TCH2: NOT_FOUND}, "other-record": {TCH: NOT_TEACHING}}),
    # the director, the grade's teacher, the pupil and their parents; nobody of another school
    ("GET", "/v1/grades/{grade_id}/history"): Row(
        only({DIR: OK, TCH: OK, TCH2: NOT_TEACHING, ADMT: NOT_TEACHING, PAR: PARENTS_OWN_CHILDREN, STU: OK,
              STU2: STUDENTS_OWN}),
        variants={"other-tenant": {c: NOT_FOUND for c in (DIR, TCH, TCH2, ADMT, PAR, STU, STU2)}}),
    ("PUT", "/v1/classes/{class_id}/qualifiers"): Row(
        only({**WRITERS, ADMT: admins_may_not("set qualifiers")}),
        variants={"other-tenant": {TCH: NOT_FOUND, TCH2: NOT_FOUND}}),
    ("PUT", "/v1/classes/{class_id}/conduct"): Row(
        only({TCH: OK, TCH2: HOMEROOM_CONDUCT, ADMT: admins_may_not("set conduct grades")}),
        variants={"other-tenant": {TCH: NOT_FOUND, TCH2: NOT_FOUND}}),
    ("POST", "/v1/school-years"): Row(only({ADM: CREATED, DIR: CREATED, ADMT: CREATED})),
    ("GET", "/v1/school-years"): Row(only({ADM: OK, DIR: OK, TCH: OK, TCH2: OK, ADMT: OK}),
                                     hidden={c: ("B.school_year",) for c in (ADM, DIR, TCH, TCH2, ADMT)}),
    ("PUT", "/v1/school-years/{school_year_id}/settings"): Row(
        only({ADM: OK, DIR: OK, ADMT: OK}),
        variants={"other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND}}),
    # a teacher lists the classes they teach or lead, nothing else
    ("GET", "/v1/classes"): Row(only({ADM: OK, DIR: OK, TCH: OK, TCH2: OK, ADMT: OK}),
                                hidden={TCH2: ("A.class", "A.hr_class")}),
    ("PUT", "/v1/classes/{class_id}/curriculum/{subject_id}"): Row(
        only({ADM: OK, DIR: OK, ADMT: OK}),
        variants={"other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND}}),
    ("POST", "/v1/classes/{class_id}/students/{student_id}/transfer-out"): Row(
        only({ADM: OK, DIR: OK, ADMT: OK}),
        variants={"other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND}}),
    ("PUT", "/v1/classes/{class_id}/students/{student_id}/postponed"): Row(
        only({DIR: OK}), variants={"other-tenant": {DIR: NOT_FOUND}}),
    # CAT-13/CAT-18 for absences: the subject's teacher; administrators never
    ("POST", "/v1/absences"): Row(
        only({TCH: CREATED, TCH2: NOT_TEACHING, ADMT: admins_may_not("record absences")}),
        variants={"other-tenant-body": {TCH: NOT_FOUND, TCH2: NOT_FOUND}, "other-record": {TCH: NOT_TEACHING}}),
    ("POST", "/v1/absences/{absence_id}/cancel"): Row(
        only({**WRITERS, ADMT: admins_may_not("cancel absences")}),
        variants={"other-tenant": {TCH: NOT_FOUND, TCH2: NOT_FOUND}}),
    # the whole class: the director and the homeroom teacher; one pupil: also the pupil and parents
    ("GET", "/v1/classes/{class_id}/absences"): Row(
        only({DIR: OK, TCH: OK, TCH2: HOMEROOM_ABSENCES, ADMT: HOMEROOM_ABSENCES, PAR: OK, STU: OK, STU2: OK}),
        variants={"other-record": {PAR: PARENTS_OWN_CHILDREN, STU: STUDENTS_OWN, STU2: STUDENTS_OWN,
                                   TCH2: NOT_TEACHING, ADMT: NOT_TEACHING},
                  "other-tenant": {c: NOT_FOUND for c in (DIR, TCH, TCH2, ADMT, PAR, STU, STU2)}}),
    ("POST", "/v1/classes/{class_id}/absences/motivate"): Row(
        only({TCH: OK, TCH2: HOMEROOM_MOTIVATES, ADMT: admins_may_not("motivate absences")}),
        variants={"other-tenant": {TCH: NOT_FOUND, TCH2: NOT_FOUND}}),
    ("POST", "/v1/motivation-requests"): Row(only({PAR: CREATED}), variants={"other-record": {PAR: PARENTS_ASK_OWN}}),
    ("GET", "/v1/motivation-requests"): Row(only({DIR: OK, TCH: OK, TCH2: OK, ADMT: OK, PAR: OK}),
                                            hidden={TCH2: ("A.motivation_request",),
                                                    ADMT: ("A.motivation_request",)}),
    ("POST", "/v1/motivation-requests/{request_id}/decision"): Row(only({DIR: OK})),
    # CAT-14: asked for by the subject's teacher or the school, decided by the director
    ("POST", "/v1/delegations"): Row(
        only({TCH: CREATED, TCH2: NOT_TEACHING, DIR: CREATED, ADM: CREATED, ADMT: CREATED}),
        variants={"other-tenant": {c: NOT_FOUND for c in (TCH, TCH2, DIR, ADM, ADMT)},
                  "other-tenant-body": {c: NOT_FOUND for c in (TCH, TCH2, DIR, ADM, ADMT)}}),
    ("GET", "/v1/delegations"): Row(only({TCH: OK, TCH2: OK, DIR: OK, ADM: OK, ADMT: OK}),
                                    hidden={TCH2: ("A.delegation",)}),
    ("POST", "/v1/delegations/{delegation_id}/decision"): Row(
        only({DIR: OK}), variants={"other-tenant": {DIR: NOT_FOUND}}),
    ("POST", "/v1/delegations/{delegation_id}/revoke"): Row(
        only({TCH: OK, DIR: OK, TCH2: REVOKER_ONLY, ADM: REVOKER_ONLY, ADMT: REVOKER_ONLY}),
        variants={"other-tenant": {c: NOT_FOUND for c in (TCH, TCH2, DIR, ADM, ADMT)}}),
    # closing is the director's alone
    ("GET", "/v1/periods/{period_id}/closing-check"): Row(only({DIR: OK}), variants={"other-tenant": {DIR: NOT_FOUND}}),
    ("POST", "/v1/periods/{period_id}/close"): Row(only({DIR: OK}), variants={"other-tenant": {DIR: NOT_FOUND}}),
    ("POST", "/v1/periods/{period_id}/reopen"): Row(only({DIR: OK}), variants={"other-tenant": {DIR: NOT_FOUND}}),
    ("POST", "/v1/school-years/{school_year_id}/close"): Row(only({DIR: OK}),
                                                            variants={"other-tenant": {DIR: NOT_FOUND}}),
    ("POST", "/v1/periods/{period_id}/amendments"): Row(only({DIR: CREATED}),
                                                       variants={"other-tenant": {DIR: NOT_FOUND}}),
    ("POST", "/v1/classes/{class_id}/reexaminations"): Row(
        only({DIR: CREATED, TCH: CREATED, TCH2: NOT_TEACHING, ADMT: admins_may_not("record grades")}),
        variants={"other-tenant": {DIR: NOT_FOUND, TCH: NOT_FOUND, TCH2: NOT_FOUND}}),
    # views
    ("GET", "/v1/classes/{class_id}/catalog"): Row(
        only({DIR: OK, TCH: OK, TCH2: NOT_IN_CLASS, ADMT: OK, INT: OK}),
        variants={"other-tenant": {c: NOT_FOUND for c in (DIR, TCH, TCH2, ADMT, INT)}}),
    ("GET", "/v1/classes/{class_id}/students/{student_id}/report-card"): Row(
        only({DIR: OK, TCH: OK, TCH2: NOT_IN_CLASS, ADMT: OK, INT: OK, PAR: OK, STU: OK, STU2: OK}),
        variants={"other-record": {STU: STUDENTS_OWN, STU2: STUDENTS_OWN, PAR: PARENTS_OWN_CHILDREN},
                  "other-tenant": {c: NOT_FOUND for c in (DIR, TCH, TCH2, ADMT, INT, PAR, STU, STU2)}}),
    ("GET", "/v1/me/classes"): Row(only({TCH: OK, TCH2: OK, ADMT: OK}), hidden={TCH2: ("A.class",)}),
    ("GET", "/v1/me/children"): Row(only({PAR: OK}), hidden={PAR: ("A.student_person",)}),
    ("GET", "/v1/alerts"): Row(only({DIR: OK, TCH: OK, TCH2: OK, ADMT: OK})),
    ("GET", "/v1/me/catalog-notices"): Row(only({PAR: OK, STU: OK, STU2: OK})),
    ("PUT", "/v1/me/catalog-notices"): Row(only({PAR: OK, STU: OK, STU2: OK})),
})


# --- records ------------------------------------------------------------------------------------
def _periods(year: str) -> list[dict]:
    start = int(year[:4])
    return [{"name": "Semestrul I", "starts_on": f"{start}-09-08", "ends_on": f"{start + 1}-01-23"},
            {"name": "Semestrul al II-lea", "starts_on": f"{start + 1}-02-02", "ends_on": f"{start + 1}-06-19"}]


def _year_name() -> str:
    start = next(_years)
    return f"{start}-{start + 1}"


def fresh_year(w: World, tenant: str = "A") -> dict:
    name = _year_name()
    return w.ok("POST", "/v1/school-years", w.admin(tenant), json={"name": name, "structure": "semesters",
                                                                    "periods": _periods(name)})


def _current_period(w: World) -> str:
    today = date.today().isoformat()
    periods = w.p.demo["catalog"]["school_year"]["periods"]
    return next(p["id"] for p in periods if p["starts_on"] <= today <= p["ends_on"])


def _class(w: World, year: str, *, level: int | None = 9, homeroom: str | None = None) -> str:
    adm = w.admin("A")
    klass = w.ok("POST", "/v1/classes", adm, json={"name": unique("cls")[:50], "school_year": year,
                                                    "level": level})["id"]
    if homeroom:
        w.ok("PUT", f"/v1/classes/{klass}/homeroom", adm, json={"teacher_id": homeroom})
    return klass


def _prepare(w: World) -> None:
    ids, adm, tch = w.ids, w.admin("A"), w.people[TCH]
    demo_year = w.p.demo["catalog"]["school_year"]
    ids["A.school_year"], ids["A.period"] = demo_year["id"], _current_period(w)
    ids["A.hr_class"] = _class(w, demo_year["name"], homeroom=tch.user_id)
    w.ok("POST", f"/v1/classes/{ids['A.hr_class']}/teachers", adm,
         json={"subject_id": ids["A.math"], "teacher_id": tch.user_id})
    for person in ("A.student_person", "A.student2_person"):
        w.ok("POST", f"/v1/classes/{ids['A.hr_class']}/students", adm, json={"student_id": ids[person]})
    ids["A.primary"] = _class(w, demo_year["name"], level=2)
    ids["A.primary_subject"] = w.ok("POST", "/v1/subjects", adm, json={"name": unique("Comunicare"),
                                                                       "weekly_hours": 5})["id"]
    w.ok("POST", f"/v1/classes/{ids['A.primary']}/teachers", adm,
         json={"subject_id": ids["A.primary_subject"], "teacher_id": tch.user_id})
    w.ok("POST", f"/v1/classes/{ids['A.primary']}/students", adm, json={"student_id": ids["A.student_person"]})
    # a grade of a subject the matrix's teacher does not teach (its own teacher wrote it)
    other = w.sign_in(w.new_account(TCH))
    chem = w.ok("POST", "/v1/subjects", adm, json={"name": unique("Chimie"), "weekly_hours": 2})["id"]
    w.ok("POST", f"/v1/classes/{ids['A.class']}/teachers", adm, json={"subject_id": chem, "teacher_id": other.user_id})
    ids["A.other_grade"] = w.ok("POST", "/v1/grades", other.token, json={
        "class_id": ids["A.class"], "subject_id": chem, "student_id": ids["A.student_person"], "value": 8})["id"]
    ids["A.delegate_teacher"] = w.new_account(TCH).user_id
    ids["A.delegation"] = w.ok("POST", "/v1/delegations", adm, json=_delegation_body(w, "A"))["id"]
    ids["A.motivation_request"] = _motivation_request(w)
    # a closed year with a class where the matrix's teacher teaches Matematică (re-examinations)
    closed = fresh_year(w)
    ids["A.closed_class"] = _class(w, closed["name"])
    w.ok("POST", f"/v1/classes/{ids['A.closed_class']}/teachers", adm,
         json={"subject_id": ids["A.math"], "teacher_id": tch.user_id})
    w.ok("POST", f"/v1/school-years/{closed['id']}/close", w.token(DIR), json={"confirm": True})
    ids["A.spare_period"] = fresh_year(w)["periods"][0]["id"]
    # tenant B
    b_year = fresh_year(w, "B")
    ids["B.school_year"], ids["B.period"] = b_year["id"], b_year["periods"][0]["id"]
    ids["B.delegation"] = w.ok("POST", "/v1/delegations", w.admin("B"), json={
        "class_id": ids["B.class"], "subject_id": ids["B.subject"], "delegate_id": ids["B.teacher"],
        "starts_on": date.today().isoformat(), "ends_on": date.today().isoformat(), "reason": "înlocuire"})["id"]
    ids["B.absence"] = w.ok("POST", "/v1/absences", ids["token.B.teacher"], json={
        "class_id": ids["B.class"], "subject_id": ids["B.subject"], "occurred_on": date.today().isoformat(),
        "hour": 1, "student_ids": [ids["B.student_person"]]})["items"][0]["id"]


PREPARE.append(_prepare)


def _delegation_body(w: World, tenant: str, *, delegate: str | None = None) -> dict:
    ids = w.ids
    klass, subject = (ids["A.class"], ids["A.math"]) if tenant == "A" else (ids["B.class"], ids["B.subject"])
    return {"class_id": klass, "subject_id": subject, "delegate_id": delegate or ids["A.delegate_teacher"],
            "starts_on": date.today().isoformat(), "ends_on": date.today().isoformat(), "reason": "concediu"}


def _motivation_request(w: World) -> str:
    # one school day of the demo year's first module (a Monday in the past)
    return w.ok("POST", "/v1/motivation-requests", w.token(PAR), json={
        "student_id": w.ids["A.student2_person"], "from_date": seeded("2026-10-05"), "to_date": seeded("2026-10-05"),
        "reason": "programare la medic"})["id"]


def _fresh_grade(w: World) -> dict:
    return w.ok("POST", "/v1/grades", w.token(TCH), json={
        "class_id": w.ids["A.class"], "subject_id": w.ids["A.math"], "student_id": w.ids["A.student_person"],
        "value": 7})


def _fresh_absence(w: World, klass: str = "A.class") -> dict:
    day, hour = _lesson()
    return w.ok("POST", "/v1/absences", w.token(TCH), json={
        "class_id": w.ids[klass], "subject_id": w.ids["A.math"], "occurred_on": day, "hour": hour,
        "student_ids": [w.ids["A.student_person"]]})["items"][0]


def _fresh_person(w: World, klass: str) -> str:
    person = w.ok("POST", "/v1/registry/persons", w.admin("A"), json=person_body())["id"]
    w.ok("POST", f"/v1/classes/{klass}/students", w.admin("A"), json={"student_id": person})
    return person


# --- builders -----------------------------------------------------------------------------------
def _grade_target(w: World, v: str) -> tuple[str, int]:
    if v == "other-tenant":
        return w.ids["B.grade"], 1
    if v == "other-record":
        return w.ids["A.other_grade"], 1
    grade = _fresh_grade(w)
    return grade["id"], grade["version"]


@route("PATCH", "/v1/grades/{grade_id}")
def _change(w, c, v):
    grade, version = _grade_target(w, v)
    return Call(w.token(c), "PATCH", f"/v1/grades/{grade}",
                json={"expected_version": version, "value": 8, "reason": "corectare"})


@route("POST", "/v1/grades/{grade_id}/cancel")
def _cancel(w, c, v):
    grade, version = _grade_target(w, v)
    return Call(w.token(c), "POST", f"/v1/grades/{grade}/cancel",
                json={"expected_version": version, "reason": "notă pusă din greșeală"})


@route("GET", "/v1/grades/{grade_id}/history")
def _history(w, c, v):
    grade = w.ids["B.grade" if v == "other-tenant" else "A.grade"]
    return Call(w.token(c), "GET", f"/v1/grades/{grade}/history")


@route("PUT", "/v1/classes/{class_id}/qualifiers")
def _qualifier(w, c, v):
    klass = w.ids["B.class" if v == "other-tenant" else "A.primary"]
    return Call(w.token(c), "PUT", f"/v1/classes/{klass}/qualifiers", json={
        "subject_id": w.ids["A.primary_subject"], "student_id": w.ids["A.student_person"],
        "period_id": w.ids["A.period"], "qualifier": "FB"})


@route("PUT", "/v1/classes/{class_id}/conduct")
def _conduct(w, c, v):
    klass = w.ids["B.class" if v == "other-tenant" else "A.hr_class"]
    return Call(w.token(c), "PUT", f"/v1/classes/{klass}/conduct", json={
        "student_id": w.ids["A.student_person"], "period_id": w.ids["A.period"], "value": 10})


@route("POST", "/v1/school-years")
def _new_year(w, c, v):
    name = _year_name()
    return Call(w.token(c), "POST", "/v1/school-years", json={"name": name, "structure": "semesters",
                                                               "periods": _periods(name)})


@route("GET", "/v1/school-years")
def _years_list(w, c, v):
    return Call(w.token(c), "GET", "/v1/school-years")


@route("PUT", "/v1/school-years/{school_year_id}/settings")
def _settings(w, c, v):
    year = w.ids["B.school_year" if v == "other-tenant" else "A.school_year"]
    return Call(w.token(c), "PUT", f"/v1/school-years/{year}/settings", json={"parent_motivation_days": 5})


@route("GET", "/v1/classes")
def _classes(w, c, v):
    return Call(w.token(c), "GET", "/v1/classes", params={"limit": 200})


@route("PUT", "/v1/classes/{class_id}/curriculum/{subject_id}")
def _curriculum(w, c, v):
    klass, subject = ((w.ids["B.class"], w.ids["B.subject"]) if v == "other-tenant"
                      else (w.ids["A.class"], w.ids["A.physics"]))
    return Call(w.token(c), "PUT", f"/v1/classes/{klass}/curriculum/{subject}", json={"weekly_hours": 2})


@route("POST", "/v1/classes/{class_id}/students/{student_id}/transfer-out")
def _transfer(w, c, v):
    if v == "other-tenant":
        klass, person = w.ids["B.class"], w.ids["B.student_person"]
    else:
        klass = w.ids["A.class"]
        person = _fresh_person(w, klass)
    return Call(w.token(c), "POST", f"/v1/classes/{klass}/students/{person}/transfer-out",
                json={"effective_on": date.today().isoformat(), "reason": "mutare la altă școală"})


@route("PUT", "/v1/classes/{class_id}/students/{student_id}/postponed")
def _postponed(w, c, v):
    klass, person = ((w.ids["B.class"], w.ids["B.student_person"]) if v == "other-tenant"
                     else (w.ids["A.class"], w.ids["A.student2_person"]))
    return Call(w.token(c), "PUT", f"/v1/classes/{klass}/students/{person}/postponed",
                json={"postponed": False, "reason": "situația se încheie normal"})


@route("POST", "/v1/absences")
def _absences(w, c, v):
    ids = w.ids
    klass, subject, pupil = {"own": ("A.class", "A.math", "A.student_person"),
                             "other-record": ("A.class", "A.physics", "A.student_person"),
                             "other-tenant-body": ("B.class", "B.subject", "B.student_person")}[v]
    if c == ADMT and v == "own":
        subject = "A.physics"
    day, hour = _lesson()
    return Call(w.token(c), "POST", "/v1/absences", json={
        "class_id": ids[klass], "subject_id": ids[subject], "occurred_on": day, "hour": hour,
        "student_ids": [ids[pupil]]})


@route("POST", "/v1/absences/{absence_id}/cancel")
def _cancel_absence(w, c, v):
    if v == "other-tenant":
        absence, version = w.ids["B.absence"], 1
    else:
        made = _fresh_absence(w)
        absence, version = made["id"], made["version"]
    return Call(w.token(c), "POST", f"/v1/absences/{absence}/cancel",
                json={"expected_version": version, "reason": "elevul era prezent"})


@route("GET", "/v1/classes/{class_id}/absences")
def _class_absences(w, c, v):
    ids = w.ids
    if v == "other-tenant":
        return Call(w.token(c), "GET", f"/v1/classes/{ids['B.class']}/absences")
    mine = {PAR: "A.student2_person", STU: "A.student_person", STU2: "A.student2_person"}
    other = {PAR: "A.student_person", STU: "A.student2_person", STU2: "A.student_person"}
    if v == "own":
        pupil = mine.get(c)
    else:
        pupil = other.get(c, "A.student_person")
    params = {"student_id": ids[pupil]} if pupil else None
    return Call(w.token(c), "GET", f"/v1/classes/{ids['A.hr_class']}/absences", params=params)


@route("POST", "/v1/classes/{class_id}/absences/motivate")
def _motivate(w, c, v):
    if v == "other-tenant":
        klass, absence_ids = w.ids["B.class"], [w.ids["B.absence"]]
    else:
        klass, absence_ids = w.ids["A.hr_class"], [_fresh_absence(w, "A.hr_class")["id"]]
    return Call(w.token(c), "POST", f"/v1/classes/{klass}/absences/motivate", json={
        "student_id": w.ids["A.student_person"], "reason": "school_activity", "absence_ids": absence_ids})


@route("POST", "/v1/motivation-requests")
def _ask_motivation(w, c, v):
    pupil = w.ids["A.student_person" if v == "other-record" else "A.student2_person"]
    return Call(w.token(c), "POST", "/v1/motivation-requests", json={
        "student_id": pupil, "from_date": seeded("2026-10-06"), "to_date": seeded("2026-10-06"), "reason": "probleme de familie"})


@route("GET", "/v1/motivation-requests")
def _motivation_requests(w, c, v):
    return Call(w.token(c), "GET", "/v1/motivation-requests", params={"limit": 200})


@route("POST", "/v1/motivation-requests/{request_id}/decision")
def _decide_motivation(w, c, v):
    request = _motivation_request(w) if c == DIR else w.ids["A.motivation_request"]
    return Call(w.token(c), "POST", f"/v1/motivation-requests/{request}/decision",
                json={"approve": False, "reason": "motivarea nu se justifică"})


@route("POST", "/v1/delegations")
def _ask_delegation(w, c, v):
    body = _delegation_body(w, "B" if v == "other-tenant" else "A",
                            delegate=w.ids["B.teacher"] if v == "other-tenant-body" else None)
    if v == "other-tenant":
        body["delegate_id"] = w.ids["A.delegate_teacher"]
    return Call(w.token(c), "POST", "/v1/delegations", json=body)


@route("GET", "/v1/delegations")
def _delegations(w, c, v):
    return Call(w.token(c), "GET", "/v1/delegations", params={"limit": 200})


@route("POST", "/v1/delegations/{delegation_id}/decision")
def _decide_delegation(w, c, v):
    if v == "other-tenant":
        delegation = w.ids["B.delegation"]
    elif c == DIR:
        delegation = w.ok("POST", "/v1/delegations", w.admin("A"), json=_delegation_body(w, "A"))["id"]
    else:
        delegation = w.ids["A.delegation"]
    return Call(w.token(c), "POST", f"/v1/delegations/{delegation}/decision", json={"approve": True})


@route("POST", "/v1/delegations/{delegation_id}/revoke")
def _revoke_delegation(w, c, v):
    if v == "other-tenant":
        delegation = w.ids["B.delegation"]
    else:
        delegation = w.ok("POST", "/v1/delegations", w.token(TCH), json=_delegation_body(w, "A"))["id"]
    return Call(w.token(c), "POST", f"/v1/delegations/{delegation}/revoke", json={"reason": "titularul revine"})


def _period_for(w: World, c: str, v: str, *, closed: bool = False) -> str:
    if v == "other-tenant":
        return w.ids["B.period"]
    if c != DIR:
        return w.ids["A.spare_period"]
    period = fresh_year(w)["periods"][0]["id"]
    if closed:
        w.ok("POST", f"/v1/periods/{period}/close", w.token(DIR), json={"confirm": True})
    return period


@route("GET", "/v1/periods/{period_id}/closing-check")
def _closing_check(w, c, v):
    period = w.ids["B.period"] if v == "other-tenant" else w.ids["A.period"]
    return Call(w.token(c), "GET", f"/v1/periods/{period}/closing-check")


@route("POST", "/v1/periods/{period_id}/close")
def _close_period(w, c, v):
    return Call(w.token(c), "POST", f"/v1/periods/{_period_for(w, c, v)}/close", json={"confirm": True})


@route("POST", "/v1/periods/{period_id}/reopen")
def _reopen(w, c, v):
    return Call(w.token(c), "POST", f"/v1/periods/{_period_for(w, c, v, closed=True)}/reopen",
                json={"reason": "corectură după ședința consiliului"})


@route("POST", "/v1/school-years/{school_year_id}/close")
def _close_year(w, c, v):
    year = w.ids["B.school_year"] if v == "other-tenant" else (
        fresh_year(w)["id"] if c == DIR else w.ids["A.school_year"])
    return Call(w.token(c), "POST", f"/v1/school-years/{year}/close", json={"confirm": True})


@route("POST", "/v1/periods/{period_id}/amendments")
def _amendment(w, c, v):
    ids = w.ids
    if v == "other-tenant":
        period, klass = ids["B.period"], ids["A.class"]
    elif c == DIR:
        year = fresh_year(w)
        klass = _class(w, year["name"])
        w.ok("POST", f"/v1/classes/{klass}/students", w.admin("A"), json={"student_id": ids["A.student_person"]})
        period = year["periods"][0]["id"]
        w.ok("POST", f"/v1/periods/{period}/close", w.token(DIR), json={"confirm": True})
    else:
        period, klass = ids["A.spare_period"], ids["A.class"]
    return Call(w.token(c), "POST", f"/v1/periods/{period}/amendments", json={
        "class_id": klass, "student_id": ids["A.student_person"], "subject_id": ids["A.math"],
        "reason": "notă omisă la transcriere"})


@route("POST", "/v1/classes/{class_id}/reexaminations")
def _reexamination(w, c, v):
    ids = w.ids
    if v == "other-tenant":
        klass, pupil = ids["B.class"], ids["B.student_person"]
    else:
        klass = ids["A.closed_class"]
        pupil = _fresh_person(w, klass) if c in (DIR, TCH) else ids["A.student_person"]
    return Call(w.token(c), "POST", f"/v1/classes/{klass}/reexaminations", json={
        "student_id": pupil, "subject_id": ids["A.math"], "kind": "incheiere", "average": "7.50"})


@route("GET", "/v1/classes/{class_id}/catalog")
def _catalog(w, c, v):
    return Call(w.token(c), "GET", f"/v1/classes/{w.ids['B.class' if v == 'other-tenant' else 'A.class']}/catalog")


@route("GET", "/v1/classes/{class_id}/students/{student_id}/report-card")
def _report_card(w, c, v):
    ids = w.ids
    if v == "other-tenant":
        klass, pupil = ids["B.class"], ids["B.student_person"]
    else:
        mine = {PAR: "A.student2_person", STU2: "A.student2_person"}
        other = {PAR: "A.student_person", STU: "A.student2_person", STU2: "A.student_person"}
        klass = ids["A.class"]
        pupil = ids[(mine if v == "own" else other).get(c, "A.student_person")]
    return Call(w.token(c), "GET", f"/v1/classes/{klass}/students/{pupil}/report-card")


for _path in ("/v1/me/classes", "/v1/me/children", "/v1/alerts", "/v1/me/catalog-notices"):
    route("GET", _path)(lambda w, c, v, _p=_path: Call(w.token(c), "GET", _p))


@route("PUT", "/v1/me/catalog-notices")
def _notices(w, c, v):
    return Call(w.token(c), "PUT", "/v1/me/catalog-notices", json={"grades": "digest", "absences": "immediate"})
