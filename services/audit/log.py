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
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.outbox import record_event

from . import merkle, notes
from .models import AuditEntry, Base, LogState, MerkleNode, SignedCheckpoint

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


def canonical_envelope(envelope: Envelope) -> str:
    """`Envelope.to_dict()` as JSON with sorted keys, UTF-8. Built field by field: `to_dict()`
    (`dataclasses.asdict`, a deep copy of the data) cost more than the rest of an append."""
    return orjson.dumps({name: _plain(getattr(envelope, name)) for name in _ENVELOPE_FIELDS},
                        option=orjson.OPT_SORT_KEYS).decode("utf-8")


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

def _entry_row(envelope: Envelope, text_: str, now: float) -> dict:
    e = envelope
    return dict(event_id=e.event_id, type=e.type, tenant_id=e.tenant_id, actor_id=e.actor.id,
                actor_role=e.actor.role, entity_type=e.entity.type, entity_id=e.entity.id, reason=e.reason,
                occurred_at=e.occurred_at, recorded_at=now, correlation_id=e.correlation_id, envelope=text_)


def append(session: Session, envelopes: Sequence[Envelope], now: float | None = None) -> tuple[State, int]:
    """Store the envelopes not stored before (by event_id) as the next leaves; returns the
    state and how many were new. The caller's transaction commits it all at once."""
    now = time.time() if now is None else now
    take_lock(session)
    unique = list({e.event_id: e for e in envelopes}.values())
    seen = set(session.scalars(select(AuditEntry.event_id).where(
        AuditEntry.event_id.in_([e.event_id for e in unique])))) if unique else set()
    fresh = [e for e in unique if e.event_id not in seen]
    state = load_state(session)
    if fresh:
        rows, nodes = [], []
        for envelope in fresh:
            body = canonical_envelope(envelope)
            index = state.tree.size
            h = entry_leaf_hash(index, body)
            state.tree.append(h, nodes)
            rows.append({**_entry_row(envelope, body, now), "leaf_index": index, "leaf_hash": h})
        session.execute(AuditEntry.__table__.insert(), rows)
        _write_nodes(session, nodes)
        _save_state(session, state)
    return state, len(fresh)


def _write_nodes(session: Session, nodes: list) -> None:
    interior = [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes if lv > 0]
    if interior:
        session.execute(MerkleNode.__table__.insert(), interior)


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
