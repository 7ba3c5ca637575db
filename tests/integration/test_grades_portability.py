"""A school's catalog round-trips through the portability format (issue 11 §6), SQLite and PostgreSQL:
export school A, import into a fresh school B, export B: the same document, its catalog ids mapped
by the format's documented function, registry person ids and account ids unchanged. The document
validates against `docs/schemas/catalog-export.v1.schema.json`; B's class catalog shows A's averages;
a school with a catalog refuses an import; bad documents are refused with a clear 422."""
from __future__ import annotations

import copy
import json
import uuid
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from services.grades import closing, disputes, grades as catalog, portability, views
from services.grades.models import (Absence, Amendment, FinalMark, GradeVersion, MotivationRequest, Reexamination,
                                    YearResult)
from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role
from services.kernel.tenant_data import ExportSessions
from tests.integration import test_grades_rights as rights
from tests.integration.test_grades_rights import DIRECTOR, PUPIL, T, TEACHER, grade, write

pytestmark = pytest.mark.integration
store = rights.store  # the same seeded school (fixture)
REPO = Path(__file__).resolve().parents[2]
B = "tenant-fresh"
ADMIN_A = Principal(user_id="adm-a", tenant_id=T, roles=frozenset({Role.SCHOOL_ADMIN}), factors=frozenset({"pwd", "otp"}))
ADMIN_B = Principal(user_id="adm-b", tenant_id=B, roles=frozenset({Role.SCHOOL_ADMIN}), factors=frozenset({"pwd", "otp"}))
NAMESPACE = uuid.UUID("6b0e5a7c-3f1d-5b8e-9c2a-1d4f7e8a9b0c")  # as docs/catalog-export-format.md gives it


def _fill(store) -> None:
    """Beyond the seed: changed and cancelled grades, a conduct mark, absences and a parent's request,
    a dispute, a closed year with results, an amendment and a re-examination."""
    g = grade(store, value=6)
    write(store, TEACHER, catalog.change_grade, grade_id=g["id"], expected_version=1, reason="corectare", value=7)
    c = grade(store, pupil="p2", value=3)
    write(store, TEACHER, catalog.cancel_grade, grade_id=c["id"], expected_version=1, reason="greșeală")
    for pupil in ("p1", "p2", "p3"):
        grade(store, pupil=pupil, value=9)
    write(store, PUPIL, disputes.open_dispute, grade_id=g["id"], reason="Merit 8 — așa cred.", proposed_value=8)
    with store.transaction() as s:
        request = MotivationRequest(tenant_id=T, class_id="9A", student_id="p1", parent_id="acc-parent",
                                    from_date=date.today(), to_date=date.today(), days=1, reason="medic",
                                    status="approved")
        s.add(request)
        s.flush()
        s.add(Absence(tenant_id=T, class_id="9A", subject_id="mate", student_id="p1", period_id="sem1",
                      occurred_on=date.today(), hour=3, teacher_id="t-mate", status="motivated",
                      motivation_reason="parent_request", request_id=request.id))
        s.add(FinalMark(tenant_id=T, class_id="9A", student_id="p1", period_id="sem1", kind="conduct",
                        subject_key="-", value="10", set_by="t-mate"))
        s.add(Amendment(tenant_id=T, period_id="sem1", class_id="9A", student_id="p2", subject_id="mate",
                        reason="eroare de transcriere", approved_by="dir"))
        s.add(Reexamination(tenant_id=T, class_id="9A", student_id="p3", subject_id="ro", kind="corigenta",
                            average="6.50", recorded_by="t-ro"))
    write(store, DIRECTOR, closing.close_year, school_year_id="y1", confirm=True)
    with store.reading() as s:
        assert s.scalars(select(YearResult)).first() is not None


