"""Registry rows of the authorisation matrix: persons, history, status, corrections, matches,
nomenclatures, enrolments, diplomas, imports and reports.

The central authority has no column (see tests/e2e/authz.py); what it may do on these routes
(read across institutions, approve corrections, decide doubtful matches, manage nomenclatures,
the central reports) is covered by tests/e2e/test_registry_*.py. Here its routes show that no
other caller reaches them.
"""
from __future__ import annotations

from tests.e2e.authz import (ACCEPTED, ADM, ADMT, CLERK, CREATED, DIR, INT, MATRIX, NOT_FOUND, OK, OP, PREPARE, PUBLIC_ROW,
                             STU, STU2, SVC_ROLE_DENIED, TCH, TCH2, Call, Row, only, person_body, route)

NO_DELETE = (403, "forbidden", "nothing is ever deleted")
WRITERS_OWN = {ADM: OK, ADMT: OK, CLERK: OK}
OTHER_TENANT_WRITERS = {ADM: NOT_FOUND, ADMT: NOT_FOUND, CLERK: NOT_FOUND}
READERS_OWN = {ADM: OK, DIR: OK, TCH: OK, TCH2: OK, ADMT: OK, CLERK: OK, INT: OK}
CENTRAL_ONLY = only({})

MATRIX.update({
    ("GET", "/v1/registry/persons"): Row(only(READERS_OWN)),
    ("PATCH", "/v1/registry/persons/{person_id}"): Row(only(WRITERS_OWN),
                                                       variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("DELETE", "/v1/registry/persons/{person_id}"): Row(only({ADM: NO_DELETE, ADMT: NO_DELETE, CLERK: NO_DELETE,
                                                              OP: NO_DELETE})),
    ("GET", "/v1/registry/persons/{person_id}/history"): Row(
        only({**READERS_OWN, STU: OK, STU2: OK}),
        variants={
            "other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, TCH: NOT_FOUND, TCH2: NOT_FOUND, ADMT: NOT_FOUND,
                             CLERK: NOT_FOUND, INT: NOT_FOUND, STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED},
            "other-record": {STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED}}),
    ("POST", "/v1/registry/persons/{person_id}/status"): Row(only(WRITERS_OWN),
                                                             variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("POST", "/v1/registry/persons/{person_id}/corrections"): Row(
        only({ADM: CREATED, ADMT: CREATED, CLERK: CREATED}), variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("GET", "/v1/registry/corrections"): Row(only(WRITERS_OWN)),
    ("POST", "/v1/registry/corrections/{correction_id}/approve"): Row(CENTRAL_ONLY),
    ("POST", "/v1/registry/corrections/{correction_id}/reject"): Row(CENTRAL_ONLY),
    ("GET", "/v1/registry/matches"): Row(only(WRITERS_OWN)),
    ("POST", "/v1/registry/matches/{candidate_id}/confirm"): Row(only(WRITERS_OWN),
                                                                 variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("POST", "/v1/registry/matches/{candidate_id}/reject"): Row(only(WRITERS_OWN),
                                                                variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("GET", "/v1/registry/nomenclatures"): Row(PUBLIC_ROW),
    ("GET", "/v1/registry/nomenclatures/export.json"): Row(PUBLIC_ROW),
    ("POST", "/v1/registry/nomenclatures/{name}/values"): Row(CENTRAL_ONLY),
    ("POST", "/v1/registry/nomenclatures/{name}/values/{code}/retire"): Row(CENTRAL_ONLY),
})

DOC = {"reason": "verificare matrice", "document_ref": "Decizia nr. 1/2026", "document_date": "2026-01-15"}


def _prepare(w) -> None:
    clerk = w.people[CLERK].token
    w.ids["B.reg_person"] = w.ids["B.student_person"]
    w.ids["U.reg_correction"] = w.ok("POST", f"/v1/registry/persons/{w.ids['U.person']}/corrections", clerk, json={
        "changes": {"personal": {"first_name": "Ana-Maria"}}, **DOC})["id"]
    # a candidate of tenant B (the other tenant of every writer of A and of U)
    w.ids["B.reg_candidate"] = _candidate(w, w.admin("A"), w.admin("B"))


PREPARE.append(_prepare)


def _home_token(w, caller: str) -> str:
    return w.people[CLERK].token if caller == CLERK else w.admin("A")


def _fresh_person(w, caller: str, variant: str) -> str:
    if variant == "other-tenant":
        return w.ids["B.reg_person"]
    return w.ok("POST", "/v1/registry/persons", _home_token(w, caller), json=person_body())["id"]


def _candidate(w, first_token: str, second_token: str) -> str:
    """A pending match: a person registered by one institution, submitted again by another."""
    body = person_body()
    w.ok("POST", "/v1/registry/persons", first_token, json=body)
    r = w.call("POST", "/v1/registry/persons", second_token, json=body)
    assert r.status_code == 202, r.text
    return r.json()["candidate_id"]


def _candidate_for(w, caller: str, variant: str) -> str:
    if variant == "other-tenant" or caller not in (ADM, ADMT, CLERK):
        return w.ids["B.reg_candidate"]
    other = w.admin("A") if caller == CLERK else w.people[CLERK].token
    return _candidate(w, other, _home_token(w, caller))


@route("GET", "/v1/registry/persons")
def _list_persons(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/persons", params={"limit": 200})


@route("PATCH", "/v1/registry/persons/{person_id}")
def _patch_person(w, c, v):
    person = _fresh_person(w, c, v) if c in (ADM, ADMT, CLERK) else w.ids["A.student_person"]
    return Call(w.token(c), "PATCH", f"/v1/registry/persons/{person}",
                json={"changes": {"personal": {"phone": "+40722000111"}}, "reason": "telefon nou"})


@route("DELETE", "/v1/registry/persons/{person_id}")
def _delete_person(w, c, v):
    return Call(w.token(c), "DELETE", f"/v1/registry/persons/{w.ids['A.student_person']}")


@route("GET", "/v1/registry/persons/{person_id}/history")
def _history(w, c, v):
    ids = w.ids
    if c == CLERK:
        person = ids["A.student_person"] if v == "other-tenant" else ids["U.person"]
    else:
        mine, other = (("A.student2_person", "A.student_person") if c == STU2
                       else ("A.student_person", "A.student2_person"))
        person = ids[{"own": mine, "other-record": other, "other-tenant": "B.student_person"}[v]]
    return Call(w.token(c), "GET", f"/v1/registry/persons/{person}/history")


@route("POST", "/v1/registry/persons/{person_id}/status")
def _status(w, c, v):
    person = _fresh_person(w, c, v) if c in (ADM, ADMT, CLERK) else w.ids["A.student_person"]
    return Call(w.token(c), "POST", f"/v1/registry/persons/{person}/status", json={"status": "interrupted", **DOC})


@route("POST", "/v1/registry/persons/{person_id}/corrections")
def _correction(w, c, v):
    person = _fresh_person(w, c, v) if c in (ADM, ADMT, CLERK) else w.ids["A.student_person"]
    return Call(w.token(c), "POST", f"/v1/registry/persons/{person}/corrections",
                json={"changes": {"personal": {"first_name": "Ana-Maria"}}, **DOC})


@route("GET", "/v1/registry/corrections")
def _corrections(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/corrections")


for _decision in ("approve", "reject"):
    route("POST", f"/v1/registry/corrections/{{correction_id}}/{_decision}")(
        lambda w, c, v, d=_decision: Call(w.token(c), "POST", f"/v1/registry/corrections/{w.ids['U.reg_correction']}/{d}"))
    route("POST", f"/v1/registry/matches/{{candidate_id}}/{'confirm' if _decision == 'approve' else 'reject'}")(
        lambda w, c, v, d=("confirm" if _decision == "approve" else "reject"): Call(
            w.token(c), "POST", f"/v1/registry/matches/{_candidate_for(w, c, v)}/{d}"))


@route("GET", "/v1/registry/matches")
def _matches(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/matches")


@route("GET", "/v1/registry/nomenclatures")
def _nomenclatures(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/nomenclatures", params={"academic_year": "2025-2026"})


@route("GET", "/v1/registry/nomenclatures/export.json")
def _export(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/nomenclatures/export.json")


@route("POST", "/v1/registry/nomenclatures/{name}/values")
def _add_value(w, c, v):
    return Call(w.token(c), "POST", "/v1/registry/nomenclatures/cycle/values",
                json={"code": "x", "label": "x", "valid_from": "2026-2027"})


@route("POST", "/v1/registry/nomenclatures/{name}/values/{code}/retire")
def _retire(w, c, v):
    return Call(w.token(c), "POST", "/v1/registry/nomenclatures/cycle/values/licenta/retire",
                json={"last_valid_year": "2030-2031", "reason": "x"})


# --- schooling and diplomas -------------------------------------------------------------------

MATRIX.update({
    ("POST", "/v1/registry/persons/{person_id}/enrolments"): Row(
        only({ADM: CREATED, ADMT: CREATED, CLERK: CREATED}), variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("GET", "/v1/registry/persons/{person_id}/enrolments"): Row(
        only({**READERS_OWN, STU: OK, STU2: OK}),
        variants={
            "other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, TCH: NOT_FOUND, TCH2: NOT_FOUND, ADMT: NOT_FOUND,
                             CLERK: NOT_FOUND, INT: NOT_FOUND, STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED},
            "other-record": {STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED}}),
    ("PATCH", "/v1/registry/enrolments/{enrolment_id}"): Row(only(WRITERS_OWN),
                                                             variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("POST", "/v1/registry/persons/{person_id}/diplomas"): Row(
        only({ADM: CREATED, ADMT: CREATED, CLERK: CREATED}), variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("GET", "/v1/registry/persons/{person_id}/diplomas"): Row(
        only({**READERS_OWN, STU: OK, STU2: OK}),
        variants={
            "other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, TCH: NOT_FOUND, TCH2: NOT_FOUND, ADMT: NOT_FOUND,
                             CLERK: NOT_FOUND, INT: NOT_FOUND, STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED},
            "other-record": {STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED}}),
})

ENROLMENT = {"academic_year": "2025-2026", "cycle": "licenta", "programme": "Informatică", "study_year": 1,
             "form": "IF", "financing": "buget"}


def _enrolment_of(w, token: str, person: str) -> str:
    return w.ok("POST", f"/v1/registry/persons/{person}/enrolments", token, json=ENROLMENT)["id"]


def _prepare_schooling(w) -> None:
    w.ids["B.reg_enrolment"] = _enrolment_of(w, w.admin("B"), w.ids["B.reg_person"])


PREPARE.append(_prepare_schooling)


def _person_path(w, c, v, suffix: str) -> str:
    ids = w.ids
    if c == CLERK:
        person = ids["A.student_person"] if v == "other-tenant" else ids["U.person"]
    else:
        mine, other = (("A.student2_person", "A.student_person") if c == STU2
                       else ("A.student_person", "A.student2_person"))
        person = ids[{"own": mine, "other-record": other, "other-tenant": "B.student_person"}[v]]
    return f"/v1/registry/persons/{person}/{suffix}"


@route("POST", "/v1/registry/persons/{person_id}/enrolments")
def _add_enrolment(w, c, v):
    person = _fresh_person(w, c, v) if c in (ADM, ADMT, CLERK) else w.ids["A.student_person"]
    return Call(w.token(c), "POST", f"/v1/registry/persons/{person}/enrolments", json=ENROLMENT)


@route("GET", "/v1/registry/persons/{person_id}/enrolments")
def _list_enrolments(w, c, v):
    return Call(w.token(c), "GET", _person_path(w, c, v, "enrolments"))


@route("PATCH", "/v1/registry/enrolments/{enrolment_id}")
def _patch_enrolment(w, c, v):
    if c in (ADM, ADMT, CLERK) and v != "other-tenant":
        enrolment = _enrolment_of(w, _home_token(w, c), _fresh_person(w, c, v))
    else:
        enrolment = w.ids["B.reg_enrolment"]
    return Call(w.token(c), "PATCH", f"/v1/registry/enrolments/{enrolment}",
                json={"changes": {"study_year": 2}, "reason": "promovat"})


@route("POST", "/v1/registry/persons/{person_id}/diplomas")
def _add_diploma(w, c, v):
    from tests.e2e.authz import unique
    person = _fresh_person(w, c, v) if c in (ADM, ADMT, CLERK) else w.ids["A.student_person"]
    return Call(w.token(c), "POST", f"/v1/registry/persons/{person}/diplomas", json={
        "cycle": "licenta", "diploma_type": "diploma_licenta", "series": "L", "number": unique("n")[:20],
        "issued_on": "2026-07-10", "issuer": "Universitatea din București"})


@route("GET", "/v1/registry/persons/{person_id}/diplomas")
def _list_diplomas(w, c, v):
    return Call(w.token(c), "GET", _person_path(w, c, v, "diplomas"))


# --- imports, the batch web service, templates and schemas --------------------------------------

MATRIX.update({
    ("POST", "/v1/registry/imports"): Row(only({ADM: ACCEPTED, ADMT: ACCEPTED, CLERK: ACCEPTED})),
    ("GET", "/v1/registry/imports/{job_id}"): Row(only(WRITERS_OWN), variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("GET", "/v1/registry/imports/{job_id}/problems.csv"): Row(only(WRITERS_OWN),
                                                               variants={"other-tenant": OTHER_TENANT_WRITERS}),
    ("POST", "/v1/registry/batch"): Row(only(WRITERS_OWN)),
    ("GET", "/v1/registry/templates/{section}.csv"): Row(PUBLIC_ROW),
    ("GET", "/v1/registry/schemas/import.xsd"): Row(PUBLIC_ROW),
    ("GET", "/v1/registry/schemas/batch.schema.json"): Row(PUBLIC_ROW),
})


def _csv_file() -> bytes:
    from tests.e2e.authz import unique
    body = person_body()
    return (f"external_id,cnp,last_name_at_birth,last_name,first_name,citizenship\r\n"
            f"{unique('imp')},{body['cnp']},Ionescu,Ionescu,Ana,RO\r\n").encode()


def _prepare_imports(w) -> None:
    r = w.call("POST", "/v1/registry/imports", w.admin("B"), params={"format": "csv", "mode": "validate"},
               content=_csv_file())
    assert r.status_code == 202, r.text
    w.ids["B.reg_import"] = r.json()["id"]
    for tenant, token in (("A", w.admin("A")), ("U", w.people[CLERK].token)):
        r = w.call("POST", "/v1/registry/imports", token, params={"format": "csv", "mode": "validate"},
                   content=_csv_file())
        w.ids[f"{tenant}.reg_import"] = r.json()["id"]


PREPARE.append(_prepare_imports)


@route("POST", "/v1/registry/imports")
def _import(w, c, v):
    call = Call(w.token(c), "POST", "/v1/registry/imports", params={"format": "csv", "mode": "validate"})
    return _with_content(call, _csv_file())


def _with_content(call: Call, content: bytes) -> Call:
    # the matrix sends `data`/`json`; a raw body goes through `data` as bytes
    call.data = content  # type: ignore[assignment]
    return call


def _job_for(w, c, v) -> str:
    if v == "other-tenant":
        return w.ids["B.reg_import"]
    return w.ids["U.reg_import" if c == CLERK else "A.reg_import"]


@route("GET", "/v1/registry/imports/{job_id}")
def _get_import(w, c, v):
    return Call(w.token(c), "GET", f"/v1/registry/imports/{_job_for(w, c, v)}")


@route("GET", "/v1/registry/imports/{job_id}/problems.csv")
def _import_problems(w, c, v):
    return Call(w.token(c), "GET", f"/v1/registry/imports/{_job_for(w, c, v)}/problems.csv")


@route("POST", "/v1/registry/batch")
def _batch(w, c, v):
    return Call(w.token(c), "POST", "/v1/registry/batch",
                json={"mode": "validate", "rows": [{"external_id": "x", "last_name": "Pop"}]})


@route("GET", "/v1/registry/templates/{section}.csv")
def _template(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/templates/personal.csv")


@route("GET", "/v1/registry/schemas/import.xsd")
def _xsd(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/schemas/import.xsd")


@route("GET", "/v1/registry/schemas/batch.schema.json")
def _json_schema(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/schemas/batch.schema.json")


# --- reports ---------------------------------------------------------------------------------------

STAT_ONLY = {"statistics_viewer": OK}
MATRIX.update({
    ("GET", "/v1/registry/reports/counts"): Row(only(WRITERS_OWN)),
    ("GET", "/v1/registry/reports/late-changes"): Row(only(WRITERS_OWN)),
    ("GET", "/v1/registry/reports/double-financing"): Row(CENTRAL_ONLY),
    ("GET", "/v1/registry/reports/diploma-readiness"): Row(only(WRITERS_OWN)),
    # aggregates of the viewer's own institution only, no person in them
    ("GET", "/v1/registry/reports/statistics"): Row(only(STAT_ONLY),
                                                    hidden={"statistics_viewer": ("A.student_person",)}),
    ("POST", "/v1/registry/exports/enrolled"): Row(CENTRAL_ONLY),
})

for _path in ("counts", "double-financing", "diploma-readiness", "statistics"):
    route("GET", f"/v1/registry/reports/{_path}")(
        lambda w, c, v, p=_path: Call(w.token(c), "GET", f"/v1/registry/reports/{p}",
                                      params={"academic_year": "2025-2026"}))


@route("GET", "/v1/registry/reports/late-changes")
def _late(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/reports/late-changes")


@route("POST", "/v1/registry/exports/enrolled")
def _export_enrolled(w, c, v):
    return Call(w.token(c), "POST", "/v1/registry/exports/enrolled",
                json={"body": "transport", "purpose": "reduceri de transport", "academic_year": "2025-2026"})


# --- account requests --------------------------------------------------------------------------------

MATRIX.update({
    ("POST", "/v1/registry/account-requests"): Row(only({ADM: CREATED, ADMT: CREATED})),
    ("GET", "/v1/registry/account-requests"): Row(only({ADM: OK, ADMT: OK, OP: OK})),
    ("POST", "/v1/registry/account-requests/{request_id}/approve"): Row(CENTRAL_ONLY),
    ("POST", "/v1/registry/account-requests/{request_id}/reject"): Row(CENTRAL_ONLY),
    # the operator creates the account once the central authority approved the request
    ("POST", "/v1/registry/account-requests/{request_id}/create-account"): Row(only({OP: CREATED})),
})


def _account_request(w, token: str) -> str:
    from tests.e2e.authz import new_email
    return w.ok("POST", "/v1/registry/account-requests", token, json={
        "email": new_email("secretar"), "full_name": "Secretar Nou", "reason": "secretariat nou"})["id"]


def _prepare_accounts(w) -> None:
    from tests.e2e.authz import new_email, new_password
    w.ids["B.reg_account_request"] = _account_request(w, w.admin("B"))
    email, password = new_email("autoritate"), new_password()
    w.ok("POST", "/v1/users", w.token(OP), json={"email": email, "full_name": "Ministerul Educației",
                                                 "role": "central_authority", "password": password,
                                                 "tenant_id": "platform"})
    w.ids["central_token"] = w.p.sign_in(email, password)["access_token"]


PREPARE.append(_prepare_accounts)


@route("POST", "/v1/registry/account-requests")
def _request_account(w, c, v):
    from tests.e2e.authz import new_email
    return Call(w.token(c), "POST", "/v1/registry/account-requests",
                json={"email": new_email("secretar"), "full_name": "Secretar Nou", "reason": "secretariat nou"})


@route("GET", "/v1/registry/account-requests")
def _account_requests(w, c, v):
    return Call(w.token(c), "GET", "/v1/registry/account-requests", params={"limit": 200})


for _decision in ("approve", "reject"):
    route("POST", f"/v1/registry/account-requests/{{request_id}}/{_decision}")(
        lambda w, c, v, d=_decision: Call(w.token(c), "POST",
                                          f"/v1/registry/account-requests/{w.ids['B.reg_account_request']}/{d}"))


@route("POST", "/v1/registry/account-requests/{request_id}/create-account")
def _create_account(w, c, v):
    request = _account_request(w, w.admin("U"))  # a university: a registry clerk has a place there
    if c == OP:
        w.ok("POST", f"/v1/registry/account-requests/{request}/approve", w.ids["central_token"])
    from tests.e2e.authz import new_password
    return Call(w.token(c), "POST", f"/v1/registry/account-requests/{request}/create-account",
                json={"password": new_password()})
