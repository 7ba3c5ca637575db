"""Authorisation matrix rows of the catalog's data-subject rights (issue 11, rgrades): grade disputes,
and a school's portability (export of the whole catalog; import only into a fresh school, so the
matrix's school, which has a catalog, is refused with 409: the successful import is in
tests/e2e/test_rights_grades.py).

Records made once (`_prepare`): "A.dispute", the demo student's dispute of a Matematică grade
(no other pupil, parent or teacher may see it in their list), and in B a dispute rejected by
B's teacher ("B.dispute", for the other-tenant cells). Each cell that decides or escalates gets
a fresh grade and dispute of its own: the demo student's, open (variant "own") or rejected by the
teacher and escalated ("escalated").
"""
from __future__ import annotations

from tests.e2e.authz import (ADM, ADMT, CREATED, DIR, NOT_FOUND, OK, PAR, STU, STU2, TCH, TCH2, Call, MATRIX, PREPARE,
                             Row, World, only, route)

STUDENTS_OWN = (403, "forbidden", "students dispute only their own grades")
PARENTS_OWN = (403, "forbidden", "parents dispute only their own children's grades")
SUBJECT_TEACHER = (403, "forbidden", "only the subject's teacher decides this dispute")
TEACHER_FIRST = (409, "conflict", "the subject's teacher decides first")
DIRECTOR_DECIDES = (403, "forbidden", "an escalated dispute is decided by the director")
ADMINS_NEVER = (403, "forbidden", "administrators may not decide grade disputes")
REQUESTER_ONLY = (403, "forbidden", "only the person who opened the dispute may escalate it")
HAS_CATALOG = (409, "conflict", "already has a catalog")

MATRIX.update({
    ("POST", "/v1/rights/grade-disputes"): Row(
        only({STU: CREATED, STU2: CREATED, PAR: CREATED}),
        variants={"other-record": {STU: STUDENTS_OWN, STU2: STUDENTS_OWN, PAR: PARENTS_OWN},
                  "other-tenant-body": {STU: NOT_FOUND, STU2: NOT_FOUND, PAR: NOT_FOUND}}),
    ("GET", "/v1/rights/grade-disputes"): Row(
        only({STU: OK, STU2: OK, PAR: OK, TCH: OK, TCH2: OK, DIR: OK, ADMT: OK}),
        hidden={c: ("A.dispute",) for c in (STU2, PAR, TCH2, ADMT)}),
    ("POST", "/v1/rights/grade-disputes/{dispute_id}/decision"): Row(
        only({TCH: OK, TCH2: SUBJECT_TEACHER, ADMT: ADMINS_NEVER, DIR: TEACHER_FIRST}),
        variants={"escalated": {DIR: OK, TCH: DIRECTOR_DECIDES, TCH2: DIRECTOR_DECIDES},
                  "other-tenant": {TCH: NOT_FOUND, TCH2: NOT_FOUND, DIR: NOT_FOUND}}),
    ("POST", "/v1/rights/grade-disputes/{dispute_id}/escalation"): Row(
        only({STU: OK, STU2: REQUESTER_ONLY, PAR: REQUESTER_ONLY}),
        variants={"other-tenant": {STU: NOT_FOUND, STU2: NOT_FOUND, PAR: NOT_FOUND}}),
    ("GET", "/v1/school-export"): Row(only({ADM: OK, ADMT: OK})),
    ("POST", "/v1/school-import"): Row(only({ADM: HAS_CATALOG, ADMT: HAS_CATALOG})),
})


def _grade(w: World, person: str = "A.student_person", value: int = 5) -> str:
    return w.ok("POST", "/v1/grades", w.token(TCH), json={
        "class_id": w.ids["A.class"], "subject_id": w.ids["A.math"], "student_id": w.ids[person], "value": value})["id"]


