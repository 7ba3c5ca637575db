"""Asyncio client for nameko 2.14's AMQP RPC protocol.

The gateway runs on asyncio, while nameko's own ``ClusterRpcProxy`` is
eventlet-based and blocks a thread per call.  This module talks the wire
protocol directly so that any number of concurrent requests share one AMQP
connection, one publishing channel and one reply consumer.

Wire protocol (as implemented by ``nameko.rpc`` 2.14):

* request: published to the durable topic exchange ``nameko-rpc`` with routing
  key ``<service>.<method>``; JSON body ``{"args": [...], "kwargs": {...}}``;
  properties ``reply_to`` (routing key of the caller's reply queue) and
  ``correlation_id``; every context-data item travels as a ``nameko.<key>``
  header and shows up in ``worker_ctx.data`` without the prefix.
* reply: published by the service to the same exchange with routing key
  ``reply_to`` and the same ``correlation_id``; JSON body
  ``{"result": ..., "error": None | {"exc_type", "exc_path", "exc_args",
  "value"}}``.

Usage::

    client = RpcClient("amqp://guest:guest@rabbitmq:5672/")
    await client.start()
    try:
        user = await client.call(
            "accounts", "get_user", args=[42],
            context={"access_token": token}, timeout=2.0,
        )
    finally:
        await client.close()
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
import pamqp.encode
import pamqp.exceptions
import aiormq.abc
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import DeliveryError, PublishError
from pamqp.commands import Basic
from yarl import URL

from services.kernel.wire import OK_REPLY_PREFIX

__all__ = [
    "BrokerUnavailable",
    "RemoteError",
    "RpcClient",
    "RpcError",
    "RpcTimeout",
    "UnknownService",
]

log = logging.getLogger(__name__)

_HEADER_PREFIX = "nameko"
_CONTENT_TYPE = "application/json"
_CONTENT_ENCODING = "utf-8"
_NOT_PERSISTENT = 1

# Reconnect backoff. The first attempt after a loss is immediate; failures
# back off exponentially (with jitter, so that a fleet of gateways does not
# stampede a broker that just came back) up to a cap that bounds how long the
# gateway stays unavailable after the broker has recovered.
_RECONNECT_MIN_DELAY = 0.2
_RECONNECT_MAX_DELAY = 5.0


class RpcError(Exception):
    """Base class of every error raised by :class:`RpcClient`."""


class BrokerUnavailable(RpcError):
    """Not connected, the connection was lost, or the broker refused the publish."""


class RpcTimeout(RpcError):
    """No reply arrived within the call's timeout."""


class UnknownService(RpcError):
    """The broker could not route the request: no queue is bound for the service."""

    def __init__(self, service: str) -> None:
        super().__init__(f"unknown service: {service!r}")
        self.service = service


class ArgumentOutOfRange(ValueError):
    """An integer argument lies outside what every peer on the bus can read exactly.

    The bus carries JSON; its readers (nameko's kombu/json services, SQL drivers binding
    64-bit columns, JavaScript clients of the events) agree on integers up to 2**53 - 1
    in magnitude. A larger one would fail somewhere downstream, far from its cause, or be
    rounded silently; it is refused here, before anything is sent, for every call.
    """


# Compact UTF-8 JSON; integers beyond +-(2**53 - 1) raise instead of being encoded.
_ARGUMENT_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_STRICT_INTEGER


def encode_arguments(args, kwargs) -> bytes:
    """The request body of an RPC. Raises `ArgumentOutOfRange` for an integer too large for
    the bus, and `TypeError` (as json does) for a value JSON cannot carry."""
    try:
        return orjson.dumps({"args": list(args), "kwargs": dict(kwargs or {})}, option=_ARGUMENT_OPTIONS)
    except orjson.JSONEncodeError as exc:
        if "Integer exceeds" in str(exc):
            raise ArgumentOutOfRange("a number in the request is too large") from None
        raise


