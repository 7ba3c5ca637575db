"""nameko dependency providers and entrypoint helpers shared by every service.

Services declare these as class attributes; `get_dependency` returns plain objects
(`Store`, `CallContext`) that the business code uses and that tests can build directly.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

import eventlet
import structlog
from eventlet.event import Event as GreenEvent
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider
from sqlalchemy import MetaData, event as sa_event, text as text_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .db import make_engine, make_sessionmaker
from .errors import EXPECTED_ERRORS, AppError, NotAuthenticated, SecondFactorRequired
from .events import Actor, Entity, Envelope, change_data
from .identity import Principal, Role, TokenVerifier, load_verifier, require, second_factor_mandatory
from .logging import get_logger
from .model_base import new_ids
from .metrics import RPC_CALLS, RPC_LATENCY, child
from .outbox import OutboxRelay, newly_processed, record_event, record_events
from .rpc_entrypoint import PlatformRpc
from .settings import database_url, get_settings
from . import row_changes, service_credentials, tenant_data
from .tenant_data import ExportSessions

log = get_logger(__name__)

# A domain error raised by a service called from another service re-raises as the same
# class in the caller (not a generic RemoteError), so it reaches the gateway unchanged.
for _error in EXPECTED_ERRORS:
    deserialize_to_instance(_error)


class Store:
    """What a worker gets: transactions on the service's own database plus event recording."""

    def __init__(self, service: str, sessions, metadata: MetaData, wake_relay: Callable[[], None] = lambda: None,
                 exports: ExportSessions | None = None):
        self.service = service
        self.sessions = sessions
        self.metadata = metadata
        self._wake_relay = wake_relay
        self.exports = exports or ExportSessions(sessions.engine, metadata)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """Like `transaction`, as a Core connection: for hot write paths that build no ORM
        objects. Events emitted in it are relayed as soon as it commits."""
        with self.sessions.write_connection() as connection:
            info = connection.info  # the pooled connection's: it outlives this transaction
            try:
                yield connection
            except BaseException:
                info.pop("outbox_written", None)  # rolled back: nothing to relay
                raise
        if info.pop("outbox_written", False):
            self._wake_relay()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work (no write lock on SQLite); writes in it are discarded."""
        with self.sessions.begin(readonly=True) as session:
            yield session

    @contextmanager
    def reading_rows(self) -> Iterator[Connection]:
        """A Core connection in autocommit, for hot one-statement reads that build no ORM objects
        (see `Sessions.read_connection`)."""
        with self.sessions.read_connection() as connection:
            yield connection

    def emit(self, session: Session | Connection, ctx: "CallContext", fact: str, *, entity_type: str, entity_id: str,
             after: dict | None, before: dict | None = None, reason: str | None = None,
             tenant_id: str | None = None) -> Envelope:
        """Write `<service>.<fact>` into the outbox inside the caller's transaction."""
        principal = ctx.principal
        envelope = Envelope(
            type=f"{self.service}.{fact}",
            tenant_id=tenant_id if tenant_id is not None else (principal.tenant_id if principal else None),
            actor=Actor(id=principal.user_id, role=principal.role) if principal else Actor(id="system", role="system"),
            entity=Entity(type=entity_type, id=str(entity_id)),
            data=change_data(after, before), reason=reason, correlation_id=ctx.correlation_id)
        record_event(session, self.metadata, envelope)
        return envelope

    def record_view(self, ctx: "CallContext", fact: str, *, entity_type: str, entity_id: str,
                    tenant_id: str | None = None, fields: list[str] | tuple[str, ...] = (),
                    purpose: str | None = None) -> Envelope:
        """Record that the caller read personal data (REG-9 "usage monitored"): an event
        `<service>.<something>_viewed` for the audit trail, e.g.
        `self.db.record_view(self.ctx, "person_viewed", entity_type="person", entity_id=pid)`.

        For read paths, which have no transaction of their own: one INSERT into the outbox on a
        Core connection (no ORM session), relayed as soon as it commits. `fields` names what
        was shown (never the values: the trail must not copy the personal data it protects)."""
        if not fact.endswith("_viewed"):
            raise ValueError("a read is recorded as a `…_viewed` fact")
        with self.writing() as connection:
            return self.emit(connection, ctx, fact, entity_type=entity_type, entity_id=entity_id,
                             after={"fields": list(fields), "purpose": purpose}, tenant_id=tenant_id)

    def emit_many(self, session: Session | Connection, ctx: "CallContext", facts: list[dict]) -> None:
        """Like `emit` for many changes at once (one executemany): each item holds `fact`,
        `entity_type`, `entity_id`, `after` and optionally `before`, `reason`, `tenant_id`."""
        if not facts:
            return
        principal = ctx.principal
        actor = Actor(id=principal.user_id, role=principal.role) if principal else Actor(id="system", role="system")
        # recorded in one transaction: one moment, and the ids drawn at once (uuid4 per event was
        # a visible share of a bulk import)
        occurred_at = datetime.now(timezone.utc).isoformat()
        record_events(session, self.metadata, [Envelope(
            type=f"{self.service}.{f['fact']}",
            tenant_id=f.get("tenant_id") or (principal.tenant_id if principal else None), actor=actor,
            entity=Entity(type=f["entity_type"], id=str(f["entity_id"])),
            data=change_data(f.get("after"), f.get("before")), reason=f.get("reason"),
            correlation_id=ctx.correlation_id, event_id=event_id, occurred_at=occurred_at)
            for f, event_id in zip(facts, new_ids(len(facts)))])

    def emitter(self, ctx: "CallContext") -> Callable[..., Envelope]:
        """`emit(session, fact, ...)` bound to the current caller, for the plain rule modules."""
        return lambda session, fact, **kw: self.emit(session, ctx, fact, **kw)

    def newly_processed(self, session: Session, event_ids: list[str], consumer: str) -> set[str]:
        """The ids among `event_ids` this consumer has not processed before (now recorded)."""
        return newly_processed(session, self.metadata, event_ids, consumer)