def _dispute(w: World, *, escalated: bool = False, rejected: bool = False) -> str:
    dispute = w.ok("POST", "/v1/rights/grade-disputes", w.token(STU), json={
        "grade_id": _grade(w), "reason": "Am rezolvat corect exercițiul al doilea.", "proposed_value": 8})["id"]
    if escalated or rejected:
        w.ok("POST", f"/v1/rights/grade-disputes/{dispute}/decision", w.token(TCH),
             json={"approve": False, "reason": "Baremul a fost aplicat corect."})
    if escalated:
        w.ok("POST", f"/v1/rights/grade-disputes/{dispute}/escalation", w.token(STU),
             json={"reason": "Cer reanalizarea de către director."})
    return dispute


def _prepare(w: World) -> None:
    ids = w.ids
    ids["A.dispute"] = _dispute(w)
    # in B: a pupil's dispute, rejected by B's teacher
    pupil = w.new_account(STU, tenant="B")
    w.ok("POST", f"/v1/classes/{ids['B.class']}/students", w.admin("B"), json={"student_id": pupil.person_id})
    w.sign_in(pupil)
    ids["B.pupil_person"] = pupil.person_id
    own_grade = w.ok("POST", "/v1/grades", ids["token.B.teacher"], json={
        "class_id": ids["B.class"], "subject_id": ids["B.subject"], "student_id": pupil.person_id, "value": 6})["id"]
    ids["B.dispute"] = w.ok("POST", "/v1/rights/grade-disputes", pupil.token, json={
        "grade_id": own_grade, "reason": "Nota nu corespunde lucrării."})["id"]
    w.ok("POST", f"/v1/rights/grade-disputes/{ids['B.dispute']}/decision", ids["token.B.teacher"],
         json={"approve": False, "reason": "Nota rămâne."})


PREPARE.append(_prepare)


@route("POST", "/v1/rights/grade-disputes")
def _open(w, c, v):
    if v == "other-tenant-body":
        grade = w.ids["B.grade"]
    elif v == "other-record":  # a pupil of the caller's school who is not theirs to speak for
        grade = _grade(w, person="A.student_person" if c in (PAR, STU2) else "A.student2_person")
    else:
        grade = _grade(w, person="A.student_person" if c == STU else "A.student2_person")
    return Call(w.token(c), "POST", "/v1/rights/grade-disputes", json={
        "grade_id": grade, "reason": "Consider că nota nu reflectă lucrarea.", "proposed_value": 9,
        "attachment_ref": "lucrare-2026-10"})


@route("GET", "/v1/rights/grade-disputes")
def _list(w, c, v):
    return Call(w.token(c), "GET", "/v1/rights/grade-disputes", params={"limit": 200})


@route("POST", "/v1/rights/grade-disputes/{dispute_id}/decision")
def _decide(w, c, v):
    if v == "other-tenant":
        dispute = w.ids["B.dispute"]
    else:
        dispute = _dispute(w, escalated=v == "escalated")
    return Call(w.token(c), "POST", f"/v1/rights/grade-disputes/{dispute}/decision",
                json={"approve": True, "reason": "Punctajul a fost adunat greșit."})


@route("POST", "/v1/rights/grade-disputes/{dispute_id}/escalation")
def _escalate(w, c, v):
    dispute = w.ids["B.dispute"] if v == "other-tenant" else _dispute(w, rejected=True)
    return Call(w.token(c), "POST", f"/v1/rights/grade-disputes/{dispute}/escalation",
                json={"reason": "Cer decizia directorului."})


@route("GET", "/v1/school-export")
def _export(w, c, v):
    return Call(w.token(c), "GET", "/v1/school-export")


@route("POST", "/v1/school-import")
def _import(w, c, v):
    return Call(w.token(c), "POST", "/v1/school-import", json={
        "format": "catalog-export", "version": 1, "exported_at": "2027-07-01T08:00:00+00:00",
        "source": {"tenant_id": "another-platform"}, "school_years": [], "classes": []})
