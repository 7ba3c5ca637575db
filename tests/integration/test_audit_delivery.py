"""The audit service as a process on a real broker: classic queues of an earlier release are
migrated without losing their messages, and a SIGKILL while events flow loses nothing and
stores nothing twice, with checkpoints consistent (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import kombu
import pytest
from kombu import Queue
from sqlalchemy import create_engine

from services.audit.config import AuditSettings
from services.audit.keeper import LogKeeper
from services.audit.verification import run_verifier
from services.kernel.db import make_sessionmaker, normalise_url
from services.kernel.event_queues import spec
from services.kernel.outbox import events_exchange
from tests.integration.test_event_consumers import (REPO_ROOT, _envelope, _events, _publish, _scalar,
                                                    _wait_until)

pytestmark = pytest.mark.integration


def _start_audit(amqp_uri, url, tmp_path, n=0):
    env = dict(os.environ, AMQP_URI=amqp_uri, PLATFORM_DATA_DIR=str(tmp_path / "var"), METRICS_PORT="0",
               PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore::DeprecationWarning", AUDIT_DATABASE_URL=url,
               PYTHONPATH=str(REPO_ROOT))
    log = open(tmp_path / f"audit-{n}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "services.audit"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait_consuming(amqp_uri, proc, tmp_path, n=0):
    queue = spec("audit.events").queue_name
    deadline = time.monotonic() + 60
    with kombu.Connection(amqp_uri) as conn:
        while True:
            assert proc.poll() is None, (tmp_path / f"audit-{n}.log").read_text()[-2000:]
            try:
                if conn.channel().queue_declare(queue, passive=True).consumer_count:
                    return
            except conn.channel_errors:
                pass
            assert time.monotonic() < deadline, "audit never consumed"
            time.sleep(0.2)


def _wait_while_progressing(count, target: int, stall: float = 60.0, limit: float = 600.0) -> None:
    """Wait until count() >= target; on a loaded machine the restart may be slow, so keep
    waiting as long as the count grows (fail after `stall` seconds without progress, or
    after `limit` seconds in all)."""
    start = last_change = time.monotonic()
    last = count()
    while last < target:
        now = time.monotonic()
        assert now - last_change < stall, f"no progress for {stall:.0f}s at {last}/{target}"
        assert now - start < limit, f"still {last}/{target} after {limit:.0f}s"
        time.sleep(0.5)
        current = count()
        if current > last:
            last, last_change = current, time.monotonic()


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _queue_exists(amqp_uri, name) -> bool:
    with kombu.Connection(amqp_uri) as conn:
        try:
            conn.channel().queue_declare(name, passive=True)
            return True
        except conn.channel_errors:
            return False


def test_classic_queue_of_the_earlier_release_is_drained_into_the_quorum_queue(amqp_uri, database_url, tmp_path):
    # what an earlier release left behind: a classic queue holding undelivered events
    with kombu.Connection(amqp_uri) as conn:
        Queue("audit.events", exchange=events_exchange(), routing_key="#", durable=True)(conn.channel()).declare()
    envelopes = [_envelope(i) for i in range(60)]
    _publish(amqp_uri, _events(envelopes))
    proc = _start_audit(amqp_uri, database_url, tmp_path)
    try:
        _wait_consuming(amqp_uri, proc, tmp_path)
        engine = create_engine(normalise_url(database_url))
        _wait_until(lambda: _scalar(engine, "SELECT count(*) FROM audit_entries") == 60, what="migrated events")
        assert not _queue_exists(amqp_uri, "audit.events"), "the classic queue is deleted once drained"
        with kombu.Connection(amqp_uri) as conn:
            declared = conn.channel().queue_declare(spec("audit.events").queue_name, passive=True)
            assert declared.message_count == 0
        _publish(amqp_uri, _events([_envelope(100)]))  # and new events flow to the quorum queue
        _wait_until(lambda: _scalar(engine, "SELECT count(*) FROM audit_entries") == 61, what="a new event")
        engine.dispose()
    finally:
        _stop(proc)


def test_sigkill_while_events_flow_loses_nothing_and_stores_nothing_twice(amqp_uri, database_url, tmp_path):
    total = 3000
    envelopes = [_envelope(i) for i in range(total)]
    proc = _start_audit(amqp_uri, database_url, tmp_path)
    _wait_consuming(amqp_uri, proc, tmp_path)
    engine = create_engine(normalise_url(database_url))

    def publish():
        # with publisher confirms: every event the broker confirmed is in the queue, so one that
        # is missing at the end was lost by the consumer, not by this publisher
        with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer()
            for i, (key, body, content_type) in enumerate(_events(envelopes)):
                producer.publish(body, exchange=events_exchange(), routing_key=key, content_type=content_type,
                                 content_encoding="utf-8", delivery_mode=2, retry=True)
                if i % 100 == 99:
                    time.sleep(0.02)
    publisher = threading.Thread(target=publish)
    publisher.start()
    _wait_until(lambda: (_scalar(engine, "SELECT count(*) FROM audit_entries") or 0) > 300, what="some entries")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    publisher.join()
    proc = _start_audit(amqp_uri, database_url, tmp_path, 1)
    try:
        try:
            _wait_while_progressing(lambda: _scalar(engine, "SELECT count(*) FROM audit_entries") or 0, total)
        except AssertionError as exc:
            with kombu.Connection(amqp_uri) as conn:
                q = spec("audit.events")
                declared = {n: conn.channel().queue_declare(n, passive=True) for n in (q.queue_name, q.dead_letter_queue)}
            depths = {n: (d.message_count, f"{d.consumer_count} consumers") for n, d in declared.items()}
            raise AssertionError(f"{exc}: {_scalar(engine, 'SELECT count(*) FROM audit_entries')} stored; "
                                 f"queues (ready, consumers; unacked not counted) {depths}; audit log: "
                                 f"{(tmp_path / 'audit-1.log').read_text()[-1500:]}") from None
        time.sleep(1.0)  # checkpoints catch up
        assert _scalar(engine, "SELECT count(*) FROM audit_entries") == total
        assert _scalar(engine, "SELECT count(DISTINCT event_id) FROM audit_entries") == total
        assert _scalar(engine, "SELECT max(leaf_index) FROM audit_entries") == total - 1
    finally:
        _stop(proc)
    os.environ["PLATFORM_DATA_DIR"], saved = str(tmp_path / "var"), os.environ.get("PLATFORM_DATA_DIR")
    try:
        from services.kernel import settings as kernel_settings
        kernel_settings.get_settings.cache_clear()
        keeper = LogKeeper(make_sessionmaker(engine), AuditSettings(witness_dir=tmp_path / "var" / "witness"))
        with keeper.sessions.begin(readonly=True) as s:
            report = run_verifier(s, keeper)
    finally:
        if saved is None:
            os.environ.pop("PLATFORM_DATA_DIR")
        else:
            os.environ["PLATFORM_DATA_DIR"] = saved
        kernel_settings.get_settings.cache_clear()
    assert report["ok"], report["problems"][:5]
    assert report["checkpoints_checked"] >= 2 and report["witnesses_checked"] == 1
    assert report["latest_checkpoint"]["size"] == total
    engine.dispose()