class RemoteError(RpcError):
    """The remote service method raised an exception."""

    def __init__(
        self, exc_type: str, exc_path: str | None, exc_args: list[Any], value: str
    ) -> None:
        self.exc_type = exc_type
        self.exc_path = exc_path
        self.exc_args = exc_args
        self.value = value
        # The first positional argument is usually the human-readable message
        # the service author wrote; ``value`` (str(exc)) is the fallback for
        # exceptions built without one or with non-string arguments.
        if exc_args and isinstance(exc_args[0], str):
            self.message: str = exc_args[0]
        else:
            self.message = value
        super().__init__(self.message)

    @classmethod
    def from_payload(cls, error: Mapping[str, Any]) -> RemoteError:
        """Build from the ``error`` member of a reply, tolerating missing keys."""
        exc_args = error.get("exc_args")
        return cls(
            exc_type=str(error.get("exc_type") or "Exception"),
            exc_path=error.get("exc_path"),
            exc_args=list(exc_args) if isinstance(exc_args, (list, tuple)) else [],
            value=str(error.get("value") or ""),
        )

    def __repr__(self) -> str:
        return f"RemoteError(exc_type={self.exc_type!r}, message={self.message!r})"


@dataclass(eq=False)
class _Link:
    """One live broker connection with the channels and reply queue on it."""

    connection: AbstractConnection
    # aiormq's channel under aio-pika's: requests are published on it directly, which
    # skips aio-pika's per-message object and property conversions on the hot path
    channel: aiormq.abc.AbstractChannel
    exchange: str
    reply_to: str
    # Resolved (with the cause, possibly None) the first time the connection
    # or one of its channels closes; the supervisor waits on it.
    lost: asyncio.Future[BaseException | None]

    def mark_lost(self, cause: BaseException | None) -> None:
        if not self.lost.done():
            self.lost.set_result(cause)


