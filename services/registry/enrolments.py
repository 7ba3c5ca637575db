"""Schooling per academic year (chapter V, I.2), diplomas (I.5, REG-4), and the pupils' school
path recorded from the catalog's events (the catalog owns classes)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.events import Envelope
from services.kernel.identity import Principal
from services.kernel.logging import get_logger

from . import versions
from .fields import DIPLOMA, ENROLMENT, current_academic_year, start_year, validate_section
from .models import Diploma, Enrolment, Person
from .nomenclatures import Vocabulary
from .persons import _is_central, _problems, _viewed, _visible, writable

log = get_logger(__name__)
CATALOG_QUEUE = "registry.catalog_events"
CATALOG_EVENTS = ("grades.student_enrolled", "grades.student_transferred")
# a school level as the catalog names it → the registry's cycle nomenclature
_LEVEL_CYCLE = {"primar": "primar", "primary": "primar", "gimnazial": "gimnazial", "gimnaziu": "gimnazial",
                "secondary": "gimnazial", "liceal": "liceal", "liceu": "liceal", "high_school": "liceal"}


def school_cycle(level: str) -> str:
    """The catalog's level ("gimnazial", or a grade such as "IX"/"9") as a cycle of the nomenclature."""
    text = level.strip().lower()
    if text in _LEVEL_CYCLE:
        return _LEVEL_CYCLE[text]
    roman = {"0": 0, "p": 0, "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9,
             "x": 10, "xi": 11, "xii": 12, "xiii": 13}
    grade = int(text) if text.isdigit() else roman.get(text)
    if grade is None:
        return "gimnazial"
    return "primar" if grade <= 4 else "gimnazial" if grade <= 8 else "liceal"


def enrolment_dict(e: Enrolment) -> dict:
    return {"id": e.id, "person_id": e.person_id, "tenant_id": e.tenant_id, "kind": e.kind, "active": e.active,
            "version": e.version, **e.data}


def validate_enrolment(allowed, data: dict, *, partial: bool = False, year: str | None = None) -> tuple[dict, list]:
    year = data.get("academic_year") or year or current_academic_year(date.today())
    try:
        start_year(year)
    except ValueError:
        return {}, [{"field": "academic_year", "message": "an academic year is written like 2025-2026"}]
    return validate_section(ENROLMENT, data, year, allowed, partial=partial)


def _columns(clean: dict) -> dict:
    return {"academic_year": clean["academic_year"], "cycle": clean["cycle"], "programme": clean.get("programme"),
            "financing": clean.get("financing"), "study_year": clean.get("study_year"),
            "end_situation": clean.get("end_situation")}


def add_enrolment(session: Session, emit, principal: Principal, person_id: str, *, fields: dict,
                  document_ref: str | None = None, document_date: str | None = None) -> dict:
    writable(session, principal, person_id)
    clean, problems = validate_enrolment(Vocabulary(session), fields)
    if problems:
        raise _problems("the enrolment is not valid", problems)
    _, ref, when = versions.document_args(None, document_ref, document_date, required=False)
    return _store_enrolment(session, emit, principal, person_id, clean, ref, when)[0]


def _store_enrolment(session, emit, principal, person_id, clean: dict, ref, when) -> tuple[dict, str]:
    """Insert, or for an external id already known: a new version if anything changed."""
    clean = {k: v for k, v in clean.items() if v is not None}
    existing = None
    if clean.get("external_id"):
        existing = session.scalar(select(Enrolment).where(Enrolment.tenant_id == principal.tenant_id,
                                                          Enrolment.external_id == clean["external_id"]))
    if existing is not None:
        if existing.person_id != person_id:
            raise Conflict("this external id belongs to another person's enrolment")
        if existing.data == clean:
            return enrolment_dict(existing), "unchanged"
        return _change(session, emit, principal, existing, clean, "import", ref, when), "changed"
    row = Enrolment(person_id=person_id, tenant_id=principal.tenant_id, kind="university", data=clean,
                    external_id=clean.get("external_id"), **_columns(clean))
    session.add(row)
    session.flush()
    versions.record(session, principal, entity_type="enrolment", entity_id=row.id, person_id=person_id, version=1,
                    snapshot=clean, kind="enrolment", tenant_id=principal.tenant_id, document_ref=ref,
                    document_date=when, status_change=bool(when))
    emit(session, "enrolment_recorded", entity_type="enrolment", entity_id=row.id, after=enrolment_dict(row))
    return enrolment_dict(row), "created"


def _change(session, emit, principal, row: Enrolment, data: dict, reason, ref, when) -> dict:
    before = enrolment_dict(row)
    status_change = data.get("end_situation") != row.data.get("end_situation") or \
        data.get("enrolment_situation") != row.data.get("enrolment_situation")
    if status_change and when is None:
        raise InvalidInput("a change of the enrolment or end-of-year situation needs the date of its "
                           "administrative document", [{"field": "document_date", "message": "is required"}])
    row.data = data
    for key, value in _columns(data).items():
        setattr(row, key, value)
    row.active = data.get("end_situation") not in ("retras", "exmatriculat", "absolvent", "transferat")
    row.version += 1
    versions.record(session, principal, entity_type="enrolment", entity_id=row.id, person_id=row.person_id,
                    version=row.version, snapshot=data, kind="enrolment_change", tenant_id=row.tenant_id,
                    reason=reason, document_ref=ref, document_date=when, status_change=status_change)
    emit(session, "enrolment_changed", entity_type="enrolment", entity_id=row.id, after=enrolment_dict(row),
         before=before, reason=reason)
    return enrolment_dict(row)


