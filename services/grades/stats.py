"""Statistics with no personal data (CAT-19): grade distributions, averages by class and subject,
absence rates. Every cell from fewer than 5 pupils is suppressed, with complementary suppression
where a total is published (see `suppression`). Pupils under a restriction of processing
(`restrictions`, CAT-11) are left out of every figure, as if they had no grades or absences."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.identity import Principal, Role, require

from .averages import truncate2
from .models import Absence, ClassStudent, Grade, SchoolClass, Subject
from .restrictions import restricted_ids_query
from .suppression import MINIMUM_PUPILS, Cell, suppress


def _mean(total: int, count: int) -> str:
    return str(truncate2(Decimal(total) / count))


def grade_statistics(session: Session, principal: Principal, *, school_year: str | None = None) -> dict:
    require(principal, Role.DIRECTOR, Role.STATISTICS_VIEWER)
    t = principal.tenant_id
    where = [Grade.tenant_id == t, Grade.status == "active", Grade.value.is_not(None),
             Grade.student_id.not_in(restricted_ids_query(t))]
    if school_year:
        where.append(Grade.class_id.in_(select(SchoolClass.id).where(SchoolClass.tenant_id == t,
                                                                     SchoolClass.school_year == school_year)))
    # per subject × value: grades and distinct pupils
    by_value = session.execute(select(Grade.subject_id, Grade.value, func.count(), func.count(Grade.student_id.distinct()))
                               .where(*where).group_by(Grade.subject_id, Grade.value)).all()
    per_subject = session.execute(select(Grade.subject_id, func.count(), func.sum(Grade.value),
                                         func.count(Grade.student_id.distinct()))
                                  .where(*where).group_by(Grade.subject_id)).all()
    per_class_subject = session.execute(select(Grade.class_id, Grade.subject_id, func.count(), func.sum(Grade.value),
                                               func.count(Grade.student_id.distinct()))
                                        .where(*where).group_by(Grade.class_id, Grade.subject_id)).all()
    names = {s.id: s.name for s in session.scalars(select(Subject).where(Subject.tenant_id == t))}
    classes = {c.id: c.name for c in session.scalars(select(SchoolClass).where(SchoolClass.tenant_id == t))}
    dist = defaultdict(dict)
    for subject_id, value, count, pupils in by_value:
        dist[subject_id][int(value)] = Cell(int(pupils), int(count))
    subjects = []
    for subject_id, count, total, pupils in sorted(per_subject, key=lambda r: names.get(r[0], "")):
        shown = pupils >= MINIMUM_PUPILS
        cells = {v: dist[subject_id].get(v, Cell(0, 0)) for v in range(1, 11)}
        subjects.append({"subject": names.get(subject_id), "pupils": pupils if shown else None,
                         "grades": count if shown else None, "mean": _mean(total, count) if shown else None,
                         "distribution": {str(k): v for k, v in suppress(cells, total_pupils=pupils).items()},
                         "suppressed": not shown})
    # averages by class and subject: per subject the class means add up to the subject's total
    by_subject = defaultdict(dict)
    for class_id, subject_id, count, total, pupils in per_class_subject:
        by_subject[subject_id][class_id] = Cell(int(pupils), _mean(total, count))
    pupils_per_subject = {r[0]: int(r[3]) for r in per_subject}
    class_means = []
    for subject_id, cells in by_subject.items():
        for class_id, mean in suppress(cells, total_pupils=pupils_per_subject[subject_id]).items():
            class_means.append({"class": classes.get(class_id), "subject": names.get(subject_id), "mean": mean})
    class_means.sort(key=lambda r: (r["class"] or "", r["subject"] or ""))
    return {"subjects": subjects, "grades": sum(s["grades"] or 0 for s in subjects),
            "class_subject_means": class_means, "absence_rates": _absence_rates(session, t, classes, school_year, principal),
            "minimum_pupils": MINIMUM_PUPILS}


def _absence_rates(session: Session, tenant: str, classes: dict, school_year: str | None,
                   principal: Principal) -> list[dict]:
    restricted = restricted_ids_query(tenant)
    q = select(ClassStudent.class_id, func.count(ClassStudent.student_id.distinct())).where(
        ClassStudent.tenant_id == tenant, ClassStudent.student_id.not_in(restricted)).group_by(ClassStudent.class_id)
    roster = dict(session.execute(q).all())
    counts = dict(session.execute(select(Absence.class_id, func.count()).where(
        Absence.tenant_id == tenant, Absence.status != "cancelled",
        Absence.student_id.not_in(restricted)).group_by(Absence.class_id)).all())
    of_year = set(session.scalars(select(SchoolClass.id).where(SchoolClass.tenant_id == tenant,
                                                               SchoolClass.school_year == school_year))) \
        if school_year else set(roster)
    wanted = [c for c in roster if c in of_year]
    cells = {c: Cell(int(roster[c]), str(truncate2(Decimal(counts.get(c, 0)) / roster[c]))) for c in wanted}
    shown = suppress(cells, total_pupils=sum(roster[c] for c in wanted))
    return sorted(({"class": classes.get(c), "absences_per_pupil": v} for c, v in shown.items()),
                  key=lambda r: r["class"] or "")
