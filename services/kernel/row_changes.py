"""Row-change capture: every change of a tenant's rows, as the row's image, in the service's own
`row_changes` table, in the same transaction as the change (like the outbox). This is what an
incremental backup set carries, so that a point-in-time restore brings back every table, also
those whose rows no event describes (grade versions, restriction periods, sessions, audit
entries...).

How: engine events see every Core statement, the ORM's flushes included (they are Core
statements too). For an INSERT, the keys come from its compiled parameters (Python-side
defaults already applied); an UPDATE or DELETE first selects the keys its WHERE clause matches.
After the statement, the rows of those keys are read back in the same transaction and stored
as JSON images (`tenant_data.encode_row`, the export's own encoding), or as a deletion when the
row is gone. Driver-level writes that bypass SQLAlchemy's statements (`db.bulk_insert`, the
audit log's appends) call `after_driver_insert` themselves; a bulk insert that writes every
column is recorded from its own rows, without reading them back.

Which rows: the tenant tables of `tenant_data.plan` (owned ones carry `tenant_id`; a shared row,
e.g. a person, is recorded for every tenant whose rows point at it, and also before a new owned
row that points at it, so a restore finds the parent before the child; once per tenant and
transaction, with one query per table and chunk of rows, never one per row).

Order: `row_changes.id`. Two transactions that change the same row are serialised by the row's
lock, and each image is written after its statement, under that lock: per row, id order is
commit order. A transaction may commit a little after a reader read past its changes: the
backup service's next incremental set starts a settling delay before the previous one ended.

Rows older than ROW_CHANGES_RETENTION_DAYS are pruned (they are sealed into a daily incremental
set long before).
"""
from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal

import orjson
from sqlalchemy import Column, Float, Index, MetaData, String, Table, Text, event, select, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BindParameter

TABLE = "row_changes"
KEY_CHUNK = 400


def add_row_changes_table(metadata: MetaData, id_type) -> Table:
    return Table(
        TABLE, metadata,
        Column("id", id_type, primary_key=True, autoincrement=True),
        Column("tenant_id", String(36), nullable=False),
        Column("table_name", String(100), nullable=False),
        Column("row_key", Text, nullable=False),  # JSON list: the primary key's values
        Column("image", Text, nullable=True),  # JSON object: the row; NULL: the row was deleted
        Column("recorded_at", Float, nullable=False),
        Index("ix_row_changes_tenant_id", "tenant_id", "id"),
        Index("ix_row_changes_recorded_at", "recorded_at"),
    )


