"""Start-up steps of the registry after its migrations: the regulation's nomenclatures."""
from __future__ import annotations

from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.settings import database_url

from . import nomenclatures


def declare_queues() -> None:
    """The catalog's events must reach the registry even before its consumer first runs."""
    import kombu

    from services.kernel.outbox import event_queue, events_exchange
    from services.kernel.settings import get_settings

    from .enrolments import CATALOG_EVENTS, CATALOG_QUEUE
    with kombu.Connection(get_settings().amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        events_exchange()(channel).declare()
        event_queue(CATALOG_QUEUE, CATALOG_EVENTS)(channel).declare()


def after_migrations() -> None:
    try:
        declare_queues()
    except Exception:  # noqa: BLE001 - the broker may come later; the consumer declares it then
        pass
    engine = make_engine(database_url("registry"), pool_size=1)
    try:
        with make_sessionmaker(engine).begin() as session:
            nomenclatures.seed(session)
    finally:
        engine.dispose()
