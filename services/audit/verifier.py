"""Recompute the log from the stored entries and check it against its signed checkpoints
and the witness copies. Each problem names the entry (leaf index + event id) or the
checkpoint (size) that failed.

Detected: an entry changed (its content or its index no longer hashes to the stored leaf
hash, or a query column disagrees with the signed envelope), deleted (a gap in the
indexes), inserted (an entry outside the sequenced indexes, or the entries after it shifted),
reordered (two entries swapped indexes), truncated (fewer entries than a checkpoint covers),
and a rollback (a witness holds a checkpoint the database is behind or off).
"""
from __future__ import annotations

import bisect
import hashlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import merkle, notes
from .models import AuditEntry, LogState, SignedCheckpoint

sha = hashlib.sha256
_COLUMNS = (("type", ("type",)), ("tenant_id", ("tenant_id",)), ("actor_id", ("actor", "id")),
            ("actor_role", ("actor", "role")), ("entity_type", ("entity", "type")),
            ("entity_id", ("entity", "id")), ("reason", ("reason",)), ("occurred_at", ("occurred_at",)),
            ("correlation_id", ("correlation_id",)), ("event_id", ("event_id",)))


@dataclass
class Report:
    size: int = 0
    checkpoints: int = 0
    witnesses: int = 0
    problems: list[dict] = field(default_factory=list)
    latest_checkpoint: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, detail: str, **where) -> None:
        if len(self.problems) < 200:
            self.problems.append({"kind": kind, "detail": detail, **where})

    def to_dict(self) -> dict:
        return {"ok": self.ok, "size": self.size, "checkpoints_checked": self.checkpoints,
                "witnesses_checked": self.witnesses, "latest_checkpoint": self.latest_checkpoint,
                "problems": self.problems}


def _column_problem(row, body: str) -> str:
    """Which query column disagrees with the envelope (row: index, event_id, envelope, hash, columns…)."""
    try:
        fields = _fields(orjson.loads(body))
    except orjson.JSONDecodeError:
        return "envelope"
    for (column, _path), stored, value in zip(_COLUMNS, (*row[4:], row[1]), fields):
        if stored != value:
            return column
    return "envelope"


def verify(session: Session, *, origin: str, public_key: bytes, witness_notes: Iterable[tuple[str, str]] = (),
           batch: int = 5000, check_columns: bool = True, url: str | None = None, workers: int = 0,
           chunk: int = 1 << 15) -> Report:
    """`witness_notes`: (location, note text) of each witness copy. `check_columns=False` skips
    comparing the query columns with each envelope (the tree and signatures are still checked).

    `workers` > 0 (with `url`, the database the session reads): the entries are read, hashed and
    their query columns checked by that many processes, `chunk` (rounded up to a power of two)
    entries each, returned as subtrees that this process joins in index order while it checks
    the roots (`_verify_parallel`); a chunk whose indexes are not exactly its range is redone
    here entry by entry. The CLI uses this; the service's endpoint, inside eventlet, does not."""
    report = Report()
    checkpoints = []
    last_size = -1
    for cp_id, size, root, note in session.execute(select(
            SignedCheckpoint.id, SignedCheckpoint.size, SignedCheckpoint.root, SignedCheckpoint.note)
            .order_by(SignedCheckpoint.id)):
        where = {"checkpoint": size, "checkpoint_id": cp_id}
        try:
            parsed = notes.verify_checkpoint(note, origin, public_key, origin)
        except notes.NoteError as exc:
            report.add("checkpoint_signature", f"checkpoint of size {size}: {exc}", **where)
            continue
        if parsed.size != size or parsed.root != root:
            report.add("checkpoint_changed", f"checkpoint row of size {size} differs from its signed note", **where)
        if parsed.size < last_size:
            report.add("checkpoint_order", f"checkpoint of size {parsed.size} was issued after one of {last_size}",
                       **where)
        last_size = max(last_size, parsed.size)
        checkpoints.append((f"checkpoint of size {parsed.size}", parsed, where))
    report.checkpoints = len(checkpoints)
    witnessed = []
    for location, note in witness_notes:
        report.witnesses += 1
        try:
            parsed = notes.verify_checkpoint(note, origin, public_key, origin)
        except notes.NoteError as exc:
            report.add("witness_signature", f"witness copy at {location}: {exc}", witness=location)
            continue
        witnessed.append((f"witness copy at {location} (size {parsed.size})", parsed,
                          {"witness": location, "checkpoint": parsed.size}))

    wanted: dict[int, list] = {}
    for item in checkpoints + witnessed:
        wanted.setdefault(item[1].size, []).append(item)
    tree = merkle.CompactRange()
    _check_roots(report, tree, wanted)  # size 0
    sizes = sorted(size for size in wanted if size > 0)
    if workers > 0 and url:
        _verify_parallel(report, session, tree, wanted, sizes, url, workers, chunk, check_columns)
    else:
        _verify_here(report, session, tree, wanted, sizes, batch, check_columns)
    _finish(report, session, tree, wanted, checkpoints)
    return report


