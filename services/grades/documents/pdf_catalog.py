"""The year-end class catalog (CAT-10): the document a director prints, signs and archives.

Cover page (school, class, year, homeroom teacher, periods, subjects with their teachers),
then a page per pupil (every grade or qualifier per period, thesis, period and annual
averages, absences total/unmotivated, conduct, general average, final situation, amendments
with their reasons, the homeroom teacher's signature), then the closing page with the
signature fields of the director and the homeroom teacher and the stamp area. Every page
carries the fingerprint and the QR code that verifies it, the generation time
(Europe/Bucharest) and "pagina X din Y".
"""
from __future__ import annotations

from typing import BinaryIO

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (CondPageBreak, KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer,
                                Table, TableStyle)

from .pdf_common import (ASSESSMENTS, INK, RULE, SHADE, PageFrame, absences_text, date_ro, decimal_ro, escape,
                         grade_text, local_time, numbered_canvas, para, pupil_name, register_fonts,
                         signature_block, situation_ro, status_note, style)

PAGE = landscape(A4)
MARGIN = 12 * mm
WIDTH = PAGE[0] - 2 * MARGIN
CELL_FONT, CELL_SIZE = "DocCond", 8.6

H1 = style("h1", 20, bold=True, align=1, space_after=4)
H2 = style("h2", 12, bold=True, align=1, space_after=2)
H3 = style("h3", 11, bold=True)
BODY = style("body", 9.5)
SMALL = style("small", 7.5, condensed=True)
CELL = style("cell", CELL_SIZE, condensed=True, leading=10)
CELL_B = style("cellb", CELL_SIZE, condensed=True, bold=True, leading=10)
CELL_C = style("cellc", CELL_SIZE, condensed=True, align=1, leading=10)


def class_title(data: dict) -> str:
    return f"Catalogul clasei {data['class']['name']} · anul școlar {data['school_year']['name']}"


def render_catalog_pdf(data: dict, out: BinaryIO, *, school: str, names: dict[str, str], fingerprint: str,
                       verify_url: str, generated_at: str | None = None, director: str = "") -> int:
    """Write the year-end catalog of one class to `out`; returns the number of pages."""
    register_fonts()
    frame = PageFrame(title=class_title(data), school=school, fingerprint=fingerprint, verify_url=verify_url,
                      generated=local_time(generated_at or data.get("generated_at")), page_size=PAGE)
    doc = SimpleDocTemplate(out, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=13 * mm,
                            bottomMargin=26 * mm, title=class_title(data), author=school,
                            subject=f"Amprenta SHA-256 {fingerprint}", creator="Catalog electronic")
    story = _cover(data, school, names)
    for number, pupil in enumerate(data["pupils"], start=1):
        story += [PageBreak(), *_pupil_page(data, pupil, number, names)]
    story += [PageBreak(), *_closing(data, names, fingerprint, director)]
    canvas_class = numbered_canvas(frame)
    pages: list[int] = []

    class Counting(canvas_class):
        def save(self):
            pages.append(len(self._pages))
            super().save()

    doc.build(story, canvasmaker=Counting)
    return pages[0]


def _teachers(subject: dict, names: dict[str, str]) -> str:
    return ", ".join(names.get(t, "—") for t in subject.get("teacher_ids") or []) or "—"


def _grid(rows, widths, *, header_rows: int = 1, extra=()) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), CELL_FONT, CELL_SIZE),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), SHADE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.4), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.4),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        *extra]))
    return table


