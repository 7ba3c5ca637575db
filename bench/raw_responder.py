"""The minimal AMQP request/reply responder: `python -m bench.raw_responder <queue>` (AMQP_URI env).

Plain py-amqp (the library under kombu and nameko), no kombu layer: consumes one non-durable
queue on the default exchange with auto-ack, decodes the nameko-style JSON request
`{"args": [payload], "kwargs": {}}` and publishes `{"result": payload, "error": null}` to
`reply_to` (default exchange) with the request's correlation id. That is the same echo work as
`bench.echo_service`, minus everything a framework adds (topic routing, acks, publisher
confirms, worker pool, context headers). Prints "ready" once it consumes.
"""
from __future__ import annotations

import os
import signal
import sys
from urllib.parse import unquote, urlparse

import amqp

from .raw_client import reply_body


def connect(amqp_uri: str) -> amqp.Connection:
    url = urlparse(amqp_uri)
    vhost = unquote(url.path[1:]) if len(url.path) > 1 else "/"
    conn = amqp.Connection(host=f"{url.hostname or '127.0.0.1'}:{url.port or 5672}",
                           userid=unquote(url.username or "guest"), password=unquote(url.password or "guest"),
                           virtual_host=vhost)
    conn.connect()
    return conn


def main() -> None:
    queue_name = sys.argv[1]
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    conn = connect(os.environ["AMQP_URI"])
    try:
        channel = conn.channel()
        channel.queue_declare(queue_name, durable=False, auto_delete=True)

        def on_message(message: amqp.Message) -> None:
            props = message.properties
            reply = amqp.Message(reply_body(message.body), content_type="application/json",
                                 content_encoding="utf-8", correlation_id=props["correlation_id"],
                                 delivery_mode=1)
            channel.basic_publish(reply, exchange="", routing_key=props["reply_to"])

        channel.basic_consume(queue_name, no_ack=True, callback=on_message)
        print("ready", flush=True)
        while not stopping:
            try:
                conn.drain_events(timeout=0.5)
            except TimeoutError:
                continue
    finally:
        conn.close()


if __name__ == "__main__":
    main()
