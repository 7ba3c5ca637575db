"""Transactional outbox: events are rows written in the same transaction as the change.

`record_event` adds the row; the `OutboxRelay` publishes unsent rows to the events
exchange with publisher confirms and mandatory routing, then marks them sent. A crash
between commit and publish loses nothing: rows stay unsent and are published on
restart. A crash between publish and mark re-publishes; consumers dedupe on event_id.

A batch is published inside one AMQP transaction (tx.select/tx.commit): one round trip
per batch instead of one publisher confirm per event, with the same guarantee that the
broker has taken every message (routed to durable queues) before the rows are marked.

Several replicas of one service may run relays against the same database: a row is
claimed with a short lease (an UPDATE that re-checks the lease), so normally one relay
publishes it; if a relay dies holding a lease, another takes the row when it expires.

Published rows are pruned after `retention_seconds` (OUTBOX_RETENTION_DAYS, 7 days by
default): the relay deletes them in bounded chunks every `prune_every_seconds`. Both the
claim (`published_at IS NULL ... ORDER BY id`) and the prune (`published_at < cut-off`) are
range scans of the one index `ix_outbox_unpublished (published_at, id)`, so neither grows with
the table; `bench/outbox_age.py` measures the relay's cost against the table's age.
"""
from __future__ import annotations

import socket
import time
import uuid
from typing import Callable

import amqp
import orjson
import kombu
from sqlalchemy import (BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        and_, func, or_, select, update)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .db import Sessions, bulk_insert, insert_ignoring_duplicates

from .event_queues import CONSUMER_QUEUES, declare_all, events_exchange  # noqa: F401 (re-exported)
from .events import EVENTS_EXCHANGE, Envelope
from .logging import get_logger
from .metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG

log = get_logger(__name__)

# The consumers' durable queues, declared before anything is published (one table:
# `services.kernel.event_queues.CONSUMER_QUEUES`); their quorum queue names:
EVENT_QUEUES = tuple(q.queue_name for q in CONSUMER_QUEUES.values())
ID_TYPE = BigInteger().with_variant(Integer, "sqlite")


def add_kernel_tables(metadata: MetaData) -> None:
    """Every service's schema carries an outbox (producer side), an inbox (consumer dedupe) and
    the row-change capture (`row_changes.py`, read by incremental backups)."""
    Table(
        "outbox", metadata,
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", Float, nullable=False),
        Column("claimed_by", String(100)),
        Column("claimed_until", Float),
        Column("published_at", Float),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", String(500)),
        Index("ix_outbox_unpublished", "published_at", "id"),
    )
    from .row_changes import add_row_changes_table
    add_row_changes_table(metadata, ID_TYPE)
    Table(
        "inbox", metadata,
        Column("event_id", String(36), primary_key=True),
        Column("consumer", String(100), primary_key=True),
        Column("processed_at", Float, nullable=False),
    )


def _outbox(session_or_meta) -> Table:
    return session_or_meta.tables["outbox"]


def record_event(db: Session | Connection, metadata: MetaData, envelope: Envelope) -> None:
    """Write the envelope into the outbox, inside the caller's transaction (ORM or Core)."""
    db.execute(_outbox(metadata).insert(), {
        "event_id": envelope.event_id, "type": envelope.type, "payload": orjson.dumps(_shallow(envelope)).decode("utf-8"),
        "created_at": time.time(), "attempts": 0})
    # read after the commit to wake the relay (a Connection's `info` outlives the transaction:
    # `Store.writing` pops it either way)
    db.info["outbox_written"] = True


def record_events(db: Session | Connection, metadata: MetaData, envelopes: list[Envelope]) -> None:
    """Many envelopes in one statement (executemany), for bulk paths such as imports."""
    if not envelopes:
        return
    now = time.time()
    bulk_insert(db, _outbox(metadata), [
        {"event_id": e.event_id, "type": e.type, "payload": orjson.dumps(_shallow(e)).decode("utf-8"),
         "created_at": now, "attempts": 0} for e in envelopes])
    db.info["outbox_written"] = True