class RowCapture:
    """The capture of one service's metadata, installed on its engine (`install`)."""

    def __init__(self, metadata: MetaData):
        from . import tenant_data
        self.metadata = metadata
        self.table = metadata.tables[TABLE]
        self.plan = {p.name: p for p in tenant_data.plan(metadata)}
        # owned table -> [(its column, shared table)] for foreign keys to shared tables
        self.parents: dict[str, list[tuple[str, str]]] = {}
        for name, item in self.plan.items():
            if item.kind != "owned":
                continue
            for fk in metadata.tables[name].foreign_keys:
                target = fk.column.table.name
                if target in self.plan and self.plan[target].kind == "shared" and \
                        len(metadata.tables[target].primary_key.columns) == 1:
                    self.parents.setdefault(name, []).append((fk.parent.name, str(target)))

    # --- installing --------------------------------------------------------------------------

    def install(self, engine: Engine) -> None:
        if not self.plan or getattr(engine, "_row_capture", None) is not None:
            return
        engine._row_capture = self  # type: ignore[attr-defined]
        event.listen(engine, "before_execute", self._before)
        event.listen(engine, "after_execute", self._after)

    def _tracked(self, statement) -> Table | None:
        if not isinstance(statement, (Insert, Update, Delete)):
            return None
        name = getattr(statement.table, "name", None)
        return self.metadata.tables[name] if name in self.plan else None

    def _before(self, conn: Connection, statement, multiparams, params, options):
        table = self._tracked(statement)
        if table is None or isinstance(statement, Insert):
            return
        where = statement.whereclause
        query = select(table)
        if where is not None:
            query = query.where(where)
        before: list[dict] = []
        for p in (multiparams or [params or {}]):
            before.extend(dict(r._mapping) for r in conn.execute(query, p))
        pending = conn.info.setdefault("row_capture_before", {})
        if len(pending) > 100:  # statements that failed between the two events
            pending.clear()
        pending[id(statement)] = before

    def _after(self, conn: Connection, statement, multiparams, params, options, result):
        table = self._tracked(statement)
        if table is None:
            return
        pk = list(table.primary_key.columns)
        if isinstance(statement, Insert):
            compiled = result.context.compiled_parameters
            keys = _insert_keys(pk, compiled)
            images = _insert_images(table, statement, pk, compiled)
            self.capture_keys(conn, table, keys, new_rows=True, images=images)
            return
        before = conn.info.get("row_capture_before", {}).pop(id(statement), [])
        keys = [tuple(r[c.name] for c in pk) for r in before]
        self.capture_keys(conn, table, keys, before={k: r for k, r in zip(keys, before)})

    # --- recording ---------------------------------------------------------------------------

    def capture_keys(self, conn: Connection, table: Table, keys: list[tuple], *, before: dict | None = None,
                     new_rows: bool = False, images: dict[tuple, dict] | None = None) -> None:
        """Record the current image of the rows with these keys (a deletion where a row is gone;
        `before` gives the deleted rows, for their tenant). `images`: the rows as just written,
        when the writer knows every column (no read-back)."""
        from .tenant_data import encode_row
        if not keys:
            return
        table = self.metadata.tables[table.name]
        pk = list(table.primary_key.columns)
        keys = list(dict.fromkeys(keys))
        found: dict[tuple, dict] = dict(images) if images is not None else {}
        if images is None:  # read back
            for start in range(0, len(keys), KEY_CHUNK):
                part = keys[start:start + KEY_CHUNK]
                where = pk[0].in_([k[0] for k in part]) if len(pk) == 1 else tuple_(*pk).in_(part)
                for row in conn.execute(select(table).where(where)):
                    found[tuple(row._mapping[c.name] for c in pk)] = encode_row(row, table)
        now = time.time()
        item = self.plan[table.name]
        recorded = _recorded_in_transaction(conn)
        present: list[tuple[tuple, dict | None, dict]] = []  # (key, image or None: deleted, the row's values)
        for key in keys:
            image = found.get(key)
            if image is None and (before is None or key not in before):
                continue  # an insert that did not happen (ON CONFLICT DO NOTHING)
            present.append((key, image, image if image is not None else encode_row_dict(before[key])))
        if not present:
            return
        if item.kind == "owned":
            tenants_of = [[source.get("tenant_id")] for _k, _i, source in present]
        else:
            tenants_of = self._tenants_of_shared(conn, item, [source for _k, _i, source in present])
        out: list[dict] = []
        if new_rows and item.kind == "owned":  # the shared rows they point at, before them
            out.extend(self._parent_images(conn, table.name, [i for _k, i, _s in present if i is not None], now,
                                           recorded))
        for (key, image, _source), tenants in zip(present, tenants_of):
            row_key = _dumps(list(key))
            body = _dumps(image) if image is not None else None
            for t in tenants:
                if t:
                    out.append({"tenant_id": t, "table_name": table.name, "row_key": row_key, "image": body,
                                "recorded_at": now})
                    if item.kind == "shared":
                        recorded.add((t, table.name, row_key))
        if out:
            from .db import _bulk_insert
            _bulk_insert(conn, self.table, out)  # driver level: no per-value work in SQLAlchemy

    def _tenants_of_shared(self, conn: Connection, item, sources: list[dict]) -> list[list[str]]:
        """For each shared row, the tenants whose rows point at it (one query per reference and
        chunk of rows, not per row)."""
        tenants: list[set[str]] = [set() for _ in sources]
        for column, owner_name, owner_column in item.references:
            if owner_column == "tenant_id":
                for i, source in enumerate(sources):
                    if source.get(column) is not None:
                        tenants[i].add(source[column])
                continue
            values = list(dict.fromkeys(s.get(column) for s in sources if s.get(column) is not None))
            owner = self.metadata.tables[owner_name]
            by_value: dict = {}
            for start in range(0, len(values), KEY_CHUNK):
                part = values[start:start + KEY_CHUNK]
                for value, tenant in conn.execute(select(owner.c[owner_column], owner.c.tenant_id)
                                                  .where(owner.c[owner_column].in_(part)).distinct()):
                    by_value.setdefault(value, set()).add(tenant)
            for i, source in enumerate(sources):
                tenants[i].update(by_value.get(source.get(column), ()))
        return [sorted(t) for t in tenants]

    def _parent_images(self, conn: Connection, table_name: str, images: list[dict], now: float,
                       recorded: set) -> list[dict]:
        """The images of the shared rows that new owned rows point at, each once per tenant and
        transaction (a batch of links, enrolments and versions of the same persons records each
        person once)."""
        from .tenant_data import encode_row
        out: list[dict] = []
        for column, parent_name in self.parents.get(table_name, ()):
            wanted: dict = {}  # parent key value -> tenants that still need its image
            for image in images:
                value = image.get(column)
                if value is None:
                    continue
                row_key = orjson.dumps([value]).decode()
                if (image["tenant_id"], parent_name, row_key) not in recorded:
                    wanted.setdefault(value, set()).add(image["tenant_id"])
            if not wanted:
                continue
            parent = self.metadata.tables[parent_name]
            pk = list(parent.primary_key.columns)[0]
            values = list(wanted)
            for start in range(0, len(values), KEY_CHUNK):
                for row in conn.execute(select(parent).where(pk.in_(values[start:start + KEY_CHUNK]))):
                    value = row._mapping[pk.name]
                    row_key = orjson.dumps([value]).decode()
                    body = orjson.dumps(encode_row(row, parent)).decode()
                    for tenant in sorted(wanted[value]):
                        out.append({"tenant_id": tenant, "table_name": parent_name, "row_key": row_key,
                                    "image": body, "recorded_at": now})
                        recorded.add((tenant, parent_name, row_key))
        return out


