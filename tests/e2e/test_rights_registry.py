"""Data-subject rights owned by the registry, through the gateway, on SQLite and PostgreSQL (issue 11):
a pupil's rectification approved becomes a new version of the record, another rejected keeps its
reason, a birth date is rectified on a person's behalf; a restriction of processing takes a student
out of the registry's statistics and out of the export to an external body while the registrar
still sees them, and every step reaches the audit trail."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.registry_helpers import Actor, central_authority, email, fresh_cnp, person_body, university

pytestmark = pytest.mark.e2e
YEAR = "2025-2026"
ENROLMENT = {"academic_year": YEAR, "cycle": "licenta", "programme": "Drept", "study_year": 2, "form": "IF",
             "financing": "buget"}


@pytest.fixture(scope="module")
def school(platform):
    http = platform.client()
    admin = Actor(platform.token("admin"), platform.demo["tenant"]["id"], http)
    address, password = email("elev"), f"parola-{uuid.uuid4().hex[:12]}"
    out = admin.ok("POST", "/v1/students", 201, json={"email": address, "password": password, "last_name": "Pătrașcu",
                                                      "first_name": "Ștefania", "cnp": fresh_cnp()})
    student = Actor(platform.sign_in(address, password)["access_token"], admin.tenant_id, http)
    return {"admin": admin, "student": student, "person": out["person"], "account": out["account"]}


def _audit_types(platform, actor: Actor, entity_id: str, wanted: set[str]) -> set[str]:
    deadline = time.monotonic() + 20
    while True:
        r = actor.call("GET", "/v1/audit/events", params={"entity_id": entity_id, "limit": 200})
        found = {e["type"] for e in r.json().get("items", [])} if r.status_code == 200 else set()
        if wanted <= found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_a_pupils_rectification_approved_is_a_new_version_and_another_rejected_keeps_its_reason(platform, school):
    student, admin, person = school["student"], school["admin"], school["person"]
    asked = student.ok("POST", "/v1/rights/registry-rectifications", 201, json={
        "field": "personal.domicile_locality", "proposed_value": "Târgu Mureș", "reason": "m-am mutat",
        "attachment_ref": "CI seria MS nr. 123456"})
    assert asked["person_id"] == person["id"] and asked["status"] == "pending"
    assert asked["requester_id"] == school["account"]["id"]
    other = student.ok("POST", "/v1/rights/registry-rectifications", 201, json={
        "field": "first_name", "proposed_value": "Ștefana", "reason": "așa mă strigă prietenii"})
    # the pupil may not decide, and sees their own requests only
    r = student.call("POST", f"/v1/rights/registry-rectifications/{asked['id']}/decision",
                     json={"approve": True, "reason": "eu"})
    assert r.status_code == 403, r.text
    pending = admin.ok("GET", "/v1/rights/registry-rectifications", params={"status": "pending", "limit": 200})
    assert {asked["id"], other["id"]} <= {i["id"] for i in pending["items"]}

    approved = admin.ok("POST", f"/v1/rights/registry-rectifications/{asked['id']}/decision",
                        json={"approve": True, "reason": "verificat cu cartea de identitate"})
    assert approved["status"] == "approved" and approved["version"] == person["version"] + 1
    rejected = admin.ok("POST", f"/v1/rights/registry-rectifications/{other['id']}/decision",
                        json={"approve": False, "reason": "prenumele din certificatul de naștere este Ștefania"})
    assert rejected["status"] == "rejected"
    r = admin.call("POST", f"/v1/rights/registry-rectifications/{other['id']}/decision",
                   json={"approve": True, "reason": "m-am răzgândit"})
    assert r.status_code == 409, r.text

    record = student.ok("GET", f"/v1/registry/persons/{person['id']}")
    assert record["personal"]["domicile_locality"] == "Târgu Mureș" and record["first_name"] == "Ștefania"
    history = student.ok("GET", f"/v1/registry/persons/{person['id']}/history")["items"]
    assert [v["kind"] for v in history if v["entity_type"] == "person"][-1] == "rectification"
    assert history[-1]["version"] == approved["version"] and history[-1]["reason"] == "verificat cu cartea de identitate"
    mine = {i["id"]: i for i in student.ok("GET", "/v1/rights/registry-rectifications")["items"]}
    assert mine[other["id"]]["decision_reason"] == "prenumele din certificatul de naștere este Ștefania"
    found = _audit_types(platform, admin, asked["id"], {"registry.rectification_requested",
                                                        "registry.rectification_approved"})
    assert {"registry.rectification_requested", "registry.rectification_approved"} <= found
    assert "registry.rectification_rejected" in _audit_types(platform, admin, other["id"],
                                                              {"registry.rectification_rejected"})


def test_a_birth_date_is_rectified_on_the_persons_behalf_and_a_cnp_decides_it_for_romanians(school):
    admin = school["admin"]
    foreign = admin.ok("POST", "/v1/registry/persons", 201, json={
        "last_name": "Dupont", "first_name": "Jeanne", "record": {"personal": {
            "last_name_at_birth": "Dupont", "foreign_id": f"P{uuid.uuid4().hex[:9]}", "citizenship": "FR",
            "birth_date": "2010-05-04", "birth_country": "FR", "domicile_country": "FR"}}})
    asked = admin.ok("POST", "/v1/rights/registry-rectifications", 201, json={
        "person_id": foreign["id"], "field": "personal.birth_date", "proposed_value": "2010-04-05",
        "reason": "ziua și luna inversate la înscriere", "attachment_ref": "pașaport 12AB34567"})
    admin.ok("POST", f"/v1/rights/registry-rectifications/{asked['id']}/decision",
             json={"approve": True, "reason": "verificat cu pașaportul"})
    assert admin.ok("GET", f"/v1/registry/persons/{foreign['id']}")["birth_date"] == "2010-04-05"
    r = admin.call("POST", "/v1/rights/registry-rectifications", json={
        "person_id": school["person"]["id"], "field": "personal.birth_date", "proposed_value": "2001-01-01",
        "reason": "altă dată"})
    assert r.status_code == 422 and "CNP" in r.json()["message"], r.text


def test_a_restriction_takes_a_student_out_of_the_statistics_and_the_export_but_not_off_the_record(platform):
    u = university(platform)
    clerk, admin, central = u["clerk"], u["admin"], central_authority(platform)
    people = [clerk.ok("POST", "/v1/registry/persons", 201, json=person_body()) for _ in range(3)]
    for p in people:
        clerk.ok("POST", f"/v1/registry/persons/{p['id']}/enrolments", 201, json=ENROLMENT)
    restricted = people[0]

    def seen() -> tuple[int, set[str]]:
        counts = clerk.ok("GET", "/v1/registry/reports/counts", params={"academic_year": YEAR})
        export = central.ok("POST", "/v1/registry/exports/enrolled", params={"limit": 5000},
                            json={"body": "transport", "purpose": "reduceri HG 42/2017", "academic_year": YEAR})
        return counts["total"], {i["matriculation_code"] for i in export["items"]}

    total, codes = seen()
    assert total == 3 and restricted["matriculation_code"] in codes
    state = admin.ok("PUT", f"/v1/persons/{restricted['id']}/processing-restriction",
                     json={"reason": "cererea studentei din 02.12.2026, art. 18 GDPR"})
    assert state["restricted"] is True
    r = clerk.call("PUT", f"/v1/persons/{restricted['id']}/processing-restriction", json={"reason": "din nou"})
    assert r.status_code == 409, r.text
    total, codes = seen()
    assert total == 2 and restricted["matriculation_code"] not in codes
    assert people[1]["matriculation_code"] in codes
    # still the legal record, shown to the registrar
    assert clerk.ok("GET", f"/v1/registry/persons/{restricted['id']}")["id"] == restricted["id"]
    assert clerk.ok("GET", f"/v1/registry/persons/{restricted['id']}/enrolments")["items"]
    # another institution neither sees nor changes it
    other = university(platform)
    r = other["admin"].call("GET", f"/v1/persons/{restricted['id']}/processing-restriction")
    assert r.status_code == 404, r.text

    lifted = clerk.ok("POST", f"/v1/persons/{restricted['id']}/processing-restriction/lift",
                      json={"reason": "studenta și-a retras cererea"})
    assert lifted["restricted"] is False and lifted["history"][0]["lift_reason"] == "studenta și-a retras cererea"
    assert seen()[0] == 3
    found = _audit_types(platform, admin, restricted["id"], {"registry.processing_restricted",
                                                             "registry.processing_restriction_lifted"})
    assert {"registry.processing_restricted", "registry.processing_restriction_lifted"} <= found


def _export_pages(platform, monkeypatch, service: str, subject: dict, limit: int, caller: str = "auth",
                  scope: str = "subject_export") -> list[dict]:
    """Page through `service.subject_export_part` over the broker, as auth's export job does."""
    import asyncio

    from gateway.rpc import RpcClient
    from services.kernel import service_credentials

    monkeypatch.setenv("SERVICE_KEYS_DIR", str(platform.data_dir / "keys"))

    async def pages() -> list[dict]:
        client = RpcClient(platform.amqp_uri, default_timeout=10)
        await client.start()
        try:
            out, cursor = [], None
            while True:
                credential = service_credentials.issue(caller, service, scope)
                page = await client.call(service, "subject_export_part", kwargs={
                    "credential": credential, "subject": subject, "cursor": cursor, "limit": limit})
                out.append(page)
                cursor = page["next_cursor"]
                if cursor is None:
                    return out
        finally:
            await client.close()
    return asyncio.run(pages())


