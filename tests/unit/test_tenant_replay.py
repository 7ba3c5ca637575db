"""The change log's replay of an event's after-image (services/kernel/tenant_data.replay_event):
the table the entity type names takes the image even when it carries derived keys that are not
columns; another table takes an image only if every key is one of its columns."""
from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from services.kernel.tenant_data import replay_event


def _schema():
    meta = MetaData()
    grades = Table("grades", meta, Column("id", String(36), primary_key=True), Column("tenant_id", String(36)),
                   Column("value", Integer, nullable=False))
    notes = Table("notes", meta, Column("id", String(36), primary_key=True), Column("tenant_id", String(36)),
                  Column("value", Integer, nullable=False))
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    return meta, engine, grades, notes


def _event(entity_type: str, after: dict) -> dict:
    return {"type": "x.y", "occurred_at": "2026-12-01T10:00:00+00:00", "entity": {"type": entity_type, "id": "g1"},
            "data": {"after": after}}


def test_the_named_table_takes_an_image_with_derived_keys_and_stores_only_its_columns():
    meta, engine, grades, _ = _schema()
    with engine.begin() as conn:
        assert replay_event(conn, meta, "t1", _event("grade", {"id": "g1", "value": 9, "via": "assignment"})) == "grades"
        assert conn.execute(select(grades)).all() == [("g1", "t1", 9)]
        # a later image of the same row updates it
        assert replay_event(conn, meta, "t1", _event("grade", {"id": "g1", "value": 10, "via": "delegation"})) == "grades"
        assert conn.execute(select(grades.c.value)).scalar() == 10


def test_an_unnamed_table_refuses_an_image_with_keys_it_does_not_have():
    meta, engine, _, notes = _schema()
    with engine.begin() as conn:
        assert replay_event(conn, meta, "t1", _event("remark", {"id": "g1", "value": 3, "via": "x"})) is None
        assert replay_event(conn, meta, "t1", _event("remark", {"id": "g1", "value": 3})) in ("grades", "notes")
        assert replay_event(conn, meta, "t1", _event("remark", {"id": "other", "value": 3})) is None  # keyed otherwise
