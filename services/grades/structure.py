"""The school's structure: school years and periods, classes and levels, curriculum, assignments,
rosters with transfers. Every write checks the caller's role here as well as in the gateway."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text

from .averages import DEFAULT_CONDUCT_THRESHOLDS
from .common import MANAGERS, owned, parse_date, period_dict, periods_of, year_of
from .models import ClassStudent, CurriculumEntry, Period, SchoolClass, SchoolYear, Subject, TeachingAssignment

_YEAR_FORMAT = "YYYY-YYYY"
# how many periods each structure has: the five modules of today's Romanian school year, the
# older two semesters, or anything a school configures (1 to 6 periods)
STRUCTURES = {"modules": (5, 5), "semesters": (2, 2), "custom": (1, 6)}
DEFAULT_SETTINGS = {
    # a parent may ask for the motivation of this many school days per period (or per year)
    "parent_motivation_days": 10, "parent_motivation_scope": "year",
    # unmotivated absences → the conduct grade they suggest (highest threshold reached wins)
    "conduct_thresholds": [list(t) for t in DEFAULT_CONDUCT_THRESHOLDS],
}


def class_dict(c: SchoolClass) -> dict:
    return {"id": c.id, "name": c.name, "school_year": c.school_year, "level": c.level,
            "homeroom_teacher_id": c.homeroom_teacher_id}


def subject_dict(s: Subject) -> dict:
    return {"id": s.id, "name": s.name, "weekly_hours": s.weekly_hours}


def year_dict(y: SchoolYear, periods: list[Period]) -> dict:
    return {"id": y.id, "name": y.name, "starts_on": y.starts_on.isoformat(), "ends_on": y.ends_on.isoformat(),
            "structure": y.structure, "settings": dict(y.settings or {}), "closed": y.closed,
            "periods": [period_dict(p) for p in periods]}


def _school_year_name(value: str) -> str:
    try:
        start, end = (int(p) for p in value.split("-"))
    except (AttributeError, ValueError) as exc:
        raise InvalidInput(f"school_year must look like {_YEAR_FORMAT}") from exc
    if end != start + 1 or not 2000 <= start <= 2100:
        raise InvalidInput(f"school_year must look like {_YEAR_FORMAT}, consecutive years")
    return value


def _settings(raw: dict | None) -> dict:
    settings = dict(DEFAULT_SETTINGS)
    for key, value in (raw or {}).items():
        if key not in DEFAULT_SETTINGS:
            raise InvalidInput(f"unknown setting {key!r}")
        settings[key] = value
    days = settings["parent_motivation_days"]
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 100:
        raise InvalidInput("parent_motivation_days must be a whole number from 0 to 100")
    if settings["parent_motivation_scope"] not in ("year", "period"):
        raise InvalidInput("parent_motivation_scope must be 'year' or 'period'")
    thresholds = settings["conduct_thresholds"]
    try:
        cleaned = [[int(a), int(g)] for a, g in thresholds]
    except (TypeError, ValueError) as exc:
        raise InvalidInput("conduct_thresholds must be pairs [unmotivated absences, conduct grade]") from exc
    if len(cleaned) > 20 or any(not (0 < a <= 1000 and 1 <= g <= 10) for a, g in cleaned):
        raise InvalidInput("conduct_thresholds: absences 1..1000, grades 1..10, at most 20 pairs")
    settings["conduct_thresholds"] = cleaned
    return settings


def create_school_year(session: Session, emit, principal: Principal, *, name: str, structure: str,
                       periods: list[dict], settings: dict | None = None) -> dict:
    require(principal, *MANAGERS)
    name = _school_year_name(name)
    if structure not in STRUCTURES:
        raise InvalidInput("structure must be 'modules', 'semesters' or 'custom'")
    low, high = STRUCTURES[structure]
    if not isinstance(periods, list) or not low <= len(periods) <= high:
        raise InvalidInput(f"a school year in {structure} has {low if low == high else f'{low} to {high}'} periods")
    parsed = []
    for i, p in enumerate(periods, 1):
        if not isinstance(p, dict):
            raise InvalidInput("each period needs name, starts_on and ends_on")
        starts, ends = parse_date(p.get("starts_on"), "starts_on"), parse_date(p.get("ends_on"), "ends_on")
        if ends < starts:
            raise InvalidInput(f"period {i} ends before it starts")
        holidays = sorted({parse_date(h, "holidays") for h in p.get("holidays") or []})
        if any(not starts <= h <= ends for h in holidays):
            raise InvalidInput(f"period {i}: every holiday must fall inside the period")
        parsed.append((clean_text(p.get("name") or f"{'Modulul' if structure == 'modules' else 'Semestrul'} {i}",
                                  field="name", max_len=60), starts, ends, holidays))
    for (_, _, prev_end, _), (_, start, _, _) in zip(parsed, parsed[1:]):
        if start <= prev_end:
            raise InvalidInput("periods must follow each other without overlapping")
    first_year = int(name[:4])
    if parsed[0][1].year != first_year or parsed[-1][2].year != first_year + 1:
        raise InvalidInput(f"the periods of {name} must start in {first_year} and end in {first_year + 1}")
    if session.scalar(select(SchoolYear.id).where(SchoolYear.tenant_id == principal.tenant_id,
                                                  SchoolYear.name == name)):
        raise Conflict("that school year is already configured")
    year = SchoolYear(tenant_id=principal.tenant_id, name=name, starts_on=parsed[0][1], ends_on=parsed[-1][2],
                      structure=structure, settings=_settings(settings))
    session.add(year)
    session.flush()
    rows = [Period(tenant_id=principal.tenant_id, school_year_id=year.id, ordinal=i, name=n, starts_on=s,
                   ends_on=e, holidays=[h.isoformat() for h in hs], closed=False)
            for i, (n, s, e, hs) in enumerate(parsed, 1)]
    session.add_all(rows)
    session.flush()
    out = year_dict(year, rows)
    emit(session, "school_year_configured", entity_type="school_year", entity_id=year.id, after=out)
    return out


def update_school_year_settings(session: Session, emit, principal: Principal, *, school_year_id: str,
                                settings: dict) -> dict:
    require(principal, *MANAGERS)
    year = owned(session, SchoolYear, school_year_id, principal, "school year")
    before = year_dict(year, periods_of(session, year))
    year.settings = _settings({**(year.settings or {}), **(settings or {})})
    after = year_dict(year, periods_of(session, year))
    emit(session, "school_year_settings_changed", entity_type="school_year", entity_id=year.id, after=after,
         before=before)
    return after


def list_school_years(session: Session, principal: Principal) -> dict:
    require(principal)
    years = session.scalars(select(SchoolYear).where(SchoolYear.tenant_id == principal.tenant_id)
                            .order_by(SchoolYear.name.desc()).limit(50)).all()
    return {"items": [year_dict(y, periods_of(session, y)) for y in years]}


def _level(level) -> int | None:
    if level is None:
        return None
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 12:
        raise InvalidInput("level must be a whole number from 0 (preparatory) to 12 (XII)")
    return level


def create_class(session: Session, emit, principal: Principal, *, name: str, school_year: str,
                 level: int | None = None) -> dict:
    require(principal, *MANAGERS)
    row = SchoolClass(tenant_id=principal.tenant_id, name=clean_text(name, field="name", max_len=50),
                      school_year=_school_year_name(school_year), level=_level(level))
    if session.scalar(select(SchoolClass.id).where(SchoolClass.tenant_id == row.tenant_id,
                                                   SchoolClass.school_year == row.school_year,
                                                   SchoolClass.name == row.name)):
        raise Conflict("a class with that name already exists in that school year")
    session.add(row)
    session.flush()
    emit(session, "class_created", entity_type="class", entity_id=row.id, after=class_dict(row))
    return class_dict(row)


def create_subject(session: Session, emit, principal: Principal, *, name: str, weekly_hours: int) -> dict:
    require(principal, *MANAGERS)
    _hours(weekly_hours)
    row = Subject(tenant_id=principal.tenant_id, name=clean_text(name, field="name", max_len=120),
                  weekly_hours=weekly_hours)
    if session.scalar(select(Subject.id).where(Subject.tenant_id == row.tenant_id, Subject.name == row.name)):
        raise Conflict("a subject with that name already exists")
    session.add(row)
    session.flush()
    emit(session, "subject_created", entity_type="subject", entity_id=row.id, after=subject_dict(row))
    return subject_dict(row)


def _hours(weekly_hours) -> int:
    if not isinstance(weekly_hours, int) or isinstance(weekly_hours, bool) or not 1 <= weekly_hours <= 20:
        raise InvalidInput("weekly_hours must be a whole number from 1 to 20")
    return weekly_hours


def curriculum_dict(e: CurriculumEntry) -> dict:
    return {"class_id": e.class_id, "subject_id": e.subject_id, "weekly_hours": e.weekly_hours,
            "optional": e.optional, "thesis_periods": list(e.thesis_periods or [])}


def set_curriculum_entry(session: Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                         weekly_hours: int, optional: bool = False, thesis_periods: list | None = None) -> dict:
    """Put a subject in a class's curriculum (or change its hours, optional flag, thesis periods)."""
    require(principal, *MANAGERS)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    subject = owned(session, Subject, subject_id, principal, "subject")
    _hours(weekly_hours)
    thesis_periods = list(dict.fromkeys(thesis_periods or []))
    if thesis_periods:
        known = {p.id for p in periods_of(session, year_of(session, cls))}
        if not set(thesis_periods) <= known:
            raise InvalidInput("thesis_periods must be periods of the class's school year")
    entry = session.scalar(select(CurriculumEntry).where(CurriculumEntry.class_id == cls.id,
                                                         CurriculumEntry.subject_id == subject.id))
    before = curriculum_dict(entry) if entry else None
    if entry is None:
        entry = CurriculumEntry(tenant_id=principal.tenant_id, class_id=cls.id, subject_id=subject.id,
                                weekly_hours=weekly_hours)
        session.add(entry)
    entry.weekly_hours, entry.optional, entry.thesis_periods = weekly_hours, bool(optional), thesis_periods
    session.flush()
    after = curriculum_dict(entry)
    emit(session, "curriculum_set", entity_type="class", entity_id=cls.id, after=after, before=before)
    return after