def test_the_registrys_and_the_audit_trails_parts_of_a_persons_export_follow_their_schemas(platform, school,
                                                                                          monkeypatch):
    import json
    from pathlib import Path

    import jsonschema

    person, account = school["person"], school["account"]
    school["student"].ok("POST", "/v1/rights/registry-rectifications", 201, json={
        "field": "personal.phone", "proposed_value": "+40722123456", "reason": "număr nou"})
    subject = {"tenant_id": school["admin"].tenant_id, "person_id": person["id"], "account_id": account["id"]}
    schemas = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "subject-export"
    for service, sections in (("registry", {"person", "person_versions", "rectification_requests"}),
                              ("audit", {"audit_entries"})):
        if service == "audit":  # the student's own request reached the trail
            _audit_types(platform, school["admin"], person["id"], {"registry.person_viewed"})
        schema = json.loads((schemas / f"{service}.v1.schema.json").read_text())
        page_schema = {**schema, "anyOf": [{"$ref": "#/$defs/page"}]}
        pages = _export_pages(platform, monkeypatch, service, subject, limit=2)
        for page in pages:
            jsonschema.validate(page, page_schema, cls=jsonschema.Draft202012Validator)
        items = [i for page in pages for i in page["items"]]
        jsonschema.validate(items, schema, cls=jsonschema.Draft202012Validator)
        assert sections <= {i["section"] for i in items}, (service, {i["section"] for i in items})
        if service == "registry":
            (record,) = [i["record"] for i in items if i["section"] == "person"]
            assert record["id"] == person["id"] and record["cnp"]
        else:
            assert all(i["record"]["tenant_id"] == subject["tenant_id"] for i in items)
            assert any(i["record"]["actor"]["id"] == account["id"] for i in items)
    # another calling service, or another scope, is refused by the services themselves
    from gateway.rpc import RemoteError
    for service in ("registry", "audit"):
        for caller, scope in (("backup", "subject_export"), ("auth", "tenant_data")):
            with pytest.raises(RemoteError) as refused:
                _export_pages(platform, monkeypatch, service, subject, limit=2, caller=caller, scope=scope)
            assert refused.value.exc_type == "Forbidden"
