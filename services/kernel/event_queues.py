"""The durable event queues of the platform's consumers: one table, declared by every outbox
relay before it publishes (so no event is published before its consumers' queues exist) and
by each consumer when it starts.

A consumer that must see events adds one `ConsumerQueue` to `CONSUMER_QUEUES` (its name, the
topic bindings on `platform.events`, e.g. `("grades.#",)`) and consumes it with
`@event_batch_consumer("<name>")`. Every queue here is a **quorum queue** (replicated,
durable) with at-least-once dead-lettering: a message rejected, or delivered more than
`delivery_limit` times, moves to `<name>.dead` (also a quorum queue) and is kept there until
an operator replays it (`python -m services.kernel.dead_letters replay <name>`). With
`x-overflow=reject-publish` a full queue refuses new messages (the relay keeps them in its
outbox and retries) instead of dropping the oldest.

Migration from the classic queues of earlier releases: a quorum queue cannot take a classic
queue's name in place, so each queue has a new name and remembers the classic one
(`legacy`). On start a consumer binds the new queue first (from then on every new event
reaches it), unbinds the classic one, moves what it holds into the new queue (published
with confirms before each message is acknowledged), and deletes it once empty. An event
published while both were bound arrives twice; consumers are idempotent on `event_id`.
"""
from __future__ import annotations

from dataclasses import dataclass

import amqp
from kombu import Exchange, Queue, binding

from .events import EVENTS_EXCHANGE
from .logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ConsumerQueue:
    name: str                       # the logical name a consumer uses (`@event_batch_consumer(name)`)
    bindings: tuple[str, ...] = ("#",)
    queue: str = ""                 # the quorum queue's name (default: `<name>.q`)
    legacy: str | None = None       # a classic queue of an earlier release, drained on start
    delivery_limit: int = 5
    max_length: int | None = None   # with reject-publish: refuse new messages beyond this

    @property
    def queue_name(self) -> str:
        return self.queue or f"{self.name}.q"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead"

    def arguments(self) -> dict:
        args = {"x-queue-type": "quorum", "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.dead_letter_queue,
                "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish",
                "x-delivery-limit": self.delivery_limit}
        if self.max_length:
            args["x-max-length"] = self.max_length
        return args


# Audit and backup receive every event, even before they have ever run.
CONSUMER_QUEUES: dict[str, ConsumerQueue] = {q.name: q for q in (
    ConsumerQueue("audit.events", legacy="audit.events"),
    ConsumerQueue("backup.events", legacy="backup.events"),
    # auth tells teachers, directors, parents and pupils about catalog events (alerts, digests)
    # ... and honours the registry's restriction of processing, and mails requesters the decisions on
    # their rectification requests and grade disputes (issue 11; grades.grade_dispute_* are in grades.#)
    ConsumerQueue("auth.catalog_notices", bindings=("grades.#", "registry.processing_restricted",
                                                    "registry.processing_restriction_lifted",
                                                    "registry.rectification_approved",
                                                    "registry.rectification_rejected")),
    # the registry records each pupil's school path from the catalog's roster events
    ConsumerQueue("registry.catalog_events", bindings=("grades.student_enrolled", "grades.student_transferred")),
    # the catalog honours the registry's restrictions of processing (CAT-11)
    ConsumerQueue("grades.rights_events", bindings=("registry.processing_restricted",
                                                    "registry.processing_restriction_lifted")),
)}


def spec(name: str) -> ConsumerQueue:
    try:
        return CONSUMER_QUEUES[name]
    except KeyError:
        raise KeyError(f"event queue {name!r} is not in services.kernel.event_queues.CONSUMER_QUEUES") from None


def events_exchange() -> Exchange:
    return Exchange(EVENTS_EXCHANGE, type="topic", durable=True)


def kombu_queue(q: ConsumerQueue) -> Queue:
    return Queue(q.queue_name, bindings=[binding(events_exchange(), routing_key=key) for key in q.bindings],
                 durable=True, queue_arguments=q.arguments())


def dead_letter_kombu_queue(q: ConsumerQueue) -> Queue:
    return Queue(q.dead_letter_queue, durable=True, queue_arguments={"x-queue-type": "quorum"})


def declare(channel, q: ConsumerQueue) -> None:
    """The dead-letter queue, the quorum queue and its bindings (idempotent)."""
    events_exchange()(channel).declare()
    dead_letter_kombu_queue(q)(channel).declare()
    kombu_queue(q)(channel).declare()


def declare_all(channel) -> None:
    for q in CONSUMER_QUEUES.values():
        declare(channel, q)


def drain_legacy(connection, q: ConsumerQueue) -> int:
    """Move the classic queue's messages into the quorum queue, then delete it; returns how
    many moved. Safe to run from several consumers at once, and again after a crash."""
    if not q.legacy or q.legacy == q.queue_name:
        return 0
    channel = connection.channel()
    try:
        try:
            channel.queue_declare(q.legacy, passive=True)
        except amqp.exceptions.NotFound:
            return 0
        for key in q.bindings:
            channel.queue_unbind(q.legacy, EVENTS_EXCHANGE, key)
        channel.confirm_select()
        moved = 0
        while True:
            message = channel.basic_get(q.legacy, no_ack=False)
            if message is None:
                break
            props = dict(message.properties)
            channel.basic_publish_confirm(amqp.Message(message.body, **props), exchange="",
                                          routing_key=q.queue_name, mandatory=True)
            channel.basic_ack(message.delivery_tag)
            moved += 1
        try:
            channel.queue_delete(q.legacy, if_empty=True)
        except amqp.exceptions.PreconditionFailed:
            pass  # an old relay added a message meanwhile: the next start moves it
        log.info("event_queue.migrated", queue=q.queue_name, legacy=q.legacy, moved=moved)
        return moved
    finally:
        try:
            channel.close()
        except Exception:  # noqa: BLE001 - a closed channel (passive declare of a missing queue)
            pass
