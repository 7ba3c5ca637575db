"""Read views, each one call: the class catalog (contract 2: the year-end PDF renders from it), a
pupil's report card, a teacher's classes with what they may write today, a parent's children."""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.kernel.errors import Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import page_args

from . import averages as av
from . import results
from .common import owned, period_on, periods_of, today, year_of
from .grades import grade_history  # noqa: F401  (a view too: GET /v1/grades/{id}/history)
from .models import (Absence, Amendment, ClassStudent, CurriculumEntry, Delegation, FinalMark, Grade, Reexamination,
                     SchoolClass, Subject, TeachingAssignment, YearResult)


def _catalog_scope(session: Session, principal: Principal, cls: SchoolClass) -> set[str] | None:
    """None: every subject of the class; else the subjects this teacher may see."""
    if principal.is_integrator:
        require(principal, scope="catalog:read")
        return None
    require(principal)
    if Role.DIRECTOR in principal.roles:
        return None
    if Role.TEACHER in principal.roles:
        if cls.homeroom_teacher_id == principal.user_id:
            return None
        taught = set(session.scalars(select(TeachingAssignment.subject_id).where(
            TeachingAssignment.class_id == cls.id, TeachingAssignment.teacher_id == principal.user_id)))
        taught |= set(session.scalars(select(Delegation.subject_id).where(
            Delegation.class_id == cls.id, Delegation.delegate_id == principal.user_id,
            Delegation.status == "approved", Delegation.starts_on <= today(), Delegation.ends_on >= today())))
        if taught:
            return taught
        raise Forbidden("you do not teach in this class")
    raise Forbidden("your role may not read a class's catalog")


def _header(data: results.ClassYear) -> dict:
    cls, year = data.cls, data.year
    return {"class": {"id": cls.id, "name": cls.name, "level": cls.level, "school_year": cls.school_year,
                      "homeroom_teacher_id": cls.homeroom_teacher_id},
            "school_year": {"id": year.id if year else None, "name": cls.school_year,
                            "periods": [{"id": p.id, "name": p.name, "starts_on": p.starts_on.isoformat(),
                                         "ends_on": p.ends_on.isoformat(), "closed": p.closed}
                                        for p in data.periods]}}


def _check_period(data: results.ClassYear, period_id: str | None) -> None:
    if period_id is not None and period_id not in {p.id for p in data.periods}:
        raise NotFound("period not found in this class's school year")


# Computed catalogs, reused while nothing they are built from has changed (see `fingerprint`):
# a class catalog is read far more often than its class is written to, and it is the platform's
# biggest answer. Per process and bounded; every reuse re-checks the database first, so replicas
# and writes through other processes never serve a stale catalog.
_COMPUTED: OrderedDict = OrderedDict()
_COMPUTED_MAX = 64


def _count_and_versions(session: Session, table, class_id: str) -> tuple:
    return tuple(session.execute(select(func.count(), func.coalesce(func.sum(table.c.version), 0))
                                 .where(table.c.class_id == class_id)).one())


def fingerprint(session: Session, cls: SchoolClass) -> tuple:
    """Everything a class catalog depends on, cheaply: row counts and version sums of the big
    tables (every insert adds a row, every change or cancel bumps a version), and the small ones
    (curriculum, assignments, roster states, periods, the year's freeze) as they are."""
    year = year_of(session, cls)
    return (
        cls.name, cls.level, cls.homeroom_teacher_id,
        _count_and_versions(session, Grade.__table__, cls.id),
        _count_and_versions(session, Absence.__table__, cls.id),
        _count_and_versions(session, FinalMark.__table__, cls.id),
        tuple(session.execute(select(ClassStudent.student_id, ClassStudent.status, ClassStudent.left_on,
                                     ClassStudent.enrolled_on, ClassStudent.postponed)
                              .where(ClassStudent.class_id == cls.id).order_by(ClassStudent.student_id)).all()),
        tuple((e.subject_id, e.weekly_hours, e.optional, tuple(e.thesis_periods or ())) for e in session.scalars(
            select(CurriculumEntry).where(CurriculumEntry.class_id == cls.id).order_by(CurriculumEntry.subject_id))),
        tuple(session.execute(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                              .where(TeachingAssignment.class_id == cls.id)
                              .order_by(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)).all()),
        session.scalar(select(func.count()).select_from(Amendment).where(Amendment.class_id == cls.id)),
        tuple(session.execute(select(Reexamination.id).where(Reexamination.class_id == cls.id)
                              .order_by(Reexamination.id)).scalars()),
        None if year is None else (year.id, year.closed, tuple((p.id, p.closed) for p in periods_of(session, year))),
        tuple(session.execute(select(YearResult.student_id, YearResult.frozen_at)
                              .where(YearResult.class_id == cls.id).order_by(YearResult.student_id)).all()),
    )


