"""Matrix rows of the web pages (gateway/web/): every page route × every caller.

A web call carries the caller's token sealed into the `__Host-session` cookie (sealed here
with the gateway's key, as the sign-in page would), a valid CSRF cookie and form token (CSRF
refusal has its own browser test), and asks for English pages, so an answer is pinned like an
API answer: the page shows the error's code (`data-error`) and the message in English, which is
the service's or the gateway's own message. Redirects are pinned by where they lead: no or an
ended session → sign-in, a second factor owed → its step.

POST cells send an empty form where the page's own check (422) proves the route was reached
past the policy; cells that end sessions use throwaway accounts, as the core rows do.
"""
from __future__ import annotations

import re

from gateway.web.session import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE, SessionKeys, WebSession
from tests.e2e.authz import (ADM, ADMINS_NEVER_GRADE, ADMT, ANON, CLERK, DIR, FORGED, HUMANS, INT, MATRIX,
                             NO_PHONE, NOT_TEACHING, NOTHING_PENDING, OK, OP, PAR, PARTIAL, PREPARE,
                             PROVE_FACTOR_FIRST, REVOKED, ROLE_DENIED, SCOPE_DENIED, STAT, STU, STU2, TCH, TCH2,
                             Call, Row, World, _own_session, new_email, route, unique)

TO_SIGN_IN = (303, "redirect", "/web/sign-in")
TO_CODE = (303, "redirect", "/web/sign-in/code")
FORM_CHECK = (422, "invalid_input", "check the highlighted fields")
ENROL_FIRST = (422, "invalid_input", "enrol a second factor first")
BAD_LINK = (422, "invalid_input", "this link is invalid or has expired")
WRONG_PASSWORD = (401, "not_authenticated", "invalid email or password")
SAVED = 303
NOT_IN_CLASS = (403, "forbidden", "you do not teach in this class")
NO_SUCH_SUBJECT = (404, "not_found", "subject not found in this class")
NO_NOTICE = (404, "not_found", "this institution has no privacy notice")  # the operator's platform tenant
NOT_A_LINK = (404, "not_found", "this download link is not valid")
EXPORTERS = (STU, STU2, PAR, ADM, ADMT)  # auth's subject-export requesters
GRADE_NOT_FOUND = (404, "not_found", "grade not found")
ESCALATE_AFTER_REJECTION = (409, "conflict", "only a dispute the teacher has rejected can be escalated")
REQUESTER_ONLY = (403, "forbidden", "only the person who opened the dispute may escalate it")


def _signed_out(partial=TO_CODE) -> dict:
    return {ANON: TO_SIGN_IN, FORGED: TO_SIGN_IN, REVOKED: TO_SIGN_IN, PARTIAL: partial}


def page_only(allowed: dict, partial=TO_CODE) -> dict:
    return {**{c: ROLE_DENIED for c in HUMANS}, INT: SCOPE_DENIED, **allowed, **_signed_out(partial)}


def page_every_person(answer, partial=TO_CODE) -> dict:
    return {**{c: answer for c in HUMANS}, INT: SCOPE_DENIED, **_signed_out(partial)}


PUBLIC_PAGE = {ANON: OK}
HOME_REDIRECT = (303, "redirect", "/web/")  # a single role's home is its own page
MANAGE = {ADM: FORM_CHECK, DIR: FORM_CHECK, ADMT: FORM_CHECK}
ADMINS_FORM = {OP: FORM_CHECK, ADM: FORM_CHECK, ADMT: FORM_CHECK}

