"""Alembic migrations per service, applied at start-up under a lock.

Each service has `services/<name>/migrations/` whose env.py calls `run_env`. Replicas
starting together serialise on a PostgreSQL advisory lock or, for SQLite, a file lock.
"""
from __future__ import annotations

import fcntl
import zlib
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from .db import make_engine


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def alembic_config(service: str, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files(f"services.{service}") / "migrations"))
    cfg.attributes["service"] = service
    cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _migration_lock(url: str, connection: Connection, service: str) -> Iterator[None]:
    if url.startswith("sqlite"):
        db_path = Path(url.split("sqlite:///", 1)[1])
        with open(db_path.with_suffix(".migrate.lock"), "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    else:
        key = zlib.crc32(f"migrate:{service}".encode())
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()


def upgrade_to_head(service: str, url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn, _migration_lock(url, conn, service):
            command.upgrade(alembic_config(service, conn), "head")
            conn.commit()
    finally:
        engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of every service's alembic env.py (online mode only: we always have a database)."""
    cfg = context.config
    service = cfg.attributes["service"]
    connection = cfg.attributes.get("connection")
    if connection is None:
        from .settings import database_url
        engine = make_engine(database_url(service), pool_size=1)
        with engine.connect() as connection:
            _run(connection, metadata, service)
            connection.commit()
        engine.dispose()
    else:
        _run(connection, metadata, service)


def _run(connection: Connection, metadata: MetaData, service: str) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      version_table=version_table(service), render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def autogenerate_revision(service: str, message: str) -> None:
    """Developer tool: diff the models against a scratch database at head, write a revision."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        upgrade_to_head(service, url)
        engine = make_engine(url, pool_size=1)
        with engine.connect() as conn:
            command.revision(alembic_config(service, conn), message=message, autogenerate=True)
        engine.dispose()


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 4 or sys.argv[1] != "revision":
        sys.exit("usage: python -m services.kernel.migrations revision <service> <message>")
    autogenerate_revision(sys.argv[2], sys.argv[3])
