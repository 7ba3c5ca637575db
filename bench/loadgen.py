"""HTTP/1.1-over-TLS load generator process: `python -m bench.loadgen '<spec JSON>' > result.json`.

Deliberately not httpx: on a 2-core machine the load generator competes with the platform for
CPU, and httpx spends several times more CPU per request than this loop (raw asyncio streams on
uvloop, prebuilt request bytes, a minimal response parser). Each connection is one keep-alive
client with one request in flight, like one busy user; the driver runs one or more of these
processes and checks that none of them is near a full core.

Spec (JSON, the only argument):
  host, port, ca_file, connections, start_at (epoch s), duration (s),
  method, path, headers {name: value}, expect_status,
  grade (optional): {class_id, subject_id, student_id} → POST body with a random value 1..10
  body (optional): a fixed JSON body sent with every request (e.g. a login)
  collect_ids (bool): keep (response "id", epoch received) of every successful response.

Result (JSON on stdout): ok, errors {kind: count}, latencies_ms (responses completed inside the
window), writes [[id, epoch], ...] (every successful response, also those after the window),
cpu_seconds (this process, over the window).
"""
from __future__ import annotations

import asyncio
import json
import random
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import Any


class ProtocolError(Exception):
    pass


@dataclass
class Tally:
    start_at: float
    end_at: float
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    writes: list[tuple[str, float]] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Requests:
    """Builds the request bytes: fixed for GETs, a fresh random grade for each POST."""

    def __init__(self, spec: dict[str, Any]):
        head = [f"{spec['method']} {spec['path']} HTTP/1.1", f"Host: {spec['host']}:{spec['port']}",
                "Accept: application/json", "User-Agent: bench.loadgen"]
        head += [f"{k}: {v}" for k, v in spec.get("headers", {}).items()]
        self.grade: dict[str, str] | None = spec.get("grade")
        fixed_body = json.dumps(spec["body"]).encode() if spec.get("body") is not None else b""
        if self.grade is not None or fixed_body:
            head.append("Content-Type: application/json")
        if fixed_body:
            head.append(f"Content-Length: {len(fixed_body)}")
        self.head = "\r\n".join(head)
        self.fixed = (self.head + "\r\n\r\n").encode() + fixed_body

    def next(self) -> bytes:
        if self.grade is None:
            return self.fixed
        body = json.dumps({**self.grade, "value": random.randint(1, 10)}).encode()
        return f"{self.head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server wants to close) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise ProtocolError(f"bad status line {head[:40]!r}")
    status = int(head[9:12])
    lower = head.lower()
    idx = lower.find(b"\r\ncontent-length:")
    if idx >= 0:
        length = int(lower[idx + 17:lower.index(b"\r\n", idx + 2)])
        body = await reader.readexactly(length)
    elif b"\r\ntransfer-encoding: chunked" in lower:
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        raise ProtocolError("response without length")
    return status, body, b"\r\nconnection: close" in lower


async def connection_loop(spec: dict[str, Any], ctx: ssl.SSLContext, requests: Requests, tally: Tally) -> None:
    expect = int(spec["expect_status"])
    collect = bool(spec.get("collect_ids"))
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    started = False
    while time.time() < tally.end_at:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"], ssl=ctx,
                                                               server_hostname=spec["host"])
            except (TimeoutError, OSError, ssl.SSLError):
                tally.error("connect")
                await asyncio.sleep(0.1)  # do not spin on a refusing server
                continue
        if not started:
            # Handshakes are done before the window opens, so they are not measured.
            started = True
            await asyncio.sleep(max(0.0, tally.start_at - time.time()))
            continue
        assert reader is not None
        t0 = time.perf_counter()
        try:
            writer.write(requests.next())
            status, body, close = await read_response(reader)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ProtocolError, ValueError) as exc:
            tally.error(f"io:{type(exc).__name__}")
            writer.close()
            reader = writer = None
            continue
        done = time.time()
        latency_ms = (time.perf_counter() - t0) * 1000
        if status == expect:
            if collect:
                tally.writes.append((json.loads(body)["id"], done))
            if done <= tally.end_at:
                tally.ok += 1
                tally.latencies_ms.append(latency_ms)
        elif done <= tally.end_at:
            tally.error(f"http:{status}")
            if tally.errors[f"http:{status}"] <= 3:
                print(f"loadgen: unexpected {status}: {body[:300]!r}", file=sys.stderr, flush=True)
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=spec["ca_file"])
    tally = Tally(start_at=spec["start_at"], end_at=spec["start_at"] + spec["duration"])
    requests = Requests(spec)
    loop = asyncio.get_running_loop()
    cpu_start: float | None = None

    def mark_cpu_start() -> None:
        nonlocal cpu_start
        cpu_start = time.process_time()

    loop.call_later(max(0.0, tally.start_at - time.time()), mark_cpu_start)
    await asyncio.gather(*(connection_loop(spec, ctx, requests, tally) for _ in range(spec["connections"])))
    cpu = time.process_time() - (cpu_start if cpu_start is not None else 0.0)
    return {"ok": tally.ok, "errors": tally.errors, "latencies_ms": [round(x, 3) for x in tally.latencies_ms],
            "writes": tally.writes, "cpu_seconds": cpu}


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:  # plain asyncio still works, it just costs more CPU per request
        runner = asyncio.run
    json.dump(runner(run(spec)), sys.stdout)


if __name__ == "__main__":
    main()
