"""Audit and backup consume the event stream in batches: every event lands once, a bad message is
dropped, a failed batch goes back to the queue and lands later. Real services, real RabbitMQ,
SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kombu
import pytest
from sqlalchemy import create_engine, text

from services.kernel.db import normalise_url
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.dead_letters import replay
from services.kernel.event_queues import spec
from services.kernel.outbox import events_exchange
from tests.infra import temporary_pg_database

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]


def _envelope(i: int, type_: str = "grades.grade_recorded") -> Envelope:
    return Envelope(type=type_, tenant_id="t1", actor=Actor("u1", "teacher"), entity=Entity("grade", f"g{i}"),
                    data=change_data({"value": i % 10 + 1, "elev": "Ștefan Țăranu"}), correlation_id=f"c{i}")


@pytest.fixture(params=["sqlite", "postgresql"])
def consumers(request, amqp_uri, tmp_path):
    """The audit and backup services as processes, each on its own database."""
    with _databases(request.param, tmp_path) as urls:
        env = dict(os.environ, AMQP_URI=amqp_uri, PLATFORM_DATA_DIR=str(tmp_path / "var"), METRICS_PORT="0",
                   PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore::DeprecationWarning",
                   AUDIT_DATABASE_URL=urls["audit"], BACKUP_DATABASE_URL=urls["backup"],
                   PYTHONPATH=str(REPO_ROOT))
        procs = {}
        try:
            for name in ("audit", "backup"):
                log = open(tmp_path / f"{name}.log", "wb")
                procs[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=env, stdout=log,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            _wait_for_consumers(amqp_uri, (spec("audit.events").queue_name, spec("backup.events").queue_name),
                                procs, tmp_path)
            yield {name: create_engine(normalise_url(url)) for name, url in urls.items()}
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


@contextmanager
def _databases(kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        yield {n: f"sqlite:///{tmp_path / f'{n}.db'}" for n in ("audit", "backup")}
        return
    with temporary_pg_database("consumers_audit") as audit, temporary_pg_database("consumers_backup") as backup:
        yield {"audit": audit, "backup": backup}


def _wait_for_consumers(amqp_uri, queues, procs, tmp_path, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    with kombu.Connection(amqp_uri) as conn:
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {(tmp_path / f'{name}.log').read_text()[-2000:]}")
            counts = []
            for queue in queues:
                try:
                    counts.append(conn.default_channel.queue_declare(queue, passive=True).consumer_count)
                except conn.channel_errors:
                    conn.close()
                    conn.connect()
                    counts.append(0)
            if all(counts):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumers not up: {counts}")
            time.sleep(0.2)


def _publish(amqp_uri: str, bodies: list[tuple[str, bytes | str, str]]) -> None:
    """(routing key, body, content type) each, straight to the events exchange, with publisher
    confirms: without them, the end of a burst sent to quorum queues was sometimes never stored
    by the broker when the connection closed, and a test waited for events that did not exist."""
    with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for key, body, content_type in bodies:
            producer.publish(body, exchange=events_exchange(), routing_key=key, content_type=content_type,
                             content_encoding="utf-8", delivery_mode=2, retry=True)


def _events(envelopes: list[Envelope]) -> list[tuple[str, str, str]]:
    return [(e.type, json.dumps(e.to_dict(), ensure_ascii=False), "application/json") for e in envelopes]


def _wait_until(predicate, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _queue_depth(amqp_uri: str, queue: str) -> int:
    with kombu.Connection(amqp_uri) as conn:
        ok = conn.default_channel.queue_declare(queue, passive=True)
        return ok.message_count


def test_a_burst_lands_once_each_with_duplicates_and_bad_messages_dropped(consumers, amqp_uri):
    envelopes = [_envelope(i) for i in range(600)] + [_envelope(i, "registry.person_created") for i in range(40)]
    bad = [("grades.grade_recorded", b"{not json", "application/json"),
           ("grades.grade_recorded", json.dumps({"type": "x"}), "application/json"),
           ("grades.grade_recorded", b"\x80\x04pickle", "application/x-python-serialize")]
    again = _events(envelopes[:50])  # redelivered duplicates
    _publish(amqp_uri, _events(envelopes[:300]) + bad + _events(envelopes[300:]) + again)

    audit, backup = consumers["audit"], consumers["backup"]
    _wait_until(lambda: _scalar(audit, "SELECT count(*) FROM audit_entries") >= 640, what="audit entries")
    _wait_until(lambda: (_scalar(backup, "SELECT sum(count) FROM event_counts") or 0) >= 640, what="backup counts")
    for queue in (spec("audit.events").queue_name, spec("backup.events").queue_name):
        _wait_until(lambda q=queue: _queue_depth(amqp_uri, q) == 0, what=f"{queue} drained")
    time.sleep(0.5)  # anything still in flight would show now
    assert _scalar(audit, "SELECT count(*) FROM audit_entries") == 640
    assert _scalar(audit, "SELECT count(DISTINCT event_id) FROM audit_entries") == 640
    assert _scalar(backup, "SELECT count FROM event_counts WHERE type = 'grades.grade_recorded'") == 600
    assert _scalar(backup, "SELECT count FROM event_counts WHERE type = 'registry.person_created'") == 40
    stored = _scalar(audit, "SELECT envelope FROM audit_entries WHERE event_id = :e", e=envelopes[7].event_id)
    assert json.loads(stored)["data"]["after"]["elev"] == "Ștefan Țăranu"


def test_a_failed_batch_returns_to_the_queue_and_lands_later(consumers, amqp_uri):
    audit = consumers["audit"]
    with audit.begin() as conn:  # the audit table disappears: every insert fails
        conn.execute(text("ALTER TABLE audit_entries RENAME TO audit_entries_away"))
    envelopes = [_envelope(i) for i in range(50)]
    _publish(amqp_uri, _events(envelopes))
    backup = consumers["backup"]
    _wait_until(lambda: (_scalar(backup, "SELECT sum(count) FROM event_counts") or 0) >= 50, what="backup counts")
    time.sleep(1.0)  # audit has been failing and requeueing meanwhile
    assert _scalar(audit, "SELECT count(*) FROM audit_entries_away") == 0
    with audit.begin() as conn:
        conn.execute(text("ALTER TABLE audit_entries_away RENAME TO audit_entries"))
    _wait_until(lambda: _scalar(audit, "SELECT count(*) FROM audit_entries") == 50, timeout=30,
                what="requeued events to land")
    assert _scalar(audit, "SELECT count(DISTINCT event_id) FROM audit_entries") == 50


def test_one_bad_event_does_not_hold_back_its_batch_and_ends_in_the_dead_letter_queue(consumers, amqp_uri):
    # the audit trail refuses an event without an actor (NOT NULL): it fails whatever the batch
    poison = dataclasses.replace(_envelope(999), actor=Actor(None, "teacher"))
    good = [_envelope(i) for i in range(40)]
    _publish(amqp_uri, _events(good[:20]) + _events([poison]) + _events(good[20:]))
    audit = consumers["audit"]
    _wait_until(lambda: _scalar(audit, "SELECT count(*) FROM audit_entries") >= 40, what="the good events")
    assert _scalar(audit, "SELECT count(*) FROM audit_entries WHERE event_id = :e", e=poison.event_id) == 0
    dead = spec("audit.events").dead_letter_queue
    _wait_until(lambda: _queue_depth(amqp_uri, dead) == 1, what="the poison event in the dead-letter queue")
    assert _scalar(audit, "SELECT count(*) FROM audit_entries") == 40
    with kombu.Connection(amqp_uri) as conn:
        message = conn.channel().basic_get(dead, no_ack=False)
        assert json.loads(message.body)["event_id"] == poison.event_id
    # the operator replays it (after a fix; here it still fails and comes back)
    with kombu.Connection(amqp_uri) as conn:
        assert replay(conn, "audit.events") == 1
    _wait_until(lambda: _queue_depth(amqp_uri, dead) == 1, what="the replayed poison event back")
    assert _scalar(audit, "SELECT count(*) FROM audit_entries") == 40
