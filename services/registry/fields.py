"""The chapter V data categories as field specifications, and their validation (no infrastructure).

Each field is `Field(key, kind, ...)`; `validate_section` returns the cleaned values and every
problem as `{"field", "message"}` at once, so a form or an import row shows all its mistakes.
`Nomenclature` look-ups come from a callable `allowed(name, academic_year) -> set of codes`,
so the rules here never touch the database. The footnote rules of the regulation are in
`person_footnote_problems`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

Allowed = Callable[[str, str], set[str]]
_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_YEAR_RE = re.compile(r"^(\d{4})-(\d{4})$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE_RE = re.compile(r"^\+?[0-9 ()-]{6,20}$")
EU_EEA = frozenset("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO CH"
                   .split())


@dataclass(frozen=True)
class Field:
    key: str
    kind: str = "text"          # text | date | country | nomen | int | decimal | year | bool | email | phone
    max_len: int = 200
    nomen: str | None = None
    low: float | None = None
    high: float | None = None
    required: bool = False
    sensitive: bool = False
    label: str = ""


def F(key, kind="text", **kw) -> Field:
    return Field(key, kind, **kw)


# Secțiunea I.1 - Date personale
PERSONAL = (
    F("last_name_at_birth", required=True, max_len=100, label="Numele de familie la naștere"),
    F("last_name", required=True, max_len=100, label="Numele de familie actual"),
    F("first_name", required=True, max_len=100, label="Prenumele"),
    F("parents_initials", max_len=10, label="Inițialele tatălui/mamei"),
    F("cnp", max_len=13, label="CNP"),
    F("foreign_id", max_len=40, label="Alt cod de identificare personală (studenți străini)"),
    F("birth_date", "date", label="Data nașterii"),
    F("birth_country", "country", label="Țara de origine"),
    F("birth_county", "nomen", nomen="county", label="Județul nașterii (numai pentru români)"),
    F("birth_locality", max_len=100, label="Localitatea nașterii"),
    F("sex", "nomen", nomen="sex", label="Sexul"),
    F("civil_status", "nomen", nomen="civil_status", label="Starea civilă (poate să nu fie declarată)"),
    F("citizenship", "country", required=True, label="Cetățenia"),
    F("other_citizenships", max_len=60, label="Alte cetățenii (coduri de țară separate prin spațiu)"),
    F("previous_citizenship", "country", label="Cetățenie anterioară"),
    F("domicile_country", "country", label="Domiciliul stabil: țara"),
    F("domicile_county", "nomen", nomen="county", label="Domiciliul: județul (numai pentru români)"),
    F("domicile_locality", max_len=100, label="Domiciliul: orașul/comuna/satul"),
    F("domicile_address", max_len=300, label="Domiciliul: adresa"),
    F("id_document_type", "nomen", nomen="id_document_type", label="Actul de identitate/documentul de călătorie"),
    F("id_document_series", max_len=10, label="Seria actului"),
    F("id_document_number", max_len=20, label="Numărul actului"),
    F("id_document_issuer", max_len=100, label="Eliberat de"),
    F("id_document_issued_on", "date", label="Data eliberării"),
    F("id_document_expires_on", "date", label="Data expirării"),
    F("phone", "phone", label="Telefon"),
    F("email", "email", label="Adresă de e-mail"),
    F("special_social_status", "nomen", nomen="social_status", sensitive=True, label="Starea socială specială"),
    F("ethnicity", "nomen", nomen="ethnicity", sensitive=True, label="Etnia (numai pentru români, poate lipsi)"),
    F("special_medical_situation", "nomen", nomen="medical_situation", sensitive=True,
      label="Situație medicală specială"),
)
# Secțiunea I.3.a / I.3.b - Pregătirea anterioară
PRIOR_EDUCATION = (
    F("hs_institution", max_len=200, label="Liceul absolvit"), F("hs_country", "country", label="Țara liceului"),
    F("hs_county", "nomen", nomen="county", label="Județul liceului"), F("hs_locality", max_len=100),
    F("hs_track", max_len=60, label="Filiera"), F("hs_profile", max_len=100, label="Profilul/Domeniul"),
    F("hs_specialisation", max_len=100), F("hs_duration_years", "int", low=1, high=6),
    F("hs_graduation_year", "int", low=1900, high=2100), F("hs_form", "nomen", nomen="high_school_form"),
    F("bac_diploma_type", "nomen", nomen="diploma_type"), F("bac_series", max_len=20), F("bac_number", max_len=20),
    F("bac_issuer", max_len=200), F("bac_issuer_county", "nomen", nomen="county"), F("bac_issuer_locality", max_len=100),
    F("bac_average", "decimal", low=6, high=10), F("bac_year", "int", low=1900, high=2100),
    F("bac_recognition_document", max_len=100, label="Nr./seria actului de recunoaștere/echivalare"),
    F("prev_cycle", "nomen", nomen="cycle"), F("prev_start_year", "int", low=1900, high=2100),
    F("prev_end_year", "int", low=1900, high=2100), F("prev_country", "country"),
    F("prev_county", "nomen", nomen="county"), F("prev_locality", max_len=100), F("prev_institution", max_len=200),
    F("prev_faculty", max_len=200), F("prev_fundamental_domain", max_len=100), F("prev_domain", max_len=100),
    F("prev_programme", max_len=200), F("prev_graduation_year", "int", low=1900, high=2100),
    F("prev_form", "nomen", nomen="education_form"), F("prev_financing", "nomen", nomen="financing"),
    F("prev_funded_semesters", "int", low=0, high=24), F("prev_duration", max_len=20),
    F("prev_final_average", "decimal", low=5, high=10), F("prev_title", max_len=100),
    F("prev_diploma_type", "nomen", nomen="diploma_type"), F("prev_diploma_series", max_len=20),
    F("prev_diploma_number", max_len=20), F("prev_diploma_issuer", max_len=200),
    F("prev_diploma_issuer_county", "nomen", nomen="county"), F("prev_diploma_issuer_locality", max_len=100),
    F("prev_diploma_year", "int", low=1900, high=2100), F("prev_exam_average", "decimal", low=5, high=10),
    F("prev_recognition_document", max_len=100),
)
# Secțiunea I.4 - Date de tip administrativ
ADMINISTRATIVE = (
    F("faculty_matriculation_number", max_len=40, label="Numărul matricol din registrul facultății"),
    F("accommodation", "nomen", nomen="accommodation"), F("dorm_name", max_len=100),
    F("dorm_room_places", "int", low=1, high=12), F("dorm_fee", "decimal", low=0, high=100000),
    F("accommodation_notes", max_len=300), F("other_administrative", max_len=500),
    F("moldova_ethnic_romanian", "bool", label="Etnic român din Republica Moldova"),
)
# Secțiunea I.2 - Școlaritatea, per an universitar (și, pentru elevi, per an școlar)
ENROLMENT = (
    F("academic_year", "year", required=True), F("institution", max_len=200), F("faculty", max_len=200),
    F("cycle", "nomen", nomen="cycle", required=True), F("fundamental_domain", max_len=100),
    F("domain", max_len=100), F("programme", max_len=200), F("programme_locality", max_len=100),
    F("programme_language", max_len=40), F("programme_duration_years", "decimal", low=0.5, high=8),
    F("programme_credits", "int", low=0, high=480), F("study_year", "int", low=1, high=8),
    F("form", "nomen", nomen="education_form"), F("financing", "nomen", nomen="financing"),
    F("scholarship_type", "nomen", nomen="scholarship_type"), F("scholarship_value", "decimal", low=0, high=100000),
    F("scholarship_months", "int", low=0, high=12), F("enrolment_situation", "nomen", nomen="enrolment_situation"),
    F("start_situation", "nomen", nomen="start_situation"), F("end_situation", "nomen", nomen="end_situation"),
    F("other_schooling", max_len=500), F("external_id", max_len=64),
)
# Secțiunea I.5 - Date privind absolventul
DIPLOMA = (
    F("cycle", "nomen", nomen="cycle", required=True), F("diploma_type", "nomen", nomen="diploma_type", required=True),
    F("series", required=True, max_len=20), F("number", required=True, max_len=20),
    F("issued_on", "date", required=True), F("issuer", required=True, max_len=200), F("exam_date", "date"),
    F("final_average", "decimal", low=5, high=10), F("exam_average", "decimal", low=5, high=10),
    F("recognition_documents", max_len=500), F("academic_year", "year"), F("enrolment_id", max_len=36),
)
SECTIONS = {"personal": PERSONAL, "prior_education": PRIOR_EDUCATION, "administrative": ADMINISTRATIVE}
SENSITIVE_KEYS = frozenset(f.key for f in PERSONAL if f.sensitive)
STATIC_NOMENCLATURES = {"sex": {"F", "M"}}


def start_year(academic_year: str) -> int:
    m = _YEAR_RE.match(academic_year or "")
    if not m or int(m.group(2)) != int(m.group(1)) + 1:
        raise ValueError("an academic year is written like 2025-2026")
    return int(m.group(1))


def current_academic_year(today: date) -> str:
    first = today.year if today.month >= 10 else today.year - 1
    return f"{first}-{first + 1}"


_SPACES_RE = re.compile(r"\s{2,}|[\t\n\r\f\v]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text(value: Any) -> str:
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text).translate(_CEDILLA_TO_COMMA)
    text = text.strip()
    return _SPACES_RE.sub(" ", text) if _SPACES_RE.search(text) else text


def clean_value(spec: Field, raw: Any, year: str, allowed: Allowed) -> tuple[Any, str | None]:
    """(clean value, None) or (None, problem). Empty input is None (checked for `required` after)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    kind = spec.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw, None
        text = _text(raw).lower()
        if text in ("1", "true", "da", "yes"):
            return True, None
        if text in ("0", "false", "nu", "no"):
            return False, None
        return None, "must be true or false (da/nu)"
    if kind in ("int", "decimal"):
        try:
            number = Decimal(_text(raw).replace(",", "."))
        except InvalidOperation:
            return None, "must be a number"
        if not number.is_finite():
            return None, "must be a number"
        if kind == "int" and number != number.to_integral_value():
            return None, "must be a whole number"
        if (spec.low is not None and number < Decimal(str(spec.low))) or (
                spec.high is not None and number > Decimal(str(spec.high))):
            return None, f"must be between {spec.low:g} and {spec.high:g}"
        return (int(number) if kind == "int" else str(number.quantize(Decimal("0.01")))), None
    text = _text(raw)
    if _CONTROL_RE.search(text):
        return None, "contains control characters"
    if len(text) > spec.max_len:
        return None, f"is longer than {spec.max_len} characters"
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, "must be a date YYYY-MM-DD"
    if kind == "year":
        try:
            start_year(text)
        except ValueError as exc:
            return None, str(exc)
        return text, None
    if kind == "country":
        text = text.upper()
        return (text, None) if _COUNTRY_RE.match(text) else (None, "must be a two-letter ISO 3166 country code")
    if kind == "email":
        text = text.lower()
        return (text, None) if _EMAIL_RE.match(text) else (None, "is not a valid e-mail address")
    if kind == "phone":
        return (text, None) if _PHONE_RE.match(text) else (None, "is not a valid phone number")
    if kind == "nomen":
        codes = STATIC_NOMENCLATURES.get(spec.nomen) or allowed(spec.nomen, year)
        if text not in codes:
            return None, f"{text!r} is not in the nomenclature {spec.nomen} for {year}"
        return text, None
    return text, None


