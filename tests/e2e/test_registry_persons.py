"""The registry's person records through the gateway, on SQLite and PostgreSQL: chapter V data
with per-field errors, sensitive fields, re-enrolment matches, history, no delete, the archive
and its corrections, nomenclatures, concurrency of two institutions on one new CNP."""
from __future__ import annotations

import threading

import pytest

from tests.e2e.registry_helpers import central_authority, fresh_cnp, person_body, university

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(platform):
    return {"u1": university(platform), "u2": university(platform), "central": central_authority(platform)}


def test_a_person_with_chapter_v_data_gets_a_code_and_bad_fields_are_named(world):
    clerk = world["u1"]["clerk"]
    body = person_body(phone="+40722111222")
    body["record"]["administrative"] = {"faculty_matriculation_number": "FMI-123", "accommodation": "caminist"}
    person = clerk.ok("POST", "/v1/registry/persons", 201, json=body)
    assert person["created"] and person["matriculation_code"].startswith("RM2") and len(person["matriculation_code"]) == 16
    assert person["administrative"]["faculty_matriculation_number"] == "FMI-123"
    assert body["cnp"] not in str(person), "the full CNP is not echoed back"
    bad = person_body(civil_status="vaduv", email="nu-e-adresa")
    bad["cnp"] = bad["cnp"][:12] + str((int(bad["cnp"][12]) + 1) % 10)
    r = clerk.call("POST", "/v1/registry/persons", json=bad)
    assert r.status_code == 422, r.text
    fields = {d["field"] for d in r.json()["details"]}
    assert {"personal.civil_status", "personal.email", "personal.cnp.control_digit"} <= fields, r.text
    r = clerk.call("POST", "/v1/registry/persons", json=person_body(ethnicity="romana", citizenship="FR"))
    assert r.status_code == 422 and {"personal.ethnicity", "personal.domicile_county"} <= {
        d["field"] for d in r.json()["details"]}, r.text


def test_sensitive_fields_are_sealed_shown_to_the_registrar_only_and_each_read_is_audited(world, platform):
    u1 = world["u1"]
    person = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=person_body(
        ethnicity="maghiara", special_medical_situation="dizabilitati"))
    plain = u1["clerk"].ok("GET", f"/v1/registry/persons/{person['id']}")
    assert "sensitive" not in plain and "maghiara" not in str(plain)
    full = u1["clerk"].ok("GET", f"/v1/registry/persons/{person['id']}", params={"include_sensitive": "true"})
    assert full["sensitive"] == {"ethnicity": "maghiara", "special_medical_situation": "dizabilitati"}
    r = u1["admin"].call("GET", f"/v1/registry/persons/{person['id']}", params={"include_sensitive": "true"})
    assert r.status_code == 403 and "registrar" in r.json()["message"]
    r = world["central"].call("GET", f"/v1/registry/persons/{person['id']}", params={"include_sensitive": "true"})
    assert r.status_code == 403
    # at rest: the database holds the sealed token, never the value
    if platform.backend == "sqlite":
        import sqlite3
        with sqlite3.connect(platform.data_dir / "registry.db") as db:
            rows = db.execute("SELECT data, sensitive FROM persons WHERE id = ?", (person["id"],)).fetchall()
            snapshots = db.execute("SELECT snapshot FROM record_versions WHERE person_id = ?",
                                   (person["id"],)).fetchall()
        (data, sealed), = rows
        assert sealed.startswith("v1.") and "maghiara" not in sealed and "maghiara" not in data
        assert all("maghiara" not in s for (s,) in snapshots)
    # every view and every sensitive read reached the audit trail
    events = _audit_events(platform, world, person["id"])
    assert "registry.person_viewed" in events and "registry.sensitive_data_viewed" in events


def _audit_events(platform, world, person_id: str) -> set[str]:
    import time
    admin = world["u1"]["admin"]
    deadline = time.monotonic() + 15
    while True:
        r = admin.call("GET", "/v1/audit/events", params={"limit": 200})
        kinds = {e["type"] for e in r.json().get("items", []) if e.get("entity", {}).get("id") == person_id
                 or e.get("entity_id") == person_id} if r.status_code == 200 else set()
        if {"registry.person_viewed", "registry.sensitive_data_viewed"} <= kinds or time.monotonic() > deadline:
            return kinds
        time.sleep(0.3)