MATRIX.update({
    # --- without a session ---------------------------------------------------------------------
    ("GET", "/web/"): Row({ANON: (303, "redirect", "/web/sign-in")}),
    ("GET", "/web/lang/{lang}"): Row({ANON: (303, "redirect", "/web/")}),
    ("GET", "/web/sign-in"): Row(PUBLIC_PAGE),
    ("POST", "/web/sign-in"): Row({ANON: WRONG_PASSWORD}),
    ("GET", "/web/password/forgot"): Row(PUBLIC_PAGE),
    ("POST", "/web/password/forgot"): Row({ANON: OK}),
    ("GET", "/web/password/reset"): Row(PUBLIC_PAGE),
    ("POST", "/web/password/reset"): Row({ANON: BAD_LINK}),
    ("GET", "/web/invitation"): Row(PUBLIC_PAGE),
    ("POST", "/web/invitation"): Row({ANON: BAD_LINK}),
    ("GET", "/web/email/confirm"): Row(PUBLIC_PAGE),
    ("POST", "/web/email/confirm"): Row({ANON: BAD_LINK}),
    # --- the sign-in steps: reachable with a session still owing its second factor -------------
    ("GET", "/web/sign-in/code"): Row(page_every_person(OK, partial=OK)),
    ("POST", "/web/sign-in/code"): Row(page_every_person(FORM_CHECK, partial=FORM_CHECK)),
    ("POST", "/web/sign-in/sms"): Row(page_every_person(NOTHING_PENDING, partial=NO_PHONE)),
    ("GET", "/web/enrol"): Row(page_every_person(OK, partial=OK)),
    ("POST", "/web/enrol/totp"): Row(page_every_person(OK, partial=PROVE_FACTOR_FIRST)),
    ("POST", "/web/enrol/totp/confirm"): Row(page_every_person(FORM_CHECK, partial=FORM_CHECK)),
    ("POST", "/web/enrol/sms"): Row(page_every_person(FORM_CHECK, partial=FORM_CHECK)),
    ("POST", "/web/enrol/sms/confirm"): Row(page_every_person(FORM_CHECK, partial=FORM_CHECK)),
    ("POST", "/web/sign-out"): Row(page_every_person(TO_SIGN_IN, partial=TO_SIGN_IN)),
    # --- every signed-in person ----------------------------------------------------------------
    ("GET", "/web/home"): Row({**page_every_person(HOME_REDIRECT), ADM: OK, ADMT: OK, CLERK: OK}),
    ("GET", "/web/profile"): Row(page_every_person(OK)),
    ("POST", "/web/profile/password"): Row(page_every_person(FORM_CHECK)),
    ("POST", "/web/profile/email"): Row(page_every_person(FORM_CHECK)),
    ("POST", "/web/profile/totp/disable"): Row(page_every_person(FORM_CHECK)),
    ("POST", "/web/profile/recovery-codes"): Row({
        **page_every_person(OK), STU: ENROL_FIRST, STU2: ENROL_FIRST, PAR: ENROL_FIRST}),
    ("POST", "/web/profile/sign-out-everywhere"): Row(page_every_person(TO_SIGN_IN)),
    # --- the catalog ---------------------------------------------------------------------------
    ("GET", "/web/teacher/classes"): Row(page_only({TCH: OK, TCH2: OK, ADMT: OK})),
    # the grid is the class catalog's: a teacher of no subject of the class is refused by the
    # grades service, one of another subject (ADMT teaches physics there) finds no such subject
    ("GET", "/web/teacher/classes/{class_id}/subjects/{subject_id}"): Row(page_only({
        TCH: OK, TCH2: NOT_IN_CLASS, ADMT: NO_SUCH_SUBJECT})),
    ("GET", "/web/teacher/classes/{class_id}/subjects/{subject_id}/absences"): Row(page_only({
        TCH: OK, TCH2: NOT_IN_CLASS, ADMT: NO_SUCH_SUBJECT})),
    ("POST", "/web/teacher/absences"): Row(page_only({TCH: FORM_CHECK, TCH2: FORM_CHECK, ADMT: FORM_CHECK})),
    ("GET", "/web/teacher/classes/{class_id}/catalog"): Row(page_only({TCH: OK, TCH2: NOT_IN_CLASS, ADMT: OK,
                                                                       DIR: OK})),
    ("GET", "/web/grades/{grade_id}"): Row(page_only({TCH: OK, TCH2: NOT_TEACHING, ADMT: NOT_TEACHING, DIR: OK})),
    ("POST", "/web/grades/{grade_id}/change"): Row(page_only({TCH: FORM_CHECK, TCH2: FORM_CHECK, ADMT: FORM_CHECK})),
    ("POST", "/web/grades/{grade_id}/cancel"): Row(page_only({TCH: FORM_CHECK, TCH2: FORM_CHECK, ADMT: FORM_CHECK})),
    ("GET", "/web/homeroom/classes/{class_id}/absences"): Row(page_only({TCH: OK, TCH2: NOT_IN_CLASS,
                                                                         ADMT: NOT_IN_CLASS})),
    ("POST", "/web/homeroom/classes/{class_id}/motivate"): Row(page_only({TCH: FORM_CHECK, TCH2: FORM_CHECK,
                                                                          ADMT: FORM_CHECK})),
    ("GET", "/web/director/approvals"): Row(page_only({DIR: OK})),
    ("POST", "/web/director/delegations/{delegation_id}/decision"): Row(page_only({DIR: FORM_CHECK})),
    ("POST", "/web/director/motivation-requests/{request_id}/decision"): Row(page_only({DIR: FORM_CHECK})),
    ("POST", "/web/director/amendments"): Row(page_only({DIR: FORM_CHECK})),
    ("GET", "/web/director/periods"): Row(page_only({DIR: OK})),
    ("GET", "/web/director/periods/{period_id}/close"): Row(page_only({DIR: OK})),
    # a fresh school year's period each time (no class: no warning), so the director's cell closes it
    ("POST", "/web/director/periods/{period_id}/close"): Row(page_only({DIR: SAVED})),
    ("POST", "/web/parent/motivation-requests"): Row(page_only({PAR: FORM_CHECK})),
    # CAT-13/CAT-18 reach the page through the grades service's own refusals
    ("POST", "/web/teacher/grades"): Row(page_only({TCH: SAVED, TCH2: NOT_TEACHING, ADMT: ADMINS_NEVER_GRADE})),
    ("GET", "/web/student/grades"): Row(page_only({STU: OK, STU2: OK})),
    ("GET", "/web/parent/grades"): Row(page_only({PAR: OK})),
    ("GET", "/web/director/overview"): Row(page_only({DIR: OK})),
    ("GET", "/web/statistics"): Row(page_only({DIR: OK, STAT: OK})),
    # --- administration ------------------------------------------------------------------------
    ("GET", "/web/admin/users"): Row(page_only({OP: OK, ADM: OK, DIR: OK, ADMT: OK})),
    ("POST", "/web/admin/users"): Row(page_only(ADMINS_FORM)),
    ("POST", "/web/admin/users/{user_id}/unlock"): Row(page_only({OP: SAVED, ADM: SAVED, ADMT: SAVED})),
    ("GET", "/web/admin/invitations"): Row(page_only({OP: OK, ADM: OK, ADMT: OK})),
    ("POST", "/web/admin/invitations"): Row(page_only(ADMINS_FORM)),
    ("GET", "/web/admin/school"): Row(page_only({ADM: OK, ADMT: OK})),
    ("POST", "/web/admin/classes"): Row(page_only(MANAGE)),
    ("POST", "/web/admin/subjects"): Row(page_only(MANAGE)),
    ("POST", "/web/admin/pupils"): Row(page_only({ADM: FORM_CHECK, ADMT: FORM_CHECK})),
    ("POST", "/web/admin/assignments"): Row(page_only(MANAGE)),
    ("POST", "/web/admin/homeroom"): Row(page_only(MANAGE)),
    ("POST", "/web/admin/parents"): Row(page_only({ADM: FORM_CHECK, ADMT: FORM_CHECK})),
    ("GET", "/web/admin/clients"): Row(page_only({OP: OK, ADM: OK, ADMT: OK})),
    ("POST", "/web/admin/clients"): Row(page_only(ADMINS_FORM)),
    ("POST", "/web/admin/clients/{client_id}/revoke"): Row(page_only({OP: SAVED, ADM: SAVED, ADMT: SAVED})),
    ("GET", "/web/operator/tenants"): Row(page_only({OP: OK})),
    ("POST", "/web/operator/tenants"): Row(page_only({OP: FORM_CHECK})),
    ("GET", "/web/audit"): Row(page_only({OP: OK, DIR: OK, ADM: OK, ADMT: OK})),
    # --- data-subject rights (pages_rights.py): the roles of the API routes they call ------------
    ("GET", "/web/privacy-notice"): Row({**page_every_person(OK), OP: NO_NOTICE}),
    ("POST", "/web/privacy-notice"): Row(page_every_person(FORM_CHECK)),
    ("GET", "/web/admin/privacy-notice"): Row(page_only({ADM: OK, ADMT: OK})),
    ("POST", "/web/admin/privacy-notice"): Row(page_only({ADM: FORM_CHECK, ADMT: FORM_CHECK})),
    ("GET", "/web/my-data"): Row(page_every_person(OK)),
    # an empty form asks for the caller's own erasure: answered (with the reasons) for everyone
    ("POST", "/web/my-data/erasure"): Row(page_every_person(OK)),
    ("POST", "/web/my-data/exports"): Row(page_only({c: SAVED for c in EXPORTERS})),
    ("GET", "/web/my-data/exports/{export_id}"): Row(page_only({c: OK for c in EXPORTERS})),
    ("GET", "/web/my-data/exports/{export_id}/download"): Row(page_only({c: NOT_A_LINK for c in EXPORTERS})),
    # rectification (pages_corrections.py): A.grade is the demo student's; the parent follows student-2
    ("GET", "/web/grade-disputes/new"): Row(page_only({STU: OK, STU2: GRADE_NOT_FOUND, PAR: GRADE_NOT_FOUND})),
    ("POST", "/web/grade-disputes"): Row(page_only({STU: FORM_CHECK, STU2: FORM_CHECK, PAR: FORM_CHECK})),
    # A.dispute is the demo student's, still open: its requester may not escalate it yet
    ("POST", "/web/grade-disputes/{dispute_id}/escalation"): Row(page_only({
        STU: ESCALATE_AFTER_REJECTION, STU2: REQUESTER_ONLY, PAR: REQUESTER_ONLY})),
    ("GET", "/web/my-data/requests"): Row(page_only({STU: OK, STU2: OK, PAR: OK})),
    ("POST", "/web/my-data/rectifications"): Row(page_only({STU: FORM_CHECK, STU2: FORM_CHECK, PAR: FORM_CHECK})),
    ("GET", "/web/teacher/grade-disputes"): Row(page_only({TCH: OK, TCH2: OK, ADMT: OK})),
    ("POST", "/web/grade-disputes/{dispute_id}/decision"): Row(page_only({TCH: FORM_CHECK, TCH2: FORM_CHECK,
                                                                           ADMT: FORM_CHECK, DIR: FORM_CHECK})),
    ("GET", "/web/registry/rectifications"): Row(page_only({CLERK: OK, ADM: OK, ADMT: OK})),
    ("POST", "/web/registry/rectifications/{request_id}/decision"): Row(page_only({CLERK: FORM_CHECK, ADM: FORM_CHECK,
                                                                                    ADMT: FORM_CHECK})),
    # the demo pupil's restriction is read, never set (an empty form is refused by the page)
    ("GET", "/web/persons/{person_id}/restriction"): Row(page_only({ADM: OK, DIR: OK, ADMT: OK})),
    ("POST", "/web/persons/{person_id}/restriction"): Row(page_only({ADM: FORM_CHECK, DIR: FORM_CHECK,
                                                                     ADMT: FORM_CHECK})),
})