_INDEX: dict[int, tuple[dict, tuple]] = {}
# at most this many cleaned values remembered by an `allowed` that carries a `memo` dict
MEMO_SIZE = 20_000


def _index(specs) -> tuple[dict, tuple]:
    """(key → spec, the required specs) of a section, computed once."""
    found = _INDEX.get(id(specs))
    if found is None:
        found = _INDEX[id(specs)] = ({s.key: s for s in specs}, tuple(s for s in specs if s.required))
    return found


def validate_section(specs, data: dict, year: str, allowed: Allowed, *, prefix: str = "",
                     partial: bool = False) -> tuple[dict, list[dict]]:
    """Clean the values given in `data` against `specs`; every problem at once. Without
    `partial` (a new record) the required fields must be there; with it (a change) only the
    keys given are checked. Only the keys given appear in the result."""
    index, required = _index(specs)
    problems: list[dict] = []
    clean: dict = {}
    memo = getattr(allowed, "memo", None)
    for key, raw in data.items():
        spec = index.get(key)
        if spec is None:
            problems.append({"field": f"{prefix}{key}", "message": "is not a field of this section"})
            continue
        if raw is None or raw == "":
            clean[key] = None
            continue
        if memo is not None and type(raw) is str:
            # a bulk import sees the same cell values again and again (codes, countries, years,
            # programme names): each (field, text, year) is cleaned once per import
            memo_key = (id(spec), raw, year)
            found = memo.get(memo_key)
            if found is None:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                found = memo[memo_key] = clean_value(spec, raw, year, allowed)
            value, problem = found
        else:
            value, problem = clean_value(spec, raw, year, allowed)
        if problem:
            problems.append({"field": f"{prefix}{key}", "message": f"{spec.label or key} {problem}"})
        else:
            clean[key] = value
    for spec in required:
        if clean.get(spec.key) is None and (not partial or spec.key in data) and not any(
                p["field"] == f"{prefix}{spec.key}" for p in problems):
            problems.append({"field": f"{prefix}{spec.key}", "message": f"{spec.label or spec.key} is required"})
    return clean, problems


