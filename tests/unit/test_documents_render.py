"""The printed documents on made-up data in the shape of `grades.class_catalog` (no catalog,
no database): the fingerprint, the year-end catalog PDF, the report card and the XLSX export."""
from __future__ import annotations

import copy
import io
import json
import os
import random
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from services.grades.documents import canonical
from services.grades.documents.pdf_catalog import render_catalog_pdf
from services.grades.documents.pdf_common import decimal_ro, grade_text, local_time
from services.grades.documents.pdf_report_card import render_report_card_pdf
from services.grades.documents.sample import sample_class_catalog, sample_names
from services.grades.documents.xlsx_catalog import SUMMARY, sheet_titles, write_catalog_xlsx

VERIFY = "https://catalog.example.ro/v1/documents/verify"
ARTIFACTS = Path(os.environ.get("DOCUMENTS_ARTIFACTS", Path(__file__).resolve().parents[2] / "var" / "artifacts"))


@pytest.fixture(scope="module")
def data():
    return sample_class_catalog(pupils=30, subjects=15)


@pytest.fixture(scope="module")
def names(data):
    return sample_names(data)


@pytest.fixture(scope="module")
def catalog_pdf(data, names):
    school, teachers = names
    out = io.BytesIO()
    pages = render_catalog_pdf(data, out, school=school, names=teachers, fingerprint=canonical.fingerprint(data),
                               verify_url=VERIFY, director="Bogdan Țăranu")
    return pages, out.getvalue()


def _all_grades(data):
    for pupil in data["pupils"]:
        for record in pupil["subjects"].values():
            for cell in record["periods"].values():
                yield from cell["grades"]


# --- fingerprint -------------------------------------------------------------------------------

def test_the_fingerprint_ignores_order_and_generation_time(data):
    shuffled = copy.deepcopy(data)
    rng = random.Random(3)
    rng.shuffle(shuffled["pupils"])
    rng.shuffle(shuffled["subjects"])
    for pupil in shuffled["pupils"]:
        pupil["subjects"] = dict(reversed(list(pupil["subjects"].items())))
        for record in pupil["subjects"].values():
            for cell in record["periods"].values():
                rng.shuffle(cell["grades"])
    shuffled["generated_at"] = "2027-01-01T00:00:00+00:00"
    shuffled = json.loads(json.dumps(shuffled, sort_keys=True))  # every dict in another key order
    assert canonical.fingerprint(shuffled) == canonical.fingerprint(data)
    assert canonical.canonical_bytes(shuffled) == canonical.canonical_bytes(data)
    assert len(canonical.fingerprint(data)) == 64


def test_the_fingerprint_changes_when_any_grade_changes(data):
    """Every grade of four pupils and of every subject of the others, changed by one point, changes
    the fingerprint (each time to another one), and only the digest of that grade's pupil."""
    before = canonical.fingerprint(data)
    digests = canonical.pupil_digests(data)
    seen = set()
    changed = copy.deepcopy(data)
    count = 0
    for p_index, pupil in enumerate(changed["pupils"]):
        for record in pupil["subjects"].values():
            for cell in record["periods"].values():
                for grade in cell["grades"] if p_index < 4 else cell["grades"][:1]:
                    old = grade["value"]
                    grade["value"] = str(int(old) % 10 + 1) if old.isdigit() else ("B" if old != "B" else "S")
                    fp = canonical.fingerprint(changed)
                    assert fp != before and fp not in seen, f"changing grade {grade['id']} went unnoticed"
                    seen.add(fp)
                    if count % 37 == 0:
                        assert canonical.changed_pupils(digests, canonical.pupil_digests(changed)) == [
                            pupil["student_id"]]
                    grade["value"] = old
                    count += 1
    assert count > 600
    assert canonical.fingerprint(changed) == before


