"""Rows of the authorisation matrix for the data-subject rights the registry owns (issue 11): the
restriction of processing of a person, and rectification requests of registry data.

The restriction is the school's: its administrator, director and registrar, for persons their
institution registered (another institution's person: 404 from the registry). A rectification is
asked by the student themselves, a parent for their child (the registry refuses another pupil:
403), or staff on the person's behalf; the registrar or the administrator decides. Cells that
change state use a fresh person or request each, so no cell depends on another's order, and the
demo pupils are never restricted (other areas count them in their statistics)."""
from __future__ import annotations

from tests.e2e.authz import (ADM, ADMT, CLERK, CREATED, DIR, MATRIX, NOT_FOUND, OK, PAR, PREPARE, STU, STU2, Call, Row,
                             only, person_body, route)

NOT_YOURS = (403, "forbidden", "only your own record or your child's")
STAFF_OWN = {ADM: OK, DIR: OK, ADMT: OK, CLERK: OK}
STAFF_OTHER_TENANT = {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND, CLERK: NOT_FOUND}
RESTRICTION = "/v1/persons/{person_id}/processing-restriction"
RECTIFICATIONS = "/v1/rights/registry-rectifications"
ASK = {"field": "personal.domicile_locality", "proposed_value": "Cluj-Napoca",
       "reason": "verificare matrice: localitatea de domiciliu"}

MATRIX.update({
    ("GET", RESTRICTION): Row(only(STAFF_OWN), variants={"other-tenant": STAFF_OTHER_TENANT}),
    ("PUT", RESTRICTION): Row(only(STAFF_OWN), variants={"other-tenant": STAFF_OTHER_TENANT}),
    ("POST", RESTRICTION + "/lift"): Row(only(STAFF_OWN), variants={"other-tenant": STAFF_OTHER_TENANT}),
    ("POST", RECTIFICATIONS): Row(
        only({STU: CREATED, STU2: CREATED, PAR: CREATED, ADM: CREATED, DIR: CREATED, ADMT: CREATED, CLERK: CREATED}),
        variants={"other-record": {STU: NOT_YOURS, STU2: NOT_YOURS, PAR: NOT_YOURS},
                  "other-tenant-body": {**STAFF_OTHER_TENANT, STU: NOT_YOURS, STU2: NOT_YOURS, PAR: NOT_YOURS}}),
    # staff see their institution's requests, a pupil their own, a parent their child's only
    ("GET", RECTIFICATIONS): Row(
        only({STU: OK, STU2: OK, PAR: OK, ADM: OK, DIR: OK, ADMT: OK, CLERK: OK}),
        hidden={STU: ("A.student2_person",), STU2: ("A.student_person",), PAR: ("A.student_person",)}),
    ("POST", RECTIFICATIONS + "/{request_id}/decision"): Row(
        only({ADM: OK, ADMT: OK, CLERK: OK}), variants={"other-tenant": {ADM: NOT_FOUND, ADMT: NOT_FOUND,
                                                                          CLERK: NOT_FOUND}}),
})


def _home_token(w, caller: str) -> str:
    return w.people[CLERK].token if caller == CLERK else w.admin("A")


def _ask(w, token: str, person: str) -> str:
    return w.ok("POST", RECTIFICATIONS, token, json={**ASK, "person_id": person})["id"]


def _prepare(w) -> None:
    ids = w.ids
    # requests about both demo pupils exist, so a pupil's or a parent's list could show the other's
    ids["A.rect"] = _ask(w, w.admin("A"), ids["A.student_person"])
    _ask(w, w.admin("A"), ids["A.student2_person"])
    ids["B.rect"] = _ask(w, w.admin("B"), ids["B.student_person"])
    ids["U.rect"] = _ask(w, w.people[CLERK].token, ids["U.person"])


PREPARE.append(_prepare)


def _staff_person(w, caller: str, variant: str, *, fresh: bool) -> str:
    """A person of the caller's institution (new when the cell changes it), or of another."""
    ids = w.ids
    if variant == "other-tenant":
        return ids["A.student_person"] if caller == CLERK else ids["B.student_person"]
    if caller not in STAFF_OWN:
        return ids["A.student_person"]  # refused by the gateway before anything changes
    if fresh:
        return w.ok("POST", "/v1/registry/persons", _home_token(w, caller), json=person_body())["id"]
    return ids["U.person"] if caller == CLERK else ids["A.student_person"]


@route("GET", RESTRICTION)
def _get_restriction(w, c, v):
    person = _staff_person(w, c, v, fresh=False)
    return Call(w.token(c), "GET", f"/v1/persons/{person}/processing-restriction")


@route("PUT", RESTRICTION)
def _set_restriction(w, c, v):
    person = _staff_person(w, c, v, fresh=True)
    return Call(w.token(c), "PUT", f"/v1/persons/{person}/processing-restriction",
                json={"reason": "verificare matrice: cererea persoanei"})


@route("POST", RESTRICTION + "/lift")
def _lift_restriction(w, c, v):
    person = _staff_person(w, c, v, fresh=True)
    if v == "own" and c in STAFF_OWN:
        w.ok("PUT", f"/v1/persons/{person}/processing-restriction", _home_token(w, c),
             json={"reason": "verificare matrice"})
    return Call(w.token(c), "POST", f"/v1/persons/{person}/processing-restriction/lift",
                json={"reason": "verificare matrice: restricția se ridică"})


@route("POST", RECTIFICATIONS)
def _ask_rectification(w, c, v):
    ids = w.ids
    if c in (STU, STU2):
        mine, other = ("A.student2_person", "A.student_person") if c == STU2 else ("A.student_person",
                                                                                  "A.student2_person")
        person = {"own": None, "other-record": ids[other], "other-tenant-body": ids["B.student_person"]}[v]
    elif c == PAR:
        person = {"own": ids["A.student2_person"], "other-record": ids["A.student_person"],
                  "other-tenant-body": ids["B.student_person"]}[v]
    elif v == "other-tenant-body":
        person = ids["A.student_person"] if c == CLERK else ids["B.student_person"]
    else:
        person = ids["U.person"] if c == CLERK else ids["A.student_person"]
    body = {**ASK, **({"person_id": person} if person else {})}
    return Call(w.token(c), "POST", RECTIFICATIONS, json=body)


@route("GET", RECTIFICATIONS)
def _list_rectifications(w, c, v):
    return Call(w.token(c), "GET", RECTIFICATIONS, params={"limit": 200})


@route("POST", RECTIFICATIONS + "/{request_id}/decision")
def _decide_rectification(w, c, v):
    ids = w.ids
    if v == "other-tenant":
        request = ids["A.rect"] if c == CLERK else ids["B.rect"]
    elif c in (ADM, ADMT, CLERK):
        request = _ask(w, _home_token(w, c), ids["U.person"] if c == CLERK else ids["A.student_person"])
    else:
        request = ids["A.rect"]
    return Call(w.token(c), "POST", f"{RECTIFICATIONS}/{request}/decision",
                json={"approve": False, "reason": "verificare matrice: nu reiese din acte"})