def _verify_here(report: Report, session: Session, tree: merkle.CompactRange, wanted: dict, sizes: list[int],
                 batch: int, check_columns: bool) -> None:
    expected = 0
    # SQLite compares the query columns with the envelopes itself (JSON1, in C) and hands over
    # only the entries where it sees a difference, checked here entry by entry.
    check = _columns_checker(report, session) if check_columns else None
    for part in _entry_batches(session, batch, isinstance(check, _PythonColumns)):
        # columns: leaf_index, event_id, leaf bytes (index "\n" envelope, UTF-8), leaf_hash, query columns…
        if part[0][0] != expected or part[-1][0] != expected + len(part) - 1:
            for row in part:  # a gap: entry by entry, naming what is missing
                expected = _one(report, tree, wanted, row, expected, check)
            continue
        hashes = [sha(b"\x00" + (row[2] or b"")).digest() for row in part]  # one comprehension of hashing
        if hashes != [row[3] for row in part] or (check is not None and check.any_up_to(part[-1][0])):
            for h, row in zip(hashes, part):
                if h != bytes(row[3] or b""):
                    _changed_leaf(report, row[0], row[1])
                elif check is not None:
                    check(row)
        _extend(report, tree, wanted, sizes, hashes)
        expected += len(part)


def _finish(report: Report, session: Session, tree: merkle.CompactRange, wanted: dict, checkpoints: list) -> None:
    report.size = tree.size
    for size, items in sorted(wanted.items()):
        if size > tree.size:
            for label, _cp, where in items:
                kind = "rollback" if "witness" in where else "truncated"
                report.add(kind, f"{label} covers {size} entries but the log holds {tree.size}: "
                                 f"entries {tree.size}..{size - 1} are gone", leaf_index=tree.size, **where)
    for entry_id, event_id in session.execute(select(AuditEntry.id, AuditEntry.event_id)
                                              .where(AuditEntry.leaf_index.is_(None)).limit(50)):
        report.add("inserted", f"entry row {entry_id} (event {event_id}) was never sequenced into the log",
                   leaf_index=None, event_id=event_id)
    state = session.get(LogState, 1)
    if state is not None and state.size != tree.size:
        report.add("truncated" if state.size > tree.size else "inserted",
                   f"the log state says {state.size} entries, {tree.size} are stored", leaf_index=min(state.size, tree.size))
    if checkpoints:
        latest = checkpoints[-1][1]
        report.latest_checkpoint = {"size": latest.size, "root": latest.root.hex()}


# an entry's leaf bytes (index, newline, envelope; UTF-8) as the database spells them
_LEAF_SQL = {"sqlite": "CAST(leaf_index || char(10) || envelope AS BLOB)",
             "postgresql": "convert_to(leaf_index::text || chr(10) || envelope, 'UTF8')"}


