"""A class's year in one pass: load its rows (a few Core statements) and compute every pupil's
period averages, annual averages, conduct, general average and situation with `averages`.

Shared by the class catalog and report card views, the closing checks and the year's freezing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from . import averages as av
from .common import periods_of, year_of
from .models import (Absence, Amendment, ClassStudent, CurriculumEntry, FinalMark, Grade, Period, Reexamination,
                     SchoolClass, SchoolYear, Subject, TeachingAssignment, YearResult)

_G, _AB = Grade.__table__, Absence.__table__


@dataclass
class ClassYear:
    cls: SchoolClass
    year: SchoolYear | None
    periods: list[Period]
    subjects: list[dict]  # id, name, weekly_hours, optional, thesis_periods, teacher_ids
    roster: list[ClassStudent]
    # (pupil, subject, period) → {"grades": [answer dicts], "values": [ints], "thesis": dict | None}
    grades: dict = field(default_factory=dict)
    marks: dict = field(default_factory=dict)  # (pupil, kind, subject_key, period) → value
    absences: dict = field(default_factory=dict)  # (pupil, subject, period) → (total, motivated)
    amendments: dict = field(default_factory=lambda: defaultdict(list))  # pupil → [dict]
    reexams: dict = field(default_factory=dict)  # (pupil, subject) → Decimal
    frozen: dict = field(default_factory=dict)  # pupil → result dict

    uses_qualifiers: bool = False

    def __post_init__(self):
        self.uses_qualifiers = av.qualifier_level(self.cls.level)


def load(session: Session, cls: SchoolClass, *, student_id: str | None = None) -> ClassYear:
    year = year_of(session, cls)
    periods = periods_of(session, year)
    subjects = _subjects(session, cls)
    roster_q = select(ClassStudent).where(ClassStudent.class_id == cls.id)
    if student_id:
        roster_q = roster_q.where(ClassStudent.student_id == student_id)
    roster = list(session.scalars(roster_q.order_by(ClassStudent.last_name, ClassStudent.first_name,
                                                    ClassStudent.student_id)))
    data = ClassYear(cls, year, periods, subjects, roster)
    pupil_filter = (lambda col: col == student_id) if student_id else (lambda col: True)
    _load_grades(session, data, cls.id, student_id)
    for m in session.scalars(select(FinalMark).where(FinalMark.class_id == cls.id,
                                                     pupil_filter(FinalMark.student_id))):
        data.marks[(m.student_id, m.kind, m.subject_key, m.period_id)] = m.value
    motivated = func.sum(case((_AB.c.status == "motivated", 1), else_=0))
    for r in session.execute(select(_AB.c.student_id, _AB.c.subject_id, _AB.c.period_id, func.count(), motivated)
                             .where(_AB.c.class_id == cls.id, _AB.c.status != "cancelled",
                                    pupil_filter(_AB.c.student_id))
                             .group_by(_AB.c.student_id, _AB.c.subject_id, _AB.c.period_id)):
        data.absences[(r[0], r[1], r[2])] = (int(r[3]), int(r[4] or 0))
    for a in session.scalars(select(Amendment).where(Amendment.class_id == cls.id, pupil_filter(Amendment.student_id))
                             .order_by(Amendment.approved_at)):
        data.amendments[a.student_id].append({"subject_id": a.subject_id, "period_id": a.period_id,
                                              "reason": a.reason, "approved_by": a.approved_by,
                                              "approved_at": _iso_time(a.approved_at)})
    for x in session.scalars(select(Reexamination).where(Reexamination.class_id == cls.id,
                                                         pupil_filter(Reexamination.student_id))):
        data.reexams[(x.student_id, x.subject_id)] = Decimal(x.average)
    if year is not None:
        for y in session.scalars(select(YearResult).where(YearResult.class_id == cls.id,
                                                          YearResult.school_year_id == year.id,
                                                          pupil_filter(YearResult.student_id))):
            data.frozen[y.student_id] = y.result
    return data


# the date as text straight from the database (ISO on both engines): no date object per row
_GRADES_SQL = ("SELECT id, student_id, subject_id, period_id, value, qualifier, kind, "
               "CAST(awarded_on AS VARCHAR(10)), version "
               "FROM grades WHERE class_id = {p} AND status = 'active'{pupil} ORDER BY awarded_on, created_at")


def _load_grades(session: Session, data: ClassYear, class_id: str, student_id: str | None) -> None:
    """The view's biggest read (a class's year: thousands of rows) as plain driver rows: no ORM,
    no per-row type processing; each grade becomes its answer dict once."""
    connection = session.connection()
    qmark = connection.dialect.paramstyle == "qmark"
    p = "?" if qmark else "%s"
    sql = _GRADES_SQL.format(p=p, pupil=f" AND student_id = {p}" if student_id else "")
    params = (class_id, student_id) if student_id else (class_id,)
    cells = data.grades
    for gid, pupil, subject, period, value, qualifier, kind, awarded, version in \
            connection.exec_driver_sql(sql, params).fetchall():
        key = (pupil, subject, period)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = {"grades": [], "values": [], "thesis": None}
        day = awarded if isinstance(awarded, str) else awarded.isoformat()
        if kind == "thesis":
            cell["thesis"] = {"id": gid, "value": value, "awarded_on": day}
        else:
            cell["grades"].append({"id": gid, "value": value if value is not None else qualifier,
                                   "awarded_on": day, "kind": kind, "version": version})
            if value is not None:
                cell["values"].append(value)


_EMPTY = {"grades": [], "values": [], "thesis": None}


def _subjects(session: Session, cls: SchoolClass) -> list[dict]:
    teachers = defaultdict(list)
    for subject_id, teacher_id in session.execute(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                                                  .where(TeachingAssignment.class_id == cls.id)
                                                  .order_by(TeachingAssignment.created_at)):
        teachers[subject_id].append(teacher_id)
    entries = {e.subject_id: e for e in session.scalars(select(CurriculumEntry)
                                                        .where(CurriculumEntry.class_id == cls.id))}
    ids = list(dict.fromkeys([*entries, *teachers]))
    if not ids:
        return []
    names = {s.id: s for s in session.scalars(select(Subject).where(Subject.id.in_(ids)))}
    out = []
    for sid in sorted(ids, key=lambda i: names[i].name):
        e = entries.get(sid)
        out.append({"id": sid, "name": names[sid].name,
                    "weekly_hours": e.weekly_hours if e else names[sid].weekly_hours,
                    "assessment": "qualifiers" if av.qualifier_level(cls.level) else "grades",
                    "optional": bool(e.optional) if e else False,
                    "thesis_periods": list(e.thesis_periods or []) if e else [], "teacher_ids": teachers[sid]})
    return out


def period_cell(data: ClassYear, pupil: str, subject: dict, period_id: str | None) -> dict:
    """One pupil × subject × period as the answer shows it (see `cell_average` for its average)."""
    cell = data.grades.get((pupil, subject["id"], period_id), _EMPTY)
    average = cell_average(data, cell)
    total, motivated = data.absences.get((pupil, subject["id"], period_id), (0, 0))
    return {"grades": cell["grades"], "thesis": cell["thesis"], "average": None if average is None else str(average),
            "qualifier": data.marks.get((pupil, "qualifier", subject["id"], period_id)),
            "absences": {"total": total, "motivated": motivated, "unmotivated": total - motivated}}


def cell_values(data: ClassYear, pupil: str, subject: dict, period_id: str | None) -> tuple[list[int], int | None]:
    cell = data.grades.get((pupil, subject["id"], period_id), _EMPTY)
    return cell["values"], cell["thesis"]["value"] if cell["thesis"] else None


def cell_average(data: ClassYear, cell: dict):
    if data.uses_qualifiers or not cell["values"]:
        return None
    return av.period_average(cell["values"], cell["thesis"]["value"] if cell["thesis"] else None)


def pupil_result(data: ClassYear, pupil: ClassStudent, *, period_id: str | None = None) -> dict:
    """The contract-2 shape of one pupil (period_id restricts the periods shown, not the annual)."""
    sid = pupil.student_id
    period_ids = [p.id for p in data.periods] or [None]
    shown = [period_id] if period_id else period_ids
    subjects_out, annuals, results = {}, {}, {}
    total = motivated = 0
    for subject in data.subjects:
        cells = {p: period_cell(data, sid, subject, p) for p in period_ids}
        period_averages = [cell_average(data, data.grades.get((sid, subject["id"], p), _EMPTY)) for p in period_ids]
        for p, cell in cells.items():
            total += cell["absences"]["total"]
            motivated += cell["absences"]["motivated"]
        if data.uses_qualifiers:
            annual = None
            results[subject["id"]] = av.SubjectResult(
                qualifier=av.annual_qualifier([cells[p]["qualifier"] for p in period_ids]),
                reexamination=data.reexams.get((sid, subject["id"])), uses_qualifiers=True)
        else:
            annual = av.annual_average(period_averages)
            results[subject["id"]] = av.SubjectResult(annual=annual, reexamination=data.reexams.get((sid, subject["id"])))
        if subject["optional"] and annual is None and not data.uses_qualifiers:
            results.pop(subject["id"])  # an optional subject the pupil does not take does not count
        else:
            annuals[subject["id"]] = annual
        subjects_out[subject["id"]] = {
            "periods": {_key(p): cells[p] for p in shown if p in cells},
            "annual_average": av.as_text(annual)}
    conduct_periods = {p: data.marks.get((sid, "conduct", "-", p)) for p in period_ids}
    conduct_values = [Decimal(v) if v is not None else None for v in conduct_periods.values()]
    conduct_annual = None if data.uses_qualifiers else av.annual_average(conduct_values)
    general = None
    if not data.uses_qualifiers:
        counted = [results[s].final for s in results]
        general = av.general_average(counted, conduct_annual)
    situation = None
    if sid in data.frozen or (data.year is not None and data.year.closed):
        situation = av.situation(results, conduct_annual, postponed=pupil.postponed)
    if pupil.status == "transferred_out":
        situation = None
    frozen = data.frozen.get(sid)
    out = {"student_id": sid, "last_name": pupil.last_name, "first_name": pupil.first_name, "status": pupil.status,
           "transferred_on": (pupil.left_on or pupil.enrolled_on).isoformat()
           if pupil.status != "enrolled" and (pupil.left_on or pupil.enrolled_on) else None,
           "subjects": subjects_out,
           "conduct": {"periods": {_key(p): conduct_periods[p] for p in shown if p in conduct_periods},
                       "annual": conduct_text(conduct_annual)},
           "general_average": av.as_text(general), "situation": situation,
           "absences": {"total": total, "motivated": motivated, "unmotivated": total - motivated},
           "amendments": data.amendments.get(sid, [])}
    if frozen and data.year is not None and data.year.closed:
        # the year's figures as they were frozen at closing (a re-examination refreezes them)
        out["general_average"], out["situation"] = frozen.get("general_average"), frozen.get("situation")
        for subject_id, annual in frozen.get("annual_averages", {}).items():
            if subject_id in out["subjects"]:
                out["subjects"][subject_id]["annual_average"] = annual
    return out


def _key(period_id: str | None) -> str:
    """A period's key in the answer; "-" holds the grades of a class whose school year the school
    has not configured (so they have no period)."""
    return period_id if period_id is not None else "-"


def _iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def conduct_text(value: Decimal | None) -> str | None:
    """The annual conduct grade as the catalog shows it: "10" when whole, else two decimals."""
    if value is None:
        return None
    return av.as_text(value, 0) if value == value.to_integral_value() else av.as_text(value)


def freeze_values(result: dict) -> dict:
    return {"general_average": result["general_average"], "situation": result["situation"],
            "annual_averages": {s: v["annual_average"] for s, v in result["subjects"].items()},
            "conduct": result["conduct"]["annual"]}
