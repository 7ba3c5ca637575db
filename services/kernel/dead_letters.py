"""Operator CLI for dead letters: `python -m services.kernel.dead_letters list` shows each
consumer's dead-letter queue depth; `... replay <name> [--limit N]` moves its dead letters back
into the consumer's queue (each published with a confirm before it is acknowledged, so a crash
never loses one; consumers are idempotent on event_id, so one replayed twice lands once).

Replay after fixing what made them fail: a message that still fails returns here after its
delivery limit."""
from __future__ import annotations

import argparse
import sys

import amqp
import kombu

from .event_queues import CONSUMER_QUEUES, declare, spec
from .settings import get_settings


def depths(connection) -> dict[str, int]:
    channel = connection.channel()
    out = {}
    for q in CONSUMER_QUEUES.values():
        declare(channel, q)
        out[q.dead_letter_queue] = channel.queue_declare(q.dead_letter_queue, passive=True).message_count
    return out


def replay(connection, name: str, limit: int | None = None) -> int:
    q = spec(name)
    channel = connection.channel()
    declare(channel, q)
    channel.confirm_select()
    moved = 0
    while limit is None or moved < limit:
        message = channel.basic_get(q.dead_letter_queue, no_ack=False)
        if message is None:
            break
        props = dict(message.properties)
        headers = dict(props.get("application_headers") or {})
        headers.pop("x-delivery-count", None)
        headers["x-replayed"] = int(headers.get("x-replayed") or 0) + 1
        props["application_headers"] = headers
        channel.basic_publish_confirm(amqp.Message(message.body, **props), exchange="",
                                      routing_key=q.queue_name, mandatory=True)
        channel.basic_ack(message.delivery_tag)
        moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.kernel.dead_letters", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="dead letters waiting per queue")
    r = sub.add_parser("replay", help="move dead letters back to their queue")
    r.add_argument("name", choices=sorted(CONSUMER_QUEUES))
    r.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    with kombu.Connection(get_settings().amqp_uri) as connection:
        connection.connect()
        if args.command == "list":
            for queue, n in depths(connection).items():
                print(f"{queue}\t{n}")
        else:
            print(f"replayed {replay(connection, args.name, args.limit)} message(s) into {spec(args.name).queue_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