SHAPES = ("full", "compact")


def class_catalog(session: Session, principal: Principal, class_id: str, period_id: str | None = None,
                  shape: str = "full") -> dict:
    """Pupils × subjects with grades, thesis, absences and averages, for a period or the year;
    `shape="compact"` is the same catalog as the web pages read it (`compact_catalog`)."""
    if shape not in SHAPES:
        raise InvalidInput("shape must be full or compact")
    cls = owned(session, SchoolClass, class_id, principal, "class")
    scope = _catalog_scope(session, principal, cls)
    key = (cls.tenant_id, cls.id, period_id, None if scope is None else frozenset(scope))
    mark = fingerprint(session, cls)
    cached = _COMPUTED.get((key, shape))
    if cached is not None and cached[0] == mark:
        _COMPUTED.move_to_end((key, shape))
        return {**cached[1], "generated_at": datetime.now(timezone.utc).isoformat()}
    full = _COMPUTED.get((key, "full"))
    if full is None or full[0] != mark:
        full = (mark, _compute_catalog(session, cls, scope, period_id))
        _remember((key, "full"), *full)
    if shape == "full":
        return full[1]
    answer = compact_catalog(full[1])
    _remember((key, shape), mark, answer)
    return answer


def _remember(key: tuple, mark: tuple, answer: dict) -> None:
    _COMPUTED[key] = (mark, answer)
    _COMPUTED.move_to_end(key)
    while len(_COMPUTED) > _COMPUTED_MAX:
        _COMPUTED.popitem(last=False)


def compact_catalog(full: dict) -> dict:
    """The class catalog in the shape the web pages read: the same header, subjects and pupils
    (names, state, absences, general average), and per pupil × subject one cell with every mark
    of the periods shown as `[id, value, awarded_on, kind]` (oldest first; a thesis has kind
    "thesis"), the absences summed over those periods, the average of each period that has one
    (`averages`: period id → text) and the annual average. Periods without grades are left out,
    so a page parses a fraction of the full answer's bytes (most of which are empty periods)."""
    pupils = []
    for pupil in full["pupils"]:
        cells = {}
        for sid, cell in pupil["subjects"].items():
            marks, averages = [], {}
            total = motivated = 0
            for pid, period in cell["periods"].items():
                marks.extend([g["id"], g["value"], g["awarded_on"], g["kind"]] for g in period["grades"])
                if period.get("thesis"):
                    t = period["thesis"]
                    marks.append([t["id"], t["value"], t["awarded_on"], "thesis"])
                if period.get("average") is not None:
                    averages[pid] = period["average"]
                total += period["absences"]["total"]
                motivated += period["absences"]["motivated"]
            marks.sort(key=lambda m: m[2])
            cells[sid] = {"marks": marks, "averages": averages, "annual": cell.get("annual_average"),
                          "absences": {"total": total, "motivated": motivated, "unmotivated": total - motivated}}
        pupils.append({"student_id": pupil["student_id"], "last_name": pupil.get("last_name"),
                       "first_name": pupil.get("first_name"), "status": pupil["status"],
                       "absences": pupil["absences"], "general_average": pupil.get("general_average"),
                       "situation": pupil.get("situation"), "subjects": cells})
    return {**{k: v for k, v in full.items() if k != "pupils"}, "shape": "compact", "pupils": pupils}


