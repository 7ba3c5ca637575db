"""One tenant's rows of one service, out and back in: the generic engine of per-tenant backups.

Every service inherits the RPCs that use this (`ServiceBase.tenant_export_*`,
`tenant_import_chunk`, `tenant_checksums`); the backup service never reads another
service's database, it asks the owner.

Which rows belong to a tenant, read from the service's own metadata:
- every table with a `tenant_id` column: `tenant_id = :tenant` ("owned");
- a table without one that such a table points at by foreign key ("shared": e.g. auth's
  `tenants` and `users`, registry's `persons`): the rows the tenant's rows point at. They may
  be shared with other tenants, so a live restore inserts the missing ones and never changes
  or deletes one.

A consistent snapshot across many chunk calls: an export session. On PostgreSQL the
opening call starts a REPEATABLE READ transaction and exports its snapshot
(`pg_export_snapshot()`, what `pg_dump --jobs` does); every chunk call, on whichever replica
receives it, reads in a REPEATABLE READ transaction that adopts that snapshot
(`SET TRANSACTION SNAPSHOT`), so chunks need not reach the replica that opened it. The
opener keeps its transaction open until `close` or a timeout. On SQLite the session is one
read transaction held open by the process that opened it (the embedded mode runs one
process per service). Pages are keyset pages by primary key inside that snapshot.

Values cross the bus as JSON: dates as ISO strings, decimals as strings, bytes as base64,
decoded again by column type on import. No SQLAlchemy ORM, no nameko here.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson
from sqlalchemy import MetaData, Table, and_, delete, or_, select, text, tuple_
from sqlalchemy.engine import Connection, Engine

from .errors import InvalidInput, NotFound

KERNEL_TABLES = frozenset({"outbox", "inbox", "row_changes"})
MAX_CHUNK_ROWS = 5000
SESSION_SECONDS = 600.0


# --- which tables, which rows -------------------------------------------------------------

@dataclass(frozen=True)
class TablePlan:
    name: str
    kind: str  # "owned" | "shared"
    # for shared tables: (referenced column of this table, owning table, its column)
    references: tuple[tuple[str, str, str], ...] = ()


def plan(metadata: MetaData) -> list[TablePlan]:
    """The tenant's tables in dependency order (parents first)."""
    owned = {t.name for t in metadata.sorted_tables if "tenant_id" in t.c and t.name not in KERNEL_TABLES}
    shared: dict[str, list[tuple[str, str, str]]] = {}
    for table in metadata.sorted_tables:
        if table.name not in owned:
            continue
        for fk in table.foreign_keys:
            target = fk.column.table
            if target.name in owned or target.name in KERNEL_TABLES:
                continue
            shared.setdefault(target.name, []).append((fk.column.name, table.name, fk.parent.name))
    # str(): SQLAlchemy's quoted_name is a str subclass, which orjson refuses as a dict key
    return [TablePlan(str(t.name), "owned" if t.name in owned else "shared",
                      tuple((str(a), str(b), str(c)) for a, b, c in shared.get(t.name, ())))
            for t in metadata.sorted_tables if t.name in owned or t.name in shared]


def _tenant_filter(metadata: MetaData, item: TablePlan, tenant_id: str):
    table = metadata.tables[item.name]
    if item.kind == "owned":
        return table.c.tenant_id == tenant_id
    clauses = []
    for column, owner_name, owner_column in item.references:
        owner = metadata.tables[owner_name]
        if owner_column == "tenant_id":
            clauses.append(table.c[column] == tenant_id)
        else:
            clauses.append(table.c[column].in_(select(owner.c[owner_column]).where(owner.c.tenant_id == tenant_id)))
    return or_(*clauses)


def _pk(table: Table) -> list:
    return list(table.primary_key.columns)


# --- values on the wire -------------------------------------------------------------------

def _python_type(column) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def encode_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


_DECODERS = {dt.datetime: dt.datetime.fromisoformat, dt.date: dt.date.fromisoformat, dt.time: dt.time.fromisoformat,
             decimal.Decimal: decimal.Decimal, bytes: base64.b64decode}
_table_decoders: dict[int, tuple[Table, dict]] = {}


def _decoders(table: Table) -> dict:
    """Column name → how a JSON string becomes its value (None: kept as it is)."""
    cached = _table_decoders.get(id(table))
    if cached is None or cached[0] is not table:
        cached = (table, {c.name: _DECODERS.get(_python_type(c)) for c in table.c})
        _table_decoders[id(table)] = cached
    return cached[1]


def decode_row(table: Table, row: dict) -> dict:
    decoders = _decoders(table)
    out = {}
    for name, value in row.items():
        if name not in decoders:
            raise InvalidInput(f"table {table.name} has no column {name}")
        decode = decoders[name]
        out[name] = decode(value) if decode is not None and isinstance(value, str) else value
    return out


