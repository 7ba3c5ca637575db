"""Registry reports (REG-3, REG-10): counts, late status changes, double public financing,
diploma forms readiness, the scoped export for an authorised body, suppressed statistics.

A person whose processing an institution restricted (`restrictions.py`) is left out of that
institution's rows in the statistics (`counts`, `statistics`) and in exports to external bodies
(`scoped_export`). The checks the regulation itself requires of every record stay whole: late
status changes (REG-3), double public financing and the diploma forms' readiness."""
from __future__ import annotations

from collections import Counter, defaultdict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import page_args

from .fields import start_year
from .models import Diploma, Enrolment, Person, RecordVersion
from .restrictions import unrestricted
from .suppression import suppress
from .workdays import DEADLINE_WORKING_DAYS, deadline, working_days_between

INSTITUTION_READERS = (Role.SCHOOL_ADMIN, Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY)
# HG 42/2017: what a rail or metro operator needs to grant a student's discount, nothing more
EXPORT_FIELDS = {"transport": ("matriculation_code", "last_name", "first_name", "cnp", "institution_id", "cycle",
                               "study_year", "form", "academic_year")}


def _year(academic_year: str) -> str:
    try:
        start_year(academic_year)
    except ValueError as exc:
        raise InvalidInput(f"academic_year: {exc}") from exc
    return academic_year


def _scope(q, principal: Principal, column):
    return q if Role.CENTRAL_AUTHORITY in principal.roles else q.where(column == principal.tenant_id)


def counts(session: Session, principal: Principal, *, academic_year: str) -> dict:
    """Students per institution, cycle, programme, financing and year of study."""
    require(principal, *INSTITUTION_READERS)
    e = Enrolment
    q = _scope(select(e.tenant_id, e.cycle, e.programme, e.financing, e.study_year, func.count())
               .where(e.academic_year == _year(academic_year), e.kind == "university",
                      unrestricted(e.tenant_id, e.person_id))
               .group_by(e.tenant_id, e.cycle, e.programme, e.financing, e.study_year), principal, e.tenant_id)
    rows = [{"institution_id": t, "cycle": c, "programme": p, "financing": f, "study_year": y, "count": n}
            for t, c, p, f, y, n in session.execute(q.order_by(e.tenant_id, e.cycle, e.programme, e.study_year))]
    return {"academic_year": academic_year, "items": rows, "total": sum(r["count"] for r in rows)}


def late_changes(session: Session, principal: Principal, *, limit, offset) -> dict:
    """Status changes recorded more than 15 Romanian working days after their document (REG-3)."""
    require(principal, *INSTITUTION_READERS)
    limit, offset = page_args(limit, offset, max_limit=1000)
    v = RecordVersion
    q = _scope(select(v.tenant_id, v.person_id, v.entity_type, v.entity_id, v.kind, v.document_ref,
                      v.document_date, v.recorded_on)
               .where(v.status_change.is_(True), v.document_date.is_not(None)), principal, v.tenant_id)
    late, per_institution = [], Counter()
    for t, person, etype, eid, kind, ref, doc_date, recorded in session.execute(q.order_by(v.recorded_at)):
        if recorded > deadline(doc_date):
            per_institution[t] += 1
            late.append({"institution_id": t, "person_id": person, "entity_type": etype, "entity_id": eid,
                         "kind": kind, "document_ref": ref, "document_date": doc_date.isoformat(),
                         "recorded_on": recorded.isoformat(),
                         "working_days": working_days_between(doc_date, recorded),
                         "deadline": deadline(doc_date).isoformat()})
    return {"limit_working_days": DEADLINE_WORKING_DAYS, "per_institution": dict(per_institution),
            "items": late[offset:offset + limit], "total": len(late)}


def double_financing(session: Session, principal: Principal, *, academic_year: str) -> dict:
    """One person budget-funded in two programmes of the same cycle in the same year, in any
    institutions: for the central authority (art. 2 point 4)."""
    require(principal, Role.CENTRAL_AUTHORITY)
    e = Enrolment
    doubles = (select(e.person_id, e.cycle).where(e.academic_year == _year(academic_year), e.financing == "buget",
                                                  e.active.is_(True), e.kind == "university")
               .group_by(e.person_id, e.cycle).having(func.count() > 1).subquery())
    rows = session.execute(select(e.person_id, e.cycle, e.tenant_id, e.programme, e.id, Person.matriculation_code)
                           .join(doubles, (doubles.c.person_id == e.person_id) & (doubles.c.cycle == e.cycle))
                           .join(Person, Person.id == e.person_id)
                           .where(e.academic_year == academic_year, e.financing == "buget", e.active.is_(True))
                           .order_by(e.person_id, e.tenant_id)).all()
    found: dict[tuple, dict] = {}
    for person, cycle, tenant, programme, eid, code in rows:
        item = found.setdefault((person, cycle), {"person_id": person, "matriculation_code": code, "cycle": cycle,
                                                  "enrolments": []})
        item["enrolments"].append({"enrolment_id": eid, "institution_id": tenant, "programme": programme})
    return {"academic_year": academic_year, "items": list(found.values())}