def _compute_catalog(session: Session, cls: SchoolClass, scope: set[str] | None, period_id: str | None) -> dict:
    data = results.load(session, cls)
    _check_period(data, period_id)
    if scope is not None:
        data.subjects = [s for s in data.subjects if s["id"] in scope]
    pupils = [results.pupil_result(data, pupil, period_id=period_id) for pupil in data.roster]
    if scope is not None:  # a teacher sees their subjects, not the general average of the others
        for p in pupils:
            p["general_average"], p["situation"] = None, None
    return {**_header(data), "period_id": period_id, "subjects": data.subjects, "pupils": pupils,
            "generated_at": datetime.now(timezone.utc).isoformat()}


def report_card(session: Session, principal: Principal, *, class_id: str, student_id: str,
                period_id: str | None = None) -> dict:
    """One pupil's subjects, averages, conduct, absences and situation, for a period or the year."""
    cls = owned(session, SchoolClass, class_id, principal, "class")
    if principal.is_integrator:
        require(principal, scope="catalog:read")
        scope = None
    elif Role.PARENT in principal.roles and student_id in principal.children:
        scope = None
    elif Role.STUDENT in principal.roles and principal.person_id == student_id:
        scope = None
    elif principal.has_any((Role.DIRECTOR, Role.TEACHER)):
        scope = _catalog_scope(session, principal, cls)
    elif Role.PARENT in principal.roles:
        raise Forbidden("parents see only their own children's grades")
    elif Role.STUDENT in principal.roles:
        raise Forbidden("students see only their own grades")
    else:
        raise Forbidden("your role may not read report cards")
    data = results.load(session, cls, student_id=student_id)
    if not data.roster:
        raise NotFound("student not found in this class")
    _check_period(data, period_id)
    if scope is not None:
        data.subjects = [s for s in data.subjects if s["id"] in scope]
    pupil = results.pupil_result(data, data.roster[0], period_id=period_id)
    return {**_header(data), "period_id": period_id, "subjects": data.subjects, "pupil": pupil,
            "conduct_suggestions": conduct_suggestions(data, student_id),
            "generated_at": datetime.now(timezone.utc).isoformat()}


def conduct_suggestions(data: results.ClassYear, student_id: str) -> dict:
    """Per period, the conduct grade the school's thresholds suggest from the pupil's unmotivated
    absences (the homeroom teacher proposes the grade; this is the starting point)."""
    settings = (data.year.settings or {}) if data.year else {}
    thresholds = settings.get("conduct_thresholds") or av.DEFAULT_CONDUCT_THRESHOLDS
    out = {}
    for period in data.periods:
        unmotivated = sum(total - motivated for (pupil, _s, p), (total, motivated) in data.absences.items()
                          if pupil == student_id and p == period.id)
        out[period.id] = {"unmotivated_absences": unmotivated,
                          "suggested": av.conduct_suggestion(unmotivated, thresholds)}
    return out


