"""The platform's RPC entrypoint: nameko's `Rpc`, with a cheaper way of sending the reply.

nameko 2.14 answers every call by building a `Publisher`, parsing the broker URI into a new
kombu `Connection` to find a pooled producer, serialising the result twice (once as a check,
once to send) and waiting for a publisher confirm. A reply does not need a confirm: it goes to
the caller's private, non-durable queue, and if it is lost (connection cut after the publish)
the caller's timeout answers for it, exactly as when the caller's queue is gone. So here:

* replies go out on reusable channels (`ReplyChannels`: one per reply in flight, reopened
  once if its connection broke), straight through py-amqp's `basic_publish`;
* the reply is serialised once, in a layout the gateway can forward without re-encoding it
  (`OK_REPLY_PREFIX`), and a result that cannot be serialised becomes nameko's
  `UnserializableValueError`, as before;
* no confirm, transient delivery; the request is acknowledged after the reply is handed over.

It also checks call signatures against a signature computed once, not on every call.

Everything else (queue, routing keys, wire format, error serialisation, requeue when the
container is being killed) is nameko's own, so callers cannot tell the difference.
"""
from __future__ import annotations

import inspect
import sys

import amqp
import kombu.serialization
import orjson
from kombu import Connection
from kombu.utils import json as kombu_json
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER,
                              LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY)
from nameko.exceptions import IncorrectSignature, UnserializableValueError, serialize
from nameko.rpc import Rpc, RpcConsumer, get_rpc_exchange

from .wire import OK_REPLY_PREFIX

TRANSIENT = 1


class ReplyingRpcConsumer(RpcConsumer):
    """nameko's shared RPC queue consumer, sending replies without a confirm round trip."""

    def setup(self):
        super().setup()
        config = self.container.config
        self._exchange = get_rpc_exchange(config)
        self._serializer = config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER)
        self._replies = ReplyChannels(lambda: Connection(
            config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY)))

    def stop(self):
        super().stop()
        self._replies.close()

    def handle_result(self, message, result, exc_info):
        error = serialize(exc_info[1]) if exc_info is not None else None
        # Reply in the request's encoding (nameko's rule), falling back to the configured one.
        content_type = message.properties.get("content_type")
        serializer = kombu.serialization.registry.type_to_name.get(content_type, self._serializer)
        try:
            content_type, encoding, body = encode_reply(result, error, serializer)
        except Exception:
            exc_info = sys.exc_info()
            error = serialize(UnserializableValueError(result))
            result = None
            content_type, encoding, body = encode_reply(None, error, serializer)
        reply = amqp.Message(body, content_type=content_type, content_encoding=encoding, delivery_mode=TRANSIENT,
                             correlation_id=message.properties.get("correlation_id"))
        self._replies.publish(reply, self._exchange.name, message.properties["reply_to"])
        self.queue_consumer.ack_message(message)
        return result, exc_info


class ReplyChannels:
    """Channels to publish replies on, one per reply in flight, reused.

    A greenthread takes a free channel (or opens one), publishes and puts it back; list
    operations never yield under eventlet, so no lock is needed. A channel whose connection
    failed is dropped and the reply is sent once more on a fresh one; a second failure
    propagates, as nameko's own publisher does after its retries."""

    def __init__(self, connect):
        self._connect = connect
        self._free: list[tuple] = []

    def publish(self, message: amqp.Message, exchange: str, routing_key: str) -> None:
        for attempt in (1, 2):
            entry = self._free.pop() if self._free else self._open()
            try:
                entry[1].basic_publish(message, exchange=exchange, routing_key=routing_key)
            except Exception:
                self._discard(entry)
                if attempt == 2:
                    raise
                continue
            self._free.append(entry)
            return

    def _open(self) -> tuple:
        connection = self._connect()
        connection.connect()
        return connection, connection.channel()

    @staticmethod
    def _discard(entry: tuple) -> None:
        try:
            entry[0].release()
        except Exception:  # noqa: BLE001 - it is broken already
            pass

    def close(self) -> None:
        free, self._free = self._free, []
        for entry in free:
            self._discard(entry)


def encode_reply(result, error, serializer: str) -> tuple[str, str, bytes | str]:
    """nameko's reply payload; JSON successes in the sliceable layout of `wire.OK_REPLY_PREFIX`."""
    if error is None and serializer == "json":
        return "application/json", "utf-8", OK_REPLY_PREFIX + _dumps(result) + b"}"
    return kombu.serialization.dumps({"error": error, "result": result}, serializer)


def _kombu_default(value):
    # What orjson does not encode itself goes the way kombu's encoder sends it (dates and
    # datetimes included, so a nameko caller decodes them exactly as before).
    return kombu_json.JSONEncoder().default(value)


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _dumps(value) -> bytes:
    return orjson.dumps(value, default=_kombu_default, option=_ORJSON_OPTIONS)


class PlatformRpc(Rpc):
    rpc_consumer = ReplyingRpcConsumer()

    def setup(self):
        super().setup()
        # nameko re-derives the method's signature on every call; it never changes.
        self._signature = inspect.signature(getattr(self.container.service_cls, self.method_name))

    def check_signature(self, args, kwargs):
        try:
            self._signature.bind(None, *args, **kwargs)  # None stands for `self`
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None