def _display_name(person: dict | None) -> tuple[str | None, str | None]:
    if not person:
        return None, None
    return person.get("last_name"), person.get("first_name")


def enrol_student(session: Session, emit, principal: Principal, *, class_id: str, student_id: str,
                  person: dict | None = None, enrolled_on: str | None = None, transferred_in: bool = False) -> dict:
    """`student_id` is a registry person already checked (by the service) to belong to this tenant;
    `person` is the registry's answer, whose names are kept as the roster's display snapshot."""
    require(principal, *MANAGERS)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    when = parse_date(enrolled_on, "enrolled_on", required=transferred_in)
    existing = session.scalar(select(ClassStudent).where(ClassStudent.class_id == cls.id,
                                                         ClassStudent.student_id == student_id))
    if existing is not None:
        raise Conflict("the student is already in this class" if existing.left_on is None
                       else "the student left this class; they keep their history there")
    last, first = _display_name(person)
    row = ClassStudent(tenant_id=principal.tenant_id, class_id=cls.id, student_id=student_id, last_name=last,
                       first_name=first, enrolled_on=when,
                       status="transferred_in" if transferred_in else "enrolled", postponed=False)
    session.add(row)
    session.flush()
    year = year_of(session, cls)
    enrolled = when or (year.starts_on if year else None)
    after = {"class_id": cls.id, "student_id": student_id, "school_year": cls.school_year,
             "class_name": cls.name, "level": cls.level, "enrolled_on": enrolled.isoformat() if enrolled else None}
    emit(session, "student_enrolled", entity_type="class", entity_id=cls.id, after=after)
    if transferred_in:
        emit(session, "student_transferred", entity_type="class", entity_id=cls.id, after={
            "class_id": cls.id, "student_id": student_id, "school_year": cls.school_year, "direction": "in",
            "effective_on": when.isoformat()})
    return {**after, "last_name": last, "first_name": first, "status": row.status}