def teacher_classes(session: Session, principal: Principal, *, limit: int | None = None,
                    offset: int | None = None) -> dict:
    """The caller's classes and subjects (assigned, delegated, homeroom), with what they may write
    today: grades and absences where today falls in an open period (or no year is configured)."""
    require(principal, Role.TEACHER)
    limit, offset = page_args(limit, offset)
    day = today()
    entries: dict[tuple[str, str | None], dict] = {}
    for a in session.scalars(select(TeachingAssignment).where(TeachingAssignment.tenant_id == principal.tenant_id,
                                                              TeachingAssignment.teacher_id == principal.user_id)):
        entries[(a.class_id, a.subject_id)] = {"right": "assignment", "delegation_id": None}
    for d in session.scalars(select(Delegation).where(Delegation.tenant_id == principal.tenant_id,
                                                      Delegation.delegate_id == principal.user_id,
                                                      Delegation.status == "approved",
                                                      Delegation.starts_on <= day, Delegation.ends_on >= day)):
        entries.setdefault((d.class_id, d.subject_id), {"right": "delegation", "delegation_id": d.id,
                                                        "until": d.ends_on.isoformat()})
    homeroom = set(session.scalars(select(SchoolClass.id).where(SchoolClass.tenant_id == principal.tenant_id,
                                                                SchoolClass.homeroom_teacher_id == principal.user_id)))
    class_ids = sorted({c for c, _ in entries} | homeroom)
    classes = {c.id: c for c in session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids)))} \
        if class_ids else {}
    subject_ids = {s for _, s in entries if s}
    names = {s.id: s.name for s in session.scalars(select(Subject).where(Subject.id.in_(subject_ids)))} \
        if subject_ids else {}
    items = []
    for cid in sorted(class_ids, key=lambda c: (classes[c].school_year, classes[c].name)):
        cls = classes[cid]
        year = year_of(session, cls)
        period = period_on(periods_of(session, year), day) if year else None
        open_today = year is None or (period is not None and not period.closed)
        subjects = [{"subject_id": s, "subject_name": names.get(s), **info,
                     "may_write_grades_today": open_today, "may_write_absences_today": open_today}
                    for (c, s), info in sorted(entries.items(), key=lambda kv: names.get(kv[0][1]) or "")
                    if c == cid]
        items.append({"class_id": cid, "class_name": cls.name, "school_year": cls.school_year, "level": cls.level,
                      "homeroom": cid in homeroom, "may_motivate_absences": cid in homeroom,
                      "period_today": ({"id": period.id, "name": period.name, "closed": period.closed}
                                       if period else None),
                      "subjects": subjects})
    return {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}


def my_children(session: Session, principal: Principal) -> dict:
    """A parent's children (from the token's links) with their classes in this school."""
    require(principal, Role.PARENT)
    kids = sorted(principal.children)
    if not kids:
        return {"items": []}
    rows = session.execute(select(ClassStudent, SchoolClass).join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
                           .where(ClassStudent.tenant_id == principal.tenant_id,
                                  ClassStudent.student_id.in_(kids))
                           .order_by(SchoolClass.school_year.desc(), SchoolClass.name)).all()
    by_child: dict[str, dict] = {k: {"student_id": k, "last_name": None, "first_name": None, "classes": []}
                                 for k in kids}
    for roster, cls in rows:
        child = by_child[roster.student_id]
        child["last_name"] = child["last_name"] or roster.last_name
        child["first_name"] = child["first_name"] or roster.first_name
        child["classes"].append({"class_id": cls.id, "class_name": cls.name, "school_year": cls.school_year,
                                 "level": cls.level, "status": roster.status})
    return {"items": list(by_child.values())}


def list_classes(session: Session, principal: Principal, *, school_year: str | None = None,
                 limit: int | None = None, offset: int | None = None) -> dict:
    """The school's classes, for the director and administrators (and teachers: their own)."""
    require(principal, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.TEACHER)
    limit, offset = page_args(limit, offset)
    q = select(SchoolClass).where(SchoolClass.tenant_id == principal.tenant_id)
    if not principal.has_any((Role.DIRECTOR, Role.SCHOOL_ADMIN)):
        taught = select(TeachingAssignment.class_id).where(TeachingAssignment.teacher_id == principal.user_id)
        q = q.where(or_(SchoolClass.id.in_(taught), SchoolClass.homeroom_teacher_id == principal.user_id))
    if school_year:
        q = q.where(SchoolClass.school_year == school_year)
    rows = session.scalars(q.order_by(SchoolClass.school_year.desc(), SchoolClass.name)).all()
    from .structure import class_dict
    items = [class_dict(c) for c in rows]
    return {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}


def list_subjects(session: Session, principal: Principal, *, limit: int | None = None,
                  offset: int | None = None) -> dict:
    """The school's subjects by name, for the director, administrators and teachers."""
    require(principal, Role.DIRECTOR, Role.SCHOOL_ADMIN, Role.TEACHER)
    limit, offset = page_args(limit, offset)
    q = select(Subject).where(Subject.tenant_id == principal.tenant_id)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    from .structure import subject_dict
    rows = session.scalars(q.order_by(Subject.name, Subject.id).limit(limit).offset(offset)).all()
    return {"items": [subject_dict(s) for s in rows], "total": total, "limit": limit, "offset": offset}
