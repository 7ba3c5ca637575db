"""A nameko entrypoint that hands a service the events of its queue in batches.

Audit and backup see every mutation event of the platform. Consumed one at a time (nameko's
`consume`), each event costs a worker, a transaction and an acknowledgement of its own;
at the country's peak (500-1,000 changes a second) that is most of a core per consumer.
Here the entrypoint takes whatever the queue has already delivered, up to `max_batch`
envelopes, runs the service method once with the list (one worker, one transaction), then
acknowledges them all with a single `basic.ack(multiple)`.

Batches form by themselves: the consumer never waits to fill one. When events trickle in, a
batch is one event and is handled as soon as it arrives; under load, events queue up while
a batch is being written and the next batch takes them all.

The queue is the quorum queue of `services.kernel.event_queues.CONSUMER_QUEUES[name]`,
declared (with its dead-letter queue and bindings) when the consumer connects; a classic
queue of an earlier release is drained into it first (see that module).

Delivery guarantees:
* acknowledged only after the method returned, i.e. after its transaction committed;
* if the method raises, the batch is retried event by event (one bad event does not hold back
  the others), and what still fails goes back to the queue; consumers are idempotent on
  `event_id`, so an event that did land is never stored or counted twice;
* an event that has failed `delivery_limit` times (the quorum queue counts deliveries) is
  rejected into the dead-letter queue: it no longer loops, and everything else flows; while
  nothing at all can be stored (the database is down), the pause between attempts doubles up to
  5 s, so an outage of a few seconds does not dead-letter everything in flight;
* a connection lost mid-batch means the broker redelivers everything unacknowledged;
* a message that is not a valid envelope goes to the dead-letter queue at once.
Each dead letter is logged (`event.dead_lettered`) and counted (`events_dead_lettered_total`);
the depth of the dead-letter queue is a gauge (`dead_letter_queue_messages`), which the alert
rule in `deploy/prometheus/alerts.yml` watches.
"""
from __future__ import annotations

import functools
import socket
import time
from typing import Callable

import eventlet
import orjson
import structlog
from eventlet.event import Event as GreenEvent
from kombu import Connection, Consumer
from nameko.constants import AMQP_URI_CONFIG_KEY, DEFAULT_HEARTBEAT, HEARTBEAT_CONFIG_KEY
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint

from .errors import InvalidInput
from .events import Envelope
from .logging import get_logger
from .event_queues import declare, drain_legacy, kombu_queue, spec
from .metrics import DEAD_LETTER_DEPTH, EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, child

log = get_logger(__name__)

_RECONNECT_MIN, _RECONNECT_MAX = 0.2, 5.0
_FAILURE_PAUSE, _FAILURE_PAUSE_MAX = 0.2, 5.0
_DEPTH_EVERY_SECONDS = 10.0


def _decode(message):
    """The message's JSON body: with orjson when that gives what kombu's decoder would (a UTF-8
    JSON body without kombu's `{"__type__": …}` markers or escapes that could spell one), else
    through kombu (`message.payload`: content type checked against `accept`, markers decoded).
    kombu's decoder is Python's json with an object hook on every dict: most of a batch's
    decoding time."""
    body = message.body  # py-amqp has already decoded it to str when it names its encoding
    if message.content_type != "application/json" or message.content_encoding != "utf-8":
        return message.payload
    if isinstance(body, str):
        plain = "__type__" not in body and "\\u" not in body
    else:
        plain = isinstance(body, bytes) and b"__type__" not in body and b"\\u" not in body
    if plain:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # kombu's decoder decides (and raises its own error)
    return message.payload