_FORM_PERSONAL = ("last_name_at_birth", "last_name", "first_name", "parents_initials", "birth_date", "birth_country",
                  "birth_locality", "citizenship")
_FORM_ENROLMENT = ("faculty", "fundamental_domain", "domain", "programme", "form", "programme_duration_years",
                   "programme_credits")


def diploma_readiness(session: Session, principal: Principal, *, academic_year: str) -> dict:
    """Per institution, the graduates of the year whose data allow approving diploma forms
    (art. 5(4)), and what is missing for the others."""
    require(principal, *INSTITUTION_READERS)
    e = Enrolment
    q = _scope(select(e, Person).join(Person, Person.id == e.person_id)
               .where(e.academic_year == _year(academic_year), e.end_situation == "absolvent"), principal, e.tenant_id)
    diplomas = {pid for (pid,) in session.execute(select(Diploma.person_id))}
    report: dict[str, dict] = defaultdict(lambda: {"graduates": 0, "complete": 0, "incomplete": []})
    for enrolment, person in session.execute(q):
        personal = (person.data or {}).get("personal", {})
        missing = [f"personal.{k}" for k in _FORM_PERSONAL if not personal.get(k)]
        if not (person.cnp or person.foreign_id):
            missing.append("personal.cnp")
        missing += [f"enrolment.{k}" for k in _FORM_ENROLMENT if enrolment.data.get(k) in (None, "")]
        entry = report[enrolment.tenant_id]
        entry["graduates"] += 1
        if missing:
            entry["incomplete"].append({"person_id": person.id, "matriculation_code": person.matriculation_code,
                                        "missing": missing, "diploma_recorded": person.id in diplomas})
        else:
            entry["complete"] += 1
    return {"academic_year": academic_year,
            "items": [{"institution_id": t, **v} for t, v in sorted(report.items())]}


def scoped_export(session: Session, emit, principal: Principal, *, body: str, purpose: str, academic_year: str,
                  limit, offset) -> dict:
    """Currently enrolled students for an authorised body: only its fields; every export audited."""
    require(principal, Role.CENTRAL_AUTHORITY)
    fields = EXPORT_FIELDS.get(body)
    if fields is None:
        raise InvalidInput(f"no export is authorised for {body!r}")
    limit, offset = page_args(limit, offset, max_limit=5000)
    e = Enrolment
    rows = session.execute(select(Person, e).join(e, e.person_id == Person.id)
                           .where(e.academic_year == _year(academic_year), e.active.is_(True),
                                  e.kind == "university", Person.status == "active",
                                  unrestricted(e.tenant_id, e.person_id))
                           .order_by(Person.id, e.id).limit(limit).offset(offset)).all()
    items = []
    for person, enrolment in rows:
        values = {"matriculation_code": person.matriculation_code, "last_name": person.last_name,
                  "first_name": person.first_name, "cnp": person.cnp, "institution_id": enrolment.tenant_id,
                  "cycle": enrolment.cycle, "study_year": enrolment.study_year, "form": enrolment.data.get("form"),
                  "academic_year": enrolment.academic_year}
        items.append({k: values[k] for k in fields})
    emit(session, "enrolled_students_exported", entity_type="export", entity_id=f"{body}:{academic_year}:{offset}",
         after={"body": body, "purpose": purpose, "academic_year": academic_year, "fields": list(fields),
                "rows": len(items), "offset": offset, "person_ids": [p.id for p, _e in rows]})
    return {"body": body, "fields": list(fields), "items": items, "limit": limit, "offset": offset}


def statistics(session: Session, principal: Principal, *, academic_year: str) -> dict:
    """Students per cycle, financing and sex, no personal data; cells under 5 suppressed."""
    require(principal, Role.CENTRAL_AUTHORITY, Role.STATISTICS_VIEWER)
    e = Enrolment
    q = (select(e.cycle, e.financing, Person.sex, func.count()).join(Person, Person.id == e.person_id)
         .where(e.academic_year == _year(academic_year), e.active.is_(True), unrestricted(e.tenant_id, e.person_id))
         .group_by(e.cycle, e.financing, Person.sex))
    if Role.CENTRAL_AUTHORITY not in principal.roles:
        q = q.where(e.tenant_id == principal.tenant_id)
    cells = {(c, f or "necunoscut", s or "necunoscut"): n for c, f, s, n in session.execute(q)}
    return {"academic_year": academic_year, "dimensions": ["cycle", "financing", "sex"],
            "rows": suppress(cells), "threshold": 5}
