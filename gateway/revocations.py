"""Which sessions have ended, learnt from `auth.session_revoked` events.

Access tokens are verified locally, so a logout or a detected refresh-token theft must
reach every gateway: each gateway binds its own exclusive queue to the events exchange
and remembers revoked session ids until any token of theirs has expired anyway. After a
(re)connect it asks auth for revocations it may have missed.
"""
from __future__ import annotations

import asyncio
import json
import time

import aio_pika

from services.kernel.events import EVENTS_EXCHANGE
from services.kernel.logging import get_logger

from .rpc import RpcClient, RpcError

log = get_logger("gateway.revocations")
REVOKED_EVENT = "auth.session_revoked"


class RevocationList:
    def __init__(self, remember_seconds: float):
        self.remember_seconds = remember_seconds
        self._until: dict[str, float] = {}

    def add(self, session_id: str, now: float | None = None) -> None:
        self._until[session_id] = (now or time.time()) + self.remember_seconds

    def __call__(self, session_id: str) -> bool:
        until = self._until.get(session_id)
        if until is None:
            return False
        if until < time.time():
            del self._until[session_id]
            return False
        return True

    def __len__(self) -> int:
        return len(self._until)


class RevocationListener:
    def __init__(self, amqp_uri: str, rpc: RpcClient, revoked: RevocationList):
        self.amqp_uri, self.rpc, self.revoked = amqp_uri, rpc, revoked
        self._task: asyncio.Task | None = None
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self._connection is not None:
            await self._connection.close()

    async def _run(self) -> None:
        while True:
            try:
                self._connection = await aio_pika.connect_robust(self.amqp_uri, timeout=3)
                self._connection.reconnect_callbacks.add(lambda *_: asyncio.ensure_future(self._catch_up()))
                channel = await self._connection.channel()
                exchange = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
                queue = await channel.declare_queue(exclusive=True, auto_delete=True)
                await queue.bind(exchange, routing_key=REVOKED_EVENT)
                await queue.consume(self._on_message, no_ack=True)
                await self._catch_up()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker not there yet: try again
                log.warning("revocations.connect_failed", error_type=type(exc).__name__)
                await asyncio.sleep(2)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            session_id = json.loads(message.body)["data"]["after"]["session_id"]
        except (ValueError, KeyError, TypeError):
            log.error("revocations.malformed_event")
            return
        self.revoked.add(session_id)

    async def _catch_up(self) -> None:
        since = time.time() - self.revoked.remember_seconds
        for attempt in range(5):
            try:
                result = await self.rpc.call("auth", "recent_revocations", kwargs={"since": since}, timeout=3)
                for session_id in result["session_ids"]:
                    self.revoked.add(session_id)
                return
            except RpcError:
                await asyncio.sleep(1 + attempt)
        log.warning("revocations.catch_up_failed")
