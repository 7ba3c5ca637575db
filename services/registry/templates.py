"""Import layouts (no infrastructure): the columns of each section's template, the flat row →
record split, and the published schemas (CSV templates, an XSD, a JSON Schema).

A row is flat: `external_id` (the institution's own id of the person: re-importing it changes
nothing), then any columns of the person sections and of the enrolment (the enrolment's own id
is `enrolment_external_id`). A template per section, as the real registry's templates work; a
file may combine the columns of several sections.
"""
from __future__ import annotations

import csv
import io
from xml.sax.saxutils import escape

from .fields import ADMINISTRATIVE, ENROLMENT, PERSONAL, PRIOR_EDUCATION

PERSON_KEY = "external_id"
ENROLMENT_KEY = "enrolment_external_id"
_ENROLMENT_COLUMNS = tuple(ENROLMENT_KEY if f.key == "external_id" else f.key for f in ENROLMENT)
SECTION_SPECS = {"personal": PERSONAL, "prior_education": PRIOR_EDUCATION, "administrative": ADMINISTRATIVE,
                 "enrolments": ENROLMENT}
SECTION_COLUMNS = {
    "personal": (PERSON_KEY, *(f.key for f in PERSONAL)),
    "prior_education": (PERSON_KEY, *(f.key for f in PRIOR_EDUCATION)),
    "administrative": (PERSON_KEY, *(f.key for f in ADMINISTRATIVE)),
    "enrolments": (PERSON_KEY, *_ENROLMENT_COLUMNS),
}
# the usual first import of a year: who the students are and where they study
SECTION_COLUMNS["persons_enrolments"] = (
    PERSON_KEY, "cnp", "foreign_id", "citizenship", "last_name_at_birth", "last_name", "first_name", "birth_date",
    "sex", "birth_country", "birth_county", "birth_locality", "civil_status", "domicile_country", "domicile_county",
    "domicile_locality", "email", "faculty_matriculation_number", *(c for c in _ENROLMENT_COLUMNS if c != "other_schooling"))
SECTIONS = tuple(SECTION_COLUMNS)
_OWNER = {**{f.key: "personal" for f in PERSONAL}, **{f.key: "prior_education" for f in PRIOR_EDUCATION},
          **{f.key: "administrative" for f in ADMINISTRATIVE},
          **{c: "enrolment" for c in _ENROLMENT_COLUMNS}}
KNOWN_COLUMNS = frozenset(_OWNER) | {PERSON_KEY}
_SPEC = {**{f.key: f for f in PERSONAL}, **{f.key: f for f in PRIOR_EDUCATION}, **{f.key: f for f in ADMINISTRATIVE},
         **{(ENROLMENT_KEY if f.key == "external_id" else f.key): f for f in ENROLMENT}}


def header_problems(header: list[str]) -> list[dict]:
    """The whole file is refused for these (before any row): unknown, duplicate or missing key columns."""
    problems = []
    seen = set()
    for name in header:
        if name in seen:
            problems.append({"row": 1, "field": name, "message": "the column appears twice"})
        seen.add(name)
        if name not in KNOWN_COLUMNS:
            problems.append({"row": 1, "field": name or "(empty)",
                             "message": "unknown column; see the templates at /v1/registry/templates"})
    if PERSON_KEY not in seen:
        problems.append({"row": 1, "field": PERSON_KEY, "message": "the column external_id (your id of the person) "
                                                                   "is required"})
    return problems


def split_row(row: dict) -> tuple[str | None, dict, dict]:
    """(person external id, {section: values}, enrolment values) of one flat row; empty cells dropped."""
    sections: dict[str, dict] = {}
    enrolment: dict = {}
    for key, value in row.items():
        if key == PERSON_KEY or value is None or (isinstance(value, str) and not value.strip()):
            continue
        owner = _OWNER.get(key)
        if owner == "enrolment":
            enrolment["external_id" if key == ENROLMENT_KEY else key] = value
        elif owner:
            sections.setdefault(owner, {})[key] = value
    ext = row.get(PERSON_KEY)
    return (str(ext).strip() if ext not in (None, "") else None), sections, enrolment


def csv_template(section: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(SECTION_COLUMNS[section])
    return out.getvalue()


_XSD_TYPES = {"date": "xs:date", "int": "xs:integer", "decimal": "xs:decimal", "bool": "xs:boolean"}


def xsd() -> str:
    """One `<row>` per person (any columns of any section, each at most once), inside `<import>`."""
    elements = []
    for name in sorted(KNOWN_COLUMNS):
        spec = _SPEC.get(name)
        kind = _XSD_TYPES.get(spec.kind, "xs:string") if spec else "xs:string"
        doc = escape(spec.label) if spec and spec.label else ""
        annotation = f"<xs:annotation><xs:documentation>{doc}</xs:documentation></xs:annotation>" if doc else ""
        elements.append(f'        <xs:element name="{name}" type="{kind}" minOccurs="0">{annotation}</xs:element>'
                        if annotation else f'        <xs:element name="{name}" type="{kind}" minOccurs="0"/>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">\n'
            '  <xs:element name="import">\n    <xs:complexType><xs:sequence>\n'
            '      <xs:element name="row" minOccurs="0" maxOccurs="unbounded">\n'
            '        <xs:complexType><xs:all>\n' + "\n".join(elements) + "\n"
            '        </xs:all></xs:complexType>\n      </xs:element>\n'
            '    </xs:sequence></xs:complexType>\n  </xs:element>\n</xs:schema>\n')


_JSON_TYPES = {"date": {"type": "string", "format": "date"}, "int": {"type": "integer"},
               "decimal": {"type": ["number", "string"]}, "bool": {"type": "boolean"},
               "year": {"type": "string", "pattern": r"^\d{4}-\d{4}$"}, "email": {"type": "string", "format": "email"},
               "country": {"type": "string", "pattern": "^[A-Z]{2}$"}}


def json_schema(base_url: str = "") -> dict:
    """The batch upsert body (`POST /v1/registry/batch`): rows of the same flat columns."""
    props = {}
    for name in sorted(KNOWN_COLUMNS):
        spec = _SPEC.get(name)
        schema = dict(_JSON_TYPES.get(spec.kind, {"type": "string"})) if spec else {"type": "string", "maxLength": 64}
        if spec and spec.kind in ("text", "phone", "nomen"):
            schema["maxLength"] = spec.max_len
        if spec and spec.kind == "nomen":
            schema["description"] = (f"a code of the nomenclature {spec.nomen} valid in the row's academic year "
                                     f"(see /v1/registry/nomenclatures/export.json)")
        elif spec and spec.label:
            schema["description"] = spec.label
        props[name] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url}/v1/registry/schemas/batch.schema.json",
        "title": "Registry batch upsert", "type": "object", "additionalProperties": False,
        "required": ["rows"],
        "properties": {
            "mode": {"enum": ["validate", "all_or_nothing", "accept_valid"], "default": "all_or_nothing"},
            "rows": {"type": "array", "minItems": 1, "maxItems": 1000,
                     "items": {"type": "object", "additionalProperties": False, "required": [PERSON_KEY],
                               "properties": props}}},
    }
