"""Schooling per academic year, diplomas, and the pupils' path from the catalog's events,
through the gateway on SQLite and PostgreSQL."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.registry_helpers import Actor, central_authority, fresh_cnp, person_body, university

pytestmark = pytest.mark.e2e

ENROLMENT = {"academic_year": "2025-2026", "institution": "Universitatea din București", "faculty": "Matematică",
             "cycle": "licenta", "fundamental_domain": "Științe exacte", "domain": "Informatică",
             "programme": "Informatică", "programme_locality": "București", "programme_language": "română",
             "programme_duration_years": 3, "programme_credits": 180, "study_year": 1, "form": "IF",
             "financing": "buget", "scholarship_type": "merit", "scholarship_value": 900, "scholarship_months": 10,
             "enrolment_situation": "inmatriculat_admitere", "start_situation": "admis"}


@pytest.fixture(scope="module")
def world(platform):
    return {"u1": university(platform), "central": central_authority(platform)}


def test_an_enrolment_holds_every_field_of_section_i2_and_codes_follow_the_nomenclature(world):
    clerk = world["u1"]["clerk"]
    person = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
    enrolment = clerk.ok("POST", f"/v1/registry/persons/{person['id']}/enrolments", 201, json=ENROLMENT)
    assert enrolment["programme_credits"] == 180 and enrolment["scholarship_value"] == "900.00"
    r = clerk.call("POST", f"/v1/registry/persons/{person['id']}/enrolments",
                   json={**ENROLMENT, "financing": "gratuit", "form": "seral"})
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["details"]} == {"financing", "form"}
    # the end of the year changes the situation: it needs its document's date
    r = clerk.call("PATCH", f"/v1/registry/enrolments/{enrolment['id']}",
                   json={"changes": {"end_situation": "promovat"}, "reason": "sesiunea de vară"})
    assert r.status_code == 422 and "document" in r.json()["message"]
    changed = clerk.ok("PATCH", f"/v1/registry/enrolments/{enrolment['id']}", json={
        "changes": {"end_situation": "promovat"}, "reason": "sesiunea de vară",
        "document_ref": "Catalog semestrial", "document_date": "2026-07-01"})
    assert changed["version"] == 2 and changed["end_situation"] == "promovat"
    listed = clerk.ok("GET", f"/v1/registry/persons/{person['id']}/enrolments")["items"]
    assert [e["version"] for e in listed] == [2]
    history = clerk.ok("GET", f"/v1/registry/persons/{person['id']}/history")["items"]
    assert [h["kind"] for h in history] == ["registration", "enrolment", "enrolment_change"]


def test_a_diploma_series_and_number_is_unique_per_issuer(world):
    clerk = world["u1"]["clerk"]
    a = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
    b = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
    number = uuid.uuid4().hex[:10]
    diploma = {"cycle": "licenta", "diploma_type": "diploma_licenta", "series": "L", "number": number,
               "issued_on": "2026-07-20", "issuer": "Universitatea din București", "exam_date": "2026-07-01",
               "final_average": 9.35, "exam_average": 9.5}
    assert clerk.ok("POST", f"/v1/registry/persons/{a['id']}/diplomas", 201, json=diploma)["series"] == "L"
    r = clerk.call("POST", f"/v1/registry/persons/{b['id']}/diplomas",
                   json={**diploma, "issuer": "universitatea din  București"})
    assert r.status_code == 409 and "series and number" in r.json()["message"]
    other_issuer = clerk.ok("POST", f"/v1/registry/persons/{b['id']}/diplomas", 201,
                            json={**diploma, "issuer": "Universitatea Babeș-Bolyai"})
    assert other_issuer["number"] == number


def test_the_catalog_enrolment_of_a_pupil_reaches_the_registry_path(platform, world):
    admin = platform.token("admin")
    demo = platform.demo
    with platform.client(admin) as c:
        student = c.post("/v1/students", json={"email": f"elev-{uuid.uuid4().hex[:8]}@demo-creanga.ro",
                                               "password": "parola-elevului-1", "last_name": "Stan",
                                               "first_name": "Mihai", "cnp": fresh_cnp("5")}).json()
        person_id = student["person"]["id"]
        assert c.post(f"/v1/classes/{demo['class']['id']}/students", json={"student_id": person_id}).status_code == 201
    school = Actor(admin, demo["tenant"]["id"], platform.client())
    deadline = time.monotonic() + 20
    while True:
        items = school.ok("GET", f"/v1/registry/persons/{person_id}/enrolments")["items"]
        if items or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len(items) == 1, items
    assert items[0]["kind"] == "school" and items[0]["class_id"] == demo["class"]["id"]
    # the central authority sees the person's whole path
    whole = world["central"].ok("GET", f"/v1/registry/persons/{person_id}/enrolments")["items"]
    assert [e["id"] for e in whole] == [items[0]["id"]]
