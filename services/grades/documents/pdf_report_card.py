"""A pupil's report card (carnet / situație școlară) for one period or the whole year.

One A4 page: the pupil, the class, per subject the grades (or qualifiers), thesis and
average of the period (or every period's average and the annual one), conduct, absences,
general average and situation, amendments; signatures of the homeroom teacher and the
director, the stamp area, and the parent's acknowledgement. Footer as on the catalog: the
pupil's fingerprint, the QR code that verifies it, generation time and page numbers.
"""
from __future__ import annotations

from typing import BinaryIO

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .pdf_catalog import _amendments, _cell, _grid
from .pdf_common import (RULE, SHADE, PageFrame, absences_text, decimal_ro, escape, grade_text, local_time,
                         numbered_canvas, para, pupil_name, register_fonts, signature_block, situation_ro,
                         status_note, style)

PAGE = A4
MARGIN = 12 * mm
WIDTH = PAGE[0] - 2 * MARGIN
H1 = style("rc-h1", 15, bold=True, align=1, space_after=2)
BODY = style("rc-body", 9.5)


def render_report_card_pdf(data: dict, student_id: str, out: BinaryIO, *, school: str, names: dict[str, str],
                           fingerprint: str, verify_url: str, period_id: str | None = None,
                           generated_at: str | None = None, director: str = "") -> int:
    register_fonts()
    pupil = next(p for p in data["pupils"] if p["student_id"] == student_id)
    periods = data["school_year"]["periods"]
    period = next((p for p in periods if p["id"] == period_id), None)
    scope = period["name"] if period else f"anul școlar {data['school_year']['name']}"
    title = f"Situația școlară · {pupil_name(pupil)} · {scope}"
    frame = PageFrame(title=title, school=school, fingerprint=fingerprint, verify_url=verify_url,
                      generated=local_time(generated_at or data.get("generated_at")), page_size=PAGE,
                      label="Amprenta SHA-256 a situației elevului")
    doc = SimpleDocTemplate(out, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=13 * mm,
                            bottomMargin=26 * mm, title=title, author=school, creator="Catalog electronic")
    klass = data["class"]
    homeroom = names.get(klass.get("homeroom_teacher_id") or "", "")
    story = [para(school, style("rc-s", 10, align=1)), Spacer(1, 2 * mm), para("SITUAȚIA ȘCOLARĂ", H1),
             para(f"{pupil_name(pupil)} · clasa {klass['name']} · {scope}", style("rc-h2", 11, bold=True, align=1)),
             Spacer(1, 1 * mm), para(f"Diriginte: {homeroom or '—'}", style("rc-d", 9, align=1))]
    note = status_note(pupil)
    if note:
        story.append(para(note, style("rc-n", 9, align=1)))
    story += [Spacer(1, 4 * mm), _period_table(data, pupil, period) if period else _year_table(data, pupil)]
    absences = _absences(data, pupil, period)
    lines = [f"Absențe: {absences.get('total', 0)} total, {absences.get('motivated', 0)} motivate, "
             f"<b>{absences.get('unmotivated', 0)} nemotivate</b>"]
    if not period:
        lines.insert(0, f"Media generală anuală: <b>{decimal_ro(pupil.get('general_average'))}</b>   ·   "
                        f"Situația școlară: <b>{escape(situation_ro(pupil.get('situation')))}</b>")
    summary = Table([[Paragraph(line, BODY)] for line in lines], colWidths=[WIDTH])
    summary.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.6, RULE), ("BACKGROUND", (0, 0), (-1, -1), SHADE)]))
    story += [Spacer(1, 3 * mm), summary]
    amendments = [a for a in pupil.get("amendments") or [] if not period or a.get("period_id") == period["id"]]
    if amendments:
        story += [Spacer(1, 3 * mm), _amendments(data, {**pupil, "amendments": amendments}, names, width=WIDTH)]
    story += [Spacer(1, 8 * mm), signature_block(WIDTH, ("Diriginte", homeroom), ("Director", director)),
              Spacer(1, 6 * mm), para("Am luat cunoștință, părinte / tutore: ______________________   "
                                      "Data: ____________", style("rc-p", 9))]
    pages: list[int] = []
    canvas_class = numbered_canvas(frame)

    class Counting(canvas_class):
        def save(self):
            pages.append(len(self._pages))
            super().save()

    doc.build(story, canvasmaker=Counting)
    return pages[0]