def _schema_validator():
    schema = json.loads((REPO / "docs/schemas/catalog-export.v1.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _mapped(doc: dict, tenant: str) -> dict:
    """A's document as B should hold it: the documented id function applied to the catalog's ids."""
    def m(value):
        return str(uuid.uuid5(NAMESPACE, f"{tenant}:{value}")) if value else value
    refs = {"school_year_id", "period_id", "class_id", "subject_id", "grade_id", "request_id"}
    out = {}
    for section in portability.SECTIONS:
        records = []
        for r in copy.deepcopy(doc[section]):
            r["id"] = m(r["id"])
            for key in refs & set(r):
                r[key] = m(r[key])
            if section == "curriculum":
                r["thesis_periods"] = [m(p) for p in r["thesis_periods"]]
            if section == "year_results":
                r["result"]["annual_averages"] = {m(k): v for k, v in r["result"]["annual_averages"].items()}
            records.append(r)
        out[section] = sorted(records, key=lambda r: r["id"])
    return out


def _body(doc: dict) -> dict:
    return {s: sorted(doc[s], key=lambda r: r["id"]) for s in portability.SECTIONS}


def test_a_school_round_trips_through_the_format(store):
    _fill(store)
    exports = ExportSessions(store.sessions.engine, store.metadata)
    a = portability.export_document(exports, ADMIN_A, limit=3)  # small pages: the keyset paging is exercised
    _schema_validator().validate(json.loads(json.dumps(a)))
    assert a["format"] == "catalog-export" and a["version"] == 1 and a["source"]["tenant_id"] == T
    assert {s: len(a[s]) for s in ("grades", "grade_versions", "year_results", "amendments", "reexaminations",
                                   "period_marks", "absences", "motivation_requests", "grade_disputes")} == {
        "grades": 5, "grade_versions": 7, "year_results": 6, "amendments": 1, "reexaminations": 1,
        "period_marks": 1, "absences": 1, "motivation_requests": 1, "grade_disputes": 1}
    assert all(y["closed"] for y in a["school_years"]) and all(p["closed"] for p in a["periods"])
    assert "tenant_id" not in json.dumps(a["grades"])

    imported = write(store, ADMIN_B, portability.import_document, document=json.loads(json.dumps(a)))
    assert imported["counts"]["grades"] == 5 and imported["source_tenant_id"] == T
    b = portability.export_document(exports, ADMIN_B)
    assert b["source"]["tenant_id"] == B
    assert _body(b) == _mapped(a, B)
    # person ids kept as they are
    assert {g["student_id"] for g in b["grades"]} == {g["student_id"] for g in a["grades"]}
    # B's catalog computes what A's did (averages, situations) from the imported rows
    class_b = portability.imported_id(B, "9A")
    with store.reading() as s:
        view_a = views.class_catalog(s, DIRECTOR, "9A")
        view_b = views.class_catalog(s, Principal(user_id="dir-b", tenant_id=B, roles=frozenset({Role.DIRECTOR}),
                                                  factors=frozenset({"pwd", "otp"})), class_b)
    pupils = lambda v: sorted((p["student_id"], p.get("general_average"), p.get("situation"))  # noqa: E731
                              for p in v["pupils"])
    assert pupils(view_a) == pupils(view_b)
    with store.reading() as s:
        assert s.scalar(select(GradeVersion.reason).where(GradeVersion.tenant_id == B,
                                                          GradeVersion.version == 2,
                                                          GradeVersion.action == "changed")) == "corectare"
    with pytest.raises(Conflict, match="already has a catalog"):
        write(store, ADMIN_B, portability.import_document, document=a)


def test_an_import_refuses_what_it_cannot_rebuild(store):
    exports = ExportSessions(store.sessions.engine, store.metadata)
    doc = portability.export_document(exports, ADMIN_A)
    for bad, phrase in ((["not", "a", "document"], "not a catalog export"),
                        ({**doc, "version": 2}, "version 1"),
                        ({**doc, "format": "other"}, "not a catalog export"),
                        ({**doc, "extra": []}, "unknown sections"),
                        ({**doc, "grades": {}}, "grades must be a list"),
                        ({**doc, "classes": [{"id": "x", "name": "a V-a"}]}, "missing"),
                        ({**doc, "subjects": [{**doc["subjects"][0], "colour": "red"}]}, "no column colour"),
                        ({**doc, "school_years": [{**doc["school_years"][0], "starts_on": "ieri"}]}, r"school_years\[0\]"),
                        ({**doc, "rosters": [{**doc["rosters"][0], "class_id": "no-such-class"}]}, "rosters")):
        with pytest.raises(InvalidInput, match=phrase):
            write(store, ADMIN_B, portability.import_document, document=bad)
    with store.reading() as s:
        assert not portability.has_catalog(s, B)  # nothing of a refused import stayed
    with pytest.raises(Forbidden):
        write(store, DIRECTOR, portability.import_document, document=doc)
    with pytest.raises(Forbidden):
        portability.export_document(exports, TEACHER)
    with pytest.raises(InvalidInput):
        opened = portability.open_export(exports, ADMIN_A)
        try:
            portability.export_page(exports, ADMIN_A, session_id=opened["session_id"], snapshot=opened["snapshot"],
                                    section="alerts")
        finally:
            portability.close_export(exports, ADMIN_A, session_id=opened["session_id"])


def test_a_streamed_upload_is_staged_then_rebuilt_at_once(store):
    """How the gateway imports: records staged in chunks (in any order of sections), then one
    transaction; the staging is removed; a failed or abandoned upload leaves no catalog."""
    from services.grades.models import SchoolImport, SchoolImportChunk
    _fill(store)
    exports = ExportSessions(store.sessions.engine, store.metadata)
    a = json.loads(json.dumps(portability.export_document(exports, ADMIN_A)))
    header = {k: a[k] for k in ("format", "version", "exported_at", "source")}
    with pytest.raises(Conflict):  # the exporting school has a catalog: refused before any upload
        write(store, ADMIN_A, portability.start_import)

    def stage(principal, *, order=reversed):
        job = write(store, principal, portability.start_import)["import_id"]
        seq = 0
        for section in order(list(portability.SECTIONS)):
            for start in range(0, len(a[section]), 2):
                with store.transaction() as s:
                    portability.add_import_chunk(s, principal, import_id=job, seq=seq, section=section,
                                                 records=a[section][start:start + 2])
                seq += 1
        return job

    abandoned = stage(ADMIN_B)
    with pytest.raises(InvalidInput, match="version 1"):
        write(store, ADMIN_B, portability.finish_import, import_id=abandoned, header={**header, "version": 3})
    with store.transaction() as s:
        portability.abandon_import(s, ADMIN_B, import_id=abandoned)
    with pytest.raises(Conflict, match="has ended"):
        write(store, ADMIN_B, portability.finish_import, import_id=abandoned, header=header)
    left = stage(ADMIN_B)
    job = stage(ADMIN_B)  # a new upload drops the one left unfinished
    with store.reading() as s:
        assert s.get(SchoolImport, left).status == "failed" and not portability.has_catalog(s, B)
        assert not s.scalars(select(SchoolImportChunk).where(SchoolImportChunk.import_id.in_([abandoned, left]))).all()
    with pytest.raises(NotFound):
        with store.transaction() as s:
            portability.add_import_chunk(s, ADMIN_A, import_id=job, seq=99, section="grades", records=[{}])
    done = write(store, ADMIN_B, portability.finish_import, import_id=job, header=header)
    assert done["counts"] == {s: len(a[s]) for s in portability.SECTIONS}
    b = portability.export_document(exports, ADMIN_B)
    assert _body(b) == _mapped(a, B)
    with store.reading() as s:
        assert not s.scalars(select(SchoolImportChunk)).all() and s.get(SchoolImport, job).status == "imported"
