"""Start-up steps of the registry after its migrations: the regulation's nomenclatures."""
from __future__ import annotations

from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.settings import database_url

from . import nomenclatures


def after_migrations() -> None:
    # (its consumer queue is declared by every outbox relay: services.kernel.event_queues)
    engine = make_engine(database_url("registry"), pool_size=1)
    try:
        with make_sessionmaker(engine).begin() as session:
            nomenclatures.seed(session)
    finally:
        engine.dispose()
