"""The reply layout shared by the platform's RPC responder and the gateway's client."""
from __future__ import annotations

import asyncio
import json
from datetime import date

import kombu.serialization

from gateway.rpc import RemoteError, RpcClient
from services.kernel.rpc_entrypoint import encode_reply
from services.kernel.wire import OK_REPLY_PREFIX


def test_success_is_sliceable_and_still_a_nameko_reply():
    result = {"nume": "Țăranu", "data": date(2026, 9, 15), "note": [10, 9]}
    content_type, encoding, body = encode_reply(result, None, "json")
    assert body.startswith(OK_REPLY_PREFIX) and body.endswith(b"}")
    decoded = kombu.serialization.loads(body, content_type, encoding)  # what nameko callers do
    assert decoded["error"] is None and decoded["result"]["nume"] == "Țăranu"
    assert json.loads(body[len(OK_REPLY_PREFIX):-1])["note"] == [10, 9]


def test_errors_use_nameko_layout():
    error = {"exc_type": "NotFound", "exc_path": "x.NotFound", "exc_args": ["nu există"], "value": "nu există"}
    content_type, encoding, body = encode_reply(None, error, "json")
    assert not (body.encode() if isinstance(body, str) else body).startswith(OK_REPLY_PREFIX)
    assert kombu.serialization.loads(body, content_type, encoding)["error"] == error


def _deliver(client: RpcClient, body: bytes, *, raw: bool):
    async def run():
        future = asyncio.get_running_loop().create_future()
        client._pending["c1"] = future
        if raw:
            client._raw.add("c1")
        await client._on_reply("c1", body)
        return future
    return asyncio.run(run())


def test_client_slices_platform_replies_and_reencodes_other_responders():
    client = RpcClient("amqp://guest:guest@127.0.0.1:1/")
    platform_body = OK_REPLY_PREFIX + '{"a":"ș"}'.encode() + b"}"
    assert _deliver(client, platform_body, raw=True).result() == '{"a":"ș"}'.encode()
    assert _deliver(client, platform_body, raw=False).result() == {"a": "ș"}
    nameko_body = json.dumps({"result": {"a": "ș"}, "error": None}).encode()  # nameko's own layout
    assert json.loads(_deliver(client, nameko_body, raw=True).result()) == {"a": "ș"}
    error_body = json.dumps({"result": None, "error": {"exc_type": "Forbidden", "exc_args": ["nu"],
                                                       "value": "nu"}}).encode()
    assert isinstance(_deliver(client, error_body, raw=True).exception(), RemoteError)