def test_re_enrolment_gives_a_match_candidate_and_the_person_keeps_the_code(world):
    u1, u2 = world["u1"], world["u2"]
    body = person_body()
    first = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=body)
    r = u2["clerk"].call("POST", "/v1/registry/persons", json=body)
    assert r.status_code == 202, r.text
    candidate = r.json()
    assert candidate["status"] == "match_candidate"
    assert candidate["person"]["matriculation_code"] == first["matriculation_code"]
    # nothing linked before the confirmation
    assert u2["clerk"].call("GET", f"/v1/registry/persons/{first['id']}").status_code == 404
    listed = u2["clerk"].ok("GET", "/v1/registry/matches", params={"status": "pending"})
    assert candidate["candidate_id"] in {m["id"] for m in listed["items"]}
    confirmed = u2["clerk"].ok("POST", f"/v1/registry/matches/{candidate['candidate_id']}/confirm")
    assert confirmed["person"]["matriculation_code"] == first["matriculation_code"]
    seen = u2["clerk"].ok("GET", f"/v1/registry/persons/{first['id']}")
    assert seen["matriculation_code"] == first["matriculation_code"]
    assert u2["clerk"].call("POST", f"/v1/registry/matches/{candidate['candidate_id']}/confirm").status_code == 409
    assert u2["clerk"].call("POST", "/v1/registry/persons", json=body).status_code == 409


def test_foreign_students_are_matched_on_identifier_citizenship_birth_date_and_doubtful_cases_reviewed(world):
    u1, u2, central = world["u1"], world["u2"], world["central"]
    foreign_id = f"P{fresh_cnp()[3:]}"
    personal = {"last_name_at_birth": "Dupont", "foreign_id": foreign_id, "citizenship": "FR",
                "birth_date": "2001-05-04", "birth_country": "FR", "domicile_country": "FR",
                "id_document_type": "pasaport"}
    body = {"last_name": "Dupont", "first_name": "Jeanne", "record": {"personal": personal}}
    first = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=body)
    assert first["created"]
    r = u2["clerk"].call("POST", "/v1/registry/persons", json=body)
    assert r.status_code == 202 and r.json()["status"] == "match_candidate", r.text
    doubtful = {**body, "record": {"personal": {**personal, "birth_date": "2001-04-05"}}}
    r = u2["clerk"].call("POST", "/v1/registry/persons", json=doubtful)
    assert r.status_code == 202 and r.json()["status"] == "in_review", r.text
    review = central.ok("GET", "/v1/registry/matches", params={"status": "pending"})
    assert r.json()["review_id"] in {m["id"] for m in review["items"]}
    decided = central.ok("POST", f"/v1/registry/matches/{r.json()['review_id']}/reject")
    assert decided["person"]["matriculation_code"] != first["matriculation_code"]


