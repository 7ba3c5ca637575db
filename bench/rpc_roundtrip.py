"""RPC round trip: `gateway.rpc.RpcClient` → nameko echo service vs a raw kombu request/reply.

`python -m bench.rpc_roundtrip [--calls 2000] [--rounds 3] [--concurrency 50] [--seconds 4]`

On a scratch vhost this starts three responder processes:
  * `bench.echo_service`   nameko, the platform's nameko config, `echo(payload)` only;
  * `bench.raw_responder`  plain py-amqp, default exchange, auto-ack, no confirms: the minimal
                           responder (its client, `bench.raw_client`, is blocking kombu);
  * `services.registry`    a real platform service, for its `ping` (adds the platform's
                           per-entrypoint logging/metrics/context providers), informational.
Both sides do the same echo work (decode the nameko-format JSON request, encode the reply).

Measured in alternating rounds, medians reported:
  * sequential latency, N calls each: RpcClient (asyncio, uvloop like the gateway) vs RawClient
    (blocking kombu);
  * throughput with `concurrency` callers: RpcClient with that many asyncio tasks sharing its one
    connection (how the gateway uses it) vs that many threads each with its own kombu connection
    (the fairest raw equivalent we can build; it runs under the driver's GIL, so its client side
    may saturate first — the CPU split says so when it does).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import uvloop

from gateway.rpc import RpcClient, UnknownService

from .common import (BACKGROUND, DISTURBED, CpuMeter, Row, background_note, median, median_cpu, percentile,
                     print_cpu, print_log_tail, print_table, rabbitmq_pid, scratch_vhost_and_dir, write_results)
from .echo_service import SERVICE_NAME
from .raw_client import RawClient

NAME = "rpc_roundtrip"
RAW_QUEUE = "bench.raw-echo"
# ~100 bytes of JSON each way, the size of a small domain reply.
PAYLOAD = {"id": "6f1c2b9e-8a3d-4f5e-9b7a-1c2d3e4f5a6b", "value": 9, "note": "x" * 40}


def start_process(stack: ExitStack, label: str, args: list[str], env: dict[str, str], log_dir: Path,
                  procs: dict[str, subprocess.Popen]) -> subprocess.Popen:
    log = open(log_dir / f"{label}.log", "wb")
    stack.callback(log.close)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE if label == "raw responder" else log,
                            stderr=log, stdin=subprocess.DEVNULL)

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    stack.callback(stop)
    procs[label] = proc
    return proc


async def wait_for_service(client: RpcClient, service: str, method: str, args: list[Any],
                           proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            print_log_tail(log, service)
            raise RuntimeError(f"{service} exited with {proc.returncode}")
        try:
            await client.call(service, method, args=args, timeout=2)
            return
        except UnknownService:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


# ------------------------------------------------------------------------------- measurements

async def rpc_sequential(client: RpcClient, n: int, service: str, method: str, args: list[Any]) -> list[float]:
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        await client.call(service, method, args=args)
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


def raw_sequential(client: RawClient, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.call(PAYLOAD)
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


async def rpc_throughput(client: RpcClient, callers: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds

    async def caller() -> int:
        done = 0
        while time.monotonic() < deadline:
            await client.call(SERVICE_NAME, "echo", args=[PAYLOAD])
            done += 1
        return done

    return sum(await asyncio.gather(*(caller() for _ in range(callers))))


def raw_throughput(clients: list[RawClient], seconds: float) -> int:
    """One thread per client; all start together once every connection exists."""
    counts = [0] * len(clients)
    errors: list[BaseException] = []
    start = threading.Barrier(len(clients) + 1)
    deadline: list[float] = [0.0]

    def caller(i: int) -> None:
        start.wait()
        try:
            while time.monotonic() < deadline[0]:
                clients[i].call(PAYLOAD)
                counts[i] += 1
        except BaseException as exc:  # noqa: BLE001 - reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(len(clients))]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + seconds
    start.wait()
    for t in threads:
        t.join(seconds + 30)
    if errors:
        raise RuntimeError(f"{len(errors)} raw callers failed, first: {errors[0]!r}")
    return sum(counts)


def measure_cpu(meter: CpuMeter, fn: Callable[[], Any], retries: int = 2) -> tuple[Any, dict[str, float]]:
    """fn() with the CPU split of its run; repeated (bounded) if other users disturbed it."""
    for attempt in range(retries + 1):
        meter.wait_for_quiet()
        before = meter.sample()
        result = fn()
        split = meter.split(before, meter.sample())
        if split.get(BACKGROUND, 0.0) < DISTURBED:
            break
        if attempt < retries:
            print("[bench]   disturbed by other users of the machine: measuring again", flush=True)
    return result, split


# ------------------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.rpc_roundtrip", description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000, help="sequential calls per round and client")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--seconds", type=float, default=4.0, help="length of each throughput window")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loop = uvloop.new_event_loop()  # the gateway runs on uvloop (uvicorn's default when installed)
    try:
        with scratch_vhost_and_dir("rpc") as (amqp_uri, data_dir), ExitStack() as stack:
            return run(args, loop, amqp_uri, data_dir, stack)
    finally:
        loop.close()


def run(args: argparse.Namespace, loop: asyncio.AbstractEventLoop, amqp_uri: str, data_dir: Path,
        stack: ExitStack) -> int:
    env = dict(os.environ, AMQP_URI=amqp_uri, PLATFORM_DATA_DIR=str(data_dir), METRICS_PORT="0",
               PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore::DeprecationWarning")
    procs: dict[str, subprocess.Popen] = {}
    py = sys.executable
    echo = start_process(stack, "nameko echo service", [py, "-m", "bench.echo_service"], env, data_dir, procs)
    raw = start_process(stack, "raw responder", [py, "-m", "bench.raw_responder", RAW_QUEUE], env, data_dir,
                        procs)
    registry = start_process(stack, "registry service", [py, "-m", "services.registry"], env, data_dir, procs)
    assert raw.stdout is not None
    if raw.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"raw responder did not start; see {data_dir / 'raw responder.log'}")

    client = RpcClient(amqp_uri, default_timeout=10.0)
    loop.run_until_complete(client.start())
    stack.callback(lambda: loop.run_until_complete(client.close()))
    loop.run_until_complete(wait_for_service(client, SERVICE_NAME, "echo", [PAYLOAD], echo,
                                             data_dir / "nameko echo service.log"))
    loop.run_until_complete(wait_for_service(client, "registry", "ping", [], registry,
                                             data_dir / "registry service.log"))
    raw_client = RawClient(amqp_uri, RAW_QUEUE)
    stack.callback(raw_client.close)

    meter = CpuMeter({"bench driver (clients)": os.getpid(),
                      **{name: p.pid for name, p in procs.items()}})
    broker = rabbitmq_pid()
    if broker is not None:
        meter.add("rabbitmq (beam)", broker)

    # Warm-up: connections, code paths, nameko worker pool, SQLite pages of the registry.
    raw_sequential(raw_client, 200)
    loop.run_until_complete(rpc_sequential(client, 200, SERVICE_NAME, "echo", [PAYLOAD]))
    loop.run_until_complete(rpc_sequential(client, 200, "registry", "ping", []))

    seq: dict[str, list[dict[str, float]]] = {"raw": [], "rpc": [], "ping": []}
    thr: dict[str, list[float]] = {"raw": [], "rpc": []}
    cpu: dict[str, list[dict[str, float]]] = {"raw_seq": [], "rpc_seq": [], "raw_thr": [], "rpc_thr": []}

    def summary(lat: list[float]) -> dict[str, float]:
        return {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "mean_ms": sum(lat) / len(lat)}

    print(f"[bench] {args.rounds} rounds: {args.calls} sequential calls per client, then "
          f"{args.concurrency} concurrent callers for {args.seconds:g} s each", flush=True)
    raw_pool: list[RawClient] = []
    stack.callback(lambda: [c.close() for c in raw_pool])
    raw_pool.extend(RawClient(amqp_uri, RAW_QUEUE) for _ in range(args.concurrency))
    for c in raw_pool:  # every connection used once before the window
        c.call(PAYLOAD)

    for r in range(args.rounds):
        # Alternate which side goes first so drift (thermal, neighbours) does not favour one.
        order = ("raw", "rpc") if r % 2 == 0 else ("rpc", "raw")
        for side in order:
            if side == "raw":
                lat, c = measure_cpu(meter, lambda: raw_sequential(raw_client, args.calls))
            else:
                lat, c = measure_cpu(meter, lambda: loop.run_until_complete(
                    rpc_sequential(client, args.calls, SERVICE_NAME, "echo", [PAYLOAD])))
            seq[side].append(summary(lat))
            cpu[f"{side}_seq"].append(c)
        ping = loop.run_until_complete(rpc_sequential(client, args.calls, "registry", "ping", []))
        seq["ping"].append(summary(ping))
        for side in order:
            if side == "raw":
                n, c = measure_cpu(meter, lambda: raw_throughput(raw_pool, args.seconds))
            else:
                n, c = measure_cpu(meter, lambda: loop.run_until_complete(
                    rpc_throughput(client, args.concurrency, args.seconds)))
            thr[side].append(n / args.seconds)
            cpu[f"{side}_thr"].append(c)
        print(f"[bench]   round {r + 1}: seq p50 raw {seq['raw'][-1]['p50_ms']:.3f} ms, "
              f"RpcClient {seq['rpc'][-1]['p50_ms']:.3f} ms, registry.ping {seq['ping'][-1]['p50_ms']:.3f} ms; "
              f"x{args.concurrency}: raw {thr['raw'][-1]:.0f}/s, RpcClient {thr['rpc'][-1]:.0f}/s", flush=True)

    def med(side: str, key: str) -> float:
        return median(s[key] for s in seq[side])

    ratio_p50 = med("rpc", "p50_ms") / med("raw", "p50_ms")
    rows = [
        Row("sequential latency p50", med("raw", "p50_ms"), med("rpc", "p50_ms"), "ms",
            target="ratio ≤ 2.0", met=ratio_p50 <= 2.0),
        Row("sequential latency p99", med("raw", "p99_ms"), med("rpc", "p99_ms"), "ms"),
        Row("sequential calls/s (1/mean)", 1000 / med("raw", "mean_ms"), 1000 / med("rpc", "mean_ms"), "calls/s"),
        Row("registry.ping p50 (platform svc)", med("raw", "p50_ms"), med("ping", "p50_ms"), "ms"),
        Row(f"throughput, {args.concurrency} callers", median(thr["raw"]), median(thr["rpc"]), "calls/s"),
    ]
    notes = [
        f"medians over {args.rounds} alternating rounds; {args.calls} sequential calls per round and side",
        f"throughput baseline: {args.concurrency} threads in one process, each with its own kombu connection; "
        f"measured: {args.concurrency} asyncio tasks sharing RpcClient's single connection",
        "RpcClient pays for publisher confirms + mandatory routing, a topic exchange, nameko's acks "
        "and worker pool; the raw pair uses none of these",
        background_note([c for splits in cpu.values() for c in splits]),
    ]
    table = print_table("RPC round trip", "raw request/reply: blocking kombu client, py-amqp responder "
                        "(default exchange, auto-ack, no confirms)",
                        "gateway.rpc.RpcClient → nameko echo service", rows, notes)
    cpu_medians = {k: median_cpu(v) for k, v in cpu.items()}
    cpu_text = "\n\n".join(print_cpu(title, cpu_medians[key]) for key, title in (
        ("raw_seq", "raw sequential"), ("rpc_seq", "RpcClient sequential"),
        ("raw_thr", f"raw, {args.concurrency} threads"), ("rpc_thr", f"RpcClient, {args.concurrency} tasks")))
    write_results(NAME, {"args": vars(args), "rows": rows, "rounds": {"sequential": seq, "throughput": thr},
                         "cpu_pct_of_one_core": cpu_medians, "table": table, "cpu_text": cpu_text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
