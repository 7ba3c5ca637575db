"""Nomenclatures per academic year (REG-5): seeded from the regulation, managed by the central
authority, validating every input; a retired value stays valid for the years it belonged to."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.db import insert_ignoring_duplicates
from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text

from .fields import start_year
from .models import NomenclatureValue
from .nomenclature_seed import FIRST_YEAR, NOMENCLATURES

MANAGERS = (Role.CENTRAL_AUTHORITY,)


def seed(session: Session) -> None:
    """Idempotent: the regulation's values, valid from the first RMUR year (stable ids)."""
    first = start_year(FIRST_YEAR)
    insert_ignoring_duplicates(session, NomenclatureValue.__table__, [
        {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"rmur:{name}:{code}")), "nomenclature": name, "code": code,
         "label": label, "first_year": first, "last_year": None, "version": 1, "changed_by": "regulation",
         "created_at": 0.0}
        for name, values in NOMENCLATURES.items() for code, label in values])


class Vocabulary:
    """The allowed codes per (nomenclature, academic year), loaded once per unit of work."""

    def __init__(self, session: Session, *, memo: bool = False):
        # with `memo`, `fields.validate_section` remembers the values it cleaned against this
        # vocabulary (a bulk import: the same codes in every row)
        self.memo: dict | None = {} if memo else None
        self._rows: dict[str, list[tuple[str, int, int | None]]] = {}
        for name, code, first, last in session.execute(select(
                NomenclatureValue.nomenclature, NomenclatureValue.code, NomenclatureValue.first_year,
                NomenclatureValue.last_year)):
            self._rows.setdefault(name, []).append((code, first, last))
        self._cache: dict[tuple[str, str], set[str]] = {}

    def __call__(self, name: str, academic_year: str) -> set[str]:
        key = (name, academic_year)
        if key not in self._cache:
            year = start_year(academic_year)
            self._cache[key] = {c for c, first, last in self._rows.get(name, ())
                                if first <= year and (last is None or year <= last)}
        return self._cache[key]


def _value_dict(v: NomenclatureValue) -> dict:
    return {"nomenclature": v.nomenclature, "code": v.code, "label": v.label,
            "valid_from": f"{v.first_year}-{v.first_year + 1}",
            "valid_until": f"{v.last_year}-{v.last_year + 1}" if v.last_year is not None else None,
            "version": v.version}


def list_values(session: Session, *, nomenclature: str | None = None, academic_year: str | None = None) -> dict:
    q = select(NomenclatureValue).order_by(NomenclatureValue.nomenclature, NomenclatureValue.code,
                                           NomenclatureValue.first_year)
    if nomenclature:
        q = q.where(NomenclatureValue.nomenclature == nomenclature)
    year = None
    if academic_year:
        try:
            year = start_year(academic_year)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    out: dict[str, list] = {}
    for v in session.scalars(q):
        if year is not None and not (v.first_year <= year and (v.last_year is None or year <= v.last_year)):
            continue
        out.setdefault(v.nomenclature, []).append(_value_dict(v))
    if nomenclature and not out and nomenclature not in NOMENCLATURES:
        raise NotFound("no such nomenclature")
    return {"academic_year": academic_year, "nomenclatures": out}


def add_value(session: Session, emit, principal: Principal, *, nomenclature: str, code: str, label: str,
              valid_from: str) -> dict:
    require(principal, *MANAGERS)
    name = clean_text(nomenclature, field="nomenclature", max_len=40)
    code = clean_text(code, field="code", max_len=60)
    label = clean_text(label, field="label", max_len=300)
    try:
        first = start_year(valid_from)
    except ValueError as exc:
        raise InvalidInput(f"valid_from: {exc}") from exc
    current = session.scalars(select(NomenclatureValue).where(
        NomenclatureValue.nomenclature == name, NomenclatureValue.code == code)).all()
    if any(v.last_year is None or v.last_year >= first for v in current):
        raise Conflict("this code is already valid in that year; retire it first to change it")
    row = NomenclatureValue(nomenclature=name, code=code, label=label, first_year=first,
                            version=1 + max((v.version for v in current), default=0), changed_by=principal.user_id)
    session.add(row)
    session.flush()
    emit(session, "nomenclature_value_added", entity_type="nomenclature_value", entity_id=row.id,
         after=_value_dict(row), tenant_id=principal.tenant_id)
    return _value_dict(row)


def retire_value(session: Session, emit, principal: Principal, *, nomenclature: str, code: str,
                 last_valid_year: str, reason: str) -> dict:
    """The value stays valid up to and including `last_valid_year`, never after; nothing is deleted."""
    require(principal, *MANAGERS)
    try:
        last = start_year(last_valid_year)
    except ValueError as exc:
        raise InvalidInput(f"last_valid_year: {exc}") from exc
    row = session.scalars(select(NomenclatureValue).where(
        NomenclatureValue.nomenclature == nomenclature, NomenclatureValue.code == code,
        NomenclatureValue.last_year.is_(None))).first()
    if row is None:
        raise NotFound("no current value with this code")
    if last < row.first_year:
        raise InvalidInput("a value cannot be retired before the year it starts")
    before = _value_dict(row)
    row.last_year, row.version = last, row.version + 1
    session.flush()
    emit(session, "nomenclature_value_retired", entity_type="nomenclature_value", entity_id=row.id,
         after=_value_dict(row), before=before, reason=clean_text(reason, field="reason", max_len=500),
         tenant_id=principal.tenant_id)
    return _value_dict(row)