@pytest.mark.parametrize("change", [
    lambda d: d["pupils"][3]["subjects"][d["subjects"][0]["id"]]["periods"][d["school_year"]["periods"][0]["id"]]
    .__setitem__("thesis", {"id": "t", "value": "3", "awarded_on": "2025-12-01"}),
    lambda d: d["pupils"][0].__setitem__("general_average", "9.99"),
    lambda d: d["pupils"][0].__setitem__("situation", "repeating"),
    lambda d: d["pupils"][0]["conduct"].__setitem__("annual", "7"),
    lambda d: d["pupils"][0]["absences"].__setitem__("unmotivated", 99),
    lambda d: d["pupils"][0]["amendments"].append({"subject_id": "s", "period_id": "p", "reason": "corectură",
                                                   "approved_by": "x", "approved_at": "2026-06-01T00:00:00+00:00"}),
    lambda d: d["pupils"][0].__setitem__("last_name", d["pupils"][0]["last_name"] + "u"),
    lambda d: d["pupils"].pop(),
    lambda d: d["subjects"][0]["teacher_ids"].append("another"),
    lambda d: d["school_year"]["periods"][0].__setitem__("closed", False),
], ids=["thesis", "general-average", "situation", "conduct", "absences", "amendment", "name", "pupil-left",
        "teacher", "period-reopened"])
def test_the_fingerprint_covers_the_rest_of_the_record(data, change):
    changed = copy.deepcopy(data)
    change(changed)
    assert canonical.fingerprint(changed) != canonical.fingerprint(data)


def test_a_report_card_fingerprint_covers_its_pupil_only(data):
    one, other = data["pupils"][0]["student_id"], data["pupils"][1]["student_id"]
    changed = copy.deepcopy(data)
    changed["pupils"][1]["general_average"] = "4.00"
    assert canonical.report_card_fingerprint(changed, one) == canonical.report_card_fingerprint(data, one)
    assert canonical.report_card_fingerprint(changed, other) != canonical.report_card_fingerprint(data, other)
    with pytest.raises(KeyError):
        canonical.report_card_fingerprint(data, "nobody")


# --- the year-end catalog PDF --------------------------------------------------------------------

def test_a_thirty_pupil_class_renders_a_cover_a_page_per_pupil_and_a_closing_page(data, catalog_pdf):
    pages, pdf = catalog_pdf
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == pages == 1 + 30 + 1
    fonts = {str(f["/BaseFont"]) for page in reader.pages
             for f in (page["/Resources"]["/Font"].get_object().values())}
    # reportlab lists Helvetica (/F1) in every page's resources whether or not it is used; no text uses it
    assert {f for f in fonts if "DejaVuSans" not in f} <= {"/Helvetica"}, fonts
    assert {"/AAAAAA+DejaVuSans", "/AAAAAA+DejaVuSans-Bold"} <= fonts
    dejavu = [f.get_object() for f in reader.pages[1]["/Resources"]["/Font"].values()
              if "DejaVuSans" in str(f.get_object()["/BaseFont"])]
    assert dejavu and all("/FontFile2" in f["/FontDescriptor"] for f in dejavu)  # embedded, not referenced