_PLAIN = (str, int, float, bool, type(None))
_table_encoders: dict[int, tuple[Table, list]] = {}


def _encoders(table: Table) -> list:
    """Per column (in table order): its name, and whether its values need converting."""
    cached = _table_encoders.get(id(table))
    if cached is None or cached[0] is not table:
        cached = (table, [(c.name, _python_type(c) not in (str, int, float, bool)) for c in table.c])
        _table_encoders[id(table)] = cached
    return cached[1]


def encode_row(row, table: Table | None = None) -> dict:
    if table is None:
        return {k: encode_value(v) for k, v in row._mapping.items()}
    return {name: (encode_value(v) if convert and not isinstance(v, _PLAIN) else v)
            for (name, convert), v in zip(_encoders(table), row)}


def row_bytes(row: dict) -> bytes:
    """The canonical form a row is hashed in: one JSON line, keys sorted."""
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n"


class TableDigest:
    """Row count and SHA-256 over a table's rows in primary-key order (canonical JSON lines)."""

    def __init__(self):
        self.rows = 0
        self._hash = hashlib.sha256()

    def add(self, rows: list[dict]) -> None:
        for row in rows:
            self._hash.update(row_bytes(row))
        self.rows += len(rows)

    def as_dict(self) -> dict:
        return {"rows": self.rows, "sha256": self._hash.hexdigest()}


# --- reading pages ------------------------------------------------------------------------

def read_page(connection: Connection, metadata: MetaData, item: TablePlan, tenant_id: str,
              after: list | None, limit: int) -> tuple[list[dict], list | None]:
    """One keyset page: rows after primary key `after`, in key order; and the next `after`."""
    table = metadata.tables[item.name]
    pk = _pk(table)
    query = select(table).where(_tenant_filter(metadata, item, tenant_id)).order_by(*pk).limit(limit)
    if after is not None:
        if len(after) != len(pk):
            raise InvalidInput("the page cursor does not fit this table's key")
        after_values = [decode_row(table, {c.name: v})[c.name] for c, v in zip(pk, after)]
        query = query.where(pk[0] > after_values[0] if len(pk) == 1 else tuple_(*pk) > tuple_(*after_values))
    rows = [encode_row(r, table) for r in connection.execute(query)]
    cursor = [rows[-1][c.name] for c in pk] if len(rows) == limit else None
    return rows, cursor


def iter_tenant_rows(connection: Connection, metadata: MetaData, tenant_id: str,
                     limit: int = 1000) -> Iterator[tuple[str, list[dict]]]:
    """Every page of every tenant table on one connection (its transaction is the snapshot)."""
    for item in plan(metadata):
        after = None
        while True:
            rows, after = read_page(connection, metadata, item, tenant_id, after, limit)
            if rows:
                yield item.name, rows
            if after is None:
                break


def tenant_checksums(connection: Connection, metadata: MetaData, tenant_id: str) -> dict[str, dict]:
    digests = {item.name: TableDigest() for item in plan(metadata)}
    for name, rows in iter_tenant_rows(connection, metadata, tenant_id):
        digests[name].add(rows)
    return {name: d.as_dict() for name, d in digests.items()}


# --- export sessions ----------------------------------------------------------------------