def person_footnote_problems(p: dict) -> list[dict]:
    """The footnotes of chapter V on a whole (merged) personal section."""
    out = []
    romanian = p.get("citizenship") == "RO"

    def bad(key, message):
        out.append({"field": f"personal.{key}", "message": message})

    if not p.get("cnp") and not p.get("foreign_id"):
        bad("cnp", "a CNP is required (or, for a foreign student, another personal identifier)")
    if p.get("foreign_id") and romanian:
        bad("foreign_id", "another personal identifier is recorded only for foreign students (footnote 4)")
    if romanian and not p.get("cnp"):
        bad("cnp", "a Romanian citizen is identified by CNP")
    # ^5 the country code of the birth place only for foreigners, the county only for Romania
    if p.get("birth_county") and p.get("birth_country") not in (None, "RO"):
        bad("birth_county", "the county is recorded only for a birth place in Romania; give the country code")
    # ^8 ethnicity only for Romanian students (it may be left undeclared)
    if p.get("ethnicity") and not romanian:
        bad("ethnicity", "ethnicity is recorded only for Romanian students (footnote 8)")
    # ^9/^10 domicile county only for Romanian students, the country code for foreigners
    if p.get("domicile_county") and (not romanian or p.get("domicile_country") not in (None, "RO")):
        bad("domicile_county", "the domicile county is recorded only for Romanian students domiciled in Romania "
                               "(footnote 9); foreign students give the country code")
    if not romanian and p.get("domicile_country") is None and p.get("domicile_locality"):
        bad("domicile_country", "a foreign student's domicile needs its country code (footnote 10)")
    # ^12 a travel document only for foreign students (an ID card for EU/EEA citizens, else a passport)
    doc = p.get("id_document_type")
    if doc == "document_calatorie" and romanian:
        bad("id_document_type", "a travel document is recorded only for foreign students (footnote 12)")
    if doc in ("CI", "BI") and not romanian and p.get("citizenship") not in EU_EEA:
        bad("id_document_type", "a student from outside the EU/EEA is identified by passport (footnote 12)")
    issued, expires = p.get("id_document_issued_on"), p.get("id_document_expires_on")
    if issued and expires and expires <= issued:
        bad("id_document_expires_on", "the document expires before it was issued")
    return out


def split_sensitive(personal: dict) -> tuple[dict, dict]:
    plain = {k: v for k, v in personal.items() if k not in SENSITIVE_KEYS}
    secret = {k: v for k, v in personal.items() if k in SENSITIVE_KEYS and v is not None}
    return plain, secret