def _entry_batches(session: Session, batch: int, check_columns: bool):
    """The sequenced entries in index order, `batch` rows at a time, as plain tuples.

    The database hands over each entry's leaf bytes (index, newline, envelope) as one UTF-8
    byte string: no decoding to str and encoding back, no concatenation per entry here.
    SQLite: a DB-API cursor (no result-row objects); PostgreSQL: streamed server side."""
    connection = session.connection()
    dialect = connection.dialect.name
    leaf = _LEAF_SQL.get(dialect, "envelope")
    extra = [c for c, _p in _COLUMNS[:-1]] if check_columns else []
    sql = (f"SELECT {', '.join(['leaf_index', 'event_id', leaf, 'leaf_hash', *extra])} FROM audit_entries "
           "WHERE leaf_index IS NOT NULL ORDER BY leaf_index")
    if dialect == "sqlite":
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
            while part := cursor.fetchmany(batch):
                yield part
        finally:
            cursor.close()
        return
    result = connection.execution_options(stream_results=True, max_row_buffer=batch).exec_driver_sql(sql)
    while part := result.fetchmany(batch):
        yield [_plain_row(r) for r in part]


class _PythonColumns:
    """Every entry's query columns against its envelope, here (rows carry the columns)."""

    def __init__(self, report: Report):
        self.report = report

    def any_up_to(self, index: int) -> bool:
        return True

    def __call__(self, row) -> None:
        _columns(self.report, row)


class _SqliteColumns:
    """The same check with SQLite doing the comparing: only its suspects are checked here, in
    index order alongside the leaf hashes (streamed from a second cursor)."""

    def __init__(self, report: Report, session: Session):
        self.report = report
        self.suspects = _column_suspects(session)
        self.pending: dict[int, tuple] = {}
        self.next = next(self.suspects, None)

    def any_up_to(self, index: int) -> bool:
        while self.next is not None and self.next[0] <= index:
            self.pending[self.next[0]] = self.next
            self.next = next(self.suspects, None)
        return bool(self.pending)

    def __call__(self, row) -> None:
        self.any_up_to(row[0])
        suspect = self.pending.pop(row[0], None)
        if suspect is not None:
            _columns(self.report, suspect)
        for index in [i for i in self.pending if i < row[0]]:  # rows the main stream never showed
            del self.pending[index]


def _columns_checker(report: Report, session: Session):
    if session.get_bind().dialect.name == "sqlite":
        return _SqliteColumns(report, session)
    return _PythonColumns(report)


def _column_suspects(session: Session):
    """SQLite: the sequenced entries where a query column may differ from its envelope field
    (`_same_sql`); an envelope that is not valid JSON always comes back."""
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.execute(_suspects_sql(""))
        while part := cursor.fetchmany(1000):
            yield from part
    finally:
        cursor.close()


def _same_sql() -> str:
    """SQLite: 1 where an entry's query columns equal its envelope's fields. The fields are
    extracted in one pass as a JSON array and compared, as JSON text, with the array of the
    columns: equal texts are equal values of the same JSON types, so nothing that differs is
    missed; texts that differ only in their spelling are decided by `_columns`. A field that is
    missing counts as null, as in `_columns`. Raises "malformed JSON" on an envelope that is not
    JSON (the callers then compare in Python)."""
    paths = ", ".join(f"'$.{'.'.join(path)}'" for _c, path in _COLUMNS)
    return f"json_extract(envelope, {paths}) = json_array({', '.join(c for c, _p in _COLUMNS)})"


def _suspects_sql(narrow: str) -> str:
    columns = ", ".join(['leaf_index', 'event_id', _LEAF_SQL['sqlite'], 'leaf_hash', *(c for c, _p in _COLUMNS[:-1])])
    return (f"SELECT {columns} FROM audit_entries WHERE leaf_index IS NOT NULL{narrow} "
            f"AND NOT (CASE WHEN json_valid(envelope) THEN {_same_sql()} ELSE 0 END) ORDER BY leaf_index")


def _plain_row(r) -> tuple:
    """A driver row (index, event id, leaf, leaf hash, columns…) with its leaf and hash as bytes:
    PostgreSQL's bytea arrives as memoryview; another database hands over the envelope as text."""
    leaf = r[2]
    if isinstance(leaf, str):
        leaf = b"%d\n" % r[0] + leaf.encode("utf-8")
    elif not isinstance(leaf, bytes):
        leaf = bytes(leaf)
    return (r[0], r[1], leaf, bytes(r[3]) if r[3] is not None else None, *r[4:])


