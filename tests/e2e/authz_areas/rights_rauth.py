"""Matrix rows of the data-subject rights handled by auth (issue 11, helper rauth): the privacy
notice, erasure requests, account deactivation and a person's export.

Whose data: a student their own, a parent their own child's (the matrix's parent follows
student-2), the school admin anyone's of the school. An export job is read by the person who
asked for it only. Download links are one-time secrets that only the job's reading issues: the
cells call the download with a token that is not a link's, which reaches the service (404 with
its own message) for the callers the gateway lets through.

Records (PREPARE): an export job of each caller who may ask for one (`export.<caller>`), and one
of tenant B's administrator (`B.export`); accounts of A to deactivate.
"""
from __future__ import annotations

from tests.e2e.authz import (ACCEPTED, ADM, ADMT, ANON, HUMANS, INT, MATRIX, OK, OP, PAR, PREPARE,
                             STU, STU2, Call, Row, World, every_person, only, route)

NO_NOTICE = (404, "not_found", "no privacy notice")           # the operator's platform tenant
OWN_OR_CHILD = (403, "forbidden", "only for yourself or for your own child")
EXPORT_OWN = (403, "forbidden", "only your own data or your own child's")
NOT_A_PERSON_HERE = (404, "not_found", "person not found")  # the registry's answer
BAD_LINK = (404, "not_found", "download link is not valid")
JOB_NOT_FOUND = (404, "not_found", "export not found")
USER_NOT_FOUND = (404, "not_found", "user not found")
REQUESTERS = (STU, STU2, PAR, ADM, ADMT)
NOTICE = {"text_ro": "Notă de informare publicată în matrice: operatorul este școala, persoana împuternicită "
                     "este platforma; scopuri, temei legal, păstrare (registrul nu se șterge, REG-8) și "
                     "destinatari (sistemele ministerului).",
          "text_en": "Privacy notice published by the matrix: the school is the controller, the platform the "
                     "processor; purposes, legal basis, retention (the registry is never erased, REG-8) and "
                     "recipients (the ministry's systems)."}

MATRIX[("GET", "/v1/privacy-notice")] = Row({**every_person(OK), OP: NO_NOTICE})
MATRIX[("POST", "/v1/privacy-notice/acknowledgement")] = Row({**every_person(OK), OP: NO_NOTICE})
MATRIX[("PUT", "/v1/admin/privacy-notice")] = Row(only({ADM: OK, ADMT: OK}))
MATRIX[("POST", "/v1/rights/erasure-requests")] = Row(
    every_person(OK),
    # a person id that is not the caller's nor their child's (the demo student's; for the demo
    # student themselves, student-2's)
    variants={"other-record": {c: OWN_OR_CHILD for c in HUMANS}})
MATRIX[("POST", "/v1/admin/users/{user_id}/deactivation")] = Row(
    only({ADM: OK, ADMT: OK}), variants={"other-tenant": {ADM: USER_NOT_FOUND, ADMT: USER_NOT_FOUND}})
MATRIX[("POST", "/v1/admin/users/{user_id}/reactivation")] = Row(
    only({ADM: OK, ADMT: OK}), variants={"other-tenant": {ADM: USER_NOT_FOUND, ADMT: USER_NOT_FOUND}})
MATRIX[("POST", "/v1/rights/exports")] = Row(
    only({c: ACCEPTED for c in REQUESTERS}),
    # someone else's person id: the school admin may (on their behalf), a pupil or parent may not
    variants={"other-record": {STU: EXPORT_OWN, STU2: EXPORT_OWN, PAR: EXPORT_OWN},
              "other-tenant-body": {STU: EXPORT_OWN, STU2: EXPORT_OWN, PAR: EXPORT_OWN,
                                    ADM: NOT_A_PERSON_HERE, ADMT: NOT_A_PERSON_HERE}})
# each caller sees only their own jobs (hidden: the others' job ids)
MATRIX[("GET", "/v1/rights/exports")] = Row(
    only({c: OK for c in REQUESTERS}),
    hidden={c: tuple(f"export.{o}" for o in REQUESTERS if o != c) + ("B.export",) for c in REQUESTERS})
