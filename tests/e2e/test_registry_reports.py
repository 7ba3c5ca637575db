"""Registry reports through the gateway, on SQLite and PostgreSQL: late status changes (15
Romanian working days), double public financing across institutions, diploma forms readiness,
the scoped export for an authorised body (audited), statistics with small cells suppressed."""
from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from services.registry.workdays import deadline
from tests.e2e.registry_helpers import central_authority, person_body, university

pytestmark = pytest.mark.e2e
YEAR = "2025-2026"
ENROLMENT = {"academic_year": YEAR, "cycle": "master", "programme": "Informatică", "study_year": 1, "form": "IF",
             "financing": "buget", "faculty": "Matematică", "fundamental_domain": "Științe exacte",
             "domain": "Informatică", "programme_duration_years": 2, "programme_credits": 120}


@pytest.fixture(scope="module")
def world(platform):
    return {"u1": university(platform), "u2": university(platform), "central": central_authority(platform)}


def test_status_changes_recorded_after_15_working_days_are_reported_per_institution(world):
    clerk, central = world["u1"]["clerk"], world["central"]
    today = date.today()
    # the last day still on time, counted over weekends and legal holidays; and one day earlier
    on_time_doc = next(d for d in (today - timedelta(days=n) for n in range(15, 40)) if deadline(d) >= today)
    late_doc = next(d for d in (today - timedelta(days=n) for n in range(15, 60)) if deadline(d) < today)
    late, timely = (clerk.ok("POST", "/v1/registry/persons", 201, json=person_body()) for _ in range(2))
    for person, doc in ((late, late_doc), (timely, on_time_doc)):
        clerk.ok("POST", f"/v1/registry/persons/{person['id']}/status", json={
            "status": "interrupted", "reason": "cerere de întrerupere", "document_ref": f"Decizia din {doc}",
            "document_date": doc.isoformat()})
    report = clerk.ok("GET", "/v1/registry/reports/late-changes")
    people = {i["person_id"] for i in report["items"]}
    assert late["id"] in people and timely["id"] not in people
    row = next(i for i in report["items"] if i["person_id"] == late["id"])
    # (today, 1 December, is itself a legal holiday: the 15th working day has passed, the 16th not yet come)
    assert row["working_days"] >= 15 and row["deadline"] == deadline(late_doc).isoformat()
    assert report["per_institution"] == {world["u1"]["tenant_id"]: report["total"]}
    everywhere = central.ok("GET", "/v1/registry/reports/late-changes")
    assert world["u1"]["tenant_id"] in everywhere["per_institution"]
    assert world["u2"]["clerk"].ok("GET", "/v1/registry/reports/late-changes")["total"] == 0


def test_double_public_financing_across_institutions_is_listed_for_the_central_authority(world):
    u1, u2, central = world["u1"], world["u2"], world["central"]
    body = person_body()
    person = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=body)
    u1["clerk"].ok("POST", f"/v1/registry/persons/{person['id']}/enrolments", 201, json=ENROLMENT)
    candidate = u2["clerk"].ok("POST", "/v1/registry/persons", 202, json=body)
    u2["clerk"].ok("POST", f"/v1/registry/matches/{candidate['candidate_id']}/confirm")
    u2["clerk"].ok("POST", f"/v1/registry/persons/{person['id']}/enrolments", 201,
                   json={**ENROLMENT, "programme": "Inteligență artificială"})
    # a second budget place in another cycle is not double financing
    other = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=person_body())
    u1["clerk"].ok("POST", f"/v1/registry/persons/{other['id']}/enrolments", 201, json=ENROLMENT)
    u1["clerk"].ok("POST", f"/v1/registry/persons/{other['id']}/enrolments", 201,
                   json={**ENROLMENT, "cycle": "licenta", "financing": "buget"})
    report = central.ok("GET", "/v1/registry/reports/double-financing", params={"academic_year": YEAR})
    found = {i["person_id"]: i for i in report["items"]}
    assert person["id"] in found and other["id"] not in found
    assert {e["institution_id"] for e in found[person["id"]]["enrolments"]} == {u1["tenant_id"], u2["tenant_id"]}
    assert u1["clerk"].call("GET", "/v1/registry/reports/double-financing",
                            params={"academic_year": YEAR}).status_code == 403
    counts = u1["clerk"].ok("GET", "/v1/registry/reports/counts", params={"academic_year": YEAR})
    assert {r["institution_id"] for r in counts["items"]} == {u1["tenant_id"]} and counts["total"] >= 3