def _cover(data: dict, school: str, names: dict[str, str]) -> list:
    klass, year = data["class"], data["school_year"]
    homeroom = names.get(klass.get("homeroom_teacher_id") or "", "—")
    story = [Spacer(1, 4 * mm), para(school, H2), Spacer(1, 5 * mm), para("CATALOGUL CLASEI", H1),
             para(klass["name"], H1), para(f"Anul școlar {year['name']}", H2), Spacer(1, 3 * mm),
             para(f"Diriginte: {homeroom}   ·   Elevi înscriși: {len(data['pupils'])}", style("c", 10, align=1)),
             para("Perioade: " + "; ".join(f"{p['name']} ({date_ro(p['starts_on'])} – {date_ro(p['ends_on'])})"
                                           for p in year["periods"]), style("c2", 9, align=1)),
             Spacer(1, 5 * mm)]
    rows = [["Nr.", "Disciplina", "Ore / săpt.", "Evaluare", "Profesor(i)"]]
    for i, subject in enumerate(data["subjects"], start=1):
        kind = ASSESSMENTS.get(subject["assessment"], subject["assessment"])
        rows.append([str(i), para(subject["name"] + (" (opțional)" if subject.get("optional") else ""), CELL),
                     str(subject["weekly_hours"]), kind, para(_teachers(subject, names), CELL)])
    story.append(_grid(rows, [10 * mm, 95 * mm, 20 * mm, 25 * mm, 95 * mm],
                       extra=[("ALIGN", (0, 0), (0, -1), "CENTER"), ("ALIGN", (2, 0), (3, -1), "CENTER")]))
    return story


def _fits(text: str, width: float) -> bool:
    return stringWidth(text, CELL_FONT, CELL_SIZE) <= width - 5


def _cell(text: str, width: float):
    return text if _fits(text, width) else Paragraph(escape(text), CELL)


def _pupil_page(data: dict, pupil: dict, number: int, names: dict[str, str]) -> list:
    periods = data["school_year"]["periods"]
    n = max(len(periods), 1)
    subject_w, annual_w = 52 * mm, 17 * mm
    per = (WIDTH - subject_w - annual_w) / n
    fixed = 11 * mm + 12 * mm + 15 * mm
    widths = [subject_w] + [per - fixed, 11 * mm, 12 * mm, 15 * mm] * n + [annual_w]
    notes_w = per - fixed
    head1 = ["Disciplina"] + [x for p in periods for x in (p["name"], "", "", "")] + ["Media\nanuală"]
    head2 = [""] + ["Note / calificative", "Teză", "Media", "Abs. t/n"] * n + [""]
    rows = [head1, head2]
    spans = [("SPAN", (0, 0), (0, 1)), ("SPAN", (len(widths) - 1, 0), (len(widths) - 1, 1))]
    for i in range(n):
        spans.append(("SPAN", (1 + 4 * i, 0), (4 + 4 * i, 0)))
    for subject in data["subjects"]:
        record = pupil["subjects"].get(subject["id"], {})
        row = [_cell(subject["name"], subject_w)]
        for period in periods:
            cell = (record.get("periods") or {}).get(period["id"]) or {}
            grades = " ".join(grade_text(g) for g in cell.get("grades") or [])
            thesis = (cell.get("thesis") or {}).get("value") if cell.get("thesis") else None
            average = cell.get("qualifier") if subject["assessment"] == "qualifiers" else decimal_ro(cell.get("average"))
            row += [_cell(grades or "—", notes_w), str(thesis) if thesis else "", average or "—",
                    absences_text(cell.get("absences"))]
        row.append(decimal_ro(record.get("annual_average")) if subject["assessment"] == "grades" else "—")
        rows.append(row)
    conduct = pupil.get("conduct") or {}
    rows.append(["Purtare"] + [x for p in periods
                               for x in ("", "", decimal_ro((conduct.get("periods") or {}).get(p["id"])), "")]
                + [decimal_ro(conduct.get("annual"))])
    last = len(rows) - 1
    table = _grid(rows, widths, header_rows=2, extra=[
        *spans, ("ALIGN", (1, 0), (-1, 1), "CENTER"), ("ALIGN", (2, 2), (-1, -1), "CENTER"),
        ("FONT", (0, 0), (-1, 1), "DocCond-Bold", CELL_SIZE), ("FONT", (0, last), (-1, last), "DocCond-Bold", CELL_SIZE),
        ("BACKGROUND", (0, last), (-1, last), SHADE),
        *[("FONT", (3 + 4 * i, 2), (3 + 4 * i, -1), "DocCond-Bold", CELL_SIZE) for i in range(n)],
        *[("ALIGN", (1 + 4 * i, 2), (1 + 4 * i, -1), "LEFT") for i in range(n)],
        ("FONT", (-1, 2), (-1, -1), "DocCond-Bold", CELL_SIZE)])
    note = status_note(pupil)
    heading = f"{number}. {pupil_name(pupil)}" + (f"   —   {note}" if note else "")
    absences = pupil.get("absences") or {}
    summary = Table([[
        Paragraph(f"Media generală anuală: <b>{decimal_ro(pupil.get('general_average'))}</b>", BODY),
        Paragraph(f"Situația școlară: <b>{escape(situation_ro(pupil.get('situation')))}</b>", BODY),
        Paragraph(f"Absențe în anul școlar: {absences.get('total', 0)} total, "
                  f"{absences.get('motivated', 0)} motivate, <b>{absences.get('unmotivated', 0)} nemotivate</b>", BODY)]],
        colWidths=[70 * mm, 80 * mm, WIDTH - 150 * mm])
    summary.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.6, RULE), ("BACKGROUND", (0, 0), (-1, -1), SHADE),
                                 ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    story = [para(heading, H3), Spacer(1, 2 * mm), table, Spacer(1, 2.5 * mm), summary]
    legend = "Abs. t/n: absențe total / nemotivate. * notă modificată după înregistrare."
    story += [Spacer(1, 1 * mm), para(legend, SMALL)]
    if pupil.get("amendments"):
        story += [Spacer(1, 2 * mm), _amendments(data, pupil, names)]
    homeroom = names.get(data["class"].get("homeroom_teacher_id") or "", "")
    story += [CondPageBreak(12 * mm), Spacer(1, 3 * mm),
              para(f"Diriginte: {homeroom or '—'}      Semnătura ______________________", style("sg", 8.5, align=2))]
    return story


