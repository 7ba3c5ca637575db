"""Where the documents get the catalog: the catalog's own views, read as the caller.

`load_class_catalog` is the catalog's `views.class_catalog` (the year-end catalog, its XLSX, the
verification of a printout: the director and the homeroom teacher read the whole class).
`load_report_card` is the catalog's `views.report_card`, so the catalog's rule decides who may
read a pupil's report card (a parent their own child's, a pupil their own); its answer is given
back in the class catalog's shape with that one pupil, which is what the renderer and the
fingerprint take (a report card's fingerprint is its pupil's digest of the class catalog).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.identity import Principal

from .. import views
from ..models import SchoolClass, TeachingAssignment

_REPORT_CARD_ONLY = ("pupil", "conduct_suggestions")


def load_class_catalog(session: Session, principal: Principal, class_id: str, period_id: str | None = None) -> dict:
    return views.class_catalog(session, principal, class_id, period_id)


def load_report_card(session: Session, principal: Principal, class_id: str, student_id: str,
                     period_id: str | None = None) -> dict:
    card = views.report_card(session, principal, class_id=class_id, student_id=student_id, period_id=period_id)
    return {**{k: v for k, v in card.items() if k not in _REPORT_CARD_ONLY}, "pupils": [card["pupil"]]}


def classes_of_year(session: Session, principal: Principal, school_year: str) -> list[tuple[str, str]]:
    """(id, name) of the school's classes in a school year, by name."""
    return [tuple(r) for r in session.execute(
        select(SchoolClass.id, SchoolClass.name).where(SchoolClass.tenant_id == principal.tenant_id,
                                                       SchoolClass.school_year == school_year)
        .order_by(SchoolClass.name)).all()]


def staff_of_year(session: Session, principal: Principal, school_year: str) -> set[str]:
    """Every teacher and homeroom teacher of the year's classes: whose names the documents print."""
    classes = select(SchoolClass.id).where(SchoolClass.tenant_id == principal.tenant_id,
                                           SchoolClass.school_year == school_year)
    ids = set(session.scalars(select(TeachingAssignment.teacher_id).where(
        TeachingAssignment.tenant_id == principal.tenant_id, TeachingAssignment.class_id.in_(classes))))
    ids |= {t for t in session.scalars(select(SchoolClass.homeroom_teacher_id).where(
        SchoolClass.tenant_id == principal.tenant_id, SchoolClass.school_year == school_year)) if t}
    return ids