def test_diploma_forms_readiness_names_what_is_missing(world):
    clerk = world["u1"]["clerk"]
    complete = person_body(parents_initials="I.M.", birth_locality="București", birth_date=None)
    complete["record"]["personal"].pop("birth_date")
    ready = clerk.ok("POST", "/v1/registry/persons", 201, json=complete)
    lacking = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
    for person, enrolment in ((ready, ENROLMENT), (lacking, {**ENROLMENT, "programme_credits": None})):
        e = clerk.ok("POST", f"/v1/registry/persons/{person['id']}/enrolments", 201,
                     json={k: v for k, v in {**enrolment, "study_year": 2}.items() if v is not None})
        clerk.ok("PATCH", f"/v1/registry/enrolments/{e['id']}", json={
            "changes": {"end_situation": "absolvent"}, "reason": "susținerea disertației",
            "document_ref": "Proces-verbal", "document_date": date.today().isoformat()})
    (mine,) = clerk.ok("GET", "/v1/registry/reports/diploma-readiness", params={"academic_year": YEAR})["items"]
    assert mine["graduates"] == 2 and mine["complete"] == 1
    (gap,) = mine["incomplete"]
    assert gap["person_id"] == lacking["id"]
    assert set(gap["missing"]) == {"personal.parents_initials", "personal.birth_locality", "enrolment.programme_credits"}


def test_the_scoped_export_holds_only_the_bodys_fields_and_is_audited(world, platform):
    clerk, central = world["u1"]["clerk"], world["central"]
    person = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body(phone="+40733123456"))
    clerk.ok("POST", f"/v1/registry/persons/{person['id']}/enrolments", 201, json=ENROLMENT)
    export = central.ok("POST", "/v1/registry/exports/enrolled", params={"limit": 5000},
                        json={"body": "transport", "purpose": "HG 42/2017", "academic_year": YEAR})
    mine = [i for i in export["items"] if i["matriculation_code"] == person["matriculation_code"]]
    assert mine and set(mine[0]) == set(export["fields"])
    assert "+40733123456" not in str(export) and "birth_county" not in str(export)
    deadline_at = time.monotonic() + 15
    while time.monotonic() < deadline_at:
        events = platform.client(platform.token("operator")).get("/v1/audit/events", params={"limit": 200}).json()
        if any(e["type"] == "registry.enrolled_students_exported" for e in events.get("items", [])):
            break
        time.sleep(0.3)
    else:
        pytest.fail("the export never reached the audit trail")


def test_statistics_have_no_personal_data_and_small_cells_are_suppressed(world):
    central, clerk = world["central"], world["u2"]["clerk"]
    for _ in range(5):
        p = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
        clerk.ok("POST", f"/v1/registry/persons/{p['id']}/enrolments", 201,
                 json={**ENROLMENT, "cycle": "doctorat", "financing": "taxa_cpl"})
    p = clerk.ok("POST", "/v1/registry/persons", 201, json=person_body())
    clerk.ok("POST", f"/v1/registry/persons/{p['id']}/enrolments", 201,
             json={**ENROLMENT, "cycle": "doctorat", "financing": "alte_surse"})
    stats = central.ok("GET", "/v1/registry/reports/statistics", params={"academic_year": YEAR})
    cells = {tuple(r["key"]): r for r in stats["rows"]}
    assert cells[("doctorat", "taxa_cpl", "F")]["count"] >= 5
    small = cells[("doctorat", "alte_surse", "F")]
    assert small["count"] is None and small["suppressed"]
    assert p["id"] not in str(stats) and p["matriculation_code"] not in str(stats)
