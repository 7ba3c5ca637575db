"""The transactional outbox against real RabbitMQ, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import kombu
import pytest
from sqlalchemy import func, select, update

from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.model_base import make_base
from services.kernel.event_queues import CONSUMER_QUEUES
from services.kernel.outbox import EVENT_QUEUES, OutboxRelay, RelayError, record_event

pytestmark = pytest.mark.integration


def _envelope(i: int) -> Envelope:
    return Envelope(type="grades.grade_recorded", tenant_id="t1", actor=Actor("u1", "teacher"),
                    entity=Entity("grade", f"g{i}"), data=change_data({"value": i, "name": "Știință"}),
                    correlation_id=f"c{i}")


@pytest.fixture
def store(database_url):
    base = make_base()
    engine = make_engine(database_url)
    base.metadata.create_all(engine)
    yield make_sessionmaker(engine), base.metadata
    engine.dispose()


def _drain(amqp_uri: str, queue: str) -> list[dict]:
    with kombu.Connection(amqp_uri) as conn:
        channel = conn.channel()
        out = []
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            out.append(json.loads(message.body))
        return out


def _topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: `*` is exactly one word, `#` zero or more words."""
    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])
    return match(pattern.split("."), key.split("."))


@pytest.mark.parametrize("pattern, key, expected", [
    ("#", "grades.grade_recorded", True), ("grades.#", "grades.grade_recorded", True),
    ("grades.#", "grades", True), ("grades.*", "grades.grade_recorded", True),
    ("grades.*", "grades.a.b", False), ("grades.student_enrolled", "grades.grade_recorded", False),
    ("registry.#", "grades.grade_recorded", False), ("*.grade_recorded", "grades.grade_recorded", True),
])
def test_topic_matcher_of_these_tests(pattern, key, expected):
    assert _topic_matches(pattern, key) is expected


def _write(sessions, metadata, n: int) -> list[str]:
    with sessions.begin() as s:
        events = [_envelope(i) for i in range(n)]
        for e in events:
            record_event(s, metadata, e)
    return [e.event_id for e in events]


def test_committed_events_are_published_once_to_every_event_queue(store, amqp_uri):
    sessions, metadata = store
    ids = _write(sessions, metadata, 3)
    relay = OutboxRelay("grades", sessions, metadata, amqp_uri)
    assert relay.publish_pending() == 3
    assert relay.publish_pending() == 0
    relay.close()
    key = _envelope(0).type
    matching = [q for q in CONSUMER_QUEUES.values() if any(_topic_matches(b, key) for b in q.bindings)]
    assert matching, "no consumer queue is bound to the test's event type"
    got = {q.queue_name: _drain(amqp_uri, q.queue_name) for q in CONSUMER_QUEUES.values()}  # drains every queue
    for q in CONSUMER_QUEUES.values():
        if q in matching:
            assert [g["event_id"] for g in got[q.queue_name]] == ids, q.queue_name
            assert got[q.queue_name][0]["data"]["after"]["name"] == "Știință"
        else:
            assert got[q.queue_name] == [], f"{q.queue_name} is not bound to {key}"
    assert relay.backlog() == 0


def test_a_rolled_back_change_leaves_no_event(store, amqp_uri):
    sessions, metadata = store
    with pytest.raises(RuntimeError):
        with sessions.begin() as s:
            record_event(s, metadata, _envelope(1))
            raise RuntimeError("the business write failed")
    relay = OutboxRelay("grades", sessions, metadata, amqp_uri)
    assert relay.publish_pending() == 0
    relay.close()


def test_crash_after_commit_before_publish_loses_nothing(store, amqp_uri, database_url):
    """A process commits events and dies at once; a relay started later publishes them."""
    sessions, metadata = store
    script = textwrap.dedent(f"""
        import os
        from services.kernel.db import make_engine, make_sessionmaker
        from services.kernel.model_base import make_base
        from services.kernel.outbox import record_event
        from tests.integration.test_outbox_relay import _envelope
        meta = make_base().metadata
        sessions = make_sessionmaker(make_engine({database_url!r}))
        with sessions.begin() as s:
            for i in range(5):
                record_event(s, meta, _envelope(i))
        os._exit(9)  # die before any relay could publish
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    relay = OutboxRelay("grades", sessions, metadata, amqp_uri)
    assert relay.publish_pending() == 5
    relay.close()
    assert len(_drain(amqp_uri, EVENT_QUEUES[0])) == 5


def test_a_lease_held_by_a_dead_relay_expires_and_another_publishes(store, amqp_uri):
    sessions, metadata = store
    _write(sessions, metadata, 2)
    dead = OutboxRelay("grades", sessions, metadata, amqp_uri, lease_seconds=0.3)
    assert len(dead._claim()) == 2  # claimed, then the process "dies" before publishing
    other = OutboxRelay("grades", sessions, metadata, amqp_uri)
    assert other.publish_pending() == 0  # the lease still holds
    import time
    time.sleep(0.4)
    assert other.publish_pending() == 2
    other.close()


def test_unroutable_events_stay_in_the_outbox(store, amqp_uri):
    """Mandatory routing + confirms: if no queue is bound, the rows are not marked sent."""
    sessions, metadata = store
    relay = OutboxRelay("grades", sessions, metadata, amqp_uri)
    _write(sessions, metadata, 1)
    assert relay.publish_pending() == 1
    with kombu.Connection(amqp_uri) as conn:
        channel = conn.channel()
        for q in EVENT_QUEUES:
            channel.queue_delete(q)
    _write(sessions, metadata, 2)
    with pytest.raises(RelayError):
        relay.publish_pending()
    relay.close()
    assert relay.backlog() == 2
    with sessions.begin() as s:
        t = metadata.tables["outbox"]
        errors = s.scalars(select(t.c.last_error).where(t.c.published_at.is_(None))).all()
    assert all(errors)
    # once the queues exist again (a fresh relay declares them) the events go out
    again = OutboxRelay("grades", sessions, metadata, amqp_uri)
    assert again.publish_pending() == 2
    again.close()


def test_broker_unreachable_keeps_rows_and_releases_the_lease(store):
    sessions, metadata = store
    _write(sessions, metadata, 2)
    relay = OutboxRelay("grades", sessions, metadata, "amqp://guest:guest@127.0.0.1:1//")
    with pytest.raises(RelayError):
        relay.publish_pending()
    assert relay.backlog() == 2
    assert len(OutboxRelay("grades", sessions, metadata, "amqp://unused//")._claim()) == 2


def test_published_rows_are_pruned_after_the_retention_window_and_unpublished_never(store, amqp_uri):
    sessions, metadata = store
    relay = OutboxRelay("grades", sessions, metadata, amqp_uri, retention_seconds=7 * 86400.0, prune_chunk=3)
    _write(sessions, metadata, 10)
    assert relay.publish_pending() == 10
    _write(sessions, metadata, 2)  # not yet published: kept whatever their age
    t = metadata.tables["outbox"]
    eight_days_ago = time.time() - 8 * 86400
    with sessions.begin() as s:
        ids = sorted(s.scalars(select(t.c.id).where(t.c.published_at.is_not(None))))
        s.execute(update(t).where(t.c.id.in_(ids[:7])).values(published_at=eight_days_ago))
        s.execute(update(t).where(t.c.published_at.is_(None)).values(created_at=eight_days_ago))
    assert relay.prune() == 7
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(t)) == 5
        assert s.scalar(select(func.count()).select_from(t).where(t.c.published_at.is_(None))) == 2
    assert relay.prune() == 0
    relay.close()
