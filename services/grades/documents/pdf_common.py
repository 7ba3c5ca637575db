"""What every printed document shares: the embedded font, the styles, Romanian formatting,
the footer (fingerprint, QR code, generation time, "pagina X din Y") and the signature block.

The font is DejaVu Sans (Debian `fonts-dejavu-core`, installed by `make install-system`), a
TrueType font with every Romanian letter: ș ț with comma below, ă â î and their capitals. It
is embedded (subset) in each PDF, so the document prints the same everywhere.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Paragraph, Table, TableStyle

from .qr import draw_qr, qr_payload

BUCHAREST = ZoneInfo("Europe/Bucharest")
FONT_DIRS = (os.environ.get("DOCUMENTS_FONT_DIR", ""), "/usr/share/fonts/truetype/dejavu",
             "/usr/share/fonts/dejavu", "/usr/local/share/fonts/dejavu")
FONTS = {"Doc": "DejaVuSans.ttf", "Doc-Bold": "DejaVuSans-Bold.ttf",
         "DocCond": "DejaVuSansCondensed.ttf", "DocCond-Bold": "DejaVuSansCondensed-Bold.ttf"}
INK = colors.HexColor("#1b2a3a")
RULE = colors.HexColor("#7d8b99")
SHADE = colors.HexColor("#e9eef3")
SITUATIONS = {"promoted": "Promovat", "corigent": "Corigent", "repeating": "Repetent",
              "postponed": "Situație amânată", "incomplete": "Situație școlară neîncheiată"}
ASSESSMENTS = {"grades": "note", "qualifiers": "calificative"}


class FontMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def register_fonts() -> None:
    # streams stay binary (Flate only): ASCII85 on top makes files a quarter larger and costs time
    rl_config.useA85 = 0
    for name, file in FONTS.items():
        path = next((Path(d) / file for d in FONT_DIRS if d and (Path(d) / file).exists()), None)
        if path is None:
            raise FontMissing(f"font {file} not found (install fonts-dejavu-core or set DOCUMENTS_FONT_DIR)")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily("Doc", normal="Doc", bold="Doc-Bold", italic="Doc", boldItalic="Doc-Bold")
    pdfmetrics.registerFontFamily("DocCond", normal="DocCond", bold="DocCond-Bold", italic="DocCond",
                                  boldItalic="DocCond-Bold")


def style(name: str, size: float = 9, *, bold: bool = False, condensed: bool = False, align: int = 0,
          leading: float | None = None, space_after: float = 0) -> ParagraphStyle:
    family = "DocCond" if condensed else "Doc"
    return ParagraphStyle(name, fontName=f"{family}-Bold" if bold else family, fontSize=size,
                          leading=leading or size * 1.22, alignment=align, textColor=INK, spaceAfter=space_after)


def para(text: str, st: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), st)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- Romanian formatting ------------------------------------------------------------------------

def decimal_ro(value: str | None) -> str:
    """'9.50' → '9,50' (decimal comma); nothing → a dash."""
    if value in (None, ""):
        return "—"
    return str(Decimal(value)).replace(".", ",")


def date_ro(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value[:10]).strftime("%d.%m.%Y")


def local_time(iso_utc: str | None = None) -> str:
    """The generation time as a Romanian reader expects it: Europe/Bucharest, with the zone named."""
    moment = datetime.fromisoformat(iso_utc) if iso_utc else datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(BUCHAREST)
    return f"{local:%d.%m.%Y, %H:%M} (ora României, {local.tzname()})"


def situation_ro(value: str | None) -> str:
    return SITUATIONS.get(value or "", "—")


def pupil_name(pupil: dict) -> str:
    return f"{pupil['last_name']} {pupil['first_name']}".strip()


def status_note(pupil: dict) -> str:
    if pupil.get("status") == "transferred_in":
        return f"Transferat în această clasă la {date_ro(pupil.get('transferred_on'))}"
    if pupil.get("status") == "transferred_out":
        return f"Transferat din această clasă la {date_ro(pupil.get('transferred_on'))}"
    return ""


def grade_text(grade: dict) -> str:
    """A grade's value, starred when it was changed after being recorded."""
    return f"{grade['value']}*" if (grade.get("version") or 1) > 1 else str(grade["value"])