def transfer_out(session: Session, emit, principal: Principal, *, class_id: str, student_id: str,
                 effective_on: str, reason: str | None = None) -> dict:
    """The pupil leaves the roster from `effective_on` (that day is no longer theirs here); their
    grades and absences stay, and the class catalog shows them as transferred."""
    require(principal, *MANAGERS)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    when = parse_date(effective_on, "effective_on")
    row = session.scalar(select(ClassStudent).where(ClassStudent.class_id == cls.id,
                                                    ClassStudent.student_id == student_id,
                                                    ClassStudent.tenant_id == principal.tenant_id))
    if row is None:
        raise NotFound("student not found in this class")
    if row.left_on is not None:
        raise Conflict("the student has already left this class")
    if row.enrolled_on is not None and when <= row.enrolled_on:
        raise InvalidInput("effective_on must come after the day the student joined the class")
    row.left_on, row.status = when, "transferred_out"
    after = {"class_id": cls.id, "student_id": student_id, "school_year": cls.school_year, "direction": "out",
             "effective_on": when.isoformat()}
    emit(session, "student_transferred", entity_type="class", entity_id=cls.id, after=after,
         reason=clean_text(reason, field="reason", max_len=500) if reason else None)
    return after


def assign_teacher(session: Session, emit, principal: Principal, *, class_id: str, subject_id: str,
                   teacher_id: str) -> dict:
    """`teacher_id` is an account already checked (by the service) to be a teacher here."""
    require(principal, *MANAGERS)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    subject = owned(session, Subject, subject_id, principal, "subject")
    if session.scalar(select(TeachingAssignment.id).where(
            TeachingAssignment.class_id == cls.id, TeachingAssignment.subject_id == subject.id,
            TeachingAssignment.teacher_id == teacher_id)):
        raise Conflict("the teacher is already assigned to this class and subject")
    row = TeachingAssignment(tenant_id=principal.tenant_id, class_id=cls.id, subject_id=subject.id,
                             teacher_id=teacher_id)
    session.add(row)
    session.flush()
    after = {"id": row.id, "class_id": cls.id, "subject_id": subject.id, "teacher_id": teacher_id,
             "school_year": cls.school_year}
    emit(session, "teacher_assigned", entity_type="teaching_assignment", entity_id=row.id, after=after)
    return after