def _changed_leaf(report: Report, index: int, event_id: str) -> None:
    report.add("changed", f"entry {index} (event {event_id}) does not hash to its leaf: changed, moved or inserted",
               leaf_index=index, event_id=event_id)


def _envelope_of(leaf: bytes) -> bytes:
    return leaf[leaf.index(b"\n") + 1:]


def _extend(report: Report, tree: merkle.CompactRange, wanted: dict, sizes: list[int], hashes: list[bytes]) -> None:
    """Append the hashes, stopping at every checkpoint or witness size on the way."""
    start, end = tree.size, tree.size + len(hashes)
    at = bisect.bisect_right(sizes, start)
    done = 0
    while at < len(sizes) and sizes[at] <= end:
        tree.extend(hashes[done:sizes[at] - start])
        done = sizes[at] - start
        _check_roots(report, tree, wanted)
        at += 1
    tree.extend(hashes[done:])


def _fields(envelope) -> tuple:
    """The envelope's values of the query columns, in `_COLUMNS` order (a missing field: None)."""
    out = []
    for _column, path in _COLUMNS:
        value = envelope
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out.append(value)
    return tuple(out)


def _columns(report: Report, row) -> None:
    try:
        e = orjson.loads(_envelope_of(row[2]))
    except orjson.JSONDecodeError:
        e = None
    try:  # the envelope's usual shape, written out (PostgreSQL checks every entry here)
        fields = (e["type"], e["tenant_id"], e["actor"]["id"], e["actor"]["role"], e["entity"]["type"],
                  e["entity"]["id"], e["reason"], e["occurred_at"], e["correlation_id"], e["event_id"])
    except (KeyError, TypeError):
        fields = _fields(e)
    same = e is not None and fields == (*row[4:], row[1])
    if not same:
        report.add("changed", f"entry {row[0]} (event {row[1]}): column {_column_problem(row, _envelope_of(row[2]))} differs "
                              "from the signed envelope", leaf_index=row[0], event_id=row[1])


def _one(report: Report, tree: merkle.CompactRange, wanted: dict, row, expected: int, check) -> int:
    index, event_id = row[0], row[1]
    if index != expected:
        if index > expected:
            report.add("deleted", f"entries {expected}..{index - 1} are missing (deleted)",
                       leaf_index=expected, event_id=None)
        while tree.size < index:  # keep positions so later checkpoints name later entries
            tree.append(b"\x00" * 32)
            _check_roots(report, tree, wanted)
    h = merkle.leaf_hash(row[2] or b"")
    if h != bytes(row[3] or b""):
        _changed_leaf(report, index, event_id)
    elif check is not None:
        check(row)
    tree.append(h)
    _check_roots(report, tree, wanted)
    return index + 1


def _check_roots(report: Report, tree: merkle.CompactRange, wanted: dict) -> None:
    items = wanted.get(tree.size)
    if not items:
        return
    root = tree.root()
    for label, cp, where in items:
        if cp.root != root:
            kind = "rollback" if "witness" in where else "checkpoint_mismatch"
            report.add(kind, f"{label}: the stored entries 0..{tree.size - 1} no longer hash to its root "
                             "(an entry before it was changed, inserted, deleted or reordered)", **where)


# --- many processes: the CLI's verifier ------------------------------------------------------------