class Database(DependencyProvider):
    """Owns the engine of one service's database and runs its outbox relay."""

    def __init__(self, service: str, metadata: MetaData, *, relay: bool = True):
        self.service = service
        self.metadata = metadata
        self.run_relay = relay

    def setup(self):
        settings = get_settings()
        self.engine = make_engine(database_url(self.service))
        row_changes.RowCapture(self.metadata).install(self.engine)
        self.row_changes_retention = settings.row_changes_retention_days * 86400.0
        self.sessions = make_sessionmaker(self.engine)
        self._wake = GreenEvent()
        sa_event.listen(self.sessions.factory, "after_commit", self._after_commit)
        self.relay = OutboxRelay(self.service, self.sessions, self.metadata, settings.amqp_uri,
                                 linger_seconds=settings.outbox_linger_seconds,
                                 retention_seconds=settings.outbox_retention_days * 86400.0,
                                 sleep=eventlet.sleep)
        self.exports = ExportSessions(self.engine, self.metadata)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop("outbox_written", False):
            self._wake_relay()

    def _wake_relay(self) -> None:
        if not self._wake.ready():
            self._wake.send(True)

    def _wait_for_work(self, timeout: float) -> None:
        with eventlet.Timeout(timeout, False):
            self._wake.wait()
        if self._wake.ready():
            self._wake.reset()

    def start(self):
        if self.run_relay:
            self.container.spawn_managed_thread(lambda: self.relay.run(self._wait_for_work))
        self.container.spawn_managed_thread(self._reap_export_sessions)

    def _reap_export_sessions(self):
        """An export whose caller went away must not hold a snapshot (and its connection) open;
        captured row changes older than their retention window go (every ten minutes)."""
        pruned_at = 0.0
        while True:
            eventlet.sleep(30)
            try:
                self.exports.reap()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("tenant_export.reap_failed", error=type(exc).__name__)
            if time.monotonic() - pruned_at >= 600:
                pruned_at = time.monotonic()
                try:
                    with self.sessions._my_turn():
                        n = row_changes.prune(self.engine, self.metadata, time.time() - self.row_changes_retention)
                    if n:
                        log.info("row_changes.pruned", service=self.service, rows=n)
                except Exception as exc:  # noqa: BLE001 - the next round tries again
                    log.warning("row_changes.prune_failed", error=type(exc).__name__)

    def stop(self):
        self.relay.close()
        self.exports.close_all()
        self.engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx) -> Store:
        return Store(self.service, self.sessions, self.metadata, self._wake_relay, self.exports)