def set_homeroom_teacher(session: Session, emit, principal: Principal, *, class_id: str, teacher_id: str) -> dict:
    """`teacher_id` is an account already checked (by the service) to be a teacher here."""
    require(principal, *MANAGERS)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    before = class_dict(cls)
    cls.homeroom_teacher_id = teacher_id
    emit(session, "homeroom_teacher_set", entity_type="class", entity_id=cls.id, after=class_dict(cls),
         before=before)
    return class_dict(cls)


def set_postponed(session: Session, emit, principal: Principal, *, class_id: str, student_id: str,
                  postponed: bool, reason: str) -> dict:
    """The director postpones (amână) a pupil's situation, e.g. after a long medical leave."""
    require(principal, Role.DIRECTOR)
    cls = owned(session, SchoolClass, class_id, principal, "class")
    row = session.scalar(select(ClassStudent).where(ClassStudent.class_id == cls.id,
                                                    ClassStudent.student_id == student_id))
    if row is None:
        raise NotFound("student not found in this class")
    before = {"class_id": cls.id, "student_id": student_id, "postponed": row.postponed}
    row.postponed = bool(postponed)
    after = {**before, "postponed": row.postponed}
    emit(session, "situation_postponed" if row.postponed else "situation_resumed", entity_type="class",
         entity_id=cls.id, after=after, before=before, reason=clean_text(reason, field="reason", max_len=500))
    return after


def on_roster(row: ClassStudent, day: date) -> bool:
    return (row.enrolled_on is None or row.enrolled_on <= day) and (row.left_on is None or day < row.left_on)