def test_the_pdf_text_has_names_grades_averages_and_the_fingerprint(data, names, catalog_pdf):
    _, pdf = catalog_pdf
    reader = PdfReader(io.BytesIO(pdf))
    texts = [page.extract_text() for page in reader.pages]
    fingerprint = canonical.fingerprint(data)
    school, teachers = names
    cover = texts[0]
    assert school in cover and data["class"]["name"] in cover and data["school_year"]["name"] in cover
    assert teachers[data["class"]["homeroom_teacher_id"]] in cover
    for subject in data["subjects"]:
        assert subject["name"] in cover
        for t in subject["teacher_ids"]:
            assert teachers[t] in cover
    for number, (text, page) in enumerate(zip(texts, reader.pages), start=1):
        assert fingerprint in text, f"page {number} lacks the fingerprint"
        assert f"pagina {number} din {len(texts)}" in text
        assert "ora României" in text
    periods = [p["id"] for p in data["school_year"]["periods"]]
    for i, pupil in enumerate(data["pupils"]):
        text = texts[1 + i]
        assert f"{pupil['last_name']} {pupil['first_name']}" in text
        lines = text.splitlines()
        flat = " ".join(lines)
        for subject in data["subjects"]:
            record = pupil["subjects"][subject["id"]]
            expected = []
            for period in periods:
                cell = record["periods"][period]
                expected.append(" ".join(grade_text(g) for g in cell["grades"]))
                if cell["thesis"]:
                    expected.append(cell["thesis"]["value"])
                expected.append(cell["qualifier"] if subject["assessment"] == "qualifiers"
                                else decimal_ro(cell["average"]))
                expected.append(f"{cell['absences']['total']}/{cell['absences']['unmotivated']}")
            expected.append(decimal_ro(record["annual_average"]) if record["annual_average"] else "—")
            # the row, cell after cell in reading order (pypdf puts each cell on a line of its own)
            row = " ".join([subject["name"], *expected])
            assert row in flat, (pupil["last_name"], row)
        assert f"Media generală anuală: {decimal_ro(pupil['general_average'])}" in text
        assert {"promoted": "Promovat", "corigent": "Corigent", "repeating": "Repetent"}[pupil["situation"]] in text
        assert f"{pupil['absences']['unmotivated']} nemotivate" in text
        for amendment in pupil["amendments"]:
            assert amendment["reason"] in " ".join(lines)
    assert "Director" in texts[-1] and "Diriginte" in texts[-1] and "L.S." in texts[-1]
    # the diacritics survive as the real letters: comma below, not cedilla
    joined = "".join(texts)
    assert "Ș" in joined and "ț" in joined and "ş" not in joined and "ţ" not in joined


def test_a_page_renders_to_png_for_a_person_to_look_at(catalog_pdf):
    """pdftoppm (Debian poppler-utils, installed by `make system-packages`) turns a pupil page into
    an image kept under var/artifacts/ (not committed)."""
    assert shutil.which("pdftoppm"), "pdftoppm is missing: run `make system-packages` (poppler-utils)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf_path = ARTIFACTS / "year-end-catalog.pdf"
    pdf_path.write_bytes(catalog_pdf[1])
    for old in ARTIFACTS.glob("year-end-catalog-page*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "2", "-l", "2", str(pdf_path),
                    str(ARTIFACTS / "year-end-catalog-page")], check=True, timeout=60)
    png = next(ARTIFACTS.glob("year-end-catalog-page*.png"))
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert width > height > 800  # landscape A4 at 110 dpi


def test_generation_time_is_shown_in_bucharest_time():
    assert local_time("2026-06-25T09:30:00+00:00") == "25.06.2026, 12:30 (ora României, EEST)"
    assert local_time("2026-01-15T22:10:00+00:00") == "16.01.2026, 00:10 (ora României, EET)"


# --- report card -------------------------------------------------------------------------------

def test_a_report_card_for_a_period_and_for_the_year(data, names):
    school, teachers = names
    pupil = next(p for p in data["pupils"] if p["amendments"])
    fp = canonical.report_card_fingerprint(data, pupil["student_id"])
    first = data["school_year"]["periods"][0]
    for period_id in (first["id"], None):
        out = io.BytesIO()
        assert render_report_card_pdf(data, pupil["student_id"], out, school=school, names=teachers,
                                      fingerprint=fp, verify_url=VERIFY, period_id=period_id) == 1
        text = PdfReader(out).pages[0].extract_text()
        assert f"{pupil['last_name']} {pupil['first_name']}" in text and fp in text
        others = [p for p in data["pupils"] if p is not pupil]
        assert not any(f"{p['last_name']} {p['first_name']}" in text for p in others)
        math = data["subjects"][1]
        cell = pupil["subjects"][math["id"]]["periods"][first["id"]]
        if period_id:
            assert " ".join(grade_text(g) for g in cell["grades"]) in text
            assert amendment_reason_in(pupil, text)
        else:
            assert decimal_ro(pupil["subjects"][math["id"]]["annual_average"]) in text
            assert f"Media generală anuală: {decimal_ro(pupil['general_average'])}" in text


def amendment_reason_in(pupil, text):
    flat = " ".join(text.split())
    return all(" ".join(a["reason"].split()) in flat for a in pupil["amendments"])


