"""SQLAlchemy 2 engines and the session provider every service uses.

SQLite (embedded default) gets WAL and a busy timeout so two processes of one service
can share a file; PostgreSQL gets a pre-pinged pool. Under eventlet, psycopg2 is made
cooperative by `services.kernel.runner` (psycogreen) before any engine exists.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """A bare `postgresql://` URL means psycopg2 here: it is the driver psycogreen makes green."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare):]
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=pool_size, max_overflow=pool_size)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # 64 MiB of page cache per connection (SQLite's default is 2 MiB), taken only as pages
            # are read: an index on random keys (event ids) then stays in memory while it grows
            # (the audit log's ingest: 6 % more events/s at 60,000 entries)
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        # pysqlite's implicit transactions defer locking; BEGIN IMMEDIATE takes the write
        # lock up front so two processes never deadlock upgrading a read lock.
        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            options = conn.get_execution_options()
            if options.get("per_statement"):
                return  # autocommit reads: each statement is atomic on its own
            # read-only units of work take no write lock (WAL readers never wait on writers)
            conn.exec_driver_sql("BEGIN" if options.get("readonly") else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Sessions:
    """Unit-of-work factory: `with sessions.begin() as s:` commits or rolls back.

    SQLite allows one writer, and its busy wait happens inside C: under eventlet, a
    greenthread blocked there would freeze the whole process while another greenthread
    of the same process holds the lock. So within a process SQLite transactions take
    turns on a (green) lock first; across processes SQLite's own busy timeout applies.
    PostgreSQL needs no such lock.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.factory: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        readonly = engine.execution_options(readonly=True)
        self._readonly_factory: sessionmaker[Session] = sessionmaker(readonly, expire_on_commit=False)
        # one-statement reads need no transaction around them: no BEGIN/ROLLBACK round trip
        self._statement_engine = (readonly.execution_options(per_statement=True) if engine.dialect.name == "sqlite"
                                  else readonly.execution_options(isolation_level="AUTOCOMMIT"))
        self._turn = threading.RLock() if engine.dialect.name == "sqlite" else None

    def _my_turn(self):
        """This process's turn at the SQLite write lock; nothing to wait for on PostgreSQL."""
        return self._turn if self._turn is not None else nullcontext()

    @contextmanager
    def begin(self, *, readonly: bool = False) -> Iterator[Session]:
        """`readonly=True` for queries: on SQLite they skip the write lock and the turn."""
        if readonly:
            with self._readonly_factory() as session:  # closing rolls back: nothing is written
                yield session
            return
        with self._my_turn(), self.factory.begin() as session:
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a transaction that commits on success, for hot writes that
        need no ORM session (same turn-taking on SQLite as `begin()`)."""
        with self._my_turn(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection for hot reads that need no ORM session, in autocommit: each
        statement sees the latest committed data on its own, without a transaction around
        them (no snapshot across statements: for reads that are one statement)."""
        with self._statement_engine.connect() as connection:
            yield connection


def make_sessionmaker(engine: Engine) -> Sessions:
    return Sessions(engine)


def dialect_insert(session: Session):
    """The `insert` of the session's dialect, which has `ON CONFLICT` (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def insert_ignoring_duplicates(session: Session, table, rows: list[dict], *, returning=None) -> set:
    """INSERT … ON CONFLICT DO NOTHING of many rows in one statement (SQLite and PostgreSQL),
    for idempotent consumers. With `returning` (a column of `table`): the values of that
    column for the rows that were actually new; otherwise an empty set."""
    if not rows:
        return set()
    statement = dialect_insert(session)(table).values(rows).on_conflict_do_nothing()
    if returning is None:
        session.execute(statement)
        return set()
    return set(session.scalars(statement.returning(returning)))


# --- bulk insert: many rows of one table, no per-value work in SQLAlchemy ---------------------------

BULK_ROWS = 5000  # rows per statement (one JSON document on PostgreSQL, one executemany on SQLite)


def bulk_insert(db: Session | Connection, table, rows: list[dict]) -> None:
    """INSERT many rows of `table` in the caller's transaction, for bulk paths (imports, the
    outbox of a batch): what `session.execute(table.insert(), rows)` does, without its
    per-value Python work (bind processors, `json.dumps` per JSON value, a parameter dict
    per row and column).

    On PostgreSQL the rows travel as one JSON document (orjson, in C) that the server turns
    into rows: `INSERT … SELECT … FROM json_populate_recordset(NULL::table, %s)`: one short
    statement to parse instead of a VALUES list of rows × columns literals. (psycopg2's COPY
    is not available under the green wait callback the services run with.) On SQLite, one
    `executemany` of tuples, through the column types' own bind processors (dates as ISO
    text, as SQLAlchemy stores them), JSON values serialised by orjson.

    Every row must hold the same keys, and every value a column needs: Python-side column
    defaults (`id_column`, `created_column`) are not applied. A None in a JSON column is SQL
    NULL (the ORM would store the JSON text `null`)."""
    if not rows:
        return
    connection = db.connection() if isinstance(db, Session) else db
    _bulk_insert(connection, table, rows)
    from .row_changes import after_driver_insert
    after_driver_insert(connection, table, rows)  # driver-level: past the row-change capture's events


def _bulk_insert(connection: Connection, table, rows: list[dict]) -> None:
    dialect = connection.dialect
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    quote = dialect.identifier_preparer.quote
    column_list = ", ".join(quote(name) for name in names)
    table_name = dialect.identifier_preparer.format_table(table)
    if dialect.name == "postgresql":
        import orjson
        sql = (f"INSERT INTO {table_name} ({column_list}) SELECT {column_list} "
               f"FROM json_populate_recordset(NULL::{table_name}, %s)")
        for start in range(0, len(rows), BULK_ROWS):
            document = orjson.dumps(rows[start:start + BULK_ROWS], default=_json_default).decode("utf-8")
            connection.exec_driver_sql(sql, (document,))
        return
    processors = [_bulk_processor(column, dialect) for column in columns]
    sql = f"INSERT INTO {table_name} ({column_list}) VALUES ({', '.join('?' for _ in names)})"
    if not any(processors):
        tuples = [tuple(row[name] for name in names) for row in rows]
    else:
        pairs = list(zip(names, processors))
        tuples = [tuple(row[name] if fn is None or row[name] is None else fn(row[name]) for name, fn in pairs)
                  for row in rows]
    for start in range(0, len(tuples), BULK_ROWS):
        connection.exec_driver_sql(sql, tuples[start:start + BULK_ROWS])


def _json_default(value):
    import decimal
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"bulk_insert cannot send a {type(value).__name__} value")


def _bulk_processor(column, dialect):
    from sqlalchemy import JSON
    if isinstance(column.type, JSON):
        import orjson
        return lambda value: orjson.dumps(value).decode("utf-8")
    return column.type._cached_bind_processor(dialect)
