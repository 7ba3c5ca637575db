"""The readable PDF of a person's export: the same content as the JSON document, section by
section, in Romanian with English headings. DejaVu Sans is embedded (ș ț with comma below), with
the font set-up shared with the catalog's printed documents."""
from __future__ import annotations

import io
import json

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from services.grades.documents.pdf_common import escape, register_fonts, style

PART_TITLES = {"auth": "Cont și autentificare / Account and sign-ins", "registry": "Registrul matricol / Registry",
               "grades": "Catalog: note și absențe / Catalog: grades and absences",
               "audit": "Jurnalul de audit / Audit trail"}
MAX_VALUE = 600


def _value(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + " …"


def render(document: dict) -> bytes:
    register_fonts()
    title, h1, h2, body = (style("t", 15, bold=True, space_after=4), style("h1", 12, bold=True, space_after=3),
                           style("h2", 10, bold=True, space_after=2), style("b", 8.5))
    small = style("s", 7.5, condensed=True)
    small.wordWrap = "CJK"  # long ids and hashes wrap anywhere instead of running off the page
    story = [Paragraph("Datele dumneavoastră din platformă / Your data in the platform", title),
             Paragraph(escape(f"Operator / Controller: {document['controller']['name']}"), body),
             Paragraph(escape(f"Persoana / Person: {document['subject'].get('person_id') or '-'}; "
                              f"cont / account: {document['subject'].get('account_id') or '-'}"), body),
             Paragraph(escape(f"Generat / Generated: {document['generated_at']} (export {document['export_id']})"), small),
             Spacer(1, 4 * mm)]
    for name, part in document["parts"].items():
        story.append(Paragraph(escape(PART_TITLES.get(name, name)), h1))
        if not any(part.values()):
            story.append(Paragraph("Nicio înregistrare / No records.", body))
        for section, records in part.items():
            story.append(Paragraph(escape(f"{section} ({len(records)})"), h2))
            for record in records:
                # a paragraph per field: each stays far shorter than a page, whatever the record holds
                for key, value in record.items() or [("-", "-")]:
                    story.append(Paragraph(f"<b>{escape(str(key))}</b>: {escape(_value(value))}", small))
                story.append(Spacer(1, 1.6 * mm))
        story.append(Spacer(1, 3 * mm))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=15 * mm, title="Export date personale", author=document["controller"]["name"]
                      ).build(story)
    return out.getvalue()