# --- how a page is called --------------------------------------------------------------------------
def _keys(w: World) -> SessionKeys:
    if "web.keys" not in w.ids:
        w.ids["web.keys"] = (w.p.data_dir / "keys" / "web_session.key").read_bytes().hex()
    return SessionKeys(bytes.fromhex(w.ids["web.keys"]))


def page_call(w: World, token: str | None, method: str, url: str, data: dict | None = None, **kw) -> Call:
    keys = _keys(w)
    nonce = keys.new_nonce()
    cookies = {CSRF_COOKIE: nonce, LANG_COOKIE: "en"}
    if token:
        cookies[SESSION_COOKIE] = keys.seal(WebSession(token))
    form = {**(data or {}), "csrf": keys.csrf_token(nonce)} if method == "POST" else None
    return Call(None, method, url, data=form, cookies=cookies, **kw)


def page(method: str, path: str, data=None) -> None:
    route(method, path)(lambda w, c, v: page_call(w, w.token(c), method, path, data() if data else None))


for _path in ("/web/", "/web/sign-in", "/web/password/forgot", "/web/password/reset", "/web/invitation",
              "/web/email/confirm", "/web/sign-in/code", "/web/enrol", "/web/home", "/web/profile",
              "/web/teacher/classes", "/web/student/grades", "/web/parent/grades", "/web/director/overview",
              "/web/statistics", "/web/admin/users", "/web/admin/invitations", "/web/admin/school",
              "/web/admin/clients", "/web/operator/tenants", "/web/audit", "/web/director/approvals",
              "/web/director/periods", "/web/privacy-notice", "/web/admin/privacy-notice", "/web/my-data",
              "/web/my-data/requests", "/web/teacher/grade-disputes", "/web/registry/rectifications"):
    page("GET", _path)