def update_enrolment(session: Session, emit, principal: Principal, enrolment_id: str, *, changes: dict, reason: str,
                     document_ref: str | None = None, document_date: str | None = None) -> dict:
    row = session.scalar(select(Enrolment).where(Enrolment.id == enrolment_id,
                                                 Enrolment.tenant_id == principal.tenant_id))
    if row is None:
        raise NotFound("enrolment not found")
    writable(session, principal, row.person_id)
    if row.kind != "university":
        raise Conflict("a pupil's class is recorded by the catalog; change it there")
    reason, ref, when = versions.document_args(reason, document_ref, document_date, required=False)
    if not reason:
        raise InvalidInput("a reason is required for every change", [{"field": "reason", "message": "is required"}])
    merged = {**row.data, **changes}
    clean, problems = validate_enrolment(Vocabulary(session), merged)
    if problems:
        raise _problems("the change is not valid", problems)
    return _change(session, emit, principal, row, {k: v for k, v in clean.items() if v is not None}, reason, ref, when)


def list_enrolments(session: Session, emit, principal: Principal, person_id: str) -> dict:
    person = _visible(session, principal, person_id)
    rows = session.scalars(select(Enrolment).where(Enrolment.person_id == person.id)
                           .order_by(Enrolment.academic_year, Enrolment.created_at)).all()
    if not _is_central(principal) and principal.person_id != person.id:
        # each institution sees its own schooling records; the person's whole path is central's
        rows = [r for r in rows if r.tenant_id == principal.tenant_id]
    _viewed(session, emit, principal, person, "enrolments")
    return {"items": [enrolment_dict(r) for r in rows]}


# --- diplomas -------------------------------------------------------------------------------

def diploma_dict(d: Diploma) -> dict:
    return {"id": d.id, "person_id": d.person_id, "tenant_id": d.tenant_id, "version": d.version, **d.data}


def add_diploma(session: Session, emit, principal: Principal, person_id: str, *, fields: dict) -> dict:
    writable(session, principal, person_id, archive_ok=True)  # a graduate's diploma follows the archive
    year = fields.get("academic_year") or current_academic_year(date.today())
    clean, problems = validate_section(DIPLOMA, fields, year, Vocabulary(session))
    if problems:
        raise _problems("the diploma is not valid", problems)
    clean = {k: v for k, v in clean.items() if v is not None}
    issuer_key = " ".join(clean["issuer"].lower().split())
    try:
        with session.begin_nested():
            row = Diploma(person_id=person_id, tenant_id=principal.tenant_id, issuer_key=issuer_key,
                          series=clean["series"].upper(), number=clean["number"], data=clean)
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("a diploma with this series and number is already recorded for this issuer") from exc
    versions.record(session, principal, entity_type="diploma", entity_id=row.id, person_id=person_id, version=1,
                    snapshot=clean, kind="diploma", tenant_id=principal.tenant_id)
    emit(session, "diploma_recorded", entity_type="diploma", entity_id=row.id, after=diploma_dict(row))
    return diploma_dict(row)


def list_diplomas(session: Session, emit, principal: Principal, person_id: str) -> dict:
    person = _visible(session, principal, person_id)
    rows = session.scalars(select(Diploma).where(Diploma.person_id == person.id).order_by(Diploma.created_at))
    return {"items": [diploma_dict(d) for d in rows]}


# --- the catalog's events: a pupil's school and class per school year -------------------------

def record_catalog_events(session: Session, emit_system, envelopes: list[Envelope]) -> int:
    """Idempotent on event_id (the caller filtered through the inbox) and on (class, pupil, year)."""
    done = 0
    for env in envelopes:
        if env.type not in CATALOG_EVENTS:
            continue
        after = (env.data or {}).get("after") or {}
        person_id, class_id = after.get("student_id"), after.get("class_id")
        if not person_id or not class_id or session.get(Person, person_id) is None:
            log.warning("registry.catalog_event_skipped", event_id=env.event_id, type=env.type)
            continue
        year = after.get("school_year") or current_academic_year(date.today())
        row = session.scalar(select(Enrolment).where(Enrolment.class_id == class_id, Enrolment.person_id == person_id,
                                                     Enrolment.academic_year == year))
        leaving = env.type == "grades.student_transferred" and after.get("direction") == "out"
        if row is None and not leaving:
            level = str(after.get("level") or "")
            data = {"academic_year": year, "cycle": school_cycle(level),
                    "level": level or None, "class_name": after.get("class_name"), "class_id": class_id,
                    "school_tenant_id": env.tenant_id,
                    "enrolled_on": after.get("enrolled_on") or after.get("effective_on"),
                    "source_event": env.type}
            row = Enrolment(person_id=person_id, tenant_id=env.tenant_id or "", kind="school", academic_year=year,
                            cycle=data["cycle"], class_id=class_id, data={k: v for k, v in data.items() if v})
            session.add(row)
            session.flush()
            fact = "pupil_enrolment_recorded"
        elif row is not None and leaving and row.active:
            row.active = False
            row.data = {**row.data, "end_situation": "transferat", "left_on": after.get("effective_on")}
            row.version += 1
            session.flush()
            fact = "pupil_transfer_recorded"
        else:
            continue
        versions.record(session, None, entity_type="enrolment", entity_id=row.id, person_id=person_id,
                        version=row.version, snapshot=row.data, kind=fact, tenant_id=row.tenant_id,
                        actor=(env.actor.id, env.actor.role))
        emit_system(session, fact, entity_type="enrolment", entity_id=row.id, after=enrolment_dict(row),
                    tenant_id=row.tenant_id)
        done += 1
    return done

