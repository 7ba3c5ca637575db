"""The class catalog as an XLSX workbook for the school's own records (openpyxl).

A summary sheet first ("Situație generală": every pupil's annual averages per subject,
conduct, general average, situation, absences), then one sheet per subject with every
grade, thesis, average and absence count per period. Averages are written as numbers (so
a spreadsheet can compute with them), grades as the list the catalog shows. The workbook
is written in openpyxl's write-only mode, row by row, to a file-like object.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

from .pdf_common import situation_ro

SUMMARY = "Situație generală"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="E9EEF3")


def number(value: str | None):
    """A decimal of the catalog as a spreadsheet number (exact for two decimals), or empty."""
    if value in (None, ""):
        return None
    d = Decimal(value)
    return int(d) if d == d.to_integral_value() and "." not in value else float(d)


def sheet_titles(subjects: list[dict]) -> dict[str, str]:
    """subject id → a valid, unique sheet title (≤ 31 characters, none of []:*?/\\)."""
    titles, used = {}, {SUMMARY.lower()}
    for subject in subjects:
        base = _BAD_SHEET_CHARS.sub("-", subject["name"]).strip("'")[:31] or "Disciplina"
        title, n = base, 2
        while title.lower() in used:
            suffix = f" ({n})"
            title, n = base[:31 - len(suffix)] + suffix, n + 1
        used.add(title.lower())
        titles[subject["id"]] = title
    return titles


def _head(ws, values: list[str]):
    cells = []
    for v in values:
        c = WriteOnlyCell(ws, value=v)
        c.font, c.fill, c.alignment = _BOLD, _HEAD_FILL, Alignment(wrap_text=True, vertical="center")
        cells.append(c)
    return cells


def _avg(ws, value):
    c = WriteOnlyCell(ws, value=number(value))
    if isinstance(c.value, float):
        c.number_format = "0.00"
    return c


def write_catalog_xlsx(data: dict, out: BinaryIO, *, school: str, fingerprint: str) -> None:
    wb = Workbook(write_only=True)
    periods = data["school_year"]["periods"]
    subjects = data["subjects"]
    titles = sheet_titles(subjects)
    klass = data["class"]

    ws = wb.create_sheet(SUMMARY)
    ws.append([f"{school} · clasa {klass['name']} · anul școlar {data['school_year']['name']}"])
    ws.append([f"Amprenta SHA-256: {fingerprint}"])
    ws.append([])
    ws.append(_head(ws, ["Nr.", "Nume", "Prenume", "Statut", *[s["name"] for s in subjects], "Purtare",
                         "Media generală", "Situația", "Absențe total", "Absențe nemotivate"]))
    for n, pupil in enumerate(data["pupils"], start=1):
        annuals = []
        for s in subjects:
            record = pupil["subjects"].get(s["id"]) or {}
            annuals.append(_avg(ws, record.get("annual_average")))
        absences = pupil.get("absences") or {}
        ws.append([n, pupil["last_name"], pupil["first_name"], pupil.get("status"), *annuals,
                   number((pupil.get("conduct") or {}).get("annual")), _avg(ws, pupil.get("general_average")),
                   situation_ro(pupil.get("situation")), absences.get("total", 0), absences.get("unmotivated", 0)])

    for subject in subjects:
        ws = wb.create_sheet(titles[subject["id"]])
        ws.append([subject["name"]])
        ws.append(_head(ws, ["", "", ""] + [x for p in periods for x in (p["name"], "", "", "", "")] + [""]))
        ws.append(_head(ws, ["Nr.", "Nume", "Prenume"]
                        + ["Note", "Teză", "Media", "Absențe total", "Absențe nemotivate"] * len(periods)
                        + ["Media anuală"]))
        for n, pupil in enumerate(data["pupils"], start=1):
            record = pupil["subjects"].get(subject["id"]) or {}
            row = [n, pupil["last_name"], pupil["first_name"]]
            for period in periods:
                cell = (record.get("periods") or {}).get(period["id"]) or {}
                thesis = cell.get("thesis") or {}
                absences = cell.get("absences") or {}
                average = cell.get("qualifier") if subject["assessment"] == "qualifiers" else _avg(ws, cell.get("average"))
                row += [" ".join(str(g["value"]) for g in cell.get("grades") or []), number(thesis.get("value")),
                        average, absences.get("total", 0), absences.get("unmotivated", 0)]
            row.append(_avg(ws, record.get("annual_average")))
            ws.append(row)
    wb.save(out)