@dataclass
class CallContext:
    correlation_id: str
    token: str | None
    verifier: TokenVerifier | None
    _principal: Principal | None = None
    _checked: bool = False

    @property
    def principal(self) -> Principal | None:
        """The caller, re-verified from the access token this service received."""
        if not self._checked:
            self._checked = True
            if self.token and self.verifier:
                self._principal = self.verifier.verify(self.token)
        return self._principal

    def require_principal(self, *, allow_partial: bool = False) -> Principal:
        """The caller; a token still owing a second factor is refused unless `allow_partial`."""
        if self.principal is None:
            raise NotAuthenticated("authentication required")
        if allow_partial:
            return self.principal
        if self.principal.is_partial:
            raise SecondFactorRequired("complete two-factor authentication first")
        if second_factor_mandatory(self.principal.roles) and not self.principal.has_second_factor:
            raise SecondFactorRequired("your role requires two-factor authentication")
        return self.principal


class RequestContext(DependencyProvider):
    """Binds the correlation id to logs, times every entrypoint, and exposes the caller."""

    def __init__(self, service: str):
        self.service = service
        self._started: dict = {}

    def setup(self):
        self._verifier: TokenVerifier | None = None

    def _get_verifier(self) -> TokenVerifier | None:
        if self._verifier is None:
            path = get_settings().public_key_path()
            if path.exists():
                self._verifier = load_verifier(path)
        return self._verifier

    def get_dependency(self, worker_ctx) -> CallContext:
        data = worker_ctx.data
        return CallContext(correlation_id=data.get("correlation_id") or str(uuid.uuid4()),
                           token=data.get("access_token"), verifier=self._get_verifier())

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            correlation_id=worker_ctx.data.get("correlation_id"),
            entrypoint=worker_ctx.entrypoint.method_name)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx, None)
        method = worker_ctx.entrypoint.method_name
        if exc_info is None:
            outcome = "ok"
        elif isinstance(exc_info[1], AppError):
            outcome = exc_info[1].code
        else:
            outcome = "error"
            log.error("entrypoint.failed", method=method, error_type=exc_info[0].__name__,
                      exc_info=exc_info)
        child(RPC_CALLS, self.service, method, outcome).inc()
        elapsed = time.perf_counter() - started if started is not None else 0.0
        child(RPC_LATENCY, self.service, method).observe(elapsed)
        log.info("entrypoint.handled", method=method, outcome=outcome, ms=round(elapsed * 1000, 2))
        structlog.contextvars.clear_contextvars()


def rpc(fn: Callable) -> Callable:
    """nameko `@rpc` whose domain errors travel to the caller without being logged as crashes
    (and whose reply skips the publisher confirm, see `rpc_entrypoint`)."""
    return PlatformRpc.decorator(expected_exceptions=EXPECTED_ERRORS)(fn)


INSTANCE_ID = f"{socket.gethostname()}-{os.getpid()}"


