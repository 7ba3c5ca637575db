"""The year-end catalog through the gateway, on the real catalog: the director downloads a past
school year's class catalog (two semesters, every grade, period / annual / general averages,
conduct, the situation once the year is closed), its fingerprint verifies against the record, a
grade changed afterwards (the catalog's change route) makes verification say so, and only the
right people get the documents (a parent their own child's report card, by the catalog's rule).
"""
from __future__ import annotations

import io
import time
import zipfile
from urllib.parse import unquote

import pytest
from pypdf import PdfReader

from services.grades.documents.pdf_common import decimal_ro, grade_text

pytestmark = pytest.mark.e2e
YEAR = "2025-2026"
SEMESTERS = [{"name": "Semestrul I", "starts_on": "2025-09-08", "ends_on": "2026-01-30"},
             {"name": "Semestrul al II-lea", "starts_on": "2026-02-09", "ends_on": "2026-06-19"}]
# per semester, per subject: grades; pupil i gets value + (i % 2), so the averages differ
GRADES = {0: {"math": [("2025-10-06", 8), ("2025-11-17", 9)], "ro": [("2025-10-08", 10), ("2025-12-03", 9)]},
          1: {"math": [("2026-03-02", 7), ("2026-04-20", 8)], "ro": [("2026-03-04", 9), ("2026-05-11", 9)]}}