def _recorded_in_transaction(conn: Connection) -> set:
    """(tenant, shared table, row key) whose image this transaction has already recorded (kept per
    innermost transaction: after a savepoint, images are recorded again rather than missed)."""
    txn = conn.get_nested_transaction() or conn.get_transaction()
    if txn is None:
        return set()
    slot = conn.info.get("row_capture_recorded")
    if slot is None or slot[0] is not txn:
        slot = (txn, set())
        conn.info["row_capture_recorded"] = slot
    return slot[1]


def _encode_default(value):
    from .tenant_data import encode_value
    encoded = encode_value(value)
    if encoded is value:
        raise TypeError(f"{type(value).__name__} is not a value of a row")
    return encoded


def _dumps(value) -> str:
    """An image or key as JSON, each value as `tenant_data.encode_value` writes it: orjson writes
    str, int, float, bool, None and UUIDs itself (as encode_value would); dates, times, Decimals
    and bytes go through encode_value (OPT_PASSTHROUGH_DATETIME: not orjson's own date format).
    One C call per row instead of one Python call per value."""
    return orjson.dumps(value, default=_encode_default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


def encode_row_dict(row: dict) -> dict:
    from .tenant_data import encode_value
    return {k: encode_value(v) for k, v in row.items()}


def _insert_keys(pk: list, compiled: list[dict] | None) -> list[tuple]:
    """Primary keys of the rows an INSERT wrote, from its compiled parameters (one dict per row
    of an executemany; `<column>_m<i>` names for a multi-row VALUES)."""
    keys = []
    for params in compiled or ():
        if all(c.key in params for c in pk):
            keys.append(tuple(params[c.key] for c in pk))
            continue
        i = 0
        while all(f"{c.key}_m{i}" in params for c in pk):
            keys.append(tuple(params[f"{c.key}_m{i}"] for c in pk))
            i += 1
    return [k for k in keys if all(v is not None for v in k)]


_PLAIN_PARAMS = (str, int, float, bool, type(None), dict, list, date, datetime, Decimal, bytes)


def _insert_images(table: Table, statement: Insert, pk: list, compiled: list[dict] | None) -> dict | None:
    """The images of the rows an INSERT wrote, taken from its own parameters when they say
    everything: one row per parameter set (no multi-row VALUES, no INSERT … SELECT), no ON
    CONFLICT (a row may not have been written), no SQL expression as a value, and every column
    either given or without a default of any kind (so NULL). Otherwise None: read back."""
    from .tenant_data import encode_value
    if not compiled or statement._multi_values or statement.select is not None or \
            getattr(statement, "_post_values_clause", None) is not None:
        return None
    if statement._values and any(not isinstance(v, BindParameter) for v in statement._values.values()):
        return None
    images = {}
    for params in compiled:
        image = {}
        for column in table.c:
            if column.key in params:
                value = params[column.key]
                if not isinstance(value, _PLAIN_PARAMS):
                    return None
                image[column.name] = encode_value(value)
            elif column.default is None and column.server_default is None and not \
                    (column.primary_key and column.autoincrement is True):
                image[column.name] = None
            else:
                return None
        key = tuple(params.get(c.key) for c in pk)
        if any(v is None for v in key):
            return None
        images[key] = image
    return images


def capture_for(conn: Connection) -> RowCapture | None:
    """The capture installed on this connection's engine, if any (for driver-level writers)."""
    return getattr(conn.engine, "_row_capture", None)


def after_driver_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    """A driver-level INSERT of `rows` (dicts holding the primary key) went past the engine
    events: record them."""
    capture = capture_for(conn)
    if capture is None or table.name not in capture.plan or not rows:
        return
    pk = list(table.primary_key.columns)
    keys = [tuple(r[c.name] for c in pk) for r in rows]
    images = None
    if all(c.name in rows[0] for c in table.c):  # every column written: the images are the rows themselves
        names = [c.name for c in table.c]  # (raw values: `_dumps` encodes them as the export does)
        images = {key: {n: r[n] for n in names} for key, r in zip(keys, rows)}
    capture.capture_keys(conn, table, keys, new_rows=True, images=images)


def after_driver_insert_rows(conn: Connection, table: Table, rows: list[tuple]) -> bool:
    """`after_driver_insert` for rows given as tuples of every column in the table's order, of
    an owned table that points at no shared rows (the audit log's entries): each image is the
    row itself, recorded for its tenant without the general path's intermediate dicts. False
    (nothing recorded) when the table does not qualify: the caller uses `after_driver_insert`."""
    capture = capture_for(conn)
    if capture is None or table.name not in capture.plan or not rows:
        return True  # nothing to record
    names = [c.name for c in capture.metadata.tables[table.name].c]
    pk = [names.index(c.name) for c in table.primary_key.columns]
    if capture.plan[table.name].kind != "owned" or capture.parents.get(table.name) or \
            "tenant_id" not in names or len(rows[0]) != len(names):
        return False
    tenant, now, name = names.index("tenant_id"), time.time(), table.name
    out = [{"tenant_id": r[tenant], "table_name": name, "row_key": _dumps([r[k] for k in pk]),
            "image": _dumps(dict(zip(names, r))), "recorded_at": now} for r in rows if r[tenant]]
    if out:
        from .db import _bulk_insert
        _bulk_insert(conn, capture.table, out)  # as capture_keys writes them
    return True


# --- reading and pruning -------------------------------------------------------------------

def read_changes(conn: Connection, metadata: MetaData, tenant_id: str, *, since: float, until: float,
                 after_id: int | None, limit: int) -> dict:
    """A page of the tenant's changes recorded in (since, until], in id order."""
    t = metadata.tables[TABLE]
    query = (select(t.c.id, t.c.table_name, t.c.row_key, t.c.image, t.c.recorded_at)
             .where(t.c.tenant_id == tenant_id, t.c.recorded_at > since, t.c.recorded_at <= until)
             .order_by(t.c.id).limit(limit))
    if after_id is not None:
        query = query.where(t.c.id > after_id)
    rows = conn.execute(query).all()
    changes = [{"id": r.id, "table": r.table_name, "key": orjson.loads(r.row_key),
                "row": orjson.loads(r.image) if r.image is not None else None, "at": r.recorded_at} for r in rows]
    oldest = conn.scalar(select(t.c.recorded_at).order_by(t.c.id).limit(1))
    return {"changes": changes, "next": rows[-1].id if len(rows) == limit else None, "oldest_kept": oldest}


def prune(engine: Engine, metadata: MetaData, older_than: float, chunk: int = 5000) -> int:
    t = metadata.tables[TABLE]
    total = 0
    while True:
        with engine.begin() as conn:
            old = select(t.c.id).where(t.c.recorded_at < older_than).order_by(t.c.id).limit(chunk).scalar_subquery()
            deleted = conn.execute(t.delete().where(t.c.id.in_(old))).rowcount
        total += deleted
        if deleted < chunk:
            return total
