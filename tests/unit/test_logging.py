"""Log lines are one JSON object each, keep diacritics, carry the correlation id, hide secrets."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import structlog

from services.kernel.logging import configure_logging, get_logger


def test_lines_are_json_with_context_and_without_secrets(capsys):
    # configure_logging sets process-wide levels; put them back for the tests that follow
    saved = {name: logging.getLogger(name).level for name in (None, "kombu", "amqp", "nameko", "aiormq",
                                                             "aio_pika", "uvicorn.access", "alembic")}
    configure_logging("grades", "INFO")
    try:
        structlog.contextvars.bind_contextvars(correlation_id="req-123")
        log = get_logger("t")
        log.info("grade.recorded", elev="Ștefan Țăranu", password="hunter2-secret", Token="abc",
                 at=datetime(2026, 11, 21, tzinfo=timezone.utc))
        try:
            raise ValueError("boom")
        except ValueError:
            log.error("failed", exc_info=True)
        log.debug("not shown at INFO")
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["event"] == "grade.recorded" and first["component"] == "grades"
    assert first["correlation_id"] == "req-123" and first["level"] == "info"
    assert first["elev"] == "Ștefan Țăranu"
    assert first["password"] == "[redacted]" and first["Token"] == "[redacted]"
    assert first["at"].startswith("2026-11-21")
    assert "ValueError: boom" in second["exception"]