def _shallow(e: Envelope) -> dict:
    """`Envelope.to_dict()` without `dataclasses.asdict`'s deep copy of the data (it is
    serialised at once): a third of a bulk import's time went there."""
    return {"type": e.type, "tenant_id": e.tenant_id, "actor": {"id": e.actor.id, "role": e.actor.role},
            "entity": {"type": e.entity.type, "id": e.entity.id}, "data": e.data,
            "correlation_id": e.correlation_id, "reason": e.reason, "version": e.version,
            "event_id": e.event_id, "occurred_at": e.occurred_at}


def newly_processed(session: Session, metadata: MetaData, event_ids: list[str], consumer: str) -> set[str]:
    """Idempotent consumption: records the ids in this transaction and returns those not seen
    before (a redelivered event is in the inbox already)."""
    inbox = metadata.tables["inbox"]
    now = time.time()
    return insert_ignoring_duplicates(
        session, inbox, [{"event_id": e, "consumer": consumer, "processed_at": now} for e in dict.fromkeys(event_ids)],
        returning=inbox.c.event_id)


class OutboxRelay:
    def __init__(self, service: str, sessions: Sessions, metadata: MetaData, amqp_uri: str,
                 *, batch_size: int = 200, lease_seconds: float = 15.0, idle_poll_seconds: float = 0.5,
                 linger_seconds: float = 0.0, sleep: Callable[[float], None] = time.sleep,
                 retention_seconds: float | None = 7 * 86400.0, prune_every_seconds: float = 300.0,
                 prune_chunk: int = 5000):
        self.service = service
        self.sessions = sessions
        self.table = _outbox(metadata)
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.idle_poll_seconds = idle_poll_seconds
        self.linger_seconds = linger_seconds
        self.instance = f"{service}-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self._sleep = sleep
        self._wake = None  # an eventlet Event when run inside a service
        self._stopped = False
        self._connection: kombu.Connection | None = None
        self._channel = None
        self._returned: list[str] = []
        self.retention_seconds = retention_seconds
        self.prune_every_seconds = prune_every_seconds
        self.prune_chunk = prune_chunk
        self._pruned_at = 0.0

    # -- broker -------------------------------------------------------------------
    def _ensure_channel(self):
        if self._channel is None:
            conn = kombu.Connection(self.amqp_uri, connect_timeout=5)
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            declare_all(channel)
            # mandatory + a return handler: an unroutable event is reported, not dropped
            channel.events["basic_return"].add(self._on_return)
            channel.tx_select()
            self._connection, self._channel = conn, channel
        return self._channel

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        self._returned.append(routing_key)

    def _reset_broker(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
        self._connection = self._channel = None

    def close(self) -> None:
        self._stopped = True
        self._reset_broker()

    # -- one pass -----------------------------------------------------------------
    def _claim(self) -> list[tuple[int, str, str]]:
        now = time.time()
        t = self.table
        free = or_(t.c.claimed_until.is_(None), t.c.claimed_until < now)
        candidates = (select(t.c.id).where(t.c.published_at.is_(None), free)
                      .order_by(t.c.id).limit(self.batch_size).scalar_subquery())
        with self.sessions.begin() as s:
            # the lease condition is repeated outside the sub-select so a concurrent
            # claimer re-checks it against the row version it waited for (PostgreSQL)
            s.execute(update(t).where(and_(t.c.id.in_(candidates), t.c.published_at.is_(None), free))
                      .values(claimed_by=self.instance, claimed_until=now + self.lease_seconds,
                              attempts=t.c.attempts + 1).execution_options(synchronize_session=False))
            rows = s.execute(select(t.c.id, t.c.type, t.c.payload).where(
                t.c.claimed_by == self.instance, t.c.published_at.is_(None),
                t.c.claimed_until > now).order_by(t.c.id)).all()
        return [tuple(r) for r in rows]

    def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were confirmed and marked sent."""
        rows = self._claim()
        if not rows:
            return 0
        error: str | None = None
        try:
            channel = self._ensure_channel()
            self._returned.clear()
            for _row_id, event_type, payload in rows:
                body = orjson.loads(payload)
                channel.basic_publish(
                    amqp.Message(payload.encode("utf-8"), content_type="application/json",
                                 content_encoding="utf-8", delivery_mode=2, message_id=body["event_id"],
                                 application_headers={"nameko.correlation_id": body.get("correlation_id")}),
                    exchange=EVENTS_EXCHANGE, routing_key=event_type, mandatory=True)
            channel.tx_commit()  # returns for unroutable messages arrive before commit-ok
            if self._returned:
                raise RelayError(f"{len(self._returned)} event(s) had no queue bound: {self._returned[0]}")
        except Exception as exc:  # noqa: BLE001 - any broker fault: keep rows, retry later
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("outbox.publish_failed", service=self.service, error=error, batch=len(rows))
            self._reset_broker()
        ids = [row_id for row_id, _t, _p in rows]
        with self.sessions.begin() as s:
            # one AMQP transaction: the whole batch went out, or it is all retried
            if error is None:
                values = {"published_at": time.time(), "claimed_until": None}
            else:  # release the lease so the next pass (or another replica) retries soon
                values = {"claimed_until": None, "last_error": error}
            s.execute(update(self.table).where(self.table.c.id.in_(ids)).values(**values)
                      .execution_options(synchronize_session=False))
        if error is None:
            for _row_id, event_type, _p in rows:
                EVENTS_PUBLISHED.labels(self.service, event_type).inc()
        if error:
            raise RelayError(error)
        return len(rows)

    def prune(self, now: float | None = None) -> int:
        """Delete published rows older than the retention window; returns how many."""
        if self.retention_seconds is None:
            return 0
        cut = (time.time() if now is None else now) - self.retention_seconds
        t = self.table
        total = 0
        while True:
            old = (select(t.c.id).where(t.c.published_at.is_not(None), t.c.published_at < cut)
                   .order_by(t.c.published_at).limit(self.prune_chunk).scalar_subquery())
            with self.sessions.begin() as s:
                deleted = s.execute(t.delete().where(t.c.id.in_(old))).rowcount
            total += deleted
            if deleted < self.prune_chunk:
                break
            self._sleep(0)  # let the relay's other work in between chunks
        if total:
            log.info("outbox.pruned", service=self.service, rows=total)
        return total

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at >= self.prune_every_seconds:
            self._pruned_at = now
            self.prune()

    def backlog(self) -> int:
        with self.sessions.begin() as s:
            return s.execute(select(func.count()).select_from(self.table)
                             .where(self.table.c.published_at.is_(None))).scalar_one()

    # -- loop ---------------------------------------------------------------------
    def run(self, wait_for_work: Callable[[float], None]) -> None:
        """Publish until stopped. `wait_for_work(timeout)` returns early when a commit wrote events."""
        backoff = 0.5
        while not self._stopped:
            try:
                self._maybe_prune()
                n = self.publish_pending()
                backoff = 0.5
                if n >= self.batch_size:
                    OUTBOX_BACKLOG.labels(self.service).set(self.backlog())  # only when falling behind
                    continue
                OUTBOX_BACKLOG.labels(self.service).set(0)
                if n and self.linger_seconds:
                    # events are flowing: let the next few gather into one batch (the first
                    # event after a quiet spell was published without waiting)
                    self._sleep(self.linger_seconds)
                    continue
                wait_for_work(self.idle_poll_seconds)
            except RelayError:
                self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as exc:  # noqa: BLE001 - database hiccup; never let the relay die
                log.error("outbox.relay_error", service=self.service, error=str(exc)[:300])
                self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)


class RelayError(Exception):
    pass