def period_names(data: dict) -> dict[str, str]:
    return {p["id"]: p["name"] for p in data["school_year"]["periods"]}


def _amendments(data: dict, pupil: dict, names: dict[str, str], width: float = WIDTH) -> KeepTogether:
    subjects = {s["id"]: s["name"] for s in data["subjects"]}
    periods = period_names(data)
    rows = [["Disciplina", "Perioada", "Motivul corecturii", "Aprobată de", "Data aprobării"]]
    for a in pupil["amendments"]:
        rows.append([para(subjects.get(a.get("subject_id"), "—"), CELL), periods.get(a.get("period_id"), "—"),
                     para(a.get("reason") or "—", CELL), para(names.get(a.get("approved_by") or "", "—"), CELL),
                     date_ro(a.get("approved_at"))])
    return KeepTogether([para("Corecturi aprobate după încheierea situației", style("am", 8.5, bold=True)),
                         Spacer(1, 1 * mm),
                         _grid(rows, [width * 0.2, width * 0.13, width * 0.36, width * 0.17, width * 0.14])])


def situation_counts(data: dict) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for pupil in data["pupils"]:
        label = situation_ro(pupil.get("situation"))
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts.items())


def _closing(data: dict, names: dict[str, str], fingerprint: str, director: str) -> list:
    klass = data["class"]
    homeroom = names.get(klass.get("homeroom_teacher_id") or "", "")
    counts = ", ".join(f"{label}: {count}" for label, count in situation_counts(data)) or "—"
    text = (f"Prezentul catalog al clasei {klass['name']}, anul școlar {data['school_year']['name']}, cuprinde "
            f"situația școlară a {len(data['pupils'])} elevi la {len(data['subjects'])} discipline, așa cum este "
            f"înregistrată în catalogul electronic, singura evidență a notelor. Situația la sfârșitul anului: {counts}.")
    return [Spacer(1, 8 * mm), para("ÎNCHEIERE", H2), Spacer(1, 5 * mm), para(text, style("cl", 10, leading=14)),
            Spacer(1, 3 * mm),
            Paragraph(f"Amprenta SHA-256 a înregistrării tipărite: <b>{fingerprint}</b>", style("fp", 8.5, condensed=True)),
            Spacer(1, 14 * mm),
            signature_block(WIDTH, ("Director", director), ("Diriginte", homeroom), height=40 * mm)]
