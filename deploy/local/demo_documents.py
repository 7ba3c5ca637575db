"""The documents to try by hand on the demo school: the catalog's demo class "a IX-a A" (its
grades, absences, homeroom teacher and parent come from demo_catalog) is printable as it is, so
this only names the calls. Nothing is printed here: a printout is an audit event, made by a person."""
from __future__ import annotations


def seed(api, demo: dict, tokens: dict) -> None:
    klass, pupil = demo["class"]["id"], demo["student_person"]["id"]
    demo["documents"] = {
        "year_end_catalog": f"/v1/classes/{klass}/documents/year-end-catalog.pdf",
        "catalog_xlsx": f"/v1/classes/{klass}/documents/catalog.xlsx",
        "report_card": f"/v1/classes/{klass}/students/{pupil}/report-card.pdf",
    }
    demo.setdefault("hints", []).extend([
        f"Year-end catalog (director, homeroom): GET {demo['documents']['year_end_catalog']}"
        " (its X-Document-Fingerprint → POST /v1/documents/verify {\"code\": ...})",
        f"Report card (also the parent, the pupil): GET {demo['documents']['report_card']}",
    ])
