"""Matrix rows of the school year's pages and the operator's backup pages (web-school:
gateway/web/pages_school_year.py, pages_operator.py): every route × every caller.

Called as `web.py` calls its pages (the sealed session cookie, CSRF, English). POST cells send
an empty form where the page's own check (422) proves the route was reached past the policy;
closing a school year closes a fresh one (no class: no warning) in the director's cell. The
records are the other areas': the catalog's homeroom class and delegation, the documents'
class and year-end set, the demo grade, tenant A.
"""
from __future__ import annotations

from tests.e2e.authz import ADM, ADMT, DIR, MATRIX, OK, OP, TCH, TCH2, Row, route
from tests.e2e.authz_areas.web import FORM_CHECK, NOT_IN_CLASS, SAVED, page, page_call, page_only

NOT_HOMEROOM_PRINT = (403, "forbidden", "only the director and the class's homeroom teacher")
TEACHERS_OK = {TCH: OK, TCH2: OK, ADMT: OK}
TEACHERS_FORM = {TCH: FORM_CHECK, TCH2: FORM_CHECK, ADMT: FORM_CHECK}
PRINTERS = {DIR: OK, TCH: OK, TCH2: NOT_HOMEROOM_PRINT, ADMT: NOT_HOMEROOM_PRINT}

MATRIX.update({
    # --- 1. a teacher's delegation requests --------------------------------------------------------
    ("GET", "/web/teacher/delegations"): Row(page_only(TEACHERS_OK)),
    ("POST", "/web/teacher/delegations"): Row(page_only(TEACHERS_FORM)),
    ("POST", "/web/teacher/delegations/{delegation_id}/revoke"): Row(page_only(TEACHERS_FORM)),
    # --- 2. the homeroom teacher's conduct grades (A.hr_class: the matrix's teacher is its diriginte)
    ("GET", "/web/homeroom/classes/{class_id}/conduct"): Row(page_only({TCH: OK, TCH2: NOT_IN_CLASS,
                                                                        ADMT: NOT_IN_CLASS})),
    ("POST", "/web/homeroom/classes/{class_id}/conduct"): Row(page_only(TEACHERS_FORM)),
    # --- 3. closing the school year ------------------------------------------------------------------
    ("GET", "/web/director/school-years/{school_year_id}/close"): Row(page_only({DIR: OK})),
    ("POST", "/web/director/school-years/{school_year_id}/close"): Row(page_only({DIR: SAVED})),
    # --- 4. alerts and a record's audit history ------------------------------------------------------
    ("GET", "/web/alerts"): Row(page_only({DIR: OK, **TEACHERS_OK})),
    ("GET", "/web/audit/history/{entity_type}/{entity_id}"): Row(page_only({OP: OK, DIR: OK, ADM: OK, ADMT: OK})),
    # --- 5. the year-end documents (A.doc_class: the matrix's teacher is its diriginte) --------------
    ("GET", "/web/classes/{class_id}/documents/year-end-catalog.pdf"): Row(page_only(PRINTERS)),
    ("GET", "/web/classes/{class_id}/documents/catalog.xlsx"): Row(page_only(PRINTERS)),
    ("POST", "/web/director/year-end-sets"): Row(page_only({DIR: FORM_CHECK})),
    ("GET", "/web/director/year-end-sets/{job_id}"): Row(page_only({DIR: OK})),
    ("GET", "/web/director/year-end-sets/{job_id}/archive.zip"): Row(page_only({DIR: OK})),
    # --- 6. a teacher's warnings before the period closes --------------------------------------------
    ("GET", "/web/teacher/closing-warnings"): Row(page_only(TEACHERS_OK)),
    # --- 7. the operator's backup page and a school's contract end and legal hold --------------------
    ("GET", "/web/operator/backup"): Row(page_only({OP: OK})),
    ("POST", "/web/operator/tenants/{tenant_id}/contract"): Row(page_only({OP: FORM_CHECK})),
    ("POST", "/web/operator/tenants/{tenant_id}/legal-hold"): Row(page_only({OP: FORM_CHECK})),
})

for _path in ("/web/teacher/delegations", "/web/alerts", "/web/teacher/closing-warnings", "/web/operator/backup"):
    page("GET", _path)
for _path in ("/web/teacher/delegations", "/web/director/year-end-sets"):
    page("POST", _path)


def _get(path_of):
    return lambda w, c, v: page_call(w, w.token(c), "GET", path_of(w))


def _post(path_of):
    return lambda w, c, v: page_call(w, w.token(c), "POST", path_of(w))


route("POST", "/web/teacher/delegations/{delegation_id}/revoke")(
    _post(lambda w: f"/web/teacher/delegations/{w.ids['A.delegation']}/revoke"))
route("GET", "/web/homeroom/classes/{class_id}/conduct")(
    _get(lambda w: f"/web/homeroom/classes/{w.ids['A.hr_class']}/conduct"))
route("POST", "/web/homeroom/classes/{class_id}/conduct")(
    _post(lambda w: f"/web/homeroom/classes/{w.ids['A.hr_class']}/conduct"))
route("GET", "/web/director/school-years/{school_year_id}/close")(
    _get(lambda w: f"/web/director/school-years/{w.ids['A.school_year']}/close"))
route("GET", "/web/audit/history/{entity_type}/{entity_id}")(
    _get(lambda w: f"/web/audit/history/grade/{w.ids['A.grade']}"))
route("GET", "/web/classes/{class_id}/documents/year-end-catalog.pdf")(
    _get(lambda w: f"/web/classes/{w.ids['A.doc_class']}/documents/year-end-catalog.pdf"))
route("GET", "/web/classes/{class_id}/documents/catalog.xlsx")(
    _get(lambda w: f"/web/classes/{w.ids['A.doc_class']}/documents/catalog.xlsx"))
route("GET", "/web/director/year-end-sets/{job_id}")(
    _get(lambda w: f"/web/director/year-end-sets/{w.ids['A.doc_job']}"))
route("GET", "/web/director/year-end-sets/{job_id}/archive.zip")(
    _get(lambda w: f"/web/director/year-end-sets/{w.ids['A.doc_job']}/archive.zip"))
route("POST", "/web/operator/tenants/{tenant_id}/contract")(
    _post(lambda w: f"/web/operator/tenants/{w.ids['A.tenant']}/contract"))
route("POST", "/web/operator/tenants/{tenant_id}/legal-hold")(
    _post(lambda w: f"/web/operator/tenants/{w.ids['A.tenant']}/legal-hold"))


@route("POST", "/web/director/school-years/{school_year_id}/close")
def _close_year(w, c, v):
    from tests.e2e.authz_areas.catalog import fresh_year
    year = fresh_year(w)["id"] if c == DIR else w.ids["A.school_year"]
    return page_call(w, w.token(c), "POST", f"/web/director/school-years/{year}/close")