def test_history_every_change_is_a_version_and_nothing_is_deleted(world):
    clerk = world["u1"]["clerk"]
    person = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
    changed = clerk.ok("PATCH", f"/v1/registry/persons/{person['id']}", json={
        "changes": {"personal": {"last_name": "Ionescu", "civil_status": "casatorit"}},
        "reason": "căsătorie", "document_ref": "Certificat de căsătorie seria CS nr. 123",
        "document_date": "2026-06-01"})
    assert changed["last_name"] == "Ionescu" and changed["version"] == 2
    assert changed["personal"]["last_name_at_birth"] == "Popescu"
    r = clerk.call("PATCH", f"/v1/registry/persons/{person['id']}", json={
        "changes": {"personal": {"civil_status": "vaduv"}}, "reason": "x"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "personal.civil_status"
    r = clerk.call("PATCH", f"/v1/registry/persons/{person['id']}", json={
        "changes": {"personal": {"cnp": fresh_cnp()}}, "reason": "x"})
    assert r.status_code == 422 and "correction" in r.text
    history = clerk.ok("GET", f"/v1/registry/persons/{person['id']}/history")["items"]
    assert [v["version"] for v in history] == [1, 2]
    assert history[1]["reason"] == "căsătorie" and history[1]["document_ref"].startswith("Certificat")
    assert history[0]["data"]["data"]["personal"]["last_name"] == "Popescu"
    r = clerk.call("DELETE", f"/v1/registry/persons/{person['id']}")
    assert r.status_code == 403 and "art. 8 j)" in r.json()["message"]
    assert clerk.ok("GET", f"/v1/registry/persons/{person['id']}")["version"] == 2


def test_an_ended_status_makes_an_archive_corrected_only_with_the_central_authoritys_approval(world):
    clerk, central = world["u1"]["clerk"], world["central"]
    person = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
    clerk.ok("POST", f"/v1/registry/persons/{person['id']}/status", json={
        "status": "withdrawn", "reason": "cerere de retragere", "document_ref": "Decizia nr. 7/2026",
        "document_date": "2026-03-02"})
    r = clerk.call("PATCH", f"/v1/registry/persons/{person['id']}", json={
        "changes": {"personal": {"phone": "+40700000000"}}, "reason": "x"})
    assert r.status_code == 409 and "read-only archive" in r.json()["message"]
    r = clerk.call("POST", f"/v1/registry/persons/{person['id']}/status", json={
        "status": "active", "reason": "x", "document_ref": "y", "document_date": "2026-03-03"})
    assert r.status_code == 409
    correction = clerk.ok("POST", f"/v1/registry/persons/{person['id']}/corrections", 201, json={
        "changes": {"personal": {"first_name": "Ioana-Maria"}}, "reason": "greșeală de transcriere",
        "document_ref": "Certificat de naștere", "document_date": "2026-03-05"})
    assert clerk.ok("GET", f"/v1/registry/persons/{person['id']}")["first_name"] == "Ioana"
    assert clerk.call("POST", f"/v1/registry/corrections/{correction['id']}/approve").status_code == 403
    assert correction["id"] in {c["id"] for c in central.ok("GET", "/v1/registry/corrections")["items"]}
    central.ok("POST", f"/v1/registry/corrections/{correction['id']}/approve")
    after = clerk.ok("GET", f"/v1/registry/persons/{person['id']}")
    assert after["first_name"] == "Ioana-Maria" and after["status"] == "withdrawn"
    kinds = [v["kind"] for v in clerk.ok("GET", f"/v1/registry/persons/{person['id']}/history")["items"]]
    assert kinds == ["registration", "status_change", "correction"]


def test_nomenclatures_are_published_versioned_and_retired_values_stay_valid_for_their_years(world, platform):
    central, clerk = world["central"], world["u1"]["clerk"]
    with platform.client() as anonymous:
        data = anonymous.get("/v1/registry/nomenclatures/export.json").json()["nomenclatures"]
    assert {"cycle", "education_form", "financing", "scholarship_type", "enrolment_situation", "start_situation",
            "end_situation", "civil_status", "county"} <= set(data)
    assert {"code": "CJ", "label": "Cluj"}.items() <= next(v for v in data["county"] if v["code"] == "CJ").items()
    code = f"nou{fresh_cnp()[-5:]}"
    central.ok("POST", "/v1/registry/nomenclatures/civil_status/values", 201,
               json={"code": code, "label": "Uniune civilă", "valid_from": "2020-2021"})
    assert clerk.call("POST", "/v1/registry/nomenclatures/civil_status/values",
                      json={"code": "x", "label": "x", "valid_from": "2020-2021"}).status_code == 403
    central.ok("POST", f"/v1/registry/nomenclatures/civil_status/values/{code}/retire",
               json={"last_valid_year": "2021-2022", "reason": "abrogat"})
    with platform.client() as anonymous:
        old = anonymous.get("/v1/registry/nomenclatures", params={"academic_year": "2021-2022",
                                                                  "name": "civil_status"}).json()
        new = anonymous.get("/v1/registry/nomenclatures", params={"academic_year": "2025-2026",
                                                                  "name": "civil_status"}).json()
    assert code in {v["code"] for v in old["nomenclatures"]["civil_status"]}
    assert code not in {v["code"] for v in new["nomenclatures"]["civil_status"]}
    r = clerk.call("POST", "/v1/registry/persons", json=person_body(civil_status=code))
    assert r.status_code == 422 and "civil_status" in r.text


def test_two_institutions_registering_one_new_cnp_at_once_end_with_one_person(world):
    body = person_body()
    answers: list = []
    barrier = threading.Barrier(2)

    def register(clerk):
        barrier.wait()
        answers.append(clerk.call("POST", "/v1/registry/persons", json=body))

    threads = [threading.Thread(target=register, args=(world[u]["clerk"],)) for u in ("u1", "u2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 202], [a.text for a in answers]
    created = next(a.json() for a in answers if a.status_code == 201)
    candidate = next(a.json() for a in answers if a.status_code == 202)
    assert candidate["person"]["matriculation_code"] == created["matriculation_code"]


def test_registry_accounts_are_created_by_the_administrator_on_an_approved_request(world, platform):
    u1, central = world["u1"], world["central"]
    address = f"secretar-{fresh_cnp()[-6:]}@universitate-test.ro"
    request = u1["admin"].ok("POST", "/v1/registry/account-requests", 201, json={
        "email": address, "full_name": "Elena Secretar", "reason": "secretariatul facultății de litere"})
    operator = platform.token("operator")
    with platform.client(operator) as op:
        r = op.post(f"/v1/registry/account-requests/{request['id']}/create-account",
                    json={"password": "o-parola-lunga-de-secretar"})
        assert r.status_code == 409 and "pending" in r.json()["message"], r.text
    assert u1["clerk"].call("POST", f"/v1/registry/account-requests/{request['id']}/approve").status_code == 403
    central.ok("POST", f"/v1/registry/account-requests/{request['id']}/approve")
    with platform.client(operator) as op:
        r = op.post(f"/v1/registry/account-requests/{request['id']}/create-account",
                    json={"password": "o-parola-lunga-de-secretar"})
        assert r.status_code == 201, r.text
        assert r.json()["request"]["status"] == "created"
    signed = platform.sign_in(address, "o-parola-lunga-de-secretar")
    assert signed["access_token"]
