"""gateway.rpc.RpcClient against a real RabbitMQ and a real nameko service.

Each module run gets its own vhost (created and deleted with rabbitmqctl) and
a nameko service subprocess (tests/integration/rpc_fixture_service.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import anyio
import pytest

from gateway.rpc import (
    BrokerUnavailable,
    RemoteError,
    RpcClient,
    RpcTimeout,
    UnknownService,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

REPO_ROOT = Path(__file__).resolve().parents[2]
BROKER = "127.0.0.1:5672"
SERVICE_QUEUE = "rpc-echo"
VHOST_PREFIX = "test-gateway-rpc-"
VHOST_PATTERN = re.compile(re.escape(VHOST_PREFIX) + r"(\d+)-(\d+)-[0-9a-f]{8}")
STALE_VHOST_AGE = 15 * 60.0
# Generous: the suite must survive a loaded 2-core CI box.
SERVICE_READY_TIMEOUT = 60.0

T = TypeVar("T")


# --------------------------------------------------------------- helpers


def _ctl(*args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["rabbitmqctl", "-q", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"rabbitmqctl {' '.join(args)} failed ({proc.returncode}): "
            f"{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def _run_coroutine_in_thread(factory: Callable[[], Awaitable[T]]) -> T:
    # Blocking helpers may be called from inside a running test loop; a
    # private loop in a worker thread keeps them independent of it.
    async def runner() -> T:
        return await factory()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, runner()).result()


def _queue_consumers(vhost: str, queue: str) -> int | None:
    rows = json.loads(
        _ctl("list_queues", "-p", vhost, "name", "consumers", "--formatter", "json")
        or "[]"
    )
    for row in rows:
        if row["name"] == queue:
            return int(row["consumers"])
    return None


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class ServiceProcess:
    """The nameko fixture service as a restartable subprocess."""

    def __init__(self, amqp_uri: str, vhost: str, record_file: Path, log_file: Path):
        self.amqp_uri = amqp_uri
        self.vhost = vhost
        self.record_file = record_file
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        env = dict(os.environ)
        env["RPC_FIXTURE_RECORD_FILE"] = str(self.record_file)
        env["RPC_FIXTURE_PARENT_PID"] = str(os.getpid())
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])
        )
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.integration.rpc_fixture_service",
                    self.amqp_uri,
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_until_answering()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)

    def log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def wait_until_answering(self) -> None:
        async def poll() -> None:
            client = RpcClient(self.amqp_uri, connect_timeout=5.0)
            deadline = time.monotonic() + SERVICE_READY_TIMEOUT
            try:
                await client.start()
                while True:
                    if self.proc is None or self.proc.poll() is not None:
                        raise AssertionError(
                            f"fixture service exited:\n{self.log_tail()}"
                        )
                    try:
                        if await client.call("echo", "echo", args=["ping"], timeout=1.0) == "ping":
                            return
                    except (UnknownService, RpcTimeout):
                        pass  # queue not declared yet / consumer not attached yet
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"fixture service not answering after "
                            f"{SERVICE_READY_TIMEOUT}s:\n{self.log_tail()}"
                        )
                    await asyncio.sleep(0.2)
            finally:
                await client.close()

        _run_coroutine_in_thread(poll)


# --------------------------------------------------------------- fixtures


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale_vhosts() -> None:
    # A killed pytest never runs its teardown. The vhost name records the
    # owning pid and creation time, so leftovers can be told apart from the
    # vhosts of runs still going on concurrently. Both conditions are needed:
    # the pid alone is meaningless for a run in another pid namespace.
    now = time.time()
    for name in _ctl("list_vhosts", "--no-table-headers").split():
        match = VHOST_PATTERN.fullmatch(name)
        if (
            match
            and now - int(match.group(2)) > STALE_VHOST_AGE
            and not _pid_alive(int(match.group(1)))
        ):
            _ctl("delete_vhost", name, check=False)


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl not available")
    _reap_stale_vhosts()
    name = f"{VHOST_PREFIX}{os.getpid()}-{int(time.time())}-{uuid.uuid4().hex[:8]}"
    _ctl("add_vhost", name)
    try:
        _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        _ctl("delete_vhost", name, check=False)


@pytest.fixture(scope="module")
def amqp_uri(vhost: str) -> str:
    return f"amqp://guest:guest@{BROKER}/{vhost}"


@pytest.fixture(scope="module")
def service(
    amqp_uri: str, vhost: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("rpc-fixture-service")
    svc = ServiceProcess(
        amqp_uri, vhost, workdir / "records.txt", workdir / "service.log"
    )
    try:
        svc.start()
        yield svc
    finally:
        svc.stop()


@pytest.fixture
async def client(amqp_uri: str, service: ServiceProcess) -> AsyncIterator[RpcClient]:
    rpc = RpcClient(amqp_uri, default_timeout=10.0, connect_timeout=5.0)
    try:
        await rpc.start()
        yield rpc
    finally:
        await rpc.close()


# ----------------------------------------------------------------- tests


async def test_echo_round_trip_keeps_romanian_diacritics(client: RpcClient) -> None:
    text = "ăâîșț ĂÂÎȘȚ"
    assert await client.call("echo", "echo", args=[text]) == text
    payload = {"nume": "Ștefănescu", "note": [10, 9.5], "activ": True, "x": None}
    assert await client.call("echo", "echo", kwargs={"x": payload}) == payload


async def test_raw_results_are_the_services_json_bytes_untouched(client: RpcClient) -> None:
    payload = {"nume": "Ștefănescu", "note": [10, 9.5], "activ": True, "x": None}
    body = await client.call("echo", "echo", kwargs={"x": payload}, raw=True)
    assert isinstance(body, bytes) and json.loads(body) == payload
    assert "Ștefănescu".encode() in body  # UTF-8 as written, no \u escapes
    assert json.loads(await client.call("echo", "echo", args=[None], raw=True)) is None
    with pytest.raises(RemoteError):
        await client.call("echo", "boom", raw=True)
    assert client._pending == {} and client._raw == set()


async def test_concurrent_calls_are_multiplexed(client: RpcClient) -> None:
    calls = 100
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            client.call("echo", "sleep", args=[0.2], kwargs={"tag": i})
            for i in range(calls)
        )
    )
    elapsed = time.monotonic() - started

    # Sequential execution would need calls * 0.2 = 20 s.
    assert elapsed < 3.0, elapsed
    assert [r["tag"] for r in results] == list(range(calls))
    assert all(r["slept"] == 0.2 for r in results)
    assert client._pending == {}


async def test_remote_exception_becomes_remote_error(client: RpcClient) -> None:
    with pytest.raises(RemoteError) as info:
        await client.call("echo", "boom")
    err = info.value
    assert err.exc_type == "ValueError"
    assert err.message == "bad thing"
    assert str(err) == "bad thing"
    assert err.exc_args == ["bad thing"]
    assert err.exc_path == "builtins.ValueError"


async def test_unserializable_result_is_an_error_reply_and_the_service_lives_on(client: RpcClient) -> None:
    with pytest.raises(RemoteError) as info:
        await client.call("echo", "unserializable")
    assert info.value.exc_type == "UnserializableValueError"
    assert await client.call("echo", "echo", args=["după"]) == "după"


async def test_wrong_arguments_are_an_incorrect_signature_error(client: RpcClient) -> None:
    for kwargs in ({"args": [1, 2]}, {"kwargs": {"nope": 1}}, {}):
        with pytest.raises(RemoteError) as info:
            await client.call("echo", "echo", **kwargs)
        assert info.value.exc_type == "IncorrectSignature"
    assert await client.call("echo", "echo", kwargs={"x": 1}) == 1


async def test_unknown_method_is_remote_method_not_found(client: RpcClient) -> None:
    with pytest.raises(RemoteError) as info:
        await client.call("echo", "no_such_method")
    assert info.value.exc_type == "MethodNotFound"


async def test_context_items_arrive_as_nameko_headers(
    client: RpcClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = f"tok.{uuid.uuid4().hex}.sig"
    caplog.set_level(logging.DEBUG)
    result = await client.call(
        "echo",
        "whoami",
        context={
            "correlation_id": "req-42",
            "access_token": token,
            "dropped": None,
        },
    )
    assert result["correlation_id"] == "req-42"
    assert result["access_token"] == token
    assert "dropped" not in result["keys"]
    # Not even the libraries' debug output may contain the token.
    assert caplog.records, "debug logging was not captured at all"
    assert token not in caplog.text


async def test_unencodable_context_value_is_rejected_before_sending(
    client: RpcClient,
) -> None:
    with pytest.raises(TypeError, match="access_token"):
        await client.call("echo", "whoami", context={"access_token": object()})
    assert client.connected
    assert client._pending == {}


async def test_unknown_service_fails_fast(client: RpcClient) -> None:
    started = time.monotonic()
    with pytest.raises(UnknownService):
        await client.call("no_such_service", "anything", timeout=10.0)
    # Far below the timeout: the broker returned the message, no waiting.
    assert time.monotonic() - started < 2.0
    assert client._pending == {}


async def test_timeout_and_late_reply_is_dropped(client: RpcClient) -> None:
    started = time.monotonic()
    with pytest.raises(RpcTimeout):
        await client.call("echo", "sleep", args=[2], timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert client._pending == {}

    # Let the service finish and send its (now unwanted) reply.
    await anyio.sleep(2.5)
    assert client._pending == {}
    assert client.connected
    assert await client.call("echo", "echo", args=["still fine"]) == "still fine"


async def test_unreachable_broker() -> None:
    rpc = RpcClient(
        "amqp://guest:guest@127.0.0.1:1/", connect_timeout=1.0, default_timeout=5.0
    )
    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await rpc.start()
        assert time.monotonic() - started < 1.0 + 2.0
        assert not rpc.connected

        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await rpc.call("echo", "echo", args=["x"])
        assert time.monotonic() - started < 1.0
        assert rpc._pending == {}
    finally:
        await rpc.close()


def _close_client_connections(vhost: str, connection_name: str) -> int:
    # The JSON formatter mangles Erlang pids, so parse the plain table:
    # <pid> TAB <vhost> TAB [{"connection_name","..."},...]
    marker = f'{{"connection_name","{connection_name}"}}'
    closed = 0
    for line in _ctl(
        "list_connections", "--no-table-headers", "pid", "vhost", "client_properties"
    ).splitlines():
        pid, _, rest = line.partition("\t")
        conn_vhost, _, props = rest.partition("\t")
        if conn_vhost == vhost and marker in props:
            _ctl("close_connection", pid, "test: simulated broker loss")
            closed += 1
    return closed


async def test_connection_loss_fails_pending_and_recovers(
    client: RpcClient, vhost: str
) -> None:
    old_reply_to = client._link.reply_to if client._link else None
    # The calls sleep far longer than closing a connection takes, even when rabbitmqctl is
    # slow on a loaded machine (it took over 4.5 s once): the close must come first.
    in_flight = [
        asyncio.create_task(client.call("echo", "sleep", args=[30], timeout=60.0))
        for _ in range(5)
    ]
    await anyio.sleep(0.5)  # make sure the requests are out

    closed = await anyio.to_thread.run_sync(
        _close_client_connections, vhost, client._connection_name
    )
    assert closed == 1

    with anyio.fail_after(5):
        outcomes = await asyncio.gather(*in_flight, return_exceptions=True)
    assert all(isinstance(o, BrokerUnavailable) for o in outcomes), outcomes
    assert client._pending == {}

    with anyio.fail_after(15):
        while not client.connected:
            await anyio.sleep(0.05)
    assert await client.call("echo", "echo", args=["back"]) == "back"
    # Fresh reply queue on the new connection.
    assert client._link is not None and client._link.reply_to != old_reply_to


async def test_expired_request_is_not_executed_after_service_restart(
    client: RpcClient, service: ServiceProcess, vhost: str
) -> None:
    token = f"expired-{uuid.uuid4().hex}"
    await anyio.to_thread.run_sync(service.stop)
    try:
        # The queue is durable and outlives the service; wait until the
        # broker has dropped the consumer so the request really parks.
        await anyio.to_thread.run_sync(
            _wait_for,
            lambda: _queue_consumers(vhost, SERVICE_QUEUE) == 0,
            30.0,
            "the service consumer to go away",
        )

        started = time.monotonic()
        with pytest.raises(RpcTimeout):
            await client.call("echo", "record", args=[token], timeout=0.5)
        assert time.monotonic() - started < 2.0
        assert client._pending == {}

        await anyio.sleep(1.0)  # safely past the per-message TTL
    finally:
        await anyio.to_thread.run_sync(service.start)

    # Positive control: the restarted service does execute fresh requests.
    assert await client.call("echo", "record", args=["control"]) == "control"
    records = service.record_file.read_text(encoding="utf-8").split()
    assert "control" in records
    assert token not in records