def absences_text(absences: dict | None) -> str:
    if not absences:
        return "—"
    return f"{absences.get('total', 0)}/{absences.get('unmotivated', 0)}"


class PageFrame:
    """Draws what is on every page; one per document. Keeps the QR as a form drawn once."""

    def __init__(self, *, title: str, school: str, fingerprint: str, verify_url: str, generated: str,
                 page_size: tuple[float, float], label: str = "Amprenta SHA-256 a înregistrării"):
        self.title, self.school, self.fingerprint = title, school, fingerprint
        self.payload = qr_payload(verify_url, fingerprint)
        self.generated, self.width, self.height, self.label = generated, *page_size, label
        self._qr_done = False

    def __call__(self, canv: pdf_canvas.Canvas, page: int, total: int) -> None:
        w, h, margin = self.width, self.height, 12 * mm
        canv.saveState()
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.5)
        canv.setFillColor(INK)
        canv.setFont("Doc", 7.5)
        canv.drawString(margin, h - 8 * mm, self.school)
        canv.drawRightString(w - margin, h - 8 * mm, self.title)
        canv.line(margin, h - 9.5 * mm, w - margin, h - 9.5 * mm)
        qr_size = 17 * mm
        if not self._qr_done:
            canv.beginForm("verification-qr")
            draw_qr(canv, self.payload, 0, 0, qr_size)
            canv.endForm()
            self._qr_done = True
        canv.line(margin, 23 * mm, w - margin - qr_size - 3 * mm, 23 * mm)
        canv.setFont("DocCond", 7)
        canv.drawString(margin, 19.5 * mm, f"{self.label}: {self.fingerprint}")
        canv.drawString(margin, 16 * mm, f"Verificare: scanați codul QR sau introduceți amprenta la {self.payload.split('?')[0]}")
        canv.drawString(margin, 12.5 * mm, f"Generat la {self.generated}")
        canv.setFont("Doc-Bold", 8)
        canv.drawRightString(w - margin - qr_size - 3 * mm, 12.5 * mm, f"pagina {page} din {total}")
        canv.translate(w - margin - qr_size, 8 * mm)
        canv.doForm("verification-qr")
        canv.restoreState()


def numbered_canvas(frame: PageFrame):
    """A canvas that knows the page count when it draws each page's frame ("pagina X din Y")."""

    class NumberedCanvas(pdf_canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                frame(self, number, total)
                pdf_canvas.Canvas.showPage(self)
            pdf_canvas.Canvas.save(self)

    return NumberedCanvas


def signature_block(width: float, left: tuple[str, str], right: tuple[str, str], *, stamp: bool = True,
                    height: float = 24 * mm) -> Table:
    """Two signature fields (role, name) with the school's stamp area between them."""
    label, name_st, small = style("sig-l", 9, bold=True, align=1), style("sig-n", 9, align=1), style("sig-s", 7, align=1)

    def field(role: str, name: str):
        return [para(role, label), para(name or " ", name_st), para(" ", name_st),
                para("Semnătura ______________________", small)]

    stamp_cell = [para("L.S.", style("ls", 10, bold=True, align=1)),
                  para("(ștampila unității de învățământ)", small)] if stamp else [para(" ", small)]
    side = (width - 45 * mm) / 2
    table = Table([[field(*left), stamp_cell, field(*right)]], colWidths=[side, 45 * mm, side],
                  rowHeights=[height])
    commands = [("VALIGN", (0, 0), (-1, -1), "TOP")]
    if stamp:
        commands += [("BOX", (1, 0), (1, 0), 0.6, RULE, None, (2, 2)), ("VALIGN", (1, 0), (1, 0), "MIDDLE")]
    table.setStyle(TableStyle(commands))
    return table