def _verify_parallel(report: Report, session: Session, tree: merkle.CompactRange, wanted: dict, sizes: list[int],
                     url: str, workers: int, chunk: int, check_columns: bool) -> None:
    """Chunks of 2**k indexes, [begin, end), each checked by a worker process (`_check_range`):
    its leaf hashes against the stored ones, its query columns, and its own subtree, returned as
    a compact range (one root for a whole chunk) with the compact ranges at the checkpoint sizes
    inside it. A chunk starts at a multiple of its size, so joining it is one subtree append, and
    a checkpoint inside it is this tree's range followed by the chunk's. The range ends at the
    highest stored index (+ 1) as this session sees it: entries appended meanwhile are the next
    run's. A chunk whose indexes are not exactly its range is redone here entry by entry."""
    level = max(0, (max(1, chunk) - 1).bit_length())
    chunk = 1 << level
    top = session.scalar(select(func.max(AuditEntry.leaf_index)))
    size = 0 if top is None else top + 1
    for index, event_id in session.execute(select(AuditEntry.leaf_index, AuditEntry.event_id)
                                           .where(AuditEntry.leaf_index < 0).limit(50)):
        report.add("inserted", f"entry {index} (event {event_id}) sits outside the log's indexes",
                   leaf_index=index, event_id=event_id)
    jobs = [(url, b, min(b + chunk, size), check_columns, [x for x in sizes if b < x < min(b + chunk, size)])
            for b in range(0, size, chunk)]
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for begin, end, exact, part, inner, problems in pool.map(_check_range, *zip(*jobs)) if jobs else ():
            for problem in problems:
                report.add(**problem)
            if exact and tree.size == begin:
                for at, hashes in inner:
                    _check_roots(report, merkle.CompactRange(at, [*tree.hashes, *hashes]), wanted)
                if end - begin == chunk:
                    tree.append_subtree(part[0], level)
                else:  # the last, partial chunk: its subtrees are all smaller than this tree's
                    tree.hashes.extend(part)
                    tree.size = end
                _check_roots(report, tree, wanted)
                continue
            # a gap, a duplicate or an earlier chunk's gap: this range entry by entry, here
            expected = tree.size
            check = _PythonColumns(report) if check_columns else None
            for row in _rows_between(session, begin, end, check_columns):
                expected = _one(report, tree, wanted, row, expected, check)


def _rows_between(session: Session, begin: int, end: int, columns: bool) -> list[tuple]:
    """The entries of [begin, end) as `_one` takes them (with their query columns if asked)."""
    connection = session.connection()
    leaf = _LEAF_SQL.get(connection.dialect.name, "envelope")
    extra = ", " + ", ".join(c for c, _p in _COLUMNS[:-1]) if columns else ""
    rows = connection.exec_driver_sql(
        f"SELECT leaf_index, event_id, {leaf}, leaf_hash{extra} FROM audit_entries "
        f"WHERE leaf_index >= {int(begin)} AND leaf_index < {int(end)} ORDER BY leaf_index").fetchall()
    return [_plain_row(r) for r in rows]


_ENVELOPE_BYTES = {"sqlite": "CAST(envelope AS BLOB)", "postgresql": "convert_to(envelope, 'UTF8')"}
_worker_engines: dict = {}


def _worker_connection(url: str):
    """A worker process's DB-API connection, opened once per process (not once per chunk)."""
    if url not in _worker_engines:
        from services.kernel.db import make_engine
        engine = make_engine(url, pool_size=1)
        raw = engine.raw_connection()
        if engine.dialect.name == "sqlite":  # one pass over the pages: SQLite's small default cache
            raw.cursor().execute("PRAGMA cache_size=-2000")  # is cheaper than keeping 64 MiB of them
        _worker_engines[url] = (engine, raw)
    return _worker_engines[url]


def _as_bytes(value) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value) if value is not None else b""


def _suspect_rows(cursor, indexes: list[int]) -> list[tuple]:
    """The entries at these indexes as `_columns` takes them (index, event id, leaf bytes, hash,
    query columns…), 500 a statement."""
    out: list[tuple] = []
    columns = ", ".join(["leaf_index", "event_id", _LEAF_SQL["sqlite"], "leaf_hash", *(c for c, _p in _COLUMNS[:-1])])
    for start in range(0, len(indexes), 500):
        part = indexes[start:start + 500]
        cursor.execute(f"SELECT {columns} FROM audit_entries WHERE leaf_index IN ({', '.join('?' * len(part))}) "
                       "ORDER BY leaf_index", part)
        out.extend(cursor.fetchall())
    return out