for _path in ("/web/sign-in/code", "/web/sign-in/sms", "/web/enrol/totp", "/web/enrol/totp/confirm", "/web/enrol/sms",
              "/web/enrol/sms/confirm", "/web/profile/password", "/web/profile/email", "/web/profile/totp/disable",
              "/web/admin/users", "/web/admin/invitations", "/web/admin/classes", "/web/admin/subjects",
              "/web/admin/pupils", "/web/admin/assignments", "/web/admin/homeroom", "/web/admin/parents",
              "/web/admin/clients", "/web/operator/tenants", "/web/teacher/absences", "/web/director/amendments",
              "/web/parent/motivation-requests", "/web/privacy-notice", "/web/admin/privacy-notice",
              "/web/my-data/erasure", "/web/my-data/exports", "/web/grade-disputes", "/web/my-data/rectifications"):
    page("POST", _path)
page("POST", "/web/sign-in", lambda: {"email": new_email("nimeni"), "password": "nu-e-parola-1"})
page("POST", "/web/password/forgot", lambda: {"email": new_email("nimeni")})
page("POST", "/web/password/reset", lambda: {"token": "x" * 43, "new_password": "parola-noua-lunga-1",
                                             "confirm_password": "parola-noua-lunga-1"})
page("POST", "/web/invitation", lambda: {"token": "x" * 43, "full_name": "Ion Pop", "password": "parola-noua-lunga-1",
                                         "confirm_password": "parola-noua-lunga-1"})
