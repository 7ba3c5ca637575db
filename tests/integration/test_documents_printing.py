"""Printing, storing, verifying and the year-end set, on SQLite and PostgreSQL, with the catalog
data coming from made-up classes in the class catalog's shape (the real catalog views, and their
rule on whose report card a parent or pupil may read, are exercised in tests/e2e/test_documents.py)."""
from __future__ import annotations

import copy
import io
import json
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text

from services.grades.documents import making, printing, source
from services.grades.documents.canonical import fingerprint as fingerprint_of
from services.grades.documents.sample import sample_class_catalog, sample_names
from services.grades.models import SchoolClass
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Forbidden, InvalidInput, NotFound
from services.kernel.events import Envelope
from services.kernel.identity import Principal
from services.kernel.migrations import upgrade_to_head
from services.kernel.nameko_support import CallContext, Store

from services.grades.models import Base

pytestmark = pytest.mark.integration
TENANT, OTHER = "tenant-a", "tenant-b"


def who(roles, user="u-director", tenant=TENANT, **kw) -> Principal:
    return Principal(user_id=user, tenant_id=tenant, roles=frozenset(roles), factors=frozenset({"pwd", "otp"}), **kw)


DIRECTOR = who({"director"})


class World:
    def __init__(self, url):
        upgrade_to_head("grades", url)
        self.engine = make_engine(url)
        self.store = Store("grades", make_sessionmaker(self.engine), Base.metadata)
        self.catalogs: dict[str, dict] = {}
        self.failing: set[str] = set()
        self.card_readers: list[Principal] = []

    def add_class(self, pupils=4, subjects=3, seed=1, tenant=TENANT) -> dict:
        data = sample_class_catalog(pupils=pupils, subjects=subjects, seed=seed)
        data["class"]["homeroom_teacher_id"] = "u-homeroom"
        self.catalogs[data["class"]["id"]] = data
        with self.store.transaction() as s:
            s.add(SchoolClass(id=data["class"]["id"], tenant_id=tenant, name=data["class"]["name"] + str(seed),
                              school_year=data["class"]["school_year"], homeroom_teacher_id="u-homeroom"))
        return data

    def load(self, session, principal, class_id, period_id=None):
        if class_id in self.failing:
            raise RuntimeError("the catalog could not be read")
        return copy.deepcopy({**self.catalogs[class_id], "period_id": period_id,
                              "generated_at": datetime.now(timezone.utc).isoformat()})

    def load_report_card(self, session, principal, class_id, student_id, period_id=None):
        """The catalog's `views.report_card` in the class catalog's shape (its rule on who may read
        it is the catalog's, tested with the real view in tests/e2e/test_documents.py)."""
        self.card_readers.append(principal)
        data = self.load(session, principal, class_id, period_id)
        pupils = [p for p in data["pupils"] if p["student_id"] == student_id]
        if not pupils:
            raise NotFound("student not found in this class")
        return {**data, "pupils": pupils}

    def maker(self, principal) -> making.Maker:
        ctx = CallContext(correlation_id="test", token=None, verifier=None, _principal=principal, _checked=True)

        def names_for(ids):
            school, names = sample_names(next(iter(self.catalogs.values())))
            return {"school": school, "members": {i: names.get(i, "Profesor Țăranu") for i in ids},
                    "directors": ["Bogdan Țăranu"]}
        return making.Maker(self.store, self.store.emitter(ctx), principal, names_for=names_for)

    def file_bytes(self, principal, file: dict) -> bytes:
        with self.store.reading() as s:
            return b"".join(printing.read_chunk(s, principal, file["id"], i) for i in range(file["chunks"]))

    def events(self) -> list[dict]:
        with self.engine.connect() as c:
            return [Envelope.from_dict(json.loads(p)).to_dict()
                    for (p,) in c.execute(text("select payload from outbox order by id"))]


@pytest.fixture
def world(database_url, monkeypatch):
    w = World(database_url)
    monkeypatch.setattr(source, "load_class_catalog", w.load)
    monkeypatch.setattr(source, "load_report_card", w.load_report_card)
    yield w
    w.engine.dispose()


