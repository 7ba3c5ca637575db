"""Matrix rows of the registry's web pages (gateway/web/pages_registry.py): every page × every caller.

Called as `authz_areas/web.py` calls pages (sealed session cookie, CSRF, English). The roles are
those of the API route each page calls; the central authority has no column (see
tests/e2e/authz.py), so its own pages (nomenclatures, double financing, deciding corrections)
show here that nobody else reaches them, and tests/e2e/test_web_registry.py walks them as the
central authority. POST cells send an empty form: the page's own check (422) proves the route
was reached past the policy, and nothing is written.
"""
from __future__ import annotations

from tests.e2e.authz import ADM, ADMT, CLERK, DIR, MATRIX, OK, PREPARE, STAT, TCH, TCH2, Row, World, route
from tests.e2e.authz_areas.web import FORM_CHECK, page, page_call, page_only

REGISTRARS = {ADM: OK, ADMT: OK, CLERK: OK}
REGISTRARS_FORM = {ADM: FORM_CHECK, ADMT: FORM_CHECK, CLERK: FORM_CHECK}
IMPORT_CSV = ("external_id,cnp,last_name,first_name\r\n"
              "matrice-web-1,1234,Pop,Ion\r\n").encode()  # a wrong CNP: one row in the report

MATRIX.update({
    ("GET", "/web/registry/persons"): Row(page_only({**REGISTRARS, DIR: OK, TCH: OK, TCH2: OK})),
    ("GET", "/web/registry/persons/{person_id}"): Row(page_only({**REGISTRARS, DIR: OK, TCH: OK, TCH2: OK})),
    ("GET", "/web/registry/matches"): Row(page_only(REGISTRARS)),
    ("POST", "/web/registry/matches/{candidate_id}/decision"): Row(page_only(REGISTRARS_FORM)),
    ("GET", "/web/registry/imports"): Row(page_only(REGISTRARS)),
    ("POST", "/web/registry/imports"): Row(page_only(REGISTRARS_FORM)),
    ("GET", "/web/registry/imports/{job_id}"): Row(page_only(REGISTRARS)),
    ("GET", "/web/registry/imports/{job_id}/progress"): Row(page_only(REGISTRARS)),
    ("GET", "/web/registry/imports/{job_id}/problems.csv"): Row(page_only(REGISTRARS)),
    ("GET", "/web/registry/reports/counts"): Row(page_only(REGISTRARS)),
    ("GET", "/web/registry/reports/late-changes"): Row(page_only(REGISTRARS)),
    ("GET", "/web/registry/reports/double-financing"): Row(page_only({})),
    ("GET", "/web/registry/reports/statistics"): Row(page_only({STAT: OK})),
    ("GET", "/web/registry/nomenclatures"): Row(page_only({})),
    ("POST", "/web/registry/nomenclatures/{name}/values"): Row(page_only({})),
    ("POST", "/web/registry/nomenclatures/{name}/values/{code}/retire"): Row(page_only({})),
    ("GET", "/web/registry/corrections"): Row(page_only(REGISTRARS)),
    ("POST", "/web/registry/corrections/{correction_id}/decision"): Row(page_only({})),
})

for _path in ("/web/registry/persons", "/web/registry/matches", "/web/registry/imports",
              "/web/registry/reports/counts", "/web/registry/reports/late-changes",
              "/web/registry/reports/double-financing", "/web/registry/reports/statistics",
              "/web/registry/nomenclatures", "/web/registry/corrections"):
    page("GET", _path)
page("POST", "/web/registry/imports")


def _person(w: World, c: str) -> str:
    return w.ids["U.person"] if c == CLERK else w.ids["A.student_person"]


def _job(w: World, c: str) -> str:
    """The caller's own institution's import job (the registrar's university, or school A)."""
    return w.ids["U.web_import"] if c == CLERK else w.ids["A.web_import"]


@route("GET", "/web/registry/persons/{person_id}")
def _person_page(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/registry/persons/{_person(w, c)}")


@route("POST", "/web/registry/matches/{candidate_id}/decision")
def _match_decision(w, c, v):  # an empty form: refused by the page before the registry
    return page_call(w, w.token(c), "POST", f"/web/registry/matches/{w.ids['B.reg_candidate']}/decision")


for _suffix in ("", "/progress", "/problems.csv"):
    route("GET", f"/web/registry/imports/{{job_id}}{_suffix}")(
        lambda w, c, v, s=_suffix: page_call(w, w.token(c), "GET", f"/web/registry/imports/{_job(w, c)}{s}"))


@route("POST", "/web/registry/nomenclatures/{name}/values")
def _add_value(w, c, v):
    return page_call(w, w.token(c), "POST", "/web/registry/nomenclatures/cycle/values")


@route("POST", "/web/registry/nomenclatures/{name}/values/{code}/retire")
def _retire_value(w, c, v):
    return page_call(w, w.token(c), "POST", "/web/registry/nomenclatures/cycle/values/licenta/retire")


@route("POST", "/web/registry/corrections/{correction_id}/decision")
def _correction_decision(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/registry/corrections/{w.ids['U.reg_correction']}/decision")


def _prepare(w: World) -> None:
    for key, token in (("A.web_import", w.admin("A")), ("U.web_import", w.people[CLERK].token)):
        r = w.call("POST", "/v1/registry/imports", token, params={"mode": "validate"}, content=IMPORT_CSV)
        assert r.status_code == 202, r.text
        w.ids[key] = r.json()["id"]


PREPARE.append(_prepare)
