"""The registry records pupils' school path from the catalog's events: enrolment, transfer out,
idempotent on event id (the inbox) and on (class, pupil, year). Real database, SQLite and
PostgreSQL; the envelopes are the contract's (`grades.student_enrolled`, `grades.student_transferred`)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.migrations import upgrade_to_head
from services.kernel.nameko_support import CallContext, Store
from services.registry import enrolments
from services.registry.models import Base, Enrolment, Person

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_url, platform_env):
    upgrade_to_head("registry", database_url)
    engine = make_engine(database_url)
    yield Store("registry", make_sessionmaker(engine), Base.metadata)
    engine.dispose()


def envelope(kind: str, after: dict) -> Envelope:
    return Envelope(type=f"grades.{kind}", tenant_id="school-1", actor=Actor("dir-1", "director"),
                    entity=Entity("class", after["class_id"]), data=change_data(after), correlation_id="c1")


def consume(store: Store, envelopes: list[Envelope]) -> int:
    ctx = CallContext(correlation_id="c", token=None, verifier=None)
    with store.transaction() as s:
        fresh = store.newly_processed(s, [e.event_id for e in envelopes], enrolments.CATALOG_QUEUE)
        return enrolments.record_catalog_events(s, lambda session, fact, **kw: store.emit(session, ctx, fact, **kw),
                                                [e for e in envelopes if e.event_id in fresh])


def test_enrolment_and_transfer_out_are_recorded_once(store):
    with store.transaction() as s:
        s.add(Person(id="p-1", matriculation_code="RM2TEST00000001", last_name="Stan", first_name="Mihai"))
    enrolled = envelope("student_enrolled", {"class_id": "k-9a", "student_id": "p-1", "school_year": "2026-2027",
                                             "class_name": "a IX-a A", "level": "IX", "enrolled_on": "2026-09-14"})
    assert consume(store, [enrolled]) == 1
    assert consume(store, [enrolled]) == 0  # redelivered: the inbox knows it
    # the same fact under another event id (a replay) does not double the row either
    again = envelope("student_enrolled", dict(enrolled.data["after"]))
    assert consume(store, [again]) == 0
    left = envelope("student_transferred", {"class_id": "k-9a", "student_id": "p-1", "school_year": "2026-2027",
                                            "direction": "out", "effective_on": "2027-02-01"})
    unknown = envelope("student_enrolled", {"class_id": "k-9a", "student_id": "nobody", "school_year": "2026-2027"})
    assert consume(store, [left, unknown]) == 1
    with store.reading() as s:
        (row,) = s.scalars(select(Enrolment).where(Enrolment.person_id == "p-1")).all()
        assert row.kind == "school" and row.cycle == "liceal" and row.data["class_name"] == "a IX-a A"
        assert not row.active and row.data["end_situation"] == "transferat" and row.data["left_on"] == "2027-02-01"
        assert row.tenant_id == "school-1"
    arrived = envelope("student_transferred", {"class_id": "k-9b", "student_id": "p-1", "school_year": "2026-2027",
                                               "direction": "in", "effective_on": "2027-02-02"})
    assert consume(store, [arrived]) == 1
    with store.reading() as s:
        assert {r.class_id: r.active for r in s.scalars(select(Enrolment))} == {"k-9a": False, "k-9b": True}