def test_a_printout_verifies_until_a_grade_changes(world):
    data = world.add_class(pupils=5, subjects=4)
    made = world.maker(DIRECTOR).class_catalog_pdf(data["class"]["id"])
    fp = made["fingerprint"]
    assert fp == fingerprint_of(data) and made["pages"] == 1 + 5 + 1
    pdf = world.file_bytes(DIRECTOR, made["file"])
    assert len(pdf) == made["file"]["size"] and pdf.startswith(b"%PDF")
    assert all(fp in page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert made["file"]["name"] == f"Catalogul clasei {data['class']['name']} – anul școlar 2025-2026.pdf"

    printed = [e for e in world.events() if e["type"] == "grades.catalog_printed"]
    assert len(printed) == 1 and printed[0]["data"]["after"]["fingerprint"] == fp
    assert printed[0]["actor"]["id"] == DIRECTOR.user_id

    answer = world.maker(DIRECTOR).verify(fp)
    assert answer["status"] == "matches" and answer["changed_pupils"] == [] and answer["amendments_since"] == []
    qr_text = f"https://catalog.example.ro/v1/documents/verify?f={fp}"
    assert world.maker(who({"teacher"}, user="u-homeroom")).verify(qr_text)["status"] == "matches"

    pupil = data["pupils"][2]
    subject_id = data["subjects"][0]["id"]
    cell = next(iter(pupil["subjects"][subject_id]["periods"].values()))
    cell["grades"][0]["value"] = "10" if cell["grades"][0]["value"] != "10" else "9"
    pupil["amendments"].append({"subject_id": subject_id, "period_id": data["school_year"]["periods"][0]["id"],
                                "reason": "Notă corectată după contestație", "approved_by": "u-director",
                                "approved_at": datetime.now(timezone.utc).isoformat()})
    answer = world.maker(DIRECTOR).verify(fp)
    assert answer["status"] == "changed" and answer["message"] == "the record changed after this printout"
    assert [p["student_id"] for p in answer["changed_pupils"]] == [pupil["student_id"]]
    assert [a["reason"] for a in answer["amendments_since"]] == ["Notă corectată după contestație"]
    assert answer["amendments_since"][0]["subject"] == data["subjects"][0]["name"]
    # the amendments made before the printout are not "since"
    assert len([a for p in data["pupils"] for a in p["amendments"]]) >= 1


def test_who_may_print_and_verify(world):
    data = world.add_class(pupils=3, subjects=2)
    class_id, child = data["class"]["id"], data["pupils"][0]["student_id"]
    homeroom, teacher = who({"teacher"}, user="u-homeroom"), who({"teacher"}, user="u-other-teacher")
    parent = who({"parent"}, user="u-parent", claims={"kids": [child]})
    pupil = who({"student"}, user="u-pupil", person_id=child)
    fp = world.maker(homeroom).class_catalog_pdf(class_id)["fingerprint"]
    assert world.maker(homeroom).class_catalog_xlsx(class_id)["file"]["name"].endswith(".xlsx")
    for refused in (teacher, parent, pupil, who({"school_admin"}), who({"school_admin", "teacher"}, user="u-homeroom")):
        with pytest.raises(Forbidden):
            world.maker(refused).class_catalog_pdf(class_id)
    with pytest.raises(Forbidden):
        world.maker(teacher).verify(fp)
    with pytest.raises(NotFound):  # another school's director: neither the class nor the printout exist
        world.maker(who({"director"}, tenant=OTHER)).class_catalog_pdf(class_id)
    with pytest.raises(NotFound):
        world.maker(who({"director"}, tenant=OTHER)).verify(fp)

    for allowed in (parent, pupil, homeroom, DIRECTOR):
        made = world.maker(allowed).report_card_pdf(class_id, child)
        text_ = PdfReader(io.BytesIO(world.file_bytes(allowed, made["file"]))).pages[0].extract_text()
        assert f"{data['pupils'][0]['last_name']} {data['pupils'][0]['first_name']}" in text_
        assert made["file"]["name"].startswith("Situația școlară – ")
    # parents and pupils read the report card as themselves (no elevated reader): the catalog decides
    assert world.card_readers == [parent, pupil, homeroom, DIRECTOR]
    with pytest.raises(NotFound):
        world.maker(DIRECTOR).report_card_pdf(class_id, "not-a-pupil-of-this-class")
    with pytest.raises(Forbidden):  # staff: the documents' own rule (director, homeroom teacher)
        world.maker(teacher).report_card_pdf(class_id, child)
    # a file is served to whoever made it, and nobody else
    made = world.maker(parent).report_card_pdf(class_id, child)
    with world.store.reading() as s, pytest.raises(NotFound):
        printing.read_chunk(s, who({"parent"}, user="u-another-parent"), made["file"]["id"], 0)
    # a report card's fingerprint covers its pupil: another pupil's change does not affect it
    period = data["school_year"]["periods"][0]["id"]
    card = world.maker(DIRECTOR).report_card_pdf(class_id, child, period)
    data["pupils"][1]["general_average"] = "3.00"
    assert world.maker(DIRECTOR).verify(card["fingerprint"])["status"] == "matches"
    assert world.maker(DIRECTOR).verify(fp)["status"] == "changed"
    with pytest.raises(InvalidInput):
        world.maker(DIRECTOR).verify("not a fingerprint")
    kinds = [e["type"] for e in world.events()]
    assert {"grades.catalog_printed", "grades.catalog_exported", "grades.report_card_printed"} <= set(kinds)


def test_a_school_set_goes_on_past_a_failing_class(world):
    classes = [world.add_class(pupils=3, subjects=2, seed=s) for s in (1, 2, 3)]
    world.failing.add(classes[1]["class"]["id"])
    spawned = []
    job = world.maker(DIRECTOR).start_school_set("2025-2026", spawned.append)
    assert job["status"] == "running" and job["progress"] == "0/3"
    spawned[0]()  # what the service's background thread runs
    done = world.maker(DIRECTOR).job(job["id"])
    assert (done["status"], done["done"], done["failed"], done["progress"]) == ("done", 2, 1, "3/3")
    by_class = {f["class_id"]: f for f in done["files"]}
    assert by_class[classes[1]["class"]["id"]]["status"] == "failed"
    for c in (classes[0], classes[2]):
        f = by_class[c["class"]["id"]]
        pdf = world.file_bytes(DIRECTOR, f)
        assert f["status"] == "ready" and fingerprint_of(c) in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    kinds = [e["type"] for e in world.events()]
    assert kinds.count("grades.catalog_printed") == 2
    assert {"grades.year_end_set_started", "grades.year_end_class_failed", "grades.year_end_set_generated"} <= set(kinds)
    with pytest.raises(Forbidden):
        world.maker(who({"teacher"}, user="u-homeroom")).start_school_set("2025-2026", spawned.append)
    with pytest.raises(NotFound):
        world.maker(who({"director"}, tenant=OTHER)).job(job["id"])
    with pytest.raises(NotFound):
        world.maker(DIRECTOR).start_school_set("2031-2032", spawned.append)


def test_single_downloads_expire_but_a_sets_files_stay(world):
    data = world.add_class(pupils=2, subjects=2)
    first = world.maker(DIRECTOR).class_catalog_pdf(data["class"]["id"])["file"]
    with world.store.transaction() as s:
        s.execute(text("update document_files set created_at = created_at - 7200"))
    world.maker(DIRECTOR).class_catalog_pdf(data["class"]["id"])
    with world.store.reading() as s:
        with pytest.raises(NotFound):
            printing.get_file(s, DIRECTOR, first["id"])
        assert s.scalar(text("select count(*) from document_chunks where file_id = :f"), {"f": first["id"]}) == 0
        assert len(list(s.scalars(select(text("id")).select_from(text("document_printouts"))))) == 2
