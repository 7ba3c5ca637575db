"""Matrix rows of the documents area: the year-end catalog, the XLSX export, report cards,
the verification of a printout and the school's year-end set.

Records (PREPARE): two classes of the demo school made for this area, so that no other cell
changes who their homeroom teacher is: `A.doc_class` (homeroom teacher: the matrix's teacher;
pupils: the demo student and student-2, whom the parent follows) and `A.doc_class2` (no
homeroom teacher; the demo student). The director prints both (their fingerprints are
verified) and generates the year-end set once (its job is read and downloaded).
"""
from __future__ import annotations

import time

from deploy.local.demo_catalog import YEAR
from tests.e2e.authz import (ACCEPTED, ADMT, DIR, INVALID, MATRIX, NOT_FOUND, OK, PAR, PARENTS_OWN_CHILDREN, PREPARE, STU, STU2, TCH,
                             TCH2, Call, Row, World, only, route, unique)

NOT_HOMEROOM = (403, "forbidden", "only the director and the class's homeroom teacher")
# a parent's or pupil's report card: the catalog's own rule decides (views.report_card, as the caller)
OWN_REPORT_CARD = (403, "forbidden", "students see only their own grades")
CHILD_REPORT_CARD = PARENTS_OWN_CHILDREN
CATALOG = "/v1/classes/{class_id}/documents/year-end-catalog.pdf"
XLSX = "/v1/classes/{class_id}/documents/catalog.xlsx"
REPORT_CARD = "/v1/classes/{class_id}/students/{student_id}/report-card.pdf"
SETS = "/v1/documents/year-end-sets"

_STAFF_ROW = Row(
    only({DIR: OK, TCH: OK, TCH2: NOT_HOMEROOM, ADMT: NOT_HOMEROOM}),
    variants={"other-tenant": {DIR: NOT_FOUND, TCH: NOT_FOUND, TCH2: NOT_FOUND, ADMT: NOT_FOUND},
              # a class of the school whose homeroom teacher the teacher is not
              "other-record": {TCH: NOT_HOMEROOM}})

MATRIX[("GET", CATALOG)] = _STAFF_ROW
MATRIX[("GET", XLSX)] = _STAFF_ROW
MATRIX[("GET", REPORT_CARD)] = Row(
    only({DIR: OK, TCH: OK, STU: OK, STU2: OK, PAR: OK, TCH2: NOT_HOMEROOM, ADMT: NOT_HOMEROOM}),
    variants={"other-tenant": {c: NOT_FOUND for c in (DIR, TCH, TCH2, ADMT, STU, STU2, PAR)},
              "other-record": {TCH: NOT_HOMEROOM, STU: OWN_REPORT_CARD, STU2: OWN_REPORT_CARD,
                               PAR: CHILD_REPORT_CARD}})
_VERIFY_ROW = Row(
    only({DIR: OK, TCH: OK, TCH2: NOT_HOMEROOM, ADMT: NOT_HOMEROOM}),
    variants={"other-record": {TCH: NOT_HOMEROOM},
              # a fingerprint no printout of the caller's school has (another school's, or none)
              "other-tenant": {DIR: NOT_FOUND, TCH: NOT_FOUND, TCH2: NOT_FOUND, ADMT: NOT_FOUND}})
MATRIX[("POST", "/v1/documents/verify")] = _VERIFY_ROW
MATRIX[("GET", "/v1/documents/verify")] = _VERIFY_ROW
MATRIX[("POST", SETS)] = Row(only({DIR: ACCEPTED}), variants={"invalid": {DIR: INVALID}})
MATRIX[("GET", SETS + "/{job_id}")] = Row(only({DIR: OK}), variants={"other-record": {DIR: NOT_FOUND}})
MATRIX[("GET", SETS + "/{job_id}/archive.zip")] = Row(only({DIR: OK}))


def _prepare(w: World) -> None:
    ids, adm = w.ids, w.admin("A")
    for key, homeroom, pupils in (("A.doc_class", w.people[TCH].user_id, ("A.student_person", "A.student2_person")),
                                  ("A.doc_class2", None, ("A.student_person",))):
        ids[key] = w.ok("POST", "/v1/classes", adm, json={"name": unique("doc")[:50], "school_year": YEAR})["id"]
        if homeroom:
            w.ok("PUT", f"/v1/classes/{ids[key]}/homeroom", adm, json={"teacher_id": homeroom})
        for pupil in pupils:
            w.ok("POST", f"/v1/classes/{ids[key]}/students", adm, json={"student_id": ids[pupil]})
    director = w.token(DIR)
    for key, klass in (("A.doc_fingerprint", "A.doc_class"), ("A.doc_fingerprint2", "A.doc_class2")):
        r = w.call("GET", CATALOG.format(class_id=ids[klass]), director)
        assert r.status_code == 200, r.text[:300]
        ids[key] = r.headers["x-document-fingerprint"]
    job = w.ok("POST", SETS, director, json={"school_year": YEAR})
    deadline = time.monotonic() + 120
    while w.ok("GET", f"{SETS}/{job['id']}", director)["status"] == "running":
        assert time.monotonic() < deadline, "the year-end set never finished"
        time.sleep(0.5)
    ids["A.doc_job"] = job["id"]


PREPARE.append(_prepare)


def _class(w: World, v: str) -> str:
    return w.ids[{"own": "A.doc_class", "other-record": "A.doc_class2", "other-tenant": "B.class"}[v]]


@route("GET", CATALOG)
def _catalog(w, c, v):
    return Call(w.token(c), "GET", CATALOG.format(class_id=_class(w, v)))


@route("GET", XLSX)
def _xlsx(w, c, v):
    return Call(w.token(c), "GET", XLSX.format(class_id=_class(w, v)))


@route("GET", REPORT_CARD)
def _report_card(w, c, v):
    ids = w.ids
    if v == "other-tenant":
        klass, pupil = ids["B.class"], ids["B.student_person"]
    else:
        mine = {STU2: "A.student2_person", PAR: "A.student2_person"}.get(c, "A.student_person")
        other = {STU: "A.student2_person", STU2: "A.student_person", PAR: "A.student_person"}.get(c, mine)
        klass = ids["A.doc_class"] if v == "own" or c in (STU, STU2, PAR) else ids["A.doc_class2"]
        pupil = ids[mine if v == "own" else other]
    return Call(w.token(c), "GET", REPORT_CARD.format(class_id=klass, student_id=pupil))


def _fingerprint(w: World, v: str) -> str:
    if v == "other-tenant":
        return "0" * 64
    return w.ids["A.doc_fingerprint" if v == "own" else "A.doc_fingerprint2"]


@route("POST", "/v1/documents/verify")
def _verify(w, c, v):
    return Call(w.token(c), "POST", "/v1/documents/verify", json={"code": _fingerprint(w, v)})


@route("GET", "/v1/documents/verify")
def _verify_link(w, c, v):
    return Call(w.token(c), "GET", "/v1/documents/verify", params={"f": _fingerprint(w, v)})


@route("POST", SETS)
def _start_set(w, c, v):
    return Call(w.token(c), "POST", SETS, json={"school_year": YEAR if v == "own" else YEAR.replace("-", "/")})


@route("GET", SETS + "/{job_id}")
def _set(w, c, v):
    job = w.ids["A.doc_job"] if v == "own" else "00000000-0000-4000-8000-000000000000"
    return Call(w.token(c), "GET", f"{SETS}/{job}")


@route("GET", SETS + "/{job_id}/archive.zip")
def _archive(w, c, v):
    return Call(w.token(c), "GET", f"{SETS}/{w.ids['A.doc_job']}/archive.zip")
