"""Data-subject rights, auth's share (issue 11), end to end through the HTTPS gateway on SQLite and
PostgreSQL: the privacy notice shown at sign-in and again after it changes, a person's export (job,
progress, one-time links; a parent for their own child only), an erasure request answered with the
reasons, an account deactivated and reactivated, the registry's restriction honoured by auth's
notifications and the decision mails to requesters (events published on the real broker), and
CAT-17 (a student and a parent sign in with e-mail and password and change both)."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from kombu import Connection, Producer
from referencing import Registry, Resource

from services.kernel.event_queues import events_exchange
from services.kernel.events import Actor, Entity, Envelope, change_data
from tests.infra import valid_cnp

pytestmark = pytest.mark.e2e
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
NOTICE_RO = ("Notă de informare actualizată. Operator: școala. Persoană împuternicită: platforma. Scopuri: "
             "catalogul și registrul matricol. Temei legal: obligația legală. Păstrare: registrul matricol nu se "
             "șterge niciodată (REG-8). Destinatari: sistemele informatice ale ministerului.")
NOTICE_EN = ("Updated privacy notice. Controller: the school. Processor: the platform. Purposes: the catalog and "
             "the matriculation registry. Legal basis: a legal obligation. Retention: registry data are never "
             "deleted (REG-8). Recipients: the ministry's information systems.")


def _pw() -> str:
    return f"Toamna-{uuid.uuid4().hex[:10]}-pe-deal"


def _call(client, method, url, expect=200, **kw):
    r = client.request(method, url, **kw)
    assert r.status_code == expect, f"{method} {url} → {r.status_code} {r.text[:600]}"
    return r


def _pupil(platform, admin, tag: str) -> dict:
    """A throwaway pupil with a registry person and an account."""
    email, password = f"elev-{tag}-{uuid.uuid4().hex[:6]}@demo-creanga.ro", _pw()
    n = uuid.uuid4().int
    cnp = valid_cnp(f"510{n % 12 + 1:02d}{n // 12 % 28 + 1:02d}40{n // 336 % 1000:03d}")
    made = _call(admin, "POST", "/v1/students", 201, json={
        "email": email, "password": password, "last_name": "Popescu", "first_name": "Ștefan", "cnp": cnp}).json()
    return {"email": email, "password": password, "person_id": made["person"]["id"], "id": made["account"]["id"]}


def _parent_of(platform, admin, person_id: str) -> dict:
    email, password = f"parinte-{uuid.uuid4().hex[:6]}@demo-creanga.ro", _pw()
    made = _call(admin, "POST", "/v1/users", 201, json={"email": email, "full_name": "Irina Popescu",
                                                        "role": "parent", "password": password}).json()
    _call(admin, "POST", f"/v1/users/{made['id']}/children", 201, json={"student_id": person_id})
    return {"email": email, "password": password, "id": made["id"]}


def _mails(platform, to: str) -> list[dict]:
    outbox = platform.data_dir / "outbox" / "email.jsonl"
    lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
    return [m for m in map(json.loads, lines) if m["to"] == to]


def _wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    return predicate()


def _publish(platform, type_: str, tenant_id: str, entity: tuple[str, str], after: dict, reason=None) -> None:
    """An event as the registry or grades would relay it, on the platform's own broker vhost."""
    envelope = Envelope(type=type_, tenant_id=tenant_id, actor=Actor(id=str(uuid.uuid4()), role="school_admin"),
                        entity=Entity(type=entity[0], id=entity[1]), data=change_data(after, None), reason=reason,
                        correlation_id=str(uuid.uuid4()))
    with Connection(platform.amqp_uri) as conn:
        Producer(conn.channel()).publish(json.dumps(envelope.to_dict()), exchange=events_exchange(),
                                         routing_key=type_, content_type="application/json",
                                         content_encoding="utf-8", delivery_mode=2, message_id=envelope.event_id,
                                         retry=True)


@pytest.fixture(scope="module")
def admin(platform):
    with platform.client(platform.token("admin")) as client:
        yield client


@pytest.fixture(scope="module")
def tenant_id(platform):
    return platform.demo["tenant"]["id"]


# --- to be informed ------------------------------------------------------------------------------