# --- XLSX --------------------------------------------------------------------------------------

def test_the_xlsx_round_trips_its_values(data, names):
    out = io.BytesIO()
    write_catalog_xlsx(data, out, school=names[0], fingerprint=canonical.fingerprint(data))
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()), read_only=True)
    titles = sheet_titles(data["subjects"])
    assert wb.sheetnames == [SUMMARY, *titles.values()]
    periods = data["school_year"]["periods"]

    def dec(v):
        return None if v is None else Decimal(str(v))

    summary = list(wb[SUMMARY].iter_rows(min_row=5, values_only=True))
    assert canonical.fingerprint(data) in wb[SUMMARY]["A2"].value
    assert len(summary) == len(data["pupils"])
    for pupil, row in zip(data["pupils"], summary):
        assert row[1:3] == (pupil["last_name"], pupil["first_name"])
        annuals = row[4:4 + len(data["subjects"])]
        for subject, value in zip(data["subjects"], annuals):
            expected = pupil["subjects"][subject["id"]]["annual_average"]
            assert dec(value) == (Decimal(expected) if expected else None)
        assert dec(row[4 + len(data["subjects"]) + 1]) == Decimal(pupil["general_average"])
        assert row[-2:] == (pupil["absences"]["total"], pupil["absences"]["unmotivated"])
    for subject in data["subjects"]:
        rows = list(wb[titles[subject["id"]]].iter_rows(min_row=4, values_only=True))
        for pupil, row in zip(data["pupils"], rows, strict=True):
            row = row + (None,) * (4 + 5 * len(periods) - len(row))  # an empty last cell is not stored
            record = pupil["subjects"][subject["id"]]
            for i, period in enumerate(periods):
                cell = record["periods"][period["id"]]
                grades, thesis, average, total, unmotivated = row[3 + 5 * i: 8 + 5 * i]
                assert (grades or "").split() == [g["value"] for g in cell["grades"]]
                assert (str(thesis) if thesis is not None else None) == (cell["thesis"] or {}).get("value")
                if subject["assessment"] == "qualifiers":
                    assert average == cell["qualifier"]
                else:
                    assert dec(average) == Decimal(cell["average"])
                assert (total, unmotivated) == (cell["absences"]["total"], cell["absences"]["unmotivated"])
            expected = record["annual_average"]
            assert dec(row[3 + 5 * len(periods)]) == (Decimal(expected) if expected else None)


def test_sheet_titles_are_valid_and_unique():
    subjects = [{"id": "a", "name": "Educație tehnologică și aplicații practice"},
                {"id": "b", "name": "Educație tehnologică și aplicații practice, opțional"},
                {"id": "c", "name": "Limbă/literatură [opțional]: 2?"},
                {"id": "d", "name": "Situație generală"}]
    titles = sheet_titles(subjects)
    assert all(len(t) <= 31 and not set(t) & set("[]:*?/\\") for t in titles.values())
    assert len({t.lower() for t in titles.values()} | {SUMMARY.lower()}) == len(subjects) + 1


def test_every_page_draws_the_qr_code_of_the_fingerprint_and_verification_address(data, catalog_pdf):
    from services.grades.documents.qr import qr_matrix, qr_payload
    payload = qr_payload(VERIFY, canonical.fingerprint(data))
    assert payload == f"{VERIFY}?f={canonical.fingerprint(data)}"
    runs = sum(1 for row in qr_matrix(payload) for i, dark in enumerate(row) if dark and (i == 0 or not row[i - 1]))
    reader = PdfReader(io.BytesIO(catalog_pdf[1]))
    for page in reader.pages:
        forms = {name: x.get_object() for name, x in page["/Resources"]["/XObject"].items()}
        qr = next(x for name, x in forms.items() if "verification-qr" in name)
        assert qr.get_data().count(b" re") == runs  # one rectangle per run of dark modules of this payload
        assert b"verification-qr" in page.get_contents().get_data()
    other = qr_payload(VERIFY, "0" * 64)
    assert qr_matrix(other) != qr_matrix(payload)