MATRIX[("GET", "/v1/rights/exports/{export_id}")] = Row(
    only({c: OK for c in REQUESTERS}),
    variants={"other-record": {c: JOB_NOT_FOUND for c in REQUESTERS},
              "other-tenant": {c: JOB_NOT_FOUND for c in REQUESTERS}})
MATRIX[("GET", "/v1/rights/exports/{export_id}/download")] = Row(only({c: BAD_LINK for c in REQUESTERS}))


def _prepare(w: World) -> None:
    for caller in REQUESTERS:
        w.ids[f"export.{caller}"] = w.ok("POST", "/v1/rights/exports", w.token(caller), json={})["id"]
    w.ids["B.export"] = w.ok("POST", "/v1/rights/exports", w.admin("B"), json={})["id"]
    w.ids["A.deactivation_idle"] = w.new_account(PAR).user_id


PREPARE.append(_prepare)


def _current_version(w: World, caller: str) -> int:
    if caller in (OP, ANON, INT) or caller not in HUMANS:
        return 1
    return w.ok("GET", "/v1/privacy-notice", w.admin(w.home(caller)))["version"]


@route("GET", "/v1/privacy-notice")
def _notice(w, c, v):
    return Call(w.token(c), "GET", "/v1/privacy-notice", params={"lang": "ro"})


@route("POST", "/v1/privacy-notice/acknowledgement")
def _acknowledge(w, c, v):
    return Call(w.token(c), "POST", "/v1/privacy-notice/acknowledgement", json={"version": _current_version(w, c)})


@route("PUT", "/v1/admin/privacy-notice")
def _publish(w, c, v):
    return Call(w.token(c), "PUT", "/v1/admin/privacy-notice", json=NOTICE)


@route("POST", "/v1/rights/erasure-requests")
def _erasure(w, c, v):
    body = {"reason": "matrix"}
    if v == "other-record":
        body["person_id"] = w.ids["A.student2_person" if c == STU else "A.student_person"]
    return Call(w.token(c), "POST", "/v1/rights/erasure-requests", json=body)


def _target(w: World, c: str, v: str, *, deactivated: bool) -> str:
    if v == "other-tenant":
        return w.ids["B.unlock_target"]
    if c not in (ADM, ADMT):
        return w.ids["A.deactivation_idle"]  # refused before any service is reached
    target = w.new_account(PAR).user_id
    if deactivated:
        w.ok("POST", f"/v1/admin/users/{target}/deactivation", w.admin("A"), json={"reason": "matrix set-up"})
    return target


@route("POST", "/v1/admin/users/{user_id}/deactivation")
def _deactivate(w, c, v):
    return Call(w.token(c), "POST", f"/v1/admin/users/{_target(w, c, v, deactivated=False)}/deactivation",
                json={"reason": "matrix"})


@route("POST", "/v1/admin/users/{user_id}/reactivation")
def _reactivate(w, c, v):
    return Call(w.token(c), "POST", f"/v1/admin/users/{_target(w, c, v, deactivated=True)}/reactivation",
                json={"reason": "matrix"})


@route("POST", "/v1/rights/exports")
def _export(w, c, v):
    body = {}
    if v == "other-record":
        body["person_id"] = w.ids["A.student2_person" if c == STU else "A.student_person"]
    elif v == "other-tenant-body":
        body["person_id"] = w.ids["B.student_person"]
    return Call(w.token(c), "POST", "/v1/rights/exports", json=body)


def _job(w: World, c: str, v: str) -> str:
    if v == "other-tenant":
        return w.ids["B.export"]
    if v == "other-record":
        return w.ids["export." + (ADM if c != ADM else STU)]
    return w.ids.get(f"export.{c}", w.ids[f"export.{STU}"])


@route("GET", "/v1/rights/exports/{export_id}")
def _export_job(w, c, v):
    return Call(w.token(c), "GET", f"/v1/rights/exports/{_job(w, c, v)}")


@route("GET", "/v1/rights/exports/{export_id}/download")
def _download(w, c, v):
    return Call(w.token(c), "GET", f"/v1/rights/exports/{_job(w, c, v)}/download",
                params={"token": "not-a-link-token-of-this-export-000000"})



@route("GET", "/v1/rights/exports")
def _exports(w, c, v):
    return Call(w.token(c), "GET", "/v1/rights/exports", params={"limit": 200})