def test_the_privacy_notice_is_shown_at_first_sign_in_and_again_after_it_changes(platform, admin):
    pupil = _pupil(platform, admin, "notice")
    signed = platform.sign_in(pupil["email"], pupil["password"])
    assert signed["privacy_notice_pending"] == {"version": 1}
    with platform.client(signed["access_token"]) as me:
        assert _call(me, "GET", "/v1/me").json()["privacy_notice_pending"] == {"version": 1}
        notice = _call(me, "GET", "/v1/privacy-notice", params={"lang": "ro"}).json()
        assert notice["version"] == 1 and not notice["acknowledged"]
        assert platform.demo["tenant"]["name"] in notice["text"] and "REG-8" in notice["text"]
        english = _call(me, "GET", "/v1/privacy-notice", params={"lang": "en"}).json()
        assert "controller" in english["text"].lower() and "ministry" in english["text"]
        _call(me, "GET", "/v1/privacy-notice", 422, params={"lang": "fr"})
        _call(me, "POST", "/v1/privacy-notice/acknowledgement", 409, json={"version": 7})
        _call(me, "POST", "/v1/privacy-notice/acknowledgement", json={"version": 1})
        assert _call(me, "GET", "/v1/me").json()["privacy_notice_pending"] is None
        _call(me, "PUT", "/v1/admin/privacy-notice", 403, json={"text_ro": NOTICE_RO, "text_en": NOTICE_EN})
    published = _call(admin, "PUT", "/v1/admin/privacy-notice", json={"text_ro": NOTICE_RO, "text_en": NOTICE_EN})
    version = published.json()["version"]
    assert version >= 2
    again = platform.sign_in(pupil["email"], pupil["password"])
    assert again["privacy_notice_pending"] == {"version": version}
    with platform.client(again["access_token"]) as me:
        assert _call(me, "GET", "/v1/privacy-notice", params={"lang": "en"}).json()["text"] == NOTICE_EN
        _call(me, "POST", "/v1/privacy-notice/acknowledgement", json={"version": version})
    assert platform.sign_in(pupil["email"], pupil["password"])["privacy_notice_pending"] is None


# --- access and portability ------------------------------------------------------------------------