class EventBatchConsumer(Entrypoint):
    def __init__(self, queue_name: str, *, max_batch: int = 500, **kwargs):
        self.queue_name = queue_name
        self.max_batch = max_batch
        super().__init__(**kwargs)

    def setup(self):
        config = self.container.config
        self.amqp_uri = config[AMQP_URI_CONFIG_KEY]
        self.heartbeat = config.get(HEARTBEAT_CONFIG_KEY, DEFAULT_HEARTBEAT)
        self.spec = spec(self.queue_name)
        self.queue = kombu_queue(self.spec)
        self._depth_checked = 0.0
        self._failed_rounds = 0  # consecutive batches in which nothing could be stored
        self._stopping = False
        self._stopped = GreenEvent()

    def start(self):
        self.container.spawn_managed_thread(self._run, identifier=f"batch_consumer.{self.queue_name}")

    def stop(self):
        """Finish the batch in hand (so it is acknowledged), then stop consuming."""
        self._stopping = True
        self._stopped.wait()

    def kill(self):
        self._stopping = True

    # ------------------------------------------------------------------ loop

    def _run(self) -> None:
        delay = _RECONNECT_MIN
        try:
            while not self._stopping:
                try:
                    self._consume()
                    delay = _RECONNECT_MIN
                except Exception as exc:  # connection lost or refused: unacked events come back
                    if self._stopping:
                        break
                    log.warning("batch_consumer.reconnecting", queue=self.queue_name,
                                error=type(exc).__name__, retry_in=round(delay, 1))
                    eventlet.sleep(delay)
                    delay = min(delay * 2, _RECONNECT_MAX)
        finally:
            self._stopped.send(True)

    def _consume(self) -> None:
        with Connection(self.amqp_uri, heartbeat=self.heartbeat) as connection:
            channel = connection.channel()
            # Twice a batch in flight: the next batch arrives while this one is written.
            channel.basic_qos(prefetch_size=0, prefetch_count=2 * self.max_batch, a_global=False)
            declare(channel, self.spec)
            moved = drain_legacy(connection, self.spec)
            if moved:
                log.info("batch_consumer.legacy_queue_drained", queue=self.queue_name, moved=moved)
            queue = self.queue(channel)
            received: list = []
            consumer = Consumer(channel, queues=[queue], accept=["json"],
                                on_message=received.append, on_decode_error=self._undecodable)
            consumer.consume()
            log.info("batch_consumer.started", queue=self.queue_name, max_batch=self.max_batch)
            while not self._stopping:
                if not received:  # wait only with nothing in hand: left-overs of a large delivery
                    try:              # are handled at once (the prefetch window may be full of them)
                        connection.drain_events(timeout=1.0)
                    except socket.timeout:
                        connection.heartbeat_check()
                        self._watch_dead_letters(channel)
                        continue
                # Take what has already arrived, without waiting for more.
                while len(received) < self.max_batch:
                    try:
                        connection.drain_events(timeout=0)
                    except socket.timeout:
                        break
                batch, received[:] = received[:self.max_batch], received[self.max_batch:]
                if batch:
                    self._handle(channel, batch)
                connection.heartbeat_check()
                self._watch_dead_letters(channel)
            consumer.cancel()
            for message in received:  # delivered but never handed over: back to the queue
                message.requeue()

    def _undecodable(self, message, exc) -> None:
        EVENTS_CONSUMED.labels(self.queue_name, "malformed", "rejected").inc()
        self._dead_letter(message, "malformed", str(exc)[:200])

    def _dead_letter(self, message, reason: str, error: str, event_type: str | None = None) -> None:
        """Reject without requeue: the quorum queue moves it to `<name>.dead` (at least once)."""
        log.error("event.dead_lettered", queue=self.queue_name, dead_letter_queue=self.spec.dead_letter_queue,
                  reason=reason, event_type=event_type, message_id=message.properties.get("message_id"),
                  error=error)
        child(EVENTS_DEAD_LETTERED, self.queue_name, reason).inc()
        message.reject(requeue=False)

    def _deliveries(self, message) -> int:
        """How many times the broker delivered it before (the quorum queue's count)."""
        try:
            return int((message.headers or {}).get("x-delivery-count") or 0)
        except (TypeError, ValueError):
            return 0

    def _retry_or_dead_letter(self, message, envelope: Envelope) -> None:
        if self._deliveries(message) + 1 >= self.spec.delivery_limit:
            self._dead_letter(message, "failed_repeatedly", f"failed {self.spec.delivery_limit} times",
                              envelope.type)
        else:
            message.requeue()

    def _watch_dead_letters(self, channel) -> None:
        now = time.monotonic()
        if now - self._depth_checked < _DEPTH_EVERY_SECONDS:
            return
        self._depth_checked = now
        ok = channel.queue_declare(self.spec.dead_letter_queue, passive=True)
        child(DEAD_LETTER_DEPTH, self.spec.dead_letter_queue).set(ok.message_count)
        if ok.message_count:
            log.warning("event.dead_letters_waiting", queue=self.spec.dead_letter_queue, messages=ok.message_count,
                        replay=f"python -m services.kernel.dead_letters replay {self.queue_name}")

    # ------------------------------------------------------------------ batch

    def _handle(self, channel, messages: list) -> None:
        envelopes, kept = [], []
        for message in messages:
            try:
                body = _decode(message)  # decoded here: content type refused or bad JSON raise
            except Exception as exc:  # noqa: BLE001 - any decoding failure: the message is unusable
                self._undecodable(message, exc)
                continue
            try:
                envelopes.append(Envelope.from_dict(body))
                kept.append(message)
            except InvalidInput as exc:
                self._undecodable(message, exc)
        if not envelopes:
            return
        exc_info = self._call_service(envelopes)
        if exc_info is ContainerBeingKilled:
            channel.basic_nack(delivery_tag=kept[-1].delivery_tag, multiple=True, requeue=True)
            return
        if exc_info is None:
            # One frame settles the batch: every delivery tag up to the last one of it. Tags
            # of messages already settled one by one (malformed) are not included again.
            channel.basic_ack(delivery_tag=kept[-1].delivery_tag, multiple=True)
            self._count(envelopes, "ok")
            self._failed_rounds = 0
            return
        stored = 0
        if len(envelopes) > 1:
            # One bad event must not hold back the others: retry the batch event by event, so
            # only what fails on its own goes back to the queue.
            for envelope, message in zip(envelopes, kept):
                outcome = self._call_service([envelope])
                if outcome is None:
                    message.ack()
                    stored += 1
                else:
                    self._retry_or_dead_letter(message, envelope)
                self._count([envelope], "ok" if outcome is None else "error")
        else:
            self._retry_or_dead_letter(kept[0], envelopes[0])
            self._count(envelopes, "error")
        # A requeued event comes straight back: pause, so that a database outage or an event
        # that cannot be stored does not turn into a busy loop. While nothing at all can be
        # stored (an outage, not one bad event) the pause doubles, up to 5 s: the deliveries
        # the quorum queue counts towards dead-lettering are spread over seconds, not spent
        # in one.
        self._failed_rounds = 0 if stored else self._failed_rounds + 1
        eventlet.sleep(min(_FAILURE_PAUSE * 2 ** max(self._failed_rounds - 1, 0), _FAILURE_PAUSE_MAX))

    def _call_service(self, envelopes: list[Envelope]):
        """Run the service method on one batch in a worker; its exc_info (None: success)."""
        done = GreenEvent()

        def handle_result(worker_ctx, result, exc_info):
            done.send(exc_info)
            return result, exc_info

        try:
            self.container.spawn_worker(self, (envelopes,), {},
                                        context_data={"correlation_id": envelopes[0].correlation_id},
                                        handle_result=handle_result)
        except ContainerBeingKilled:
            return ContainerBeingKilled
        return done.wait()

    def _count(self, envelopes: list[Envelope], outcome: str) -> None:
        for envelope in envelopes:
            child(EVENTS_CONSUMED, self.queue_name, envelope.type, outcome).inc()


def event_batch_consumer(queue_name: str, *, max_batch: int = 500) -> Callable:
    """Decorate `method(self, envelopes: list[Envelope])`; `queue_name` is a key of
    `services.kernel.event_queues.CONSUMER_QUEUES` (its bindings are there). See the module docstring."""
    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(self, envelopes):
            structlog.contextvars.bind_contextvars(events=len(envelopes))
            return fn(self, envelopes)
        return EventBatchConsumer.decorator(queue_name, max_batch=max_batch)(wrapper)
    return decorator
