"""The catalog's data-subject rights through the HTTPS gateway, on SQLite and PostgreSQL (issue 11):
a grade dispute approved (a new version of the grade, with the reason) and another rejected finally
by the director after an escalation; the demo school's whole catalog exported, imported into a fresh
school and exported again, equal modulo the documented id mapping, valid against its JSON Schema;
a restriction of processing from the registry's event taking a pupil out of the statistics."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest

from tests.integration.test_grades_portability import _mapped  # the documented id mapping

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("school_years", "periods", "subjects", "classes", "curriculum", "teaching_assignments", "rosters",
            "delegations", "motivation_requests", "grades", "grade_versions", "period_marks", "absences",
            "amendments", "year_results", "reexaminations", "grade_disputes")


def call(client, method, url, expect=200, **kw):
    r = client.request(method, url, **kw)
    assert r.status_code == expect, f"{method} {url} → {r.status_code} {r.text[:600]}"
    return r.json()


def test_a_grade_dispute_is_approved_and_another_rejected_finally(platform):
    demo = platform.demo
    teacher, student = platform.client(platform.token("teacher")), platform.client(platform.token("student"))
    director = platform.client(platform.token("director"))
    pupil = demo["student_person"]["id"]

    def new_grade(value):
        return call(teacher, "POST", "/v1/grades", 201, json={
            "class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"], "student_id": pupil,
            "value": value})

    first = new_grade(5)
    opened = call(student, "POST", "/v1/rights/grade-disputes", 201, json={
        "grade_id": first["id"], "reason": "Am rezolvat corect și ultimul exercițiu.", "proposed_value": 7,
        "attachment_ref": "lucrare-scanată-1"})
    assert opened["status"] == "open" and opened["requester_role"] == "student"
    call(student, "POST", "/v1/rights/grade-disputes", 409, json={"grade_id": first["id"], "reason": "iar"})
    mine = call(student, "GET", "/v1/rights/grade-disputes", params={"status": "open"})
    assert opened["id"] in {d["id"] for d in mine["items"]}
    call(director, "POST", f"/v1/rights/grade-disputes/{opened['id']}/decision", 409,
         json={"approve": True, "reason": "încă nu"})
    approved = call(teacher, "POST", f"/v1/rights/grade-disputes/{opened['id']}/decision", json={
        "approve": True, "reason": "Am verificat: punctajul corect dă nota 7."})
    assert approved["status"] == "approved" and approved["resulting_version"] == 2
    history = call(student, "GET", f"/v1/grades/{first['id']}/history")
    assert [(v["version"], v["value"]) for v in history["versions"]] == [(1, 5), (2, 7)]
    assert "punctajul corect dă nota 7" in history["versions"][1]["reason"]

    second = new_grade(4)
    disputed = call(student, "POST", "/v1/rights/grade-disputes", 201,
                    json={"grade_id": second["id"], "reason": "Nota e prea mică.", "proposed_value": 6})
    call(teacher, "POST", f"/v1/rights/grade-disputes/{disputed['id']}/decision", json={
        "approve": False, "reason": "Baremul a fost aplicat corect."})
    call(student, "POST", f"/v1/rights/grade-disputes/{disputed['id']}/escalation",
         json={"reason": "Cer reanalizarea de către director."})
    final = call(director, "POST", f"/v1/rights/grade-disputes/{disputed['id']}/decision", json={
        "approve": False, "reason": "Comisia confirmă nota 4."})
    assert final["status"] == "rejected" and final["director_reason"] == "Comisia confirmă nota 4."
    assert [v["value"] for v in call(student, "GET", f"/v1/grades/{second['id']}/history")["versions"]] == [4]
    seen = call(director, "GET", "/v1/rights/grade-disputes", params={"limit": 200})
    assert {opened["id"], disputed["id"]} <= {d["id"] for d in seen["items"]}


def test_the_school_round_trips_through_the_portability_format(platform):
    admin = platform.client(platform.token("admin"))
    with admin.stream("GET", "/v1/school-export") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        a = json.loads(b"".join(r.iter_bytes()))
    schema = json.loads((REPO / "docs/schemas/catalog-export.v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(a)
    assert a["grades"] and a["grade_versions"] and a["rosters"] and a["classes"]

    email, password = f"admin-{uuid.uuid4().hex[:8]}@scoala-noua.ro", f"parola-{uuid.uuid4().hex}"
    created = call(platform.client(platform.token("operator")), "POST", "/v1/tenants", 201, json={
        "name": f"Școala Gimnazială „Mihai Eminescu” {uuid.uuid4().hex[:4]}", "kind": "school",
        "admin_email": email, "admin_full_name": "Ioana Țurcanu", "admin_password": password})
    b_tenant = created["tenant"]["id"]
    b_admin = platform.client(platform.sign_in(email, password)["access_token"])
    # a broken upload is refused (422) and leaves nothing behind: the school is still fresh
    for broken in (b"{not json", json.dumps({**a, "version": 2}).encode(),
                   json.dumps({**a, "grades": [{"id": "g", "value": "zece"}]}).encode()):
        bad = b_admin.post("/v1/school-import", content=broken, headers={"Content-Type": "application/json"})
        assert bad.status_code == 422 and bad.json()["error"] == "invalid_input", bad.text
    imported = call(b_admin, "POST", "/v1/school-import", 201, content=json.dumps(a),
                    headers={"Content-Type": "application/json"})
    assert imported["counts"]["grades"] == len(a["grades"])
    with b_admin.stream("GET", "/v1/school-export") as r:
        b = json.loads(b"".join(r.iter_bytes()))
    assert b["source"]["tenant_id"] == b_tenant
    assert {s: sorted(b[s], key=lambda x: x["id"]) for s in SECTIONS} == _mapped(a, b_tenant)
    again = b_admin.post("/v1/school-import", content=json.dumps(a), headers={"Content-Type": "application/json"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    classes = call(b_admin, "GET", "/v1/classes", params={"limit": 200})
    assert {c["name"] for c in classes["items"]} == {c["name"] for c in a["classes"]}
    call(platform.client(platform.token("teacher")), "GET", "/v1/school-export", 403)


def test_a_restriction_from_the_registry_takes_the_pupil_out_of_the_statistics(platform):
    """The registry's event (published here on the platform's broker as the registry's relay would)
    reaches the catalog: the pupil stops counting in GET /v1/stats/grades, and counts again once the
    restriction is lifted; the director still sees their grades."""
    import time

    import kombu

    from services.kernel.events import Actor, Entity, Envelope, change_data
    from services.kernel.outbox import events_exchange
    from tests.e2e.authz import person_body

    demo = platform.demo
    director, admin = platform.client(platform.token("director")), platform.client(platform.token("admin"))
    teacher = platform.client(platform.token("teacher"))
    klass, math, pupil = demo["class"]["id"], demo["subject"]["id"], demo["student_person"]["id"]
    for _ in range(3):  # enough pupils with Matematică grades for the statistics to show the subject
        person = call(admin, "POST", "/v1/registry/persons", 201, json=person_body())["id"]
        call(admin, "POST", f"/v1/classes/{klass}/students", 201, json={"student_id": person})
        call(teacher, "POST", "/v1/grades", 201, json={"class_id": klass, "subject_id": math, "student_id": person,
                                                        "value": 8})
    call(teacher, "POST", "/v1/grades", 201, json={"class_id": klass, "subject_id": math, "student_id": pupil,
                                                    "value": 9})
    subject_name = demo["subject"]["name"]

    def math_pupils():
        stats = call(director, "GET", "/v1/stats/grades")
        return next(s["pupils"] for s in stats["subjects"] if s["subject"] == subject_name)

    def publish(restricted: bool) -> None:
        kind = "processing_restricted" if restricted else "processing_restriction_lifted"
        env = Envelope(type=f"registry.{kind}", tenant_id=demo["tenant"]["id"], actor=Actor("adm", "school_admin"),
                       entity=Entity("person", pupil), correlation_id=str(uuid.uuid4()),
                       data=change_data({"person_id": pupil, "restricted": restricted, "reason": "la cererea elevei"}))
        with kombu.Connection(platform.amqp_uri, transport_options={"confirm_publish": True}) as conn:
            conn.Producer().publish(json.dumps(env.to_dict()), exchange=events_exchange(), routing_key=env.type,
                                    content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                                    retry=True)

    def wait_for(predicate, what):
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.3)

    before = math_pupils()
    assert before is not None and before >= 6
    own = call(director, "GET", "/v1/grades", params={"student_id": pupil, "limit": 200})["total"]
    publish(True)
    wait_for(lambda: math_pupils() == before - 1, "the restriction to reach the statistics")
    assert call(director, "GET", "/v1/grades", params={"student_id": pupil})["total"] == own  # staff still see them
    publish(False)
    wait_for(lambda: math_pupils() == before, "the lift to reach the statistics")
