"""The sequencer: appends entries to the Merkle log and signs checkpoints.

One leader at a time: every append runs inside a transaction that first takes the log's
lock (`pg_advisory_xact_lock` on PostgreSQL; on SQLite the transaction's `BEGIN IMMEDIATE`
already holds the database's single write lock). Under it the sequencer reads the tree
state, gives the new entries the next consecutive leaf indexes, writes the perfect subtree
nodes they complete and the new state, all in the same transaction. Indexes are therefore
assigned in commit order: a reader that has seen index i has seen every index below it
(no visibility margin).

A checkpoint is signed under the same lock, from the state it reads there, only forward:
its size is at least the previous checkpoint's and its root is the root of the same leaves,
so two checkpoints are always consistent.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.outbox import record_event

from . import merkle, notes
from .models import AuditEntry, Base, LogState, SignedCheckpoint

LOCK_KEY = 0x61756469  # "audi"
CHECKPOINT_EVENT = "audit.checkpoint_signed"


def leaf_bytes(leaf_index: int, envelope_text: str) -> bytes:
    """The serialisation hashed into the log: the index, a newline, the stored envelope (UTF-8)."""
    return b"%d\n" % leaf_index + envelope_text.encode("utf-8")


def entry_leaf_hash(leaf_index: int, envelope_text: str) -> bytes:
    return merkle.leaf_hash(leaf_bytes(leaf_index, envelope_text))


_ENVELOPE_FIELDS = tuple(f.name for f in dataclasses.fields(Envelope))


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return value


def _canonical_generic(envelope: Envelope) -> str:
    return orjson.dumps({name: _plain(getattr(envelope, name)) for name in _ENVELOPE_FIELDS},
                        option=orjson.OPT_SORT_KEYS).decode("utf-8")


def _canonical_known(e: Envelope) -> str:
    a, n = e.actor, e.entity
    return orjson.dumps({"type": e.type, "tenant_id": e.tenant_id, "actor": {"id": a.id, "role": a.role},
                         "entity": {"type": n.type, "id": n.id}, "data": e.data,
                         "correlation_id": e.correlation_id, "reason": e.reason, "version": e.version,
                         "event_id": e.event_id, "occurred_at": e.occurred_at},
                        option=orjson.OPT_SORT_KEYS).decode("utf-8")


_KNOWN_SHAPE = (_ENVELOPE_FIELDS == ("type", "tenant_id", "actor", "entity", "data", "correlation_id", "reason",
                                     "version", "event_id", "occurred_at")
                and tuple(f.name for f in dataclasses.fields(Actor)) == ("id", "role")
                and tuple(f.name for f in dataclasses.fields(Entity)) == ("type", "id"))


def canonical_envelope(envelope: Envelope) -> str:
    """`Envelope.to_dict()` as JSON with sorted keys, UTF-8. Built field by field: `to_dict()`
    (`dataclasses.asdict`, a deep copy of the data) cost more than the rest of an append; for
    the envelope's known shape the dict is written out (10x faster than walking the fields),
    any other shape takes the generic walk (same bytes)."""
    if _KNOWN_SHAPE and type(envelope.actor) is Actor and type(envelope.entity) is Entity:
        return _canonical_known(envelope)
    return _canonical_generic(envelope)


def take_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


# --- state ---------------------------------------------------------------------------------

@dataclass
class State:
    tree: merkle.CompactRange
    checkpoint_size: int
    checkpoint_at: float
    exists: bool

    @property
    def size(self) -> int:
        return self.tree.size


def load_state(session: Session) -> State:
    row = session.get(LogState, 1)
    if row is None:
        return State(merkle.CompactRange(), 0, 0.0, False)
    raw = row.compact_range
    return State(merkle.CompactRange(row.size, [raw[i:i + 32] for i in range(0, len(raw), 32)]),
                 row.checkpoint_size, row.checkpoint_at, True)


def _save_state(session: Session, state: State) -> None:
    values = dict(size=state.size, compact_range=b"".join(state.tree.hashes),
                  checkpoint_size=state.checkpoint_size, checkpoint_at=state.checkpoint_at)
    if state.exists:
        session.execute(update(LogState).where(LogState.id == 1).values(**values))
    else:
        session.execute(LogState.__table__.insert().values(id=1, **values))
        state.exists = True


# --- appending -----------------------------------------------------------------------------

_ENTRY_COLUMNS = ("event_id", "type", "tenant_id", "actor_id", "actor_role", "entity_type", "entity_id", "reason",
                  "occurred_at", "recorded_at", "correlation_id", "envelope", "leaf_index", "leaf_hash")
_NODE_COLUMNS = ("level", "idx", "hash")
_TABLE_ORDER = tuple(c.name for c in AuditEntry.__table__.c) == ("id", *_ENTRY_COLUMNS)  # rows as the table has them


def _insert_many(session: Session, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """A plain multi-row INSERT at driver level: tuples straight to the DB-API (SQLAlchemy's
    per-row parameter processing of an ORM or Core executemany was half of an append's CPU).
    SQLite: `executemany` of one prepared statement; psycopg2: `execute_values` (multi-row
    VALUES pages, one round trip each)."""
    connection = session.connection()
    dialect = connection.dialect
    names = ", ".join(columns)
    if dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    elif dialect.driver == "psycopg2":
        from psycopg2.extras import execute_values
        with connection.connection.dbapi_connection.cursor() as cursor:
            execute_values(cursor, f"INSERT INTO {table} ({names}) VALUES %s", rows, page_size=1000)
    else:
        session.execute(Base.metadata.tables[table].insert(), [dict(zip(columns, row)) for row in rows])


def _capture_entries(session: Session, rows: list[tuple]) -> None:
    """The driver-level insert went past the row-change capture's statement events: record the
    new entries for the incremental backups (services/kernel/row_changes.py) from the rows just
    written, (id, *_ENTRY_COLUMNS) each, not by reading the entries back."""
    from services.kernel.row_changes import after_driver_insert, after_driver_insert_rows
    table = Base.metadata.tables["audit_entries"]
    if _TABLE_ORDER and after_driver_insert_rows(session.connection(), table, rows):
        return
    after_driver_insert(session.connection(), table, [dict(zip(("id", *_ENTRY_COLUMNS), r)) for r in rows])


def _stored_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    """Which of these event ids are stored already."""
    return {row[0] for row in _by_event_ids(session, "event_id", event_ids)}


def _by_event_ids(session: Session, columns: str, event_ids: list[str]) -> list[tuple]:
    """`columns` of the entries with these event ids (driver-level IN, 500 ids a statement: no
    per-literal coercion)."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    out: list[tuple] = []
    for start in range(0, len(event_ids), 500):
        part = event_ids[start:start + 500]
        sql = f"SELECT {columns} FROM audit_entries WHERE event_id IN ({', '.join([mark] * len(part))})"
        out.extend(tuple(row) for row in connection.exec_driver_sql(sql, tuple(part)))
    return out


def append(session: Session, envelopes: Sequence[Envelope], now: float | None = None) -> tuple[State, int]:
    """Store the envelopes not stored before (by event_id) as the next leaves; returns the
    state and how many were new. The caller's transaction commits it all at once."""
    now = time.time() if now is None else now
    take_lock(session)
    unique = list({e.event_id: e for e in envelopes}.values())
    seen = _stored_event_ids(session, [e.event_id for e in unique])
    fresh = [e for e in unique if e.event_id not in seen]
    state = load_state(session)
    if fresh:
        rows, nodes = [], []
        tree, sha = state.tree, merkle.sha256
        for e in fresh:
            body = canonical_envelope(e)
            index = tree.size
            h = sha(b"\x00%d\n" % index + body.encode("utf-8")).digest()  # entry_leaf_hash, inlined
            tree.append(h, nodes)
            actor, entity = e.actor, e.entity
            rows.append((e.event_id, e.type, e.tenant_id, actor.id, actor.role, entity.type, entity.id, e.reason,
                         e.occurred_at, now, e.correlation_id, body, index, h))
        if session.get_bind().dialect.name == "sqlite":  # the write lock is held (BEGIN IMMEDIATE): the
            first = (session.scalar(select(func.max(AuditEntry.id))) or 0) + 1  # ids SQLite would give
            rows = [(i, *r) for i, r in zip(range(first, first + len(rows)), rows)]
            _insert_many(session, "audit_entries", ("id", *_ENTRY_COLUMNS), rows)
        else:
            _insert_many(session, "audit_entries", _ENTRY_COLUMNS, rows)
            ids = dict(_by_event_ids(session, "event_id, id", [r[0] for r in rows]))
            rows = [(ids[r[0]], *r) for r in rows]
        _capture_entries(session, rows)
        _write_nodes(session, nodes)
        _save_state(session, state)
    return state, len(fresh)


def _write_nodes(session: Session, nodes: list) -> None:
    interior = [node for node in nodes if node[0] > 0]  # (level, idx, hash); level 0 is the entry
    if interior:
        _insert_many(session, "merkle_nodes", _NODE_COLUMNS, interior)


def sequence_legacy(session: Session, batch: int = 5000) -> int:
    """Give leaf indexes to entries stored before the log existed (id order); returns how many."""
    take_lock(session)
    state = load_state(session)
    done = 0
    while True:
        rows = session.execute(select(AuditEntry.id, AuditEntry.envelope).where(AuditEntry.leaf_index.is_(None))
                               .order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            break
        nodes, updates = [], []
        for row_id, body in rows:
            index = state.tree.size
            h = entry_leaf_hash(index, body)
            state.tree.append(h, nodes)
            updates.append({"row_id": row_id, "leaf_index": index, "leaf_hash": h})
        t = AuditEntry.__table__
        from sqlalchemy import bindparam
        session.execute(t.update().where(t.c.id == bindparam("row_id"))
                        .values(leaf_index=bindparam("leaf_index"), leaf_hash=bindparam("leaf_hash")), updates)
        _write_nodes(session, nodes)
        done += len(rows)
    if done or not state.exists:
        _save_state(session, state)
    return done


# --- reading the tree ------------------------------------------------------------------------

def node_getter(session: Session) -> merkle.NodeGetter:
    """Stored perfect nodes: level 0 from the entries' leaf hashes, the rest from merkle_nodes.

    One driver-level statement per proof (a proof's shape differs each time, so a compiled
    SQLAlchemy statement would be rebuilt for every call): one index range per level."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"

    def get(wanted: Sequence[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        found: dict = {}
        for start in range(0, len(wanted), 400):  # bounded statements for bulk lookups
            found.update(get_some(wanted[start:start + 400]))
        return found

    def get_some(wanted: Sequence[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        per_level: dict[int, list[int]] = {}
        for lv, ix in wanted:
            per_level.setdefault(lv, []).append(ix)
        found: dict = {}
        leaves = per_level.pop(0, None)
        if leaves:
            sql = f"SELECT leaf_index, leaf_hash FROM audit_entries WHERE leaf_index IN ({','.join([mark] * len(leaves))})"
            for index, h in connection.exec_driver_sql(sql, tuple(leaves)):
                found[(0, index)] = bytes(h)
        if per_level:
            terms, params = [], []
            for lv, ixs in per_level.items():
                terms.append(f"(level = {mark} AND idx IN ({','.join([mark] * len(ixs))}))")
                params += [lv, *ixs]
            sql = f"SELECT level, idx, hash FROM merkle_nodes WHERE {' OR '.join(terms)}"
            for lv, ix, h in connection.exec_driver_sql(sql, tuple(params)):
                found[(lv, ix)] = bytes(h)
        return found
    return get


# --- checkpoints ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Signer:
    origin: str
    key: Ed25519PrivateKey

    def sign(self, size: int, root: bytes) -> str:
        return notes.sign_checkpoint(notes.Checkpoint(self.origin, size, root), self.origin, self.key)


class ForkRefused(RuntimeError):
    """The stored tree is behind or off a checkpoint already published: never sign."""


def checkpoint_due(state: State, now: float, every_entries: int, every_seconds: float) -> bool:
    grown = state.size - state.checkpoint_size
    return grown > 0 and (grown >= every_entries or now - state.checkpoint_at >= every_seconds)


def sign_checkpoint(session: Session, state: State, signer: Signer, now: float,
                    published: Callable[[], notes.Checkpoint | None] = lambda: None) -> dict:
    """Sign the state's tree (the caller holds the lock); the checkpoint row and its
    `audit.checkpoint_signed` event are written in the caller's transaction."""
    last = session.execute(select(SignedCheckpoint.size, SignedCheckpoint.root)
                           .order_by(SignedCheckpoint.id.desc()).limit(1)).first()
    root = state.tree.root()
    getter = node_getter(session)
    for reference in filter(None, (last and notes.Checkpoint(signer.origin, last[0], last[1]), published())):
        if reference.size > state.size:
            raise ForkRefused(f"a published checkpoint covers {reference.size} entries, the log has {state.size}")
        if reference.size and merkle.root_at(reference.size, getter) != reference.root:
            raise ForkRefused(f"the log's tree at size {reference.size} differs from a published checkpoint")
    note = signer.sign(state.size, root)
    session.execute(SignedCheckpoint.__table__.insert().values(size=state.size, root=root, note=note, issued_at=now))
    state.checkpoint_size, state.checkpoint_at = state.size, now
    _save_state(session, state)
    record_event(session, Base.metadata, Envelope(
        type=CHECKPOINT_EVENT, tenant_id=None, actor=Actor("system", "system"),
        entity=Entity("audit_checkpoint", str(state.size)),
        data=change_data({"origin": signer.origin, "size": state.size, "root": root.hex(), "note": note}),
        correlation_id=f"checkpoint-{state.size}"))
    return {"size": state.size, "root": root, "note": note, "issued_at": now}
