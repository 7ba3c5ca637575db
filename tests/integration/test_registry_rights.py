"""Data-subject rights in the registry (issue 11), on SQLite and PostgreSQL, through the rule
modules with a real database: the restriction of processing (set, lift, history, its events, who
may), the restriction honoured by the statistics and the export to an external body while the
registrar still sees the person, rectification requests (plain, sealed and identity fields;
approval as a new version, rejection with its reason), and the registry's and the audit
trail's parts of a person's export, validated against their JSON Schemas."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import orjson
import pytest
from sqlalchemy import select, text

from services.audit import subject_export as audit_export
from services.audit.models import AuditEntry
from services.kernel import service_credentials, subject_parts
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role
from services.kernel.migrations import upgrade_to_head
from services.kernel.nameko_support import CallContext, Store
from services.registry import (enrolments, nomenclatures, persons, rectifications, reports, restrictions,
                               subject_export)
from services.registry.models import Base, Person, RecordVersion, RectificationRequest
from tests.infra import valid_cnp

pytestmark = pytest.mark.integration
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "subject-export"
YEAR = "2026-2027"


@pytest.fixture
def store(database_url, platform_env):
    upgrade_to_head("registry", database_url)
    engine = make_engine(database_url)
    s = Store("registry", make_sessionmaker(engine), Base.metadata)
    with s.transaction() as session:
        nomenclatures.seed(session)
    yield s
    engine.dispose()


def who(role: str, tenant: str = "u-1", user: str | None = None, **kw) -> Principal:
    return Principal(user_id=user or f"{role}-{tenant}", tenant_id=tenant, roles=frozenset({role}),
                     factors=frozenset({"pwd", "otp"}), **kw)


CLERK, ADMIN, DIRECTOR = who(Role.REGISTRY_CLERK), who(Role.SCHOOL_ADMIN), who(Role.DIRECTOR)
CENTRAL = who(Role.CENTRAL_AUTHORITY, tenant="platform")


def run(store: Store, principal: Principal, fn, *args, **kw):
    ctx = CallContext(correlation_id="req-1", token=None, verifier=None, _principal=principal, _checked=True)
    with store.transaction() as s:
        return fn(s, store.emitter(ctx), principal, *args, **kw)


def events(store: Store, kind: str) -> list[dict]:
    with store.reading() as s:
        rows = s.execute(text("SELECT payload FROM outbox WHERE type = :t ORDER BY id"), {"t": f"registry.{kind}"})
        return [json.loads(p) for (p,) in rows]


_n = iter(range(100, 999))


def register(store: Store, principal: Principal = CLERK, **personal) -> dict:
    n = next(_n)
    cnp = valid_cnp(f"60503{n % 28 + 1:02d}40{n:03d}") if "foreign_id" not in personal else None
    record = {"personal": {"last_name_at_birth": "Popescu", "birth_country": "RO", "domicile_country": "RO",
                           "citizenship": "RO", **personal}}
    return run(store, principal, persons.register_person, last_name="Popescu", first_name="Ioana", cnp=cnp,
               record=record)


def enrol(store: Store, person_id: str, principal: Principal = CLERK) -> None:
    run(store, principal, enrolments.add_enrolment, person_id,
        fields={"academic_year": YEAR, "cycle": "licenta", "financing": "buget", "study_year": 1, "form": "IF"})


# --- restriction of processing ------------------------------------------------------------------

def test_a_restriction_is_set_and_lifted_with_reasons_its_history_kept_and_its_events_as_agreed(store):
    person = register(store)
    with store.reading() as s:
        assert restrictions.get_restriction(s, DIRECTOR, person["id"])["restricted"] is False
    state = run(store, DIRECTOR, restrictions.set_restriction, person["id"], reason="cererea elevei, art. 18")
    assert state["restricted"] and state["reason"] == "cererea elevei, art. 18"
    with pytest.raises(Conflict):
        run(store, ADMIN, restrictions.set_restriction, person["id"], reason="din nou")
    lifted = run(store, CLERK, restrictions.lift_restriction, person["id"], reason="contestația a fost soluționată")
    assert lifted["restricted"] is False
    (period,) = lifted["history"]
    assert period["reason"] == "cererea elevei, art. 18" and period["lift_reason"] == "contestația a fost soluționată"
    assert period["set_by"] == DIRECTOR.user_id and period["lifted_by"] == CLERK.user_id and not period["active"]
    with pytest.raises(Conflict):
        run(store, CLERK, restrictions.lift_restriction, person["id"], reason="nimic de ridicat")
    again = run(store, ADMIN, restrictions.set_restriction, person["id"], reason="a doua cerere")
    assert again["restricted"] and len(again["history"]) == 2

    (restricted, second), (lift,) = events(store, "processing_restricted"), events(store, "processing_restriction_lifted")
    assert second["data"]["after"]["reason"] == "a doua cerere"
    assert restricted["entity"] == {"type": "person", "id": person["id"]} and restricted["tenant_id"] == "u-1"
    assert restricted["data"]["after"] == {"person_id": person["id"], "restricted": True,
                                           "reason": "cererea elevei, art. 18"}
    assert lift["data"]["after"] == {"person_id": person["id"], "restricted": False,
                                     "reason": "contestația a fost soluționată"}
    assert lift["entity"] == {"type": "person", "id": person["id"]} and lift["actor"]["id"] == CLERK.user_id


def test_only_the_institutions_staff_may_restrict_and_another_institutions_person_is_not_found(store):
    person = register(store)
    for role in (Role.TEACHER, Role.STUDENT, Role.PARENT, Role.CENTRAL_AUTHORITY, Role.STATISTICS_VIEWER):
        with pytest.raises(Forbidden):
            run(store, who(role), restrictions.set_restriction, person["id"], reason="x")
    with pytest.raises(NotFound):
        run(store, who(Role.SCHOOL_ADMIN, tenant="u-2"), restrictions.set_restriction, person["id"], reason="x")
    with pytest.raises(InvalidInput):
        run(store, ADMIN, restrictions.set_restriction, person["id"], reason="   ")
    with store.reading() as s, pytest.raises(NotFound):
        restrictions.get_restriction(s, who(Role.DIRECTOR, tenant="u-2"), person["id"])


def test_a_restricted_person_leaves_the_statistics_and_the_export_but_stays_on_the_registrars_page(store):
    people = [register(store) for _ in range(3)]
    for p in people:
        enrol(store, p["id"])
    restricted = people[0]["id"]

    def counted() -> tuple[int, set[str]]:
        with store.reading() as s:
            total = reports.counts(s, CLERK, academic_year=YEAR)["total"]
        exported = run(store, CENTRAL, reports.scoped_export, body="transport", purpose="reduceri", academic_year=YEAR,
                       limit=100, offset=0)
        codes = {row["matriculation_code"] for row in exported["items"]}
        return total, codes

    total, codes = counted()
    assert total == 3 and people[0]["matriculation_code"] in codes
    run(store, CLERK, restrictions.set_restriction, restricted, reason="cererea studentei")
    total, codes = counted()
    assert total == 2
    assert people[0]["matriculation_code"] not in codes and people[1]["matriculation_code"] in codes
    # the export's audit event names only the persons it really gave out
    assert restricted not in events(store, "enrolled_students_exported")[-1]["data"]["after"]["person_ids"]
    # still in the legal record, visible to the registrar
    seen = run(store, CLERK, persons.get_person, restricted)
    assert seen["matriculation_code"] == people[0]["matriculation_code"] and seen["processing_restricted"]
    assert run(store, CLERK, persons.get_person, people[1]["id"])["processing_restricted"] is False
    # another institution's restriction does not hide the person from this one's rows
    other = who(Role.REGISTRY_CLERK, tenant="u-2")
    with store.transaction() as s:
        from services.registry.models import PersonLink
        s.add(PersonLink(person_id=people[1]["id"], tenant_id="u-2"))
    run(store, other, restrictions.set_restriction, people[1]["id"], reason="cerere la u-2")
    assert counted()[0] == 2
    run(store, CLERK, restrictions.lift_restriction, restricted, reason="ridicată")
    assert counted()[0] == 3


def test_statistics_cells_leave_the_restricted_person_out(store):
    people = [register(store) for _ in range(6)]
    for p in people:
        enrol(store, p["id"])

    def cell() -> int | None:
        with store.reading() as s:
            rows = reports.statistics(s, CENTRAL, academic_year=YEAR)["rows"]
        found = [r["count"] for r in rows if r["key"] == ["licenta", "buget", "F"]]
        return found[0] if found else None

    assert cell() == 6
    run(store, ADMIN, restrictions.set_restriction, people[0]["id"], reason="cerere")
    assert cell() == 5


# --- rectification ----------------------------------------------------------------------------------

def test_a_student_asks_a_plain_rectification_the_registrar_approves_and_it_is_a_new_version(store):
    person = register(store, domicile_locality="Cluj")
    student = who(Role.STUDENT, user="acct-stu", person_id=person["id"])
    asked = run(store, student, rectifications.request_rectification, person_id=None,
                field="personal.domicile_locality", proposed_value="Cluj-Napoca", reason="numele corect al orașului",
                attachment_ref="CI seria CJ 123456")
    assert asked["status"] == "pending" and asked["person_id"] == person["id"] and asked["requester_id"] == "acct-stu"
    with store.reading() as s:
        listed = rectifications.list_rectifications(s, lambda *a, **k: None, student)
        assert [r["id"] for r in listed["items"]] == [asked["id"]]
    with pytest.raises(Forbidden):
        run(store, DIRECTOR, rectifications.decide_rectification, asked["id"], approve=True, reason="x")
    with pytest.raises(NotFound):
        run(store, who(Role.REGISTRY_CLERK, tenant="u-2"), rectifications.decide_rectification, asked["id"],
            approve=True, reason="x")
    decided = run(store, CLERK, rectifications.decide_rectification, asked["id"], approve=True,
                  reason="verificat cu actul de identitate")
    assert decided["status"] == "approved" and decided["version"] == person["version"] + 1
    record = run(store, CLERK, persons.get_person, person["id"])
    assert record["personal"]["domicile_locality"] == "Cluj-Napoca" and record["version"] == decided["version"]
    with store.reading() as s:
        kinds = [v.kind for v in s.scalars(select(RecordVersion).where(RecordVersion.person_id == person["id"])
                                           .order_by(RecordVersion.version))]
    assert kinds == ["registration", "rectification"]
    with pytest.raises(Conflict):
        run(store, CLERK, rectifications.decide_rectification, asked["id"], approve=False, reason="prea târziu")
    (requested,), (approved,) = events(store, "rectification_requested"), events(store, "rectification_approved")
    assert requested["data"]["after"]["requester_id"] == "acct-stu"
    assert approved["data"]["after"]["requester_id"] == "acct-stu"
    assert approved["data"]["after"]["decision_reason"] == "verificat cu actul de identitate"
    assert events(store, "person_rectified")[-1]["entity"]["id"] == person["id"]


def test_a_parent_asks_for_their_child_only_and_a_rejection_keeps_its_reason(store):
    child, other = register(store), register(store)
    parent = Principal(user_id="acct-par", tenant_id="u-1", roles=frozenset({Role.PARENT}),
                       claims={"kids": [child["id"]]})
    asked = run(store, parent, rectifications.request_rectification, person_id=child["id"], field="first_name",
                proposed_value="Ioana-Maria", reason="al doilea prenume lipsește")
    assert asked["field"] == "personal.first_name"
    with pytest.raises(Forbidden):
        run(store, parent, rectifications.request_rectification, person_id=other["id"], field="first_name",
            proposed_value="X", reason="nu e copilul meu")
    rejected = run(store, ADMIN, rectifications.decide_rectification, asked["id"], approve=False,
                   reason="certificatul de naștere arată un singur prenume")
    assert rejected["status"] == "rejected" and rejected["decision_reason"].startswith("certificatul")
    assert run(store, CLERK, persons.get_person, child["id"])["first_name"] == "Ioana"
    (event,) = events(store, "rectification_rejected")
    assert event["data"]["after"]["requester_id"] == "acct-par"
    assert event["data"]["after"]["decision_reason"] == "certificatul de naștere arată un singur prenume"
    with pytest.raises(Forbidden):  # a student asks for another student
        run(store, who(Role.STUDENT, person_id=child["id"]), rectifications.request_rectification,
            person_id=other["id"], field="first_name", proposed_value="X", reason="r")
    with pytest.raises(InvalidInput):
        run(store, ADMIN, rectifications.request_rectification, person_id=child["id"], field="personal.nope",
            proposed_value="X", reason="r")


def test_a_sensitive_field_is_sealed_in_the_request_and_decided_by_the_registrar(store, database_url):
    person = register(store)
    student = who(Role.STUDENT, user="acct-s", person_id=person["id"])
    asked = run(store, student, rectifications.request_rectification, person_id=person["id"],
                field="personal.special_medical_situation", proposed_value="dizabilitati", reason="certificat nou")
    assert asked["sealed"] and asked["proposed_value"] == "dizabilitati"  # the person sees their own request
    with store.reading() as s:
        row = s.get(RectificationRequest, asked["id"])
        assert row.proposed is None and "dizabilitati" not in row.proposed_sealed
        admin_view = rectifications.list_rectifications(s, lambda *a, **k: None, ADMIN)["items"][0]
    assert admin_view["proposed_value"] is None and admin_view["sealed"]
    assert "dizabilitati" not in json.dumps(events(store, "rectification_requested"))
    with pytest.raises(Forbidden):
        run(store, ADMIN, rectifications.decide_rectification, asked["id"], approve=True, reason="da")
    run(store, CLERK, rectifications.decide_rectification, asked["id"], approve=True, reason="certificat verificat")
    full = run(store, CLERK, persons.get_person, person["id"], include_sensitive=True)
    assert full["sensitive"] == {"special_medical_situation": "dizabilitati"}


def test_the_birth_date_is_rectified_and_with_a_cnp_only_through_the_cnp(store):
    foreign = register(store, foreign_id="P1234567", citizenship="FR", birth_country="FR", domicile_country="FR",
                       birth_date="2001-05-04")
    asked = run(store, ADMIN, rectifications.request_rectification, person_id=foreign["id"],
                field="personal.birth_date", proposed_value="2001-04-05", reason="ziua și luna inversate")
    run(store, CLERK, rectifications.decide_rectification, asked["id"], approve=True, reason="pașaport verificat")
    with store.reading() as s:
        row = s.get(Person, foreign["id"])
        assert row.birth_date.isoformat() == "2001-04-05" and row.data["personal"]["birth_date"] == "2001-04-05"
    romanian = register(store)
    with pytest.raises(InvalidInput, match="does not match the CNP"):
        run(store, ADMIN, rectifications.request_rectification, person_id=romanian["id"], field="birth_date",
            proposed_value="2005-01-01", reason="greșit")
    new_cnp = valid_cnp("505011040777")  # a man born on 2005-01-10
    asked = run(store, ADMIN, rectifications.request_rectification, person_id=romanian["id"], field="personal.cnp",
                proposed_value=new_cnp, reason="CNP greșit la înscriere")
    run(store, CLERK, rectifications.decide_rectification, asked["id"], approve=True, reason="certificat de naștere")
    with store.reading() as s:
        row = s.get(Person, romanian["id"])
        assert (row.cnp, row.birth_date.isoformat(), row.sex) == (new_cnp, "2005-01-10", "M")
    taken = register(store)
    with store.reading() as s:
        taken_cnp = s.get(Person, taken["id"]).cnp
    with pytest.raises(Conflict):
        run(store, ADMIN, rectifications.request_rectification, person_id=romanian["id"], field="personal.cnp",
            proposed_value=taken_cnp, reason="r")


# --- the person's export ------------------------------------------------------------------------------

def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _page_validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.v1.schema.json").read_text())
    return jsonschema.Draft202012Validator({**schema, "anyOf": [{"$ref": "#/$defs/page"}]},
                                           format_checker=jsonschema.FormatChecker())


def _all_pages(fetch, limit: int) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        page = fetch(cursor, limit)
        pages += 1
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100


def test_the_registrys_part_of_a_persons_export_pages_through_every_section_and_follows_its_schema(store):
    person = register(store, ethnicity="maghiara")
    enrol(store, person["id"])
    run(store, CLERK, enrolments.add_diploma, person["id"], fields={
        "cycle": "licenta", "diploma_type": "diploma_licenta", "series": "L", "number": f"{next(_n)}",
        "issued_on": "2026-07-10", "issuer": "Universitatea din Cluj"})
    run(store, CLERK, restrictions.set_restriction, person["id"], reason="cerere")
    student = who(Role.STUDENT, user="acct-exp", person_id=person["id"])
    run(store, student, rectifications.request_rectification, person_id=None, field="personal.ethnicity",
        proposed_value="romana", reason="declarație nouă")
    subject = {"tenant_id": "u-1", "person_id": person["id"], "account_id": "acct-exp"}

    def fetch(cursor, limit):
        with store.reading() as s:
            page = subject_export.export_part(s, subject, cursor=cursor, limit=limit)
        _page_validator("registry").validate(page)
        return page

    whole = _all_pages(fetch, 500)
    assert _all_pages(fetch, 1) == whole  # one item per page gives the same, in the same order
    _validator("registry").validate(whole)
    grouped: dict[str, list] = {}
    for item in whole:
        grouped.setdefault(item["section"], []).append(item["record"])
    _validator("registry").validate(grouped)
    assert list(grouped) == ["person", "person_versions", "enrolments", "diplomas", "rectification_requests",
                             "processing_restrictions"]
    (record,) = grouped["person"]
    assert record["sensitive"] == {"ethnicity": "maghiara"} and record["cnp"]  # opened for the person
    assert {v["entity_type"] for v in grouped["person_versions"]} == {"person", "enrolment", "diploma"}
    assert grouped["rectification_requests"][0]["proposed_value"] == "romana"
    assert grouped["processing_restrictions"][0]["active"] is True
    # another institution's export of the same subject holds nothing of this one
    with store.reading() as s:
        assert subject_export.export_part(s, {**subject, "tenant_id": "u-2"}, cursor=None, limit=500)["items"] == []
        with pytest.raises(InvalidInput):
            subject_export.export_part(s, subject, cursor="oops", limit=10)


def test_only_auth_with_the_subject_export_scope_may_ask_for_a_part(platform_env):
    good = service_credentials.issue("auth", "registry", "subject_export")
    assert subject_parts.verify_caller(good, "registry") == "auth"
    for bad in (service_credentials.issue("backup", "registry", "subject_export"),
                service_credentials.issue("auth", "registry", "tenant_data"),
                service_credentials.issue("auth", "grades", "subject_export"), None, "not-a-jwt"):
        with pytest.raises(Forbidden):
            subject_parts.verify_caller(bad, "registry")
    with pytest.raises(InvalidInput):
        subject_parts.clean_subject({"person_id": "p"})
    with pytest.raises(InvalidInput):
        subject_parts.clean_limit(5000)


@pytest.fixture
def audit_store(database_url, platform_env):
    upgrade_to_head("audit", database_url)
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_the_audit_trails_part_holds_the_entries_about_the_person_or_by_their_account(audit_store):
    def entry(i, tenant, actor, entity):
        envelope = {"event_id": f"e-{i}", "type": "registry.person_viewed", "version": 1,
                    "occurred_at": "2026-12-01T10:00:00+00:00", "tenant_id": tenant,
                    "actor": {"id": actor, "role": "student"}, "entity": {"type": "person", "id": entity},
                    "reason": None, "data": {"after": {"person_id": entity}}, "correlation_id": f"c-{i}"}
        return AuditEntry(event_id=envelope["event_id"], type=envelope["type"], tenant_id=tenant, actor_id=actor,
                          actor_role="student", entity_type="person", entity_id=entity, reason=None,
                          occurred_at=envelope["occurred_at"], recorded_at=1.0, correlation_id=f"c-{i}",
                          envelope=orjson.dumps(envelope).decode(), leaf_index=i, leaf_hash=b"\0" * 32)

    with audit_store.begin() as s:
        s.add_all([entry(0, "u-1", "clerk", "p-1"), entry(1, "u-1", "acct-1", "other"), entry(2, "u-2", "clerk", "p-1"),
                   entry(3, "u-1", "clerk", "p-2"), entry(4, "u-1", "clerk", "p-1"), entry(5, "u-1", "acct-1", "p-9")])
    subject = {"tenant_id": "u-1", "person_id": "p-1", "account_id": "acct-1"}

    def fetch(cursor, limit):
        with audit_store.begin() as s:
            page = audit_export.export_part(s, subject, cursor=cursor, limit=limit)
        _page_validator("audit").validate(page)
        return page

    whole = _all_pages(fetch, 500)
    assert [i["record"]["event_id"] for i in whole] == ["e-0", "e-1", "e-4", "e-5"]
    assert _all_pages(fetch, 1) == whole
    _validator("audit").validate(whole)
    _validator("audit").validate({"audit_entries": [i["record"] for i in whole]})
    with audit_store.begin() as s:
        assert audit_export.export_part(s, {"tenant_id": "u-1", "person_id": None, "account_id": None},
                                        cursor=None, limit=5)["items"] == []