class ServiceBase:
    """Entrypoints every service shares. nameko finds inherited entrypoints."""

    name = "base"

    def readiness_details(self) -> dict | None:
        """What a service wants the gateway's /readyz to show beside "ok" (None: nothing)."""
        return None

    @rpc
    def ping(self) -> dict:
        """Readiness probe; `instance` shows which replica answered."""
        answer = {"service": self.name, "ok": True, "instance": INSTANCE_ID}
        details = self.readiness_details()
        if details:
            answer["details"] = details
        return answer

    # --- one tenant's data, for the backup service (services/kernel/tenant_data.py) --------
    # Operator or system only: a system call carries a service credential
    # (services/kernel/service_credentials.py) since no person is behind a scheduled backup.

    def _require_tenant_data_caller(self, credential: str | None) -> str:
        if credential:
            return "service:" + service_credentials.verify(credential, self.name, "tenant_data")
        ctx = getattr(self, "ctx", None)
        principal = require(ctx.principal if ctx else None, Role.OPERATOR)
        return principal.user_id

    @rpc
    def tenant_export_open(self, tenant_id: str, credential: str | None = None) -> dict:
        """Open a consistent snapshot of one tenant's rows; page it with `tenant_export_chunk`."""
        self._require_tenant_data_caller(credential)
        return self.db.exports.open(str(tenant_id))

    @rpc
    def tenant_export_chunk(self, session_id: str, tenant_id: str, table: str, snapshot: str | None = None,
                            after: list | None = None, limit: int = 1000, credential: str | None = None) -> dict:
        self._require_tenant_data_caller(credential)
        return self.db.exports.chunk(session_id, snapshot, str(tenant_id), table, after, limit)

    @rpc
    def tenant_export_close(self, session_id: str, credential: str | None = None) -> dict:
        self._require_tenant_data_caller(credential)
        return {"closed": self.db.exports.close(session_id)}

    @rpc
    def tenant_import_chunk(self, tenant_id: str, table: str, rows: list, replace: bool = False,
                            credential: str | None = None) -> dict:
        """Restore into the live database, this tenant only: `replace` first deletes the tenant's
        own rows (the first chunk of a restore); shared rows are only ever added."""
        caller = self._require_tenant_data_caller(credential)
        with self.db.writing() as connection:
            removed = tenant_data.clear_tenant(connection, self.db.metadata, str(tenant_id)) if replace else {}
            inserted = tenant_data.import_rows(connection, self.db.metadata, str(tenant_id), table, rows)
            self.db.emit(connection, self.ctx, "tenant_data_restored", entity_type="tenant", entity_id=str(tenant_id),
                         tenant_id=str(tenant_id), after={"table": table, "inserted": inserted, "removed": removed},
                         reason=f"restore by {caller}")
        return {"table": table, "inserted": inserted, "removed": removed}

    @rpc
    def tenant_replay(self, tenant_id: str, envelopes: list, credential: str | None = None,
                      rows: list | None = None, snapshot_at: float | None = None) -> dict:
        """Apply an incremental set to the live tenant: change-log after-images (`envelopes`, sets
        of format 1) and captured row changes (`rows`, in their order; shared rows only added;
        those recorded before the full set's `snapshot_at` tolerated, see `apply_row_changes`)."""
        caller = self._require_tenant_data_caller(credential)
        applied: dict[str, int] = {}
        with self.db.writing() as connection:
            for envelope in envelopes:
                table = tenant_data.replay_event(connection, self.db.metadata, str(tenant_id), envelope)
                applied[table or "not_a_row_image"] = applied.get(table or "not_a_row_image", 0) + 1
            for table, n in tenant_data.apply_row_changes(
                    connection, self.db.metadata, str(tenant_id), list(rows or ()), update_shared=False,
                    snapshot_at=float(snapshot_at) if snapshot_at is not None else None).items():
                applied[f"rows.{table}"] = n
            self.db.emit(connection, self.ctx, "tenant_changes_replayed", entity_type="tenant",
                         entity_id=str(tenant_id), tenant_id=str(tenant_id), after={"applied": applied},
                         reason=f"restore by {caller}")
        return {"applied": applied}

    @rpc
    def tenant_row_changes(self, tenant_id: str, since: float, until: float, after_id: int | None = None,
                           limit: int = 1000, credential: str | None = None) -> dict:
        """A page of the tenant's captured row changes recorded in (since, until], in order
        (`services/kernel/row_changes.py`), for an incremental set; `next` pages on."""
        self._require_tenant_data_caller(credential)
        limit = max(1, min(int(limit), tenant_data.MAX_CHUNK_ROWS))
        with self.db.reading_rows() as connection:
            return row_changes.read_changes(connection, self.db.metadata, str(tenant_id), since=float(since),
                                            until=float(until), after_id=int(after_id) if after_id is not None
                                            else None, limit=limit)

    @rpc
    def tenant_checksums(self, tenant_id: str, credential: str | None = None) -> dict:
        """Row counts and SHA-256 per tenant table, over one read transaction."""
        self._require_tenant_data_caller(credential)
        with self.db.exports.engine.connect() as connection:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text_("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                return tenant_data.tenant_checksums(connection, self.db.metadata, str(tenant_id))
