"""Data-subject rights in auth (issue 11), on a real (SQLite) auth schema: the privacy notice and
its acknowledgement, erasure answers, deactivation, the export job's orchestration and auth's part
(validated against its JSON Schema), the restriction and the decision mails in the notices consumer."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sqlalchemy import select

from services.auth import catalog_notices, export_pdf, privacy, rights, sessions, subject_export
from services.auth.models import (AuthSession, Base, CatalogDigestItem, CatalogNoticePreference, Membership,
                                  ParentLink, SecondFactor, SubjectExport, SubjectExportFile, Tenant, User)
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.identity import Principal
from services.kernel.nameko_support import CallContext, Store

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
NOTICE_RO = "Notă de informare a școlii: operatorul este școala, împuternicitul este platforma. " * 4
NOTICE_EN = "The school's privacy notice: the school is the controller, the platform the processor. " * 4


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'auth.db'}")
    Base.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def events():
    return []


@pytest.fixture
def emit(events):
    def _emit(session, fact, **kw):
        events.append((fact, kw))
        return SimpleNamespace(event_id=str(uuid.uuid4()))
    return _emit


@pytest.fixture
def school(db):
    """A school with an admin, a pupil (person P1, TOTP enrolled, one sign-in) and a parent of P1."""
    with db.begin() as s:
        tenant = Tenant(name="Școala Gimnazială „Ion Creangă”", kind="school")
        s.add(tenant)
        s.flush()
        people = {}
        for key, role, person in (("admin", "school_admin", None), ("pupil", "student", "P1"),
                                  ("pupil2", "student", "P2"), ("parent", "parent", None)):
            user = User(email=f"{key}@example.ro", full_name=key.title(), password_hash="secret-hash", person_id=person)
            s.add(user)
            s.flush()
            s.add(Membership(user_id=user.id, tenant_id=tenant.id, role=role))
            people[key] = user.id
        s.add(ParentLink(tenant_id=tenant.id, parent_user_id=people["parent"], student_person_id="P1",
                         created_by=people["admin"]))
        s.add(SecondFactor(user_id=people["pupil"], totp_secret="sealed-totp-secret"))
        s.add(AuthSession(user_id=people["pupil"], tenant_id=tenant.id, factors="pwd otp", roles="student"))
        return {"tenant": tenant.id, **people}


def who(school, key, role, person=None, kids=()):
    return Principal(user_id=school[key], tenant_id=school["tenant"], roles=frozenset({role}),
                     factors=frozenset({"pwd", "otp"}), person_id=person, claims={"kids": list(kids)})


# --- the privacy notice ---------------------------------------------------------------------------

def test_every_school_has_a_version_1_naming_it_as_controller_until_it_publishes_its_own(db, emit, events, school):
    pupil, admin = who(school, "pupil", "student", "P1"), who(school, "admin", "school_admin")
    with db.begin() as s:
        notice = privacy.get_notice(s, pupil, lang="ro")
        assert notice["version"] == 1 and notice["default"] and not notice["acknowledged"]
        assert "Școala Gimnazială „Ion Creangă”" in notice["text"] and "REG-8" in notice["text"]
        assert "ministerului" in notice["text"] and "Persoană împuternicită" in notice["text"]
        assert privacy.pending(s, school["pupil"], school["tenant"]) == {"version": 1}
        assert privacy.acknowledge(s, emit, pupil, version=1) == {"version": 1, "acknowledged": True}
        assert privacy.pending(s, school["pupil"], school["tenant"]) is None
        with pytest.raises(Forbidden):
            privacy.publish(s, emit, pupil, text_ro=NOTICE_RO, text_en=NOTICE_EN)
        with pytest.raises(InvalidInput):
            privacy.publish(s, emit, admin, text_ro="prea scurt", text_en=NOTICE_EN)
        published = privacy.publish(s, emit, admin, text_ro=NOTICE_RO, text_en=NOTICE_EN)
        assert published["version"] == 2 and published["texts"]["en"] == NOTICE_EN.strip()
        # changed: pending again, and the old version cannot be acknowledged any more
        assert privacy.pending(s, school["pupil"], school["tenant"]) == {"version": 2}
        with pytest.raises(Conflict):
            privacy.acknowledge(s, emit, pupil, version=1)
    assert [f for f, _ in events] == ["privacy_notice_acknowledged", "privacy_notice_published"]


def test_the_sign_in_answer_says_which_notice_is_pending(db, emit, school, tmp_path):
    from services.kernel.identity import TokenSigner, ensure_dev_keypair
    ensure_dev_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    signer = TokenSigner((tmp_path / "k.pem").read_bytes(), 900)
    with db.begin() as s:
        candidate = {"id": school["pupil2"], "password_hash": "x", "status": "active"}
        answer = sessions.finish_login(s, emit, signer, candidate, True, None, email="pupil2@example.ro",
                                       tenant_id=None, client_ip=None, partial_ttl=300, refresh_ttl=3600)
        assert answer["status"] == "ok" and answer["privacy_notice_pending"] == {"version": 1}
        privacy.acknowledge(s, emit, who(school, "pupil2", "student", "P2"), version=1)
        again = sessions.finish_login(s, emit, signer, candidate, True, None, email="pupil2@example.ro",
                                      tenant_id=None, client_ip=None, partial_ttl=300, refresh_ttl=3600)
        assert again["privacy_notice_pending"] is None


# --- erasure and deactivation ---------------------------------------------------------------------

def test_an_erasure_request_is_answered_with_the_reasons_and_deletes_nothing(db, emit, events, school):
    with db.begin() as s:
        answer = rights.answer_erasure_request(s, emit, who(school, "pupil", "student", "P1"), person_id=None,
                                               reason="am terminat școala")
        assert answer["erased"] is False and "REG-8" in " ".join(answer["reasons"]["ro"])
        assert "legal record" in " ".join(answer["reasons"]["en"])
        parent = who(school, "parent", "parent", kids=["P1"])
        assert rights.answer_erasure_request(s, emit, parent, person_id="P1", reason=None)["person_id"] == "P1"
        with pytest.raises(Forbidden):
            rights.answer_erasure_request(s, emit, parent, person_id="P2", reason=None)
        assert s.get(User, school["pupil"]) is not None
    assert [f for f, _ in events] == ["erasure_request_answered"] * 2


def test_a_deactivated_account_keeps_its_record_and_loses_its_sessions(db, emit, events, school):
    admin = who(school, "admin", "school_admin")
    with db.begin() as s:
        with pytest.raises(Forbidden):
            rights.deactivate(s, emit, who(school, "pupil2", "student", "P2"), user_id=school["pupil"], reason="x")
        answer = rights.deactivate(s, emit, admin, user_id=school["pupil"], reason="a plecat din școală")
        assert answer == {"id": school["pupil"], "status": "deactivated", "sessions_ended": 1}
        assert s.get(User, school["pupil"]).status == "deactivated"
        assert s.scalar(select(AuthSession.revoked_reason).where(AuthSession.user_id == school["pupil"])) == "deactivated"
        with pytest.raises(Conflict):
            rights.deactivate(s, emit, admin, user_id=school["pupil"], reason="again")
        with pytest.raises(NotFound):
            rights.deactivate(s, emit, admin, user_id=str(uuid.uuid4()), reason="nobody")
        result = sessions.finish_login(s, emit, None, {"id": school["pupil"], "password_hash": "x", "status": "x"},
                                       True, None, email="pupil@example.ro", tenant_id=None, client_ip=None,
                                       partial_ttl=1, refresh_ttl=1)
        assert result == {"status": "deactivated"}
        assert rights.reactivate(s, emit, admin, user_id=school["pupil"], reason="s-a întors")["status"] == "active"
    assert [f for f, _ in events if f.startswith("account_")] == ["account_deactivated", "account_reactivated"]


# --- the export ------------------------------------------------------------------------------------

def _validator(name: str) -> Draft202012Validator:
    """The schemas in docs/schemas, the other services' part schemas replaced by one that accepts any
    {section: [records]} object: this test feeds the job made-up parts (the e2e export test validates
    the real parts against their own schemas)."""
    resources = []
    for path in SCHEMAS.rglob("*.json"):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    base = "https://schemas.catalog.invalid/"
    remote = {f"{base}subject-export/{service}.v1.schema.json" for service in subject_export.REMOTE_SERVICES}
    resources = [(uri, resource) for uri, resource in resources if uri not in remote]
    for uri in sorted(remote):
        resources.append((uri, Resource.from_contents({
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "object"}}})))
    registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_auths_part_follows_its_schema_and_holds_no_secret(db, school):
    with db.begin() as s:
        subject = {"tenant_id": school["tenant"], "person_id": "P1", "account_id": school["pupil"]}
        page = subject_export.auth_part(s, subject, None, 2)
        assert len(page["items"]) == 2 and page["next_cursor"] == "2"
        rest = subject_export.auth_part(s, subject, page["next_cursor"], 500)
        assert rest["next_cursor"] is None
    part = {section: [] for section in subject_export.AUTH_SECTIONS}
    for item in page["items"] + rest["items"]:
        part[item["section"]].append(item["record"])
    _validator("subject-export/auth.v1.schema.json").validate(part)
    assert part["account"][0]["email"] == "pupil@example.ro" and len(part["sign_ins"]) == 1
    assert part["second_factors"] == [{"kind": "totp", "updated_at": part["second_factors"][0]["updated_at"]}]
    text = json.dumps(part)
    assert "secret-hash" not in text and "sealed-totp-secret" not in text


def test_who_may_export_whose_data(db, emit, school):
    with db.begin() as s:
        job = subject_export.request_export(s, emit, who(school, "pupil", "student", "P1"))
        assert (job["person_id"], job["account_id"], job["status"]) == ("P1", school["pupil"], "queued")
        parent = who(school, "parent", "parent", kids=["P1"])
        assert subject_export.request_export(s, emit, parent, person_id="P1")["account_id"] == school["pupil"]
        with pytest.raises(Forbidden):
            subject_export.request_export(s, emit, parent, person_id="P2")
        with pytest.raises(Forbidden):
            subject_export.request_export(s, emit, who(school, "pupil", "student", "P1"), person_id="P2")
        admin = who(school, "admin", "school_admin")
        assert subject_export.request_export(s, emit, admin, user_id=school["pupil2"])["person_id"] == "P2"
        with pytest.raises(NotFound):
            subject_export.request_export(s, emit, admin, person_id="P-unknown")
        # a pupil without an account, once the registry confirmed they are of the school
        assert subject_export.needs_registry_check(admin, "P-unknown", None)
        assert not subject_export.needs_registry_check(who(school, "parent", "parent", kids=["P1"]), "P1", None)
        job = subject_export.request_export(s, emit, admin, person_id="P-unknown", registry_confirmed=True)
        assert (job["person_id"], job["account_id"]) == ("P-unknown", None)


def _run(db, job_id, fetch):
    store = Store("auth", db, Base.metadata)
    ctx = CallContext(correlation_id=job_id, token=None, verifier=None, _checked=True)
    subject_export.run_job(store, ctx, job_id, fetch, export_pdf.render)


def _local_or(db, remote):
    def fetch(service, subject, cursor):
        if service == "auth":
            with db.begin() as s:
                return subject_export.auth_part(s, subject, cursor, 3)
        return remote(service, subject, cursor)
    return fetch


def test_an_export_job_gathers_every_part_page_by_page_and_issues_one_time_links(db, emit, events, school):
    pupil = who(school, "pupil", "student", "P1")
    with db.begin() as s:
        job_id = subject_export.request_export(s, emit, pupil)["id"]

    def remote(service, subject, cursor):  # two pages per service (a test double of the other services)
        assert subject == {"tenant_id": school["tenant"], "person_id": "P1", "account_id": school["pupil"]}
        if cursor is None:
            return {"items": [{"section": f"{service}_things", "record": {"n": 1, "name": "Ștefan Țurcanu"}}],
                    "next_cursor": "p2"}
        return {"items": [{"section": f"{service}_things", "record": {"n": 2}}], "next_cursor": None}

    _run(db, job_id, _local_or(db, remote))
    with db.begin() as s:
        job = subject_export.get_export(s, pupil, job_id, base_path="/v1/rights/exports")
    assert job["status"] == "done" and job["progress"]["parts_done"] == 4
    assert job["progress"]["parts"]["grades"] == {"status": "done", "records": 2}
    links = {d["format"]: d["url"] for d in job["downloads"]}
    assert set(links) == {"json", "pdf"} and all(links.values())
    token = links["json"].split("token=")[1]
    with db.begin() as s:
        with pytest.raises(NotFound):  # someone else holding the link
            subject_export.open_download(s, emit, who(school, "pupil2", "student", "P2"), job_id, token)
        opened = subject_export.open_download(s, emit, pupil, job_id, token)
        data = b"".join(subject_export.read_chunk(s, pupil, opened["file_id"], i) for i in range(opened["chunks"]))
        with pytest.raises(Conflict):  # works once
            subject_export.open_download(s, emit, pupil, job_id, token)
    document = json.loads(data)
    _validator("subject-export.v1.schema.json").validate(document)
    assert document["parts"]["registry"] == {"registry_things": [{"n": 1, "name": "Ștefan Țurcanu"}, {"n": 2}]}
    assert document["parts"]["auth"]["account"][0]["id"] == school["pupil"]
    with db.begin() as s:
        again = subject_export.get_export(s, pupil, job_id, base_path="/x")
        assert {d["format"]: d["url"] for d in again["downloads"]}["json"] is None  # downloaded: no new link
        pdf_link = {d["format"]: d["url"] for d in again["downloads"]}["pdf"]
        with pytest.raises(NotFound):  # the earlier PDF link was replaced by this read
            subject_export.open_download(s, emit, pupil, job_id, links["pdf"].split("token=")[1])
        pdf = subject_export.open_download(s, emit, pupil, job_id, pdf_link.split("token=")[1])
        assert subject_export.read_chunk(s, pupil, pdf["file_id"], 0).startswith(b"%PDF")
    with db.begin() as s:
        types = [r for r in s.execute(select(Base.metadata.tables["outbox"].c.type)).scalars()]
    assert "auth.subject_export_completed" in types
    with db.begin() as s:
        mine = subject_export.list_exports(s, pupil, limit=10)
        assert [j["id"] for j in mine["items"]] == [job_id] and "downloads" not in mine["items"][0]
        assert subject_export.list_exports(s, who(school, "pupil2", "student", "P2"))["total"] == 0


def test_a_missing_rpc_fails_the_job_naming_the_service_and_nothing_is_reported_done(db, emit, school):
    pupil = who(school, "pupil", "student", "P1")
    with db.begin() as s:
        job_id = subject_export.request_export(s, emit, pupil)["id"]
    MethodNotFound = type("MethodNotFound", (Exception,), {})

    def remote(service, subject, cursor):
        if service == "grades":
            raise MethodNotFound("subject_export_part")
        return {"items": [], "next_cursor": None}

    _run(db, job_id, _local_or(db, remote))
    with db.begin() as s:
        job = subject_export.get_export(s, pupil, job_id, base_path="/x")
        assert s.scalar(select(SubjectExportFile.id).where(SubjectExportFile.export_id == job_id)) is None
    assert job["status"] == "failed" and "grades service does not offer its part" in job["message"]
    parts = job["progress"]["parts"]
    assert (parts["registry"]["status"], parts["grades"]["status"], parts["audit"]["status"]) == \
        ("done", "failed", "pending")
    assert "downloads" not in job


def test_a_page_of_the_wrong_shape_fails_the_job(db, emit, school):
    pupil = who(school, "pupil", "student", "P1")
    with db.begin() as s:
        job_id = subject_export.request_export(s, emit, pupil)["id"]
    _run(db, job_id, _local_or(db, lambda service, subject, cursor: {"items": [{"record": {}}], "next_cursor": None}))
    with db.begin() as s:
        assert s.get(SubjectExport, job_id).status == "failed"


# --- restriction and decision mails ---------------------------------------------------------------

def _event(tenant, type_, after, occurred_at=None, reason=None, entity=("person", "P1")):
    extra = {"occurred_at": occurred_at} if occurred_at else {}
    return Envelope(type=type_, tenant_id=tenant, actor=Actor(id="clerk", role="school_admin"),
                    entity=Entity(type=entity[0], id=entity[1]), data=change_data(after, None), reason=reason,
                    correlation_id="c", **extra)


def _handle(db, envelopes):
    store = Store("auth", db, Base.metadata)
    with db.begin() as s:
        return catalog_notices.handle_events(s, store.newly_processed, envelopes)


def test_a_restricted_pupil_gets_no_catalog_messages_and_the_newest_event_wins(db, school):
    t = school["tenant"]
    with db.begin() as s:
        for key in ("pupil", "parent"):
            s.add(CatalogNoticePreference(user_id=school[key], tenant_id=t, grades="immediate", absences="digest"))
    grade = {"student_id": "P1", "value": 9, "awarded_on": "2026-11-02", "kind": "oral"}
    assert len(_handle(db, [_event(t, "grades.grade_recorded", grade)])) == 2
    _handle(db, [_event(t, "registry.processing_restricted", {"person_id": "P1", "restricted": True, "reason": "r"},
                        occurred_at="2026-12-01T10:00:00+00:00")])
    # an older lift delivered late changes nothing
    _handle(db, [_event(t, "registry.processing_restriction_lifted", {"person_id": "P1", "restricted": False},
                        occurred_at="2026-12-01T09:00:00+00:00")])
    assert _handle(db, [_event(t, "grades.grade_recorded", grade)]) == []
    _handle(db, [_event(t, "grades.absence_recorded", {"student_id": "P1", "occurred_on": "2026-11-03", "hour": 2})])
    with db.begin() as s:
        assert catalog_notices.due_digests(s, now=time.time() + 2 * 86400) == []
        assert s.scalar(select(CatalogDigestItem.id).where(CatalogDigestItem.sent_at.is_(None))) is None
    _handle(db, [_event(t, "registry.processing_restriction_lifted", {"person_id": "P1", "restricted": False},
                        occurred_at="2026-12-01T11:00:00+00:00")])
    assert len(_handle(db, [_event(t, "grades.grade_recorded", grade)])) == 2


def test_one_batch_is_answered_in_its_order_restrictions_included(db, school):
    """The news of a batch are looked up together; a restriction in the middle of the batch
    still silences the events after it (and an older lift in the same batch does not undo it)."""
    t = school["tenant"]
    with db.begin() as s:
        s.add(CatalogNoticePreference(user_id=school["pupil"], tenant_id=t, grades="immediate", absences="off"))
        s.add(CatalogNoticePreference(user_id=school["parent"], tenant_id=t, grades="digest", absences="off"))
    grade = {"student_id": "P1", "value": 9, "awarded_on": "2026-11-02", "kind": "oral"}
    other = {**grade, "student_id": "P2"}
    mails = _handle(db, [
        _event(t, "grades.grade_recorded", grade),
        _event(t, "grades.grade_recorded", other),
        _event(t, "registry.processing_restricted", {"person_id": "P1", "restricted": True},
               occurred_at="2026-12-01T10:00:00+00:00"),
        _event(t, "registry.processing_restriction_lifted", {"person_id": "P1", "restricted": False},
               occurred_at="2026-12-01T09:00:00+00:00"),
        _event(t, "grades.grade_recorded", {**grade, "value": 4})])
    assert [(to, "grade, 9" in body, "grade, 4" in body) for to, _s, body in mails] == [("pupil@example.ro", True, False)]
    with db.begin() as s:
        lines = s.scalars(select(CatalogDigestItem.line).where(CatalogDigestItem.user_id == school["parent"])).all()
    assert len(lines) == 1 and "a new grade, 9" in lines[0]


def test_the_requester_is_told_each_decision_with_its_reason_even_under_restriction(db, school):
    t = school["tenant"]
    _handle(db, [_event(t, "registry.processing_restricted", {"person_id": "P1", "restricted": True})])
    decisions = [
        _event(t, "registry.rectification_rejected", {"requester_id": school["pupil"], "decision_reason": "actul "
               "de identitate arată altă dată"}, entity=("rectification_request", "R1")),
        _event(t, "grades.grade_dispute_approved", {"requester_id": school["parent"], "reason": "nota era greșită"},
               entity=("grade_dispute", "D1"))]
    mails = _handle(db, decisions)
    by_to = {to: (subject, body) for to, subject, body in mails}
    subject, body = by_to["pupil@example.ro"]
    assert "respinsă" in subject and "rejected" in subject and "actul de identitate arată altă dată" in body
    subject, body = by_to["parent@example.ro"]
    assert "aprobată" in subject and "nota era greșită" in body and "approved" in body
    # a redelivered event sends nothing again
    assert _handle(db, decisions) == []


def test_the_pdf_embeds_the_font_and_survives_records_taller_than_a_page():
    document = {"controller": {"name": "Școala „Ion Creangă”"}, "subject": {"person_id": "P1", "account_id": "A1"},
                "generated_at": "2026-12-01T10:00:00Z", "export_id": "E1",
                "parts": {"auth": {"account": [{"id": "x" * 300}], "sign_ins": []},
                          "registry": {"person": [{f"field_{i}": "ș" * 700 for i in range(150)}]}}}
    pdf = export_pdf.render(document)
    assert pdf.startswith(b"%PDF") and b"DejaVuSans" in pdf


def test_a_job_is_run_by_one_replica_and_taken_over_when_its_replica_stops(db, emit, school):
    with db.begin() as s:
        job_id = subject_export.request_export(s, emit, who(school, "pupil", "student", "P1"))["id"]
    now = time.time()
    with db.begin() as s:
        assert subject_export.resumable_jobs(s, now) == []            # just queued: its start is under way
        assert subject_export.resumable_jobs(s, now + 60) == [job_id]  # its start was lost
        assert subject_export.claim(s, job_id, now)
        assert not subject_export.claim(s, job_id, now + 1)  # a second replica does not run it too
        assert subject_export.resumable_jobs(s, now + 100) == []
        stale = now + subject_export.STALE_AFTER + 1
        assert subject_export.resumable_jobs(s, stale) == [job_id]
        assert subject_export.claim(s, job_id, stale)                  # its replica stopped beating
