"""Small helpers every catalog module shares: tenant-scoped lookups, dates, role groups."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.kernel.errors import InvalidInput, NotFound
from services.kernel.identity import Principal, Role

from .models import Period, SchoolClass, SchoolYear

MANAGERS = (Role.SCHOOL_ADMIN, Role.DIRECTOR)
ADMINISTRATORS = (Role.SCHOOL_ADMIN, Role.OPERATOR)


def today() -> date:
    return datetime.now(timezone.utc).date()


def owned(session: Session, model, entity_id, principal: Principal, label: str):
    """Fetch by id within the caller's tenant; another tenant's id is simply not found."""
    row = session.get(model, entity_id) if isinstance(entity_id, str) and entity_id else None
    if row is None or row.tenant_id != principal.tenant_id:
        raise NotFound(f"{label} not found")
    return row


def parse_date(value, field: str, *, required: bool = True) -> date | None:
    if value in (None, ""):
        if required:
            raise InvalidInput(f"{field} is required")
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be a date YYYY-MM-DD") from exc


def orm(db: Connection | Session) -> Session:
    """An ORM session in the caller's transaction, for the rare paths that want one."""
    return db if isinstance(db, Session) else Session(bind=db)


def year_of(session: Session, cls: SchoolClass) -> SchoolYear | None:
    """The configured school year a class belongs to (None while the school has not set it up)."""
    return session.scalar(select(SchoolYear).where(SchoolYear.tenant_id == cls.tenant_id,
                                                   SchoolYear.name == cls.school_year))


def periods_of(session: Session, year: SchoolYear | None) -> list[Period]:
    if year is None:
        return []
    return list(session.scalars(select(Period).where(Period.school_year_id == year.id).order_by(Period.ordinal)))


def period_on(periods: list[Period], day: date) -> Period | None:
    return next((p for p in periods if p.starts_on <= day <= p.ends_on), None)


def is_homeroom(cls: SchoolClass, principal: Principal) -> bool:
    return Role.TEACHER in principal.roles and cls.homeroom_teacher_id == principal.user_id


def period_dict(p: Period) -> dict:
    return {"id": p.id, "name": p.name, "ordinal": p.ordinal, "starts_on": p.starts_on.isoformat(),
            "ends_on": p.ends_on.isoformat(), "holidays": list(p.holidays or []), "closed": p.closed}