@dataclass
class _Session:
    connection: Connection
    transaction: Any
    tenant_id: str
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class ExportSessions:
    """The export sessions this process holds open (see the module docstring)."""

    def __init__(self, engine: Engine, metadata: MetaData, *, timeout: float = SESSION_SECONDS):
        self.engine = engine
        self.metadata = metadata
        self.timeout = timeout
        self._open: dict[str, _Session] = {}
        self._guard = threading.Lock()

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def reap(self) -> None:
        now = time.monotonic()
        with self._guard:
            expired = [sid for sid, s in self._open.items() if s.deadline < now]
        for sid in expired:
            self.close(sid)

    def open(self, tenant_id: str) -> dict:
        self.reap()
        if self.is_postgresql:
            connection = self.engine.connect().execution_options(isolation_level="REPEATABLE READ")
            transaction = connection.begin()
            connection.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
        else:
            connection = self.engine.connect().execution_options(readonly=True)
            transaction = connection.begin()
            # the first read fixes SQLite's WAL snapshot for the rest of this transaction
            connection.execute(text("SELECT count(*) FROM sqlite_master"))
            snapshot = None
        session_id = str(uuid.uuid4())
        started = dt.datetime.now(dt.timezone.utc).isoformat()
        with self._guard:
            self._open[session_id] = _Session(connection, transaction, tenant_id, time.monotonic() + self.timeout)
        return {"session_id": session_id, "snapshot": snapshot, "as_of": started,
                "tables": [{"name": p.name, "kind": p.kind} for p in plan(self.metadata)],
                "timeout_seconds": self.timeout}

    def chunk(self, session_id: str, snapshot: str | None, tenant_id: str, table: str,
              after: list | None, limit: int) -> dict:
        items = {p.name: p for p in plan(self.metadata)}
        if table not in items:
            raise NotFound(f"no tenant table {table}")
        limit = max(1, min(int(limit), MAX_CHUNK_ROWS))
        with self._guard:
            held = self._open.get(session_id)
        if held is not None:
            if held.tenant_id != tenant_id:
                raise NotFound("export session not found")
            with held.lock:
                held.deadline = time.monotonic() + self.timeout
                rows, cursor = read_page(held.connection, self.metadata, items[table], tenant_id, after, limit)
        elif snapshot and self.is_postgresql:
            rows, cursor = self._chunk_in_snapshot(snapshot, items[table], tenant_id, after, limit)
        else:
            raise NotFound("export session not found or expired: open a new one")
        return {"table": table, "rows": rows, "next": cursor}

    def _chunk_in_snapshot(self, snapshot: str, item: TablePlan, tenant_id: str, after, limit):
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                try:
                    connection.execute(text("SET TRANSACTION SNAPSHOT :s"), {"s": snapshot})
                except Exception as exc:  # the opener closed it or timed out
                    raise NotFound("export session not found or expired: open a new one") from exc
                return read_page(connection, self.metadata, item, tenant_id, after, limit)

    def close(self, session_id: str) -> bool:
        with self._guard:
            held = self._open.pop(session_id, None)
        if held is None:
            return False
        try:
            held.transaction.rollback()
        finally:
            held.connection.close()
        return True

    def close_all(self) -> None:
        for sid in list(self._open):
            self.close(sid)


# --- writing back -------------------------------------------------------------------------

def clear_tenant(connection: Connection, metadata: MetaData, tenant_id: str) -> dict[str, int]:
    """Delete the tenant's owned rows (children first). Shared rows are never deleted."""
    removed = {}
    for item in reversed(plan(metadata)):
        if item.kind == "owned":
            table = metadata.tables[item.name]
            removed[item.name] = connection.execute(delete(table).where(table.c.tenant_id == tenant_id)).rowcount
    return removed


def import_rows(connection: Connection, metadata: MetaData, tenant_id: str, table_name: str,
                rows: list[dict]) -> int:
    """Insert rows of one tenant table. Owned rows must carry this tenant's id; shared rows are
    inserted only where their key is missing (they may belong to other tenants too)."""
    items = {p.name: p for p in plan(metadata)}
    if table_name not in items:
        raise NotFound(f"no tenant table {table_name}")
    table = metadata.tables[table_name]
    decoded = [decode_row(table, r) for r in rows]
    if not decoded:
        return 0
    if items[table_name].kind == "owned":
        if any(r.get("tenant_id") != tenant_id for r in decoded):
            raise InvalidInput("a row of another tenant cannot be imported into this one")
        connection.execute(table.insert(), decoded)
        return len(decoded)
    pk = _pk(table)
    existing = set()
    if len(pk) == 1:
        keys = [r[pk[0].name] for r in decoded]
        existing = set(connection.scalars(select(pk[0]).where(pk[0].in_(keys))))
    fresh = [r for r in decoded if len(pk) != 1 or r[pk[0].name] not in existing]
    if fresh:
        connection.execute(table.insert(), fresh)
    return len(fresh)


def row_image(metadata: MetaData, tenant_id: str, envelope: dict) -> tuple[Table, dict] | None:
    """The row an event's after-image describes, if it describes one: the owned table whose
    single-column primary key is in the image and equals the entity id, and whose columns hold
    every key of the image (its name matching the entity type first). Returns the table and the
    image's columns decoded as `decode_row` does (the key and `tenant_id` included), or None
    when the event is not a row image (a login, an enrolment keyed otherwise)."""
    after = (envelope.get("data") or {}).get("after")
    entity = envelope.get("entity") or {}
    if not isinstance(after, dict) or not entity.get("id"):
        return None
    entity_type = str(entity.get("type", ""))
    candidates = []
    for item in plan(metadata):
        table = metadata.tables[item.name]
        pk = _pk(table)
        if item.kind != "owned" or len(pk) != 1:
            continue
        if after.get(pk[0].name) != entity["id"]:
            continue  # the image must name its own row: an image keyed otherwise is not replayable
        named = item.name in (entity_type, entity_type + "s", entity_type + "es")
        # every key a column of the table; the table the entity type names may also carry extra,
        # derived keys in its image (a grade's `via`), which are not stored and are left out
        if not named and not set(after) <= set(table.c.keys()):
            continue
        candidates.append((not named, item.name))
    if not candidates:
        return None
    table = metadata.tables[min(candidates)[1]]
    pk = _pk(table)[0]
    columns = set(table.c.keys())
    image = decode_row(table, {**{k: v for k, v in after.items() if k in columns}, pk.name: entity["id"],
                               "tenant_id": tenant_id})
    return table, image


