"""The baseline's client side: a blocking kombu request/reply caller, one request in flight.

One connection, one channel, one exclusive reply queue; publish to the responder's queue on
the default exchange (no confirms, not persistent), then drain the connection until the reply
with our correlation id arrives. Not thread-safe: each thread makes its own `RawClient`.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import kombu
from kombu.message import Message


def request_body(payload: Any) -> str:
    """The nameko request format, so both sides of the comparison carry the same bytes."""
    return json.dumps({"args": [payload], "kwargs": {}}, ensure_ascii=False)


def reply_body(request: bytes | str) -> str:
    """The echo work both responders do: decode the request, encode the nameko reply."""
    args = json.loads(request)["args"]
    return json.dumps({"result": args[0], "error": None}, ensure_ascii=False)


class RawClient:
    def __init__(self, amqp_uri: str, queue: str, timeout: float = 5.0):
        self.queue = queue
        self.timeout = timeout
        self.conn = kombu.Connection(amqp_uri)
        self.channel = self.conn.channel()
        self.reply_queue = kombu.Queue(f"bench.raw-reply-{uuid.uuid4().hex}", channel=self.channel,
                                       exclusive=True, auto_delete=True, durable=False)
        self.reply_queue.declare()
        self.producer = kombu.Producer(self.channel)
        self.consumer = kombu.Consumer(self.channel, queues=[self.reply_queue], on_message=self._on_reply,
                                       no_ack=True)
        self.consumer.consume()
        self._replies: dict[str, bytes] = {}

    def _on_reply(self, message: Message) -> None:
        self._replies[message.properties["correlation_id"]] = message.body

    def call(self, payload: Any) -> Any:
        correlation_id = uuid.uuid4().hex
        self.producer.publish(request_body(payload), routing_key=self.queue, reply_to=self.reply_queue.name,
                              correlation_id=correlation_id, content_type="application/json",
                              content_encoding="utf-8", delivery_mode=1, retry=False)
        deadline = time.monotonic() + self.timeout
        while correlation_id not in self._replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no reply within {self.timeout}s")
            self.conn.drain_events(timeout=remaining)
        reply = json.loads(self._replies.pop(correlation_id))
        if reply.get("error"):
            raise RuntimeError(f"responder error: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        try:
            self.consumer.cancel()
        finally:
            self.conn.release()
