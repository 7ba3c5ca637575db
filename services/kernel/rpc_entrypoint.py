"""The platform's RPC entrypoint: nameko's `Rpc`, with a cheaper way of sending the reply.

nameko 2.14 answers every call by building a `Publisher`, parsing the broker URI into a new
kombu `Connection` to find a pooled producer, serialising the result twice (once as a check,
once to send) and waiting for a publisher confirm. A reply does not need a confirm: it goes to
the caller's private, non-durable queue, and if it is lost (connection cut after the publish)
the caller's timeout answers for it, exactly as when the caller's queue is gone. So here:

* one kombu `Connection` per service process, built once; producers come from kombu's pool for
  it (a reconnecting publish, several workers publishing at once);
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

import kombu.serialization
import orjson
from kombu import Connection
from kombu.pools import producers
from kombu.utils import json as kombu_json
from nameko.amqp.publish import DEFAULT_TRANSPORT_OPTIONS
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_RETRY_POLICY, DEFAULT_SERIALIZER,
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
        self._connection = Connection(
            config[AMQP_URI_CONFIG_KEY],
            transport_options={**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": False},
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))

    def stop(self):
        super().stop()
        producers[self._connection].force_close_all()

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
        with producers[self._connection].acquire(block=True) as producer:
            producer.publish(
                body, content_type=content_type, content_encoding=encoding,
                exchange=self._exchange.name, routing_key=message.properties["reply_to"],
                correlation_id=message.properties.get("correlation_id"),
                delivery_mode=TRANSIENT, retry=True, retry_policy=DEFAULT_RETRY_POLICY)
        self.queue_consumer.ack_message(message)
        return result, exc_info


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