def replay_event(connection: Connection, metadata: MetaData, tenant_id: str, envelope: dict) -> str | None:
    """Apply one event's after-image (`row_image`) as a row of the table it describes, if it
    describes one. Returns the table name, or None when the event is not a row image."""
    described = row_image(metadata, tenant_id, envelope)
    if described is None:
        return None
    table, image = described
    entity = envelope["entity"]
    pk = _pk(table)[0]
    current = connection.execute(select(table).where(pk == entity["id"], table.c.tenant_id == tenant_id)).first()
    if current is not None:
        connection.execute(table.update().where(and_(pk == entity["id"], table.c.tenant_id == tenant_id))
                           .values({k: v for k, v in image.items() if k != pk.name}))
        return str(table.name)
    required = {c.name for c in table.c if not c.nullable and c.default is None and c.server_default is None}
    if not required <= set(image):
        return None
    if "created_at" in table.c and "created_at" not in image and envelope.get("occurred_at"):
        image["created_at"] = dt.datetime.fromisoformat(envelope["occurred_at"]).timestamp()
    for column in table.c:  # Python-side defaults (ids, timestamps) as the ORM would fill them
        if column.name not in image and column.default is not None and column.default.is_scalar:
            image[column.name] = column.default.arg
        elif column.name not in image and column.default is not None and column.default.is_callable:
            try:
                image[column.name] = column.default.arg(None)
            except TypeError:
                image[column.name] = column.default.arg()
    connection.execute(table.insert(), [image])
    return str(table.name)


def apply_row_changes(connection: Connection, metadata: MetaData, tenant_id: str, changes: list[dict], *,
                      update_shared: bool, snapshot_at: float | None = None) -> dict[str, int]:
    """Apply captured row changes in their order; returns how many per table ("skipped": not
    applied). A change recorded before the snapshot they are replayed over (`snapshot_at`) may
    describe a row the snapshot already holds in a later state, and point at rows gone since:
    such a change is applied in a savepoint, and one the schema refuses is skipped (the
    snapshot, or a later change, holds the row's state)."""
    from sqlalchemy.exc import IntegrityError
    applied: dict[str, int] = {}
    for change in changes:
        if snapshot_at is not None and float(change.get("at") or 0) <= snapshot_at:
            try:
                with connection.begin_nested():
                    table = apply_row_change(connection, metadata, tenant_id, change, update_shared=update_shared)
            except IntegrityError:
                table = None
        else:
            table = apply_row_change(connection, metadata, tenant_id, change, update_shared=update_shared)
        applied[table or "skipped"] = applied.get(table or "skipped", 0) + 1
    return applied


def apply_row_change(connection: Connection, metadata: MetaData, tenant_id: str, change: dict, *,
                     update_shared: bool) -> str | None:
    """Apply one captured row change (`row_changes.read_changes`): the row's image written as
    it is (updated where its key exists, inserted otherwise), or the row deleted. Owned rows
    must be this tenant's; a shared row is never deleted, and changed only if `update_shared`
    (a restore into fresh databases; a live restore only adds the missing ones). Returns the
    table name, or None when the change was skipped."""
    items = {p.name: p for p in plan(metadata)}
    item = items.get(change.get("table"))
    if item is None:
        raise NotFound(f"no tenant table {change.get('table')}")
    table = metadata.tables[item.name]
    pk = _pk(table)
    key = change.get("key")
    if not isinstance(key, list) or len(key) != len(pk):
        raise InvalidInput("a row change's key does not fit its table")
    key_values = decode_row(table, {c.name: v for c, v in zip(pk, key)})
    where = and_(*(c == key_values[c.name] for c in pk))
    if item.kind == "owned":
        where = and_(where, table.c.tenant_id == tenant_id)
    image = change.get("row")
    if image is None:
        if item.kind != "owned":
            return None
        connection.execute(delete(table).where(where))
        return item.name
    row = decode_row(table, image)
    if any(row.get(c.name) != key_values[c.name] for c in pk):
        raise InvalidInput("a row change's image does not hold its own key")
    if item.kind == "owned" and row.get("tenant_id") != tenant_id:
        raise InvalidInput("a row of another tenant cannot be imported into this one")
    exists = connection.execute(select(*pk).where(where)).first() is not None
    if exists:
        if item.kind != "owned" and not update_shared:
            return None
        connection.execute(table.update().where(where).values({k: v for k, v in row.items() if k not in key_values}))
    else:
        connection.execute(table.insert(), [row])
    return item.name