def _absences(data: dict, pupil: dict, period: dict | None) -> dict:
    if not period:
        return pupil.get("absences") or {}
    total = {"total": 0, "motivated": 0, "unmotivated": 0}
    for record in pupil["subjects"].values():
        cell = (record.get("periods") or {}).get(period["id"]) or {}
        for key in total:
            total[key] += (cell.get("absences") or {}).get(key, 0)
    return total


def _period_table(data: dict, pupil: dict, period: dict) -> Table:
    notes_w = WIDTH - 70 * mm - 14 * mm - 16 * mm - 20 * mm
    rows = [["Disciplina", "Note / calificative", "Teză", "Media", "Absențe t/n"]]
    for subject in data["subjects"]:
        cell = ((pupil["subjects"].get(subject["id"]) or {}).get("periods") or {}).get(period["id"]) or {}
        grades = " ".join(grade_text(g) for g in cell.get("grades") or []) or "—"
        thesis = (cell.get("thesis") or {}).get("value") if cell.get("thesis") else ""
        average = cell.get("qualifier") if subject["assessment"] == "qualifiers" else decimal_ro(cell.get("average"))
        rows.append([_cell(subject["name"], 70 * mm), _cell(grades, notes_w), str(thesis or ""), average or "—",
                     absences_text(cell.get("absences"))])
    conduct = (pupil.get("conduct") or {}).get("periods") or {}
    rows.append(["Purtare", "", "", decimal_ro(conduct.get(period["id"])), ""])
    return _grid(rows, [70 * mm, notes_w, 14 * mm, 16 * mm, 20 * mm],
                 extra=[("ALIGN", (2, 0), (-1, -1), "CENTER"), ("FONT", (0, 0), (-1, 0), "DocCond-Bold", 8.6),
                        ("FONT", (3, 1), (3, -1), "DocCond-Bold", 8.6),
                        ("FONT", (0, -1), (-1, -1), "DocCond-Bold", 8.6), ("BACKGROUND", (0, -1), (-1, -1), SHADE)])


def _year_table(data: dict, pupil: dict) -> Table:
    periods = data["school_year"]["periods"]
    per_w = 22 * mm
    subject_w = WIDTH - per_w * (len(periods) + 1)
    rows = [["Disciplina", *[p["name"] for p in periods], "Media anuală"]]
    for subject in data["subjects"]:
        record = pupil["subjects"].get(subject["id"]) or {}
        cells = []
        for period in periods:
            cell = (record.get("periods") or {}).get(period["id"]) or {}
            value = cell.get("qualifier") if subject["assessment"] == "qualifiers" else decimal_ro(cell.get("average"))
            cells.append(value or "—")
        annual = decimal_ro(record.get("annual_average")) if subject["assessment"] == "grades" else "—"
        rows.append([_cell(subject["name"], subject_w), *cells, annual])
    conduct = pupil.get("conduct") or {}
    rows.append(["Purtare", *[decimal_ro((conduct.get("periods") or {}).get(p["id"])) for p in periods],
                 decimal_ro(conduct.get("annual"))])
    header = [Paragraph(escape(h), style("rc-th", 8.6, bold=True, condensed=True, align=1)) for h in rows[0][1:]]
    rows[0] = [rows[0][0], *header]
    return _grid(rows, [subject_w] + [per_w] * (len(periods) + 1),
                 extra=[("ALIGN", (1, 0), (-1, -1), "CENTER"), ("FONT", (0, 0), (-1, 0), "DocCond-Bold", 8.6),
                        ("FONT", (-1, 1), (-1, -1), "DocCond-Bold", 8.6),
                        ("FONT", (0, -1), (-1, -1), "DocCond-Bold", 8.6), ("BACKGROUND", (0, -1), (-1, -1), SHADE)])