class RpcClient:
    """Multiplexing nameko RPC client for asyncio.

    Connection management: a background *supervisor* task owns the broker
    connection. It connects, declares the ``nameko-rpc`` exchange (idempotent;
    same parameters as nameko, so the client can start before any service),
    opens a publishing channel with publisher confirms and a reply channel,
    declares an exclusive auto-delete reply queue bound with a fresh uuid
    routing key, and starts consuming. When the connection or either channel
    closes, every pending call fails with :class:`BrokerUnavailable` and the
    supervisor reconnects immediately, then with capped exponential backoff.

    Every connection gets a *new* reply queue and routing key rather than
    re-declaring the old one: the broker may not yet have reaped the old
    exclusive queue (half-open TCP, heartbeat not yet missed) and would refuse
    it with RESOURCE_LOCKED, and replies to calls that were already failed
    must not reach the new queue.

    ``aio_pika.connect_robust`` is deliberately not used: it restores the old
    reply queue under the same name, and its publishes may wait for the
    reconnection, whereas ``call()`` here must fail fast while the broker is
    down.

    ``start()`` launches the supervisor and waits until connected. If no
    connection is established within ``connect_timeout`` it raises
    :class:`BrokerUnavailable`, but the supervisor keeps retrying in the
    background, so the client recovers by itself once the broker is back;
    ``start()`` may be called again to wait for that. ``close()`` must be
    called in every case (also after a failed ``start()``) to stop the
    supervisor.

    Dead-peer detection without a TCP reset relies on AMQP heartbeats; tune
    them through the URI (e.g. ``?heartbeat=10``).
    """

    def __init__(
        self,
        amqp_uri: str,
        *,
        exchange: str = "nameko-rpc",
        default_timeout: float = 5.0,
        connect_timeout: float = 3.0,
    ) -> None:
        if default_timeout <= 0:
            raise ValueError("default_timeout must be positive")
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        self._amqp_uri = amqp_uri
        self._exchange_name = exchange
        self._default_timeout = default_timeout
        self._connect_timeout = connect_timeout
        # The URI carries the password; only the masked form may be logged.
        self._safe_uri = _mask_password(amqp_uri)
        # Shown in the management UI; the suffix tells clients of one process apart.
        self._connection_name = (
            f"gateway.rpc/{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        )

        _suppress_library_message_dumps()

        self._pending: dict[str, asyncio.Future[Any]] = {}
        # correlation ids of calls that asked for the result as raw JSON bytes
        self._raw: set[str] = set()
        self._link: _Link | None = None
        self._ready = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._last_error: BaseException | None = None

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        link = self._link
        return link is not None and not link.lost.done()

    async def start(self) -> None:
        """Connect (see the class docstring for the failure/recovery contract)."""
        if self._supervisor is None or self._supervisor.done():
            self._ready.clear()
            self._supervisor = asyncio.create_task(
                self._supervise(), name=f"rpc-client-supervisor {self._safe_uri}"
            )
        try:
            await asyncio.wait_for(self._ready.wait(), self._connect_timeout)
        except TimeoutError:
            cause = self._last_error
            detail = f": {_describe(cause)}" if cause is not None else ""
            raise BrokerUnavailable(
                f"could not connect to {self._safe_uri} within "
                f"{self._connect_timeout:g}s{detail}"
            ) from None

    async def close(self) -> None:
        """Stop reconnecting, fail pending calls and close the connection."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        link, self._link = self._link, None
        self._ready.clear()
        self._fail_pending("RPC client closed")
        if link is not None:
            link.mark_lost(None)
            await self._close_connection(link.connection)

    # ------------------------------------------------------------------- call

    async def call(
        self,
        service: str,
        method: str,
        *,
        args: list[Any] | tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        timeout: float | None = None,
        raw: bool = False,
    ) -> Any:
        """Call ``service.method(*args, **kwargs)`` and return its result.

        ``context`` items become ``nameko.<key>`` headers (``None`` values are
        dropped, as nameko itself does). Arguments must be JSON-serialisable;
        a ``TypeError`` is raised before anything is sent otherwise.

        ``raw=True`` returns the result as UTF-8 JSON bytes instead, for callers
        that only forward it: a platform service's reply (``OK_REPLY_PREFIX``
        layout) is then sliced, not decoded and re-encoded.
        """
        if timeout is None:
            timeout = self._default_timeout
        if timeout <= 0:
            raise ValueError("timeout must be positive")

        body = encode_arguments(args, kwargs)
        headers = _context_headers(context)

        link = self._link
        if link is None or link.lost.done():
            raise BrokerUnavailable(f"not connected to {self._safe_uri}")

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        correlation_id = uuid.uuid4().hex
        reply: asyncio.Future[Any] = loop.create_future()
        # Registered before publishing: the reply can overtake the publisher
        # confirm. No await lies between the liveness check above and this
        # line, so a connection loss cannot slip in and miss this future.
        self._pending[correlation_id] = reply
        if raw:
            self._raw.add(correlation_id)
        properties = Basic.Properties(
            content_type=_CONTENT_TYPE,
            content_encoding=_CONTENT_ENCODING,
            headers=headers,
            correlation_id=correlation_id,
            reply_to=link.reply_to,
            # Without a TTL the request would wait in the durable service
            # queue while the service is down and be executed when it comes
            # back -- long after we told our caller it timed out, so a retried
            # operation could run twice. The broker never delivers an expired
            # message to a consumer.
            expiration=str(max(1, int(timeout * 1000))),
            # Persisting buys nothing for a request that is worthless after
            # `timeout` and would cost a disk write per call.
            delivery_mode=_NOT_PERSISTENT,
        )
        routing_key = f"{service}.{method}"
        try:
            async with asyncio.timeout_at(deadline):
                await self._publish(link, body, properties, routing_key, service)
                return await reply
        except TimeoutError:
            raise RpcTimeout(
                f"no reply from {routing_key} within {timeout:g}s"
            ) from None
        finally:
            # Keeps the pending map bounded: a late reply finds no entry and
            # is dropped by _on_reply.
            self._pending.pop(correlation_id, None)
            self._raw.discard(correlation_id)
            if not reply.done():
                reply.cancel()
            elif not reply.cancelled():
                # A loss can fail this future while the publish raises its
                # own error; retrieve it so asyncio does not report it as
                # "never retrieved".
                reply.exception()

    async def _publish(
        self, link: _Link, body: bytes, properties: Basic.Properties,
        routing_key: str, service: str,
    ) -> None:
        try:
            # mandatory + publisher confirms is how nameko itself detects an
            # unknown service: the broker sends basic.return before the ack
            # when no queue is bound, and aiormq turns that into PublishError
            # because the channel was opened with on_return_raises=True.
            result = await link.channel.basic_publish(
                body, exchange=link.exchange, routing_key=routing_key,
                properties=properties, mandatory=True,
            )
        except PublishError:
            raise UnknownService(service) from None
        except DeliveryError as exc:
            # basic.nack: the broker accepted the frame but could not enqueue
            # it (e.g. an internal error or a reject-publish length limit).
            raise BrokerUnavailable(f"broker refused request to {routing_key}") from exc
        except asyncio.CancelledError:
            # aiormq cancels in-flight confirmations when the channel dies;
            # only a cancellation aimed at this task (the caller's, or our
            # own deadline) must propagate as such.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            link.mark_lost(None)
            raise BrokerUnavailable("connection lost while publishing") from None
        except CONNECTION_EXCEPTIONS as exc:
            link.mark_lost(exc)
            raise BrokerUnavailable(f"publish to {routing_key} failed: {_describe(exc)}") from exc
        # Only reachable if the channel were opened without on_return_raises;
        # kept so that a configuration change cannot turn this into a hang.
        if isinstance(result, DeliveredMessage):
            raise UnknownService(service)

    # -------------------------------------------------------------- replies

    async def _on_delivery(self, message: DeliveredMessage) -> None:
        """aiormq's raw delivery: only the correlation id and the body are needed, so no
        aio-pika message object is built for each reply."""
        await self._on_reply(message.header.properties.correlation_id, message.body)

    async def _on_reply(self, correlation_id: str | None, body: bytes) -> None:
        reply = self._pending.pop(correlation_id, None) if correlation_id else None
        if reply is None or reply.done():
            # The caller timed out or was cancelled; nothing is waiting.
            log.debug("dropping reply for unknown correlation id %s", correlation_id)
            return
        raw = correlation_id in self._raw
        self._raw.discard(correlation_id)
        if raw and body.startswith(OK_REPLY_PREFIX) and body.endswith(b"}"):
            reply.set_result(body[len(OK_REPLY_PREFIX):-1])
            return
        try:
            payload = orjson.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("reply is not a JSON object")
        except ValueError as exc:
            reply.set_exception(RpcError(f"malformed reply: {exc}"))
            return
        error = payload.get("error")
        if error:
            if isinstance(error, Mapping):
                reply.set_exception(RemoteError.from_payload(error))
            else:
                reply.set_exception(RpcError(f"malformed error in reply: {error!r}"))
        elif raw:  # a responder without the sliceable layout: re-encode
            reply.set_result(orjson.dumps(payload.get("result")))
        else:
            reply.set_result(payload.get("result"))

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        self._raw = set()
        for reply in pending.values():
            if not reply.done():
                # A fresh instance per caller: one exception object raised in
                # many tasks would share (and garble) its traceback.
                reply.set_exception(BrokerUnavailable(reason))

    # ------------------------------------------------------------ supervisor

    async def _supervise(self) -> None:
        delay = _RECONNECT_MIN_DELAY
        while True:
            try:
                link = await self._open_link()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._last_error = exc
                pause = delay * random.uniform(0.8, 1.2)
                log.warning(
                    "RPC broker %s unavailable (%s); retrying in %.1fs",
                    self._safe_uri,
                    _describe(exc),
                    pause,
                )
                await asyncio.sleep(pause)
                delay = min(delay * 2, _RECONNECT_MAX_DELAY)
                continue

            delay = _RECONNECT_MIN_DELAY
            self._last_error = None
            self._link = link
            self._ready.set()
            log.info("RPC client connected to %s", self._safe_uri)

            cause = await link.lost
            # On cancellation (close()) we never get here; close() disposes
            # of the link itself.
            self._ready.clear()
            self._link = None
            self._last_error = cause
            self._fail_pending("connection to the broker was lost")
            log.warning(
                "RPC connection to %s lost (%s); reconnecting",
                self._safe_uri,
                _describe(cause) if cause is not None else "closed",
            )
            await self._close_connection(link.connection)

    async def _open_link(self) -> _Link:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._connect_timeout):
            connection = await aio_pika.connect(
                self._amqp_uri,
                timeout=self._connect_timeout,
                client_properties={"connection_name": self._connection_name},
            )
        try:
            async with asyncio.timeout(self._connect_timeout):
                lost: asyncio.Future[BaseException | None] = loop.create_future()
                publish_channel = await connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                exchange = await publish_channel.declare_exchange(
                    self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
                # aiormq handles each channel's incoming frames in order on
                # its own task; a separate channel keeps replies from queueing
                # behind the stream of publisher confirms (and vice versa).
                reply_channel = await connection.channel(publisher_confirms=False)
                reply_to = str(uuid.uuid4())
                queue = await reply_channel.declare_queue(
                    f"rpc.reply-gateway-{reply_to}", exclusive=True, auto_delete=True
                )
                await queue.bind(self._exchange_name, routing_key=reply_to)

                link = _Link(
                    connection,
                    await publish_channel.get_underlay_channel(),
                    exchange.name,
                    reply_to,
                    lost,
                )
                watched: tuple[AbstractConnection | AbstractChannel, ...] = (
                    connection,
                    publish_channel,
                    reply_channel,
                )
                for resource in watched:
                    resource.close_callbacks.add(_LossNotifier(link))
                # Auto-ack: the queue is private and a reply nobody waits for
                # is dropped anyway, so explicit acks would only cost
                # round trips.
                await (await reply_channel.get_underlay_channel()).basic_consume(
                    queue.name, self._on_delivery, no_ack=True
                )
        except BaseException:
            await self._close_connection(connection)
            raise
        return link

    async def _close_connection(self, connection: AbstractConnection) -> None:
        if connection.is_closed:
            return
        try:
            async with asyncio.timeout(self._connect_timeout):
                await connection.close()
        except Exception as exc:  # the connection is being discarded anyway
            log.debug("error while closing RPC connection: %s", _describe(exc))


class _LossNotifier:
    """Close callback for aio-pika resources: flags the owning link as lost."""

    def __init__(self, link: _Link) -> None:
        self._link = link

    def __call__(self, _sender: object, cause: BaseException | None = None) -> None:
        self._link.mark_lost(cause)


class _DropMessageDumps(logging.Filter):
    """Drops the DEBUG records in which aio-pika and aiormq dump whole outgoing
    messages: those include the headers, i.e. the callers' access tokens, and
    would leak them as soon as someone turns on debug logging."""

    PREFIXES = {
        "aio_pika.exchange": "Publishing message",
        "aiormq.connection": "Prepare to send",
    }

    def filter(self, record: logging.LogRecord) -> bool:
        prefix = self.PREFIXES.get(record.name)
        return not (
            prefix is not None
            and isinstance(record.msg, str)
            and record.msg.startswith(prefix)
        )


_MESSAGE_DUMP_FILTER = _DropMessageDumps()


def _suppress_library_message_dumps() -> None:
    for name in _DropMessageDumps.PREFIXES:
        logger = logging.getLogger(name)
        if _MESSAGE_DUMP_FILTER not in logger.filters:
            logger.addFilter(_MESSAGE_DUMP_FILTER)


def _context_headers(context: Mapping[str, Any] | None) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for key, value in (context or {}).items():
        if value is None:  # mirrors nameko, which drops None-valued context
            continue
        name = f"{_HEADER_PREFIX}.{key}"
        if type(value) is str:  # the usual case (ids, tokens): always encodable
            headers[name] = value
            continue
        try:
            # Validate here: an unencodable value would otherwise fail deep
            # inside the publish and look like a broken connection.
            pamqp.encode.field_table({name: value})
        except (TypeError, ValueError, pamqp.exceptions.PAMQPException):
            # The value itself is never echoed: headers carry access tokens.
            raise TypeError(
                f"context item {key!r} has a type that cannot be sent as an "
                f"AMQP header: {type(value).__name__}"
            ) from None
        headers[name] = value
    return headers


def _mask_password(amqp_uri: str) -> str:
    try:
        url = URL(amqp_uri)
    except (TypeError, ValueError):
        return "<invalid AMQP URI>"
    return str(url.with_password("******")) if url.password else str(url)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