page("POST", "/web/email/confirm", lambda: {"token": "x" * 43})
route("GET", "/web/lang/{lang}")(lambda w, c, v: page_call(w, None, "GET", "/web/lang/en"))


@route("GET", "/web/teacher/classes/{class_id}/subjects/{subject_id}")
def _grid(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/teacher/classes/{w.ids['A.class']}/subjects/{w.ids['A.math']}")


@route("GET", "/web/teacher/classes/{class_id}/subjects/{subject_id}/absences")
def _absences_form(w, c, v):
    return page_call(w, w.token(c), "GET",
                     f"/web/teacher/classes/{w.ids['A.class']}/subjects/{w.ids['A.math']}/absences")


@route("GET", "/web/teacher/classes/{class_id}/catalog")
def _class_catalog(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/teacher/classes/{w.ids['A.class']}/catalog")


@route("GET", "/web/grades/{grade_id}")
def _grade_page(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/grades/{w.ids['A.grade']}")


@route("POST", "/web/grades/{grade_id}/change")
def _grade_change(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/grades/{w.ids['A.grade']}/change")


@route("POST", "/web/grades/{grade_id}/cancel")
def _grade_cancel(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/grades/{w.ids['A.grade']}/cancel")


@route("GET", "/web/homeroom/classes/{class_id}/absences")
def _homeroom(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/homeroom/classes/{w.ids['A.hr_class']}/absences")


@route("POST", "/web/homeroom/classes/{class_id}/motivate")
def _motivate(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/homeroom/classes/{w.ids['A.hr_class']}/motivate")


@route("POST", "/web/director/delegations/{delegation_id}/decision")
def _delegation_decision(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/director/delegations/{w.ids['A.delegation']}/decision")


@route("POST", "/web/director/motivation-requests/{request_id}/decision")
def _motivation_decision(w, c, v):
    return page_call(w, w.token(c), "POST",
                     f"/web/director/motivation-requests/{w.ids['A.motivation_request']}/decision")


@route("GET", "/web/director/periods/{period_id}/close")
def _closing_check(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/director/periods/{w.ids['A.period']}/close")


@route("POST", "/web/director/periods/{period_id}/close")
def _close_period(w, c, v):
    from tests.e2e.authz_areas.catalog import fresh_year
    period = fresh_year(w)["periods"][0]["id"] if c == DIR else w.ids["A.spare_period"]
    return page_call(w, w.token(c), "POST", f"/web/director/periods/{period}/close")


@route("POST", "/web/teacher/grades")
def _grade(w, c, v):
    return page_call(w, w.token(c), "POST", "/web/teacher/grades", {
        "class_id": w.ids["A.class"], "subject_id": w.ids["A.math"], "student_id": w.ids["A.student_person"],
        "value": "9"})


def _export_of(w: World, c: str) -> str:
    """The caller's own export job (tenant A's rights area made one for each requester)."""
    return w.ids.get(f"export.{c}", w.ids[f"export.{STU}"])


@route("GET", "/web/my-data/exports/{export_id}")
def _export_page(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/my-data/exports/{_export_of(w, c)}")


@route("GET", "/web/my-data/exports/{export_id}/download")
def _export_download(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/my-data/exports/{_export_of(w, c)}/download?token="
                     "not-a-link-token-of-this-export-000000")


@route("GET", "/web/grade-disputes/new")
def _dispute_form(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/grade-disputes/new?grade_id={w.ids['A.grade']}")


@route("POST", "/web/grade-disputes/{dispute_id}/escalation")
def _escalation(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/grade-disputes/{w.ids['A.dispute']}/escalation")


@route("POST", "/web/grade-disputes/{dispute_id}/decision")
def _dispute_decision(w, c, v):  # an empty form: refused by the page before the grades service
    return page_call(w, w.token(c), "POST", f"/web/grade-disputes/{w.ids['A.dispute']}/decision")


@route("POST", "/web/registry/rectifications/{request_id}/decision")
def _rectification_decision(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/registry/rectifications/{w.ids['A.rect']}/decision")


@route("GET", "/web/persons/{person_id}/restriction")
def _restriction_page(w, c, v):
    return page_call(w, w.token(c), "GET", f"/web/persons/{w.ids['A.student_person']}/restriction")


@route("POST", "/web/persons/{person_id}/restriction")
def _restriction_change(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/persons/{w.ids['A.student_person']}/restriction")


@route("POST", "/web/sign-out")
def _sign_out(w, c, v):
    return page_call(w, _own_session(w, c)[0], "POST", "/web/sign-out")


@route("POST", "/web/profile/sign-out-everywhere")
def _sign_out_everywhere(w, c, v):
    token, _ = _own_session(w, c)

    def after(r):
        if c == OP and r.status_code == 303:
            w.people[OP].token = ""  # every operator session ended: sign in again when next needed
    return page_call(w, token, "POST", "/web/profile/sign-out-everywhere", after=after)


@route("POST", "/web/profile/recovery-codes")
def _recovery_codes(w, c, v):
    if c != OP:
        return page_call(w, _own_session(w, c)[0], "POST", "/web/profile/recovery-codes")

    def after(r):  # the operator's new codes replace the ones this module signs in with
        if r.status_code == 200:
            w.people[OP].recovery_codes = re.findall(r"<li><code>([^<]+)</code></li>", r.text)
    return page_call(w, w.token(OP), "POST", "/web/profile/recovery-codes", after=after)


@route("POST", "/web/admin/users/{user_id}/unlock")
def _unlock(w, c, v):
    return page_call(w, w.token(c), "POST", f"/web/admin/users/{w.ids['A.unlock_target']}/unlock")


@route("POST", "/web/admin/clients/{client_id}/revoke")
def _revoke(w, c, v):
    victim = w.ok("POST", "/v1/integrations/clients", w.admin("A"),
                  json={"name": unique("victima-web"), "scopes": ["catalog:read"]})
    return page_call(w, w.token(c), "POST", f"/web/admin/clients/{victim['client_id']}/revoke")


def _prepare(w: World) -> None:
    _keys(w)  # the gateway made its key at start; read it once


PREPARE.append(_prepare)
