"""Start one service process: migrations, metrics port, nameko container, clean stop.

Each `services/<name>/__main__.py` monkey-patches eventlet first, then calls `run`.
"""
from __future__ import annotations

import os
import signal

import eventlet
from nameko.runners import ServiceRunner

from .identity import ensure_dev_keypair
from .logging import configure_logging, get_logger
from .metrics import serve_metrics
from .migrations import upgrade_to_head
from .settings import database_url, get_settings, metrics_port


def nameko_config(settings) -> dict:
    return {
        "AMQP_URI": settings.amqp_uri,
        "max_workers": settings.max_workers,
        "serializer": "json",
        "ACCEPT": ["json"],
        "HEARTBEAT": 30,
    }


def prepare(service: str) -> None:
    """Everything a process needs before its container starts (also used by tests)."""
    from psycogreen.eventlet import patch_psycopg
    patch_psycopg()
    settings = get_settings()
    if not settings.is_production:
        ensure_dev_keypair(settings.private_key_path(), settings.public_key_path())
    upgrade_to_head(service, database_url(service))


def run(service_cls, after_migrations=None) -> None:
    settings = get_settings()
    name = service_cls.name
    configure_logging(name, settings.log_level)
    log = get_logger("runner")
    prepare(name)
    if after_migrations is not None:
        after_migrations()
    serve_metrics(metrics_port(name), os.environ.get("METRICS_HOST", "127.0.0.1"))
    runner = ServiceRunner(nameko_config(settings))
    runner.add_service(service_cls)

    def _stop(signum, _frame):
        log.info("service.stopping", signal=signum)
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner.start()
    log.info("service.started", service=name)
    runner.wait()
    log.info("service.stopped", service=name)