def _validator():
    """docs/schemas; a service's part schema not in this branch yet is, in this test only, any
    {section: [records]} object (the services' own tests validate their parts)."""
    resources = [(c["$id"], Resource.from_contents(c)) for c in
                 (json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.rglob("*.json"))]
    have = {uri for uri, _ in resources}
    for service in ("registry", "grades", "audit"):
        uri = f"https://schemas.catalog.invalid/subject-export/{service}.v1.schema.json"
        if uri not in have:
            resources.append((uri, Resource.from_contents({"type": "object", "additionalProperties": {
                "type": "array", "items": {"type": "object"}}})))
    schema = json.loads((SCHEMAS / "subject-export.v1.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=Registry().with_resources(resources))


def _finished(client, job_id: str) -> dict:
    def done():
        job = _call(client, "GET", f"/v1/rights/exports/{job_id}").json()
        return job if job["status"] in ("done", "failed") else None
    job = _wait_for(done, 90)
    assert job, "the export never finished"
    return job


def test_a_student_exports_their_data_and_each_link_works_once(platform, admin):
    pupil = _pupil(platform, admin, "export")
    demo = platform.demo
    # the pupil in the demo class with a grade: data in the registry, the catalog and the audit trail
    _call(admin, "POST", f"/v1/classes/{demo['class']['id']}/students", 201, json={"student_id": pupil["person_id"]})
    with platform.client(platform.token("teacher")) as teacher:
        grade = _call(teacher, "POST", "/v1/grades", 201, json={
            "class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"], "student_id": pupil["person_id"],
            "value": 9}).json()
    with platform.client(platform.sign_in(pupil["email"], pupil["password"])["access_token"]) as me:
        job = _call(me, "POST", "/v1/rights/exports", 202, json={}).json()
        assert job["status"] == "queued" and job["person_id"] == pupil["person_id"]
        job = _finished(me, job["id"])
        listed = _call(me, "GET", "/v1/rights/exports", params={"limit": 10}).json()
        assert [j["id"] for j in listed["items"]] == [job["id"]] and listed["total"] == 1
        with platform.client(platform.token("student")) as other:
            assert job["id"] not in _call(other, "GET", "/v1/rights/exports").text
        parts = job["progress"]["parts"]
        assert job["status"] == "done", job
        assert {name: p["status"] for name, p in parts.items()} == {
            "auth": "done", "registry": "done", "grades": "done", "audit": "done"}, parts
        assert parts["auth"]["records"] >= 3  # account, membership, sign-in
        links = {d["format"]: d["url"] for d in job["downloads"]}
        document = _call(me, "GET", links["json"]).json()
        _validator().validate(document)
        assert document["subject"] == {"person_id": pupil["person_id"], "account_id": pupil["id"]}
        assert document["parts"]["auth"]["account"][0]["email"] == pupil["email"]
        # every service's part holds the pupil's own data
        registry_part, grades_part = document["parts"]["registry"], document["parts"]["grades"]
        assert [p["id"] for p in registry_part["person"]] == [pupil["person_id"]]
        assert [g["id"] for g in grades_part["grades"]] == [grade["id"]] and grades_part["grades"][0]["value"] == 9
        # the trail's entries about the person (their registration, their account's sign-ins)
        about = json.dumps(document["parts"]["audit"]["audit_entries"])
        assert pupil["person_id"] in about and pupil["id"] in about
        assert _call(me, "GET", links["json"], 409).json()["error"] == "conflict"
        pdf = _call(me, "GET", _call(me, "GET", f"/v1/rights/exports/{job['id']}").json()["downloads"][1]["url"])
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    with platform.client(platform.token("student")) as other:
        _call(other, "GET", f"/v1/rights/exports/{job['id']}", 404)


def test_a_parent_exports_their_childs_data_and_not_another_childs(platform, admin):
    child, other_child = _pupil(platform, admin, "child"), _pupil(platform, admin, "other")
    parent = _parent_of(platform, admin, child["person_id"])
    with platform.client(platform.sign_in(parent["email"], parent["password"])["access_token"]) as me:
        refused = _call(me, "POST", "/v1/rights/exports", 403, json={"person_id": other_child["person_id"]}).json()
        assert "own child" in refused["message"]
        job = _call(me, "POST", "/v1/rights/exports", 202, json={"person_id": child["person_id"]}).json()
        assert job["account_id"] == child["id"]
        job = _finished(me, job["id"])
        assert job["progress"]["parts"]["auth"]["status"] == "done"
    # the school's administrator, for a pupil asking at the desk
    job = _call(admin, "POST", "/v1/rights/exports", 202, json={"user_id": other_child["id"]}).json()
    assert job["person_id"] == other_child["person_id"]
    # ... also for a pupil without an account (the registry confirms they are of the school)
    no_account = platform.demo["catalog"]["pupils"][1]
    job = _call(admin, "POST", "/v1/rights/exports", 202, json={"person_id": no_account}).json()
    assert (job["person_id"], job["account_id"]) == (no_account, None)
    _call(admin, "POST", "/v1/rights/exports", 404, json={"person_id": str(uuid.uuid4())})


# --- erasure and deactivation ------------------------------------------------------------------------

def test_an_erasure_request_is_answered_with_the_legal_reasons(platform):
    with platform.client(platform.token("student")) as me:
        answer = _call(me, "POST", "/v1/rights/erasure-requests", json={"reason": "am terminat școala"}).json()
    assert answer["erased"] is False and answer["decision"] == "refused_legal_obligation"
    assert "REG-8" in " ".join(answer["reasons"]["ro"]) and "legal record" in " ".join(answer["reasons"]["en"])


def test_a_deactivated_account_cannot_sign_in_and_keeps_its_record(platform, admin):
    pupil = _pupil(platform, admin, "deact")
    signed = platform.sign_in(pupil["email"], pupil["password"])
    result = _call(admin, "POST", f"/v1/admin/users/{pupil['id']}/deactivation", json={"reason": "a plecat"}).json()
    assert result["status"] == "deactivated" and result["sessions_ended"] == 1
    with platform.client(signed["access_token"]) as old:
        assert _wait_for(lambda: old.get("/v1/me").status_code == 401, 10)
    with platform.client() as anon:
        refused = _call(anon, "POST", "/v1/auth/login", 401, json={"email": pupil["email"],
                                                                   "password": pupil["password"]}).json()
        assert "deactivated" in refused["message"]
        _call(anon, "POST", "/v1/auth/refresh", 401, json={"refresh_token": signed["refresh_token"]})
    users = _call(admin, "GET", "/v1/users", params={"role": "student", "limit": 200}).json()["items"]
    assert any(u["id"] == pupil["id"] and u["status"] == "deactivated" for u in users)
    _call(admin, "POST", f"/v1/admin/users/{pupil['id']}/reactivation", json={"reason": "s-a întors"})
    assert platform.sign_in(pupil["email"], pupil["password"])["status"] == "ok"


# --- restriction honoured in auth's notifications, decision mails ----------------------------------------

def test_no_catalog_messages_about_a_restricted_pupil_until_the_restriction_is_lifted(platform, admin, tenant_id):
    demo = platform.demo
    pupil = _pupil(platform, admin, "restricted")
    parent = _parent_of(platform, admin, pupil["person_id"])
    _call(admin, "POST", f"/v1/classes/{demo['class']['id']}/students", 201, json={"student_id": pupil["person_id"]})
    with platform.client(platform.sign_in(parent["email"], parent["password"])["access_token"]) as me:
        _call(me, "PUT", "/v1/me/catalog-notices", json={"grades": "immediate", "absences": "off"})
    teacher = platform.client(platform.token("teacher"))

    def grade(value):
        _call(teacher, "POST", "/v1/grades", 201, json={"class_id": demo["class"]["id"], "student_id": pupil["person_id"],
                                                        "subject_id": demo["subject"]["id"], "value": value})

    def grade_mails():
        return [m for m in _mails(platform, parent["email"]) if "new grade" in m["subject"]]

    grade(6)
    assert len(_wait_for(grade_mails)) == 1
    _publish(platform, "registry.processing_restricted", tenant_id, ("person", pupil["person_id"]),
             {"person_id": pupil["person_id"], "restricted": True, "reason": "cererea părintelui"})
    time.sleep(2)  # the consumer takes it in
    grade(7)
    time.sleep(4)
    assert len(grade_mails()) == 1, "a message about a restricted pupil was sent"
    _publish(platform, "registry.processing_restriction_lifted", tenant_id, ("person", pupil["person_id"]),
             {"person_id": pupil["person_id"], "restricted": False, "reason": "ridicată"})
    time.sleep(2)
    grade(8)
    mails = _wait_for(lambda: len(grade_mails()) == 2 and grade_mails())
    assert mails and "8" in mails[-1]["body"] and "7" not in "".join(m["body"] for m in mails)
    teacher.close()


def test_the_requester_is_mailed_the_decisions_with_their_reasons(platform, admin, tenant_id):
    pupil = _pupil(platform, admin, "decision")
    _publish(platform, "registry.processing_restricted", tenant_id, ("person", pupil["person_id"]),
             {"person_id": pupil["person_id"], "restricted": True, "reason": "r"})
    _publish(platform, "registry.rectification_rejected", tenant_id, ("rectification_request", str(uuid.uuid4())),
             {"requester_id": pupil["id"], "decision_reason": "certificatul de naștere arată altă dată"})
    _publish(platform, "grades.grade_dispute_approved", tenant_id, ("grade_dispute", str(uuid.uuid4())),
             {"requester_id": pupil["id"], "decision_reason": "lucrarea a fost recorectată"})
    mails = _wait_for(lambda: len(_mails(platform, pupil["email"])) >= 2 and _mails(platform, pupil["email"]))
    assert mails, "no decision mail reached the requester"
    bodies = {m["subject"]: m["body"] for m in mails}
    rejected = next(b for s, b in bodies.items() if "respinsă" in s)
    approved = next(b for s, b in bodies.items() if "aprobată" in s)
    assert "certificatul de naștere arată altă dată" in rejected and "rejected" in rejected
    assert "lucrarea a fost recorectată" in approved and "approved" in approved


# --- CAT-17 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["student", "parent"])
def test_students_and_parents_sign_in_with_email_and_password_and_change_both(platform, admin, who):
    pupil = _pupil(platform, admin, "cat17")
    person = pupil if who == "student" else _parent_of(platform, admin, pupil["person_id"])
    signed = platform.sign_in(person["email"], person["password"])
    assert signed["status"] == "ok" and signed["factors"] == ["pwd"]
    new_password, new_email = _pw(), f"nou-{uuid.uuid4().hex[:6]}@demo-creanga.ro"
    with platform.client(signed["access_token"]) as me:
        _call(me, "POST", "/v1/me/password", json={"current_password": person["password"],
                                                   "new_password": new_password})
    fresh = platform.sign_in(person["email"], new_password)
    with platform.client(fresh["access_token"]) as me:
        _call(me, "POST", "/v1/me/email", 202, json={"current_password": new_password, "new_email": new_email})
    mail = _wait_for(lambda: _mails(platform, new_email), 10)
    token = mail[-1]["body"].split("\n\n")[1].strip()
    with platform.client() as anon:
        _call(anon, "POST", "/v1/me/email/confirm", json={"token": token})
        _call(anon, "POST", "/v1/auth/login", 401, json={"email": person["email"], "password": new_password})
        _call(anon, "POST", "/v1/auth/login", 401, json={"email": new_email, "password": person["password"]})
    assert platform.sign_in(new_email, new_password)["status"] == "ok"