def _check_range(url: str, begin: int, end: int, check_columns: bool, inside: list[int]) -> tuple:
    """A worker: the entries with indexes in [begin, end), their leaf hashes compared with the
    stored ones, their query columns with the envelopes, and the chunk's own compact range, at
    its end and at each size in `inside`. `exact`: the range holds exactly one entry per index
    (else the caller redoes the hashes' problems and the tree)."""
    engine, raw = _worker_connection(url)
    report = Report()
    dialect = engine.dialect.name
    envelope = _ENVELOPE_BYTES.get(dialect, "envelope")
    cursor = raw.cursor()
    try:
        where = f"WHERE leaf_index >= {int(begin)} AND leaf_index < {int(end)}"
        cursor.execute(f"SELECT count(*), min(leaf_index), max(leaf_index) FROM audit_entries {where}")
        count, first, last = cursor.fetchone()
        exact = count == end - begin and (count == 0 or (first == begin and last == end - 1))  # indexes are unique
        # The envelope's bytes and the stored hash of each entry, fetched at once and hashed in one
        # comprehension. The leaf's index prefix is written here: in an exact chunk the k-th entry
        # in index order has index begin + k (a chunk that is not exact is redone by the caller
        # from the stored indexes). The query columns: on SQLite a third column says whether they
        # equal the envelope's fields (`_same_sql`, in the same pass); elsewhere, or when an
        # envelope is not JSON, they come along and are compared here.
        fused = check_columns and dialect == "sqlite"
        select_ = f"SELECT {envelope}, leaf_hash{{}} FROM audit_entries {where} ORDER BY leaf_index"
        python_columns = ", " + ", ".join(c for c, _p in _COLUMNS[:-1])
        try:
            cursor.execute(select_.format(f", {_same_sql()}" if fused else python_columns if check_columns else ""))
            rows = cursor.fetchall()
        except engine.dialect.dbapi.OperationalError:  # SQLite: "malformed JSON" in some envelope
            if not fused:
                raise
            fused = False
            cursor.close()
            cursor = raw.cursor()
            cursor.execute(select_.format(python_columns))
            rows = cursor.fetchall()
        sha = hashlib.sha256
        if envelope != "envelope":
            digests = [sha(b"\x00%d\n" % i + (row[0] or b"")).digest() for i, row in zip(range(begin, end), rows)]
        else:
            digests = [sha(b"\x00%d\n" % i + (row[0] or "").encode()).digest() for i, row in zip(range(begin, end), rows)]
        if dialect == "sqlite":  # BLOBs arrive as bytes
            stored = [row[1] for row in rows]
        else:
            stored = [bytes(row[1]) if row[1] is not None else None for row in rows]
        if fused:
            suspect_indexes = [i for i, row in zip(range(begin, end), rows) if row[2] != 1]
            rows = []
        elif not check_columns:
            rows = []
        if exact and digests != stored:
            cursor.execute(f"SELECT leaf_index, event_id FROM audit_entries {where} ORDER BY leaf_index")
            for digest, h, (index, event_id) in zip(digests, stored, cursor.fetchall()):
                if digest != h:
                    _changed_leaf(report, index, event_id)
        if check_columns and exact:  # (an inexact chunk is checked again by the caller, columns too)
            if fused:
                suspects = _suspect_rows(cursor, suspect_indexes)
            else:
                cursor.execute(f"SELECT leaf_index, event_id FROM audit_entries {where} ORDER BY leaf_index")
                suspects = [(index, event_id, b"%d\n" % index + _as_bytes(row[0]), row[1], *row[2:])
                            for (index, event_id), row in zip(cursor.fetchall(), rows)]
            if suspects:
                hash_ok = dict(zip(range(begin, end), (d == h for d, h in zip(digests, stored))))
                for suspect in suspects:
                    if hash_ok.get(suspect[0]):
                        _columns(report, suspect)
        del rows
    finally:
        cursor.close()
        raw.rollback()  # no snapshot held between chunks
    part, inner, done = merkle.CompactRange(), [], 0
    if exact and not inside and digests and not len(digests) & (len(digests) - 1):
        part = merkle.CompactRange(len(digests), [merkle.perfect_root(digests)])  # a whole chunk
    elif exact:
        for at in inside:
            part.extend(digests[done:at - begin])
            done = at - begin
            inner.append((at, list(part.hashes)))
        part.extend(digests[done:])
    return begin, end, exact, part.hashes, inner, report.problems