def _pdf_text(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def _past_year_class(platform) -> dict:
    """A class of last school year with two subjects, the demo's pupils, grades and conduct."""
    demo = platform.demo
    admin, director = platform.token("admin"), platform.token("director")
    teacher, homeroom = platform.token("teacher"), platform.token("homeroom")
    math, romanian = demo["subject"], demo["catalog"]["romanian"]
    pupils = demo["catalog"]["pupils"]
    with platform.client(director) as c:
        r = c.post("/v1/school-years", json={"name": YEAR, "structure": "semesters", "periods": SEMESTERS})
        assert r.status_code == 201, r.text
        year = r.json()
    with platform.client(admin) as c:
        r = c.post("/v1/classes", json={"name": "a X-a B", "school_year": YEAR, "level": 10})
        assert r.status_code == 201, r.text
        klass = r.json()
        for subject, who in ((math, "teacher"), (romanian, "homeroom")):
            assert c.put(f"/v1/classes/{klass['id']}/curriculum/{subject['id']}",
                         json={"weekly_hours": 4}).status_code == 200
            assert c.post(f"/v1/classes/{klass['id']}/teachers", json={
                "subject_id": subject["id"], "teacher_id": demo["users"][who]["id"]}).status_code == 201
        assert c.put(f"/v1/classes/{klass['id']}/homeroom",
                     json={"teacher_id": demo["users"]["homeroom"]["id"]}).status_code == 200
        for pupil in pupils:
            assert c.post(f"/v1/classes/{klass['id']}/students", json={"student_id": pupil}).status_code == 201
    grades = {}
    for token, key, subject in ((teacher, "math", math), (homeroom, "ro", romanian)):
        with platform.client(token) as c:
            for i, pupil in enumerate(pupils):
                for period in GRADES:
                    for day, value in GRADES[period][key]:
                        r = c.post("/v1/grades", json={"class_id": klass["id"], "subject_id": subject["id"],
                                                       "student_id": pupil, "value": min(10, value + i % 2),
                                                       "awarded_on": day})
                        assert r.status_code == 201, r.text
                        grades.setdefault((pupil, key), []).append(r.json())
    with platform.client(homeroom) as c:
        for pupil in pupils:
            for period in year["periods"]:
                assert c.put(f"/v1/classes/{klass['id']}/conduct", json={
                    "student_id": pupil, "period_id": period["id"], "value": 10}).status_code == 200
    return {"class": klass, "year": year, "grades": grades, "pupils": pupils}


def _pupil_pages(pages: list[str], catalog: dict) -> dict[str, str]:
    out = {}
    for pupil in catalog["pupils"]:
        name = f"{pupil['last_name']} {pupil['first_name']}"
        found = [p for p in pages[1:-1] if name in p]
        assert len(found) == 1, f"{name} has no page of their own"
        out[pupil["student_id"]] = found[0]
    return out


def _assert_record_printed(pages: list[str], catalog: dict) -> None:
    """Every pupil's page shows their name (diacritics intact), every grade, the period and
    annual averages, the general average and the situation, as the catalog view has them."""
    for sid, text in _pupil_pages(pages, catalog).items():
        pupil = next(p for p in catalog["pupils"] if p["student_id"] == sid)
        flat = " ".join(text.split())
        for record in pupil["subjects"].values():
            for cell in record["periods"].values():
                assert " ".join(grade_text(g) for g in cell["grades"]) in flat, (pupil["last_name"], cell)
                assert cell["average"] and decimal_ro(cell["average"]) in flat
            assert record["annual_average"] and decimal_ro(record["annual_average"]) in flat
        assert pupil["general_average"] and f"Media generală anuală: {decimal_ro(pupil['general_average'])}" in flat
        assert f"Situația școlară: {_SITUATION.get(pupil['situation'], '—')}" in flat


_SITUATION = {"promoted": "Promovat", "corigent": "Corigent", "repeating": "Repetent"}


def test_the_director_downloads_a_catalog_that_verifies_until_a_grade_changes(platform):
    made = _past_year_class(platform)
    klass = made["class"]
    director, teacher = platform.token("director"), platform.token("teacher")
    url = f"/v1/classes/{klass['id']}/documents/year-end-catalog.pdf"
    with platform.client(director) as c:
        catalog = c.get(f"/v1/classes/{klass['id']}/catalog").json()
        assert {f"{p['last_name']} {p['first_name']}" for p in catalog["pupils"]} >= {
            "Bălănescu Andrei", "Ștefănescu Mihai", "Țăranu Elena"}
        r = c.get(url)
        assert r.status_code == 200, r.text[:500]
        assert r.headers["content-type"] == "application/pdf"
        disposition = r.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="Catalogul clasei ')
        name = unquote(disposition.split("filename*=UTF-8''", 1)[1])
        assert name == f"Catalogul clasei {klass['name']} – anul școlar {YEAR}.pdf"
        fingerprint = r.headers["x-document-fingerprint"]
        pages = _pdf_text(r.content)
        assert len(pages) == 1 + len(catalog["pupils"]) + 1
        assert all(fingerprint in p and "pagina" in p for p in pages)
        text = "\n".join(pages)
        assert "Matematică" in text and "Limba și literatura română" in text and "Dana Răducanu" in text
        assert "Director" in text and "L.S." in text
        _assert_record_printed(pages, catalog)  # the year is open: no situation yet ("—")

        answer = c.post("/v1/documents/verify", json={"code": fingerprint}).json()
        assert answer["status"] == "matches", answer
        qr = f"https://catalog.example.ro/v1/documents/verify?f={fingerprint}"
        assert c.post("/v1/documents/verify", json={"code": qr}).json()["status"] == "matches"
        assert c.get("/v1/documents/verify", params={"f": fingerprint}).json()["status"] == "matches"

    pupil = made["pupils"][2]
    grade = made["grades"][(pupil, "math")][0]
    with platform.client(teacher) as c:  # a grade changed after the printout, through the catalog
        r = c.patch(f"/v1/grades/{grade['id']}", json={"expected_version": grade["version"], "value": 5,
                                                         "reason": "Notă trecută greșit în catalog"})
        assert r.status_code == 200, r.text
    with platform.client(director) as c:
        answer = c.post("/v1/documents/verify", json={"code": fingerprint}).json()
        assert answer["status"] == "changed" and answer["message"] == "the record changed after this printout"
        assert [p["student_id"] for p in answer["changed_pupils"]] == [pupil]
        assert answer["printout"]["class_id"] == klass["id"]

        # the director closes the year: the situations are frozen and printed
        r = c.post(f"/v1/school-years/{made['year']['id']}/close", json={"confirm": True})
        assert r.status_code == 200, r.text
        catalog = c.get(f"/v1/classes/{klass['id']}/catalog").json()
        assert {p["situation"] for p in catalog["pupils"]} == {"promoted"}
        r = c.get(url)
        assert r.status_code == 200
        pages = _pdf_text(r.content)
        _assert_record_printed(pages, catalog)
        assert "5*" in _pupil_pages(pages, catalog)[pupil]  # the changed grade, starred
        closed = r.headers["x-document-fingerprint"]
        assert closed != fingerprint
        assert c.post("/v1/documents/verify", json={"code": closed}).json()["status"] == "matches"

        # printing is in the audit trail
        deadline = time.monotonic() + 15
        while not c.get("/v1/audit/events", params={"type": "grades.catalog_printed"}).json()["items"]:
            assert time.monotonic() < deadline, "grades.catalog_printed never reached the audit trail"
            time.sleep(0.3)

        xlsx = c.get(f"/v1/classes/{klass['id']}/documents/catalog.xlsx")
        assert xlsx.status_code == 200
        assert xlsx.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert zipfile.ZipFile(io.BytesIO(xlsx.content)).testzip() is None


def test_who_gets_which_document(platform):
    demo = platform.demo
    klass, pupil = demo["class"], demo["student_person"]
    other = demo["catalog"]["pupils"][1]
    # the calls the demo banner names (deploy/local/demo_documents.py), on the catalog's demo class
    catalog, card = demo["documents"]["year_end_catalog"], demo["documents"]["report_card"]
    assert card == f"/v1/classes/{klass['id']}/students/{pupil['id']}/report-card.pdf"
    with platform.client(platform.token("parent")) as c:  # follows the demo pupil
        r = c.get(card)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text[:300]
        text = _pdf_text(r.content)[0]
        assert f"{pupil['last_name']} {pupil['first_name']}" in text and "Matematică" in text
        card_fingerprint = r.headers["x-document-fingerprint"]
        refused = c.get(f"/v1/classes/{klass['id']}/students/{other}/report-card.pdf")
        # the catalog's rule for report cards decides (views.report_card, read as the parent)
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"] == "parents see only their own children's grades"
        assert c.get(catalog).status_code == 403
    with platform.client(platform.token("student")) as c:
        r = c.get(card)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert f"{pupil['last_name']} {pupil['first_name']}" in _pdf_text(r.content)[0]
        refused = c.get(f"/v1/classes/{klass['id']}/students/{other}/report-card.pdf")
        assert refused.status_code == 403 and refused.json()["message"] == "students see only their own grades"
        assert c.get(catalog).status_code == 403
    with platform.client(platform.token("teacher")) as c:  # teaches the class, is not its homeroom teacher
        r = c.get(catalog)
        assert r.status_code == 403 and "homeroom teacher" in r.json()["message"]
    with platform.client(platform.token("homeroom")) as c:  # the demo class's diriginte
        r = c.get(catalog)
        assert r.status_code == 200 and "Dana Răducanu" in "\n".join(_pdf_text(r.content))
        assert c.get(demo["documents"]["catalog_xlsx"]).status_code == 200
    with platform.client(platform.token("director")) as c:  # the card read as the parent is the record
        assert c.post("/v1/documents/verify", json={"code": card_fingerprint}).json()["status"] == "matches"
    with platform.client(platform.token("admin")) as c:
        assert c.get(catalog).status_code == 403


def test_a_school_set_is_generated_in_the_background_and_downloaded(platform):
    director = platform.token("director")
    with platform.client(director) as c:
        job = c.post("/v1/documents/year-end-sets", json={"school_year": platform.demo["class"]["school_year"]})
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        deadline = time.monotonic() + 120
        while (state := c.get(f"/v1/documents/year-end-sets/{job_id}").json())["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert state["status"] == "done" and state["progress"] == f"{state['total']}/{state['total']}"
        r = c.get(f"/v1/documents/year-end-sets/{job_id}/archive.zip")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(r.content))
        assert any(n.startswith(f"Catalogul clasei {platform.demo['class']['name']}") for n in archive.namelist())
