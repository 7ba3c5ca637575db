"""Tiny nameko service for tests/integration/test_gateway_rpc_client.py.

Its entrypoints are the platform's (`services.kernel.rpc_entrypoint.PlatformRpc`: nameko's
`Rpc` with a cheaper reply path), so the client is tested against what the services run.

Run as ``python -m tests.integration.rpc_fixture_service <amqp_uri>``.
``record(token)`` appends to the file named by ``RPC_FIXTURE_RECORD_FILE`` so
a test can tell whether a request was ever executed.
"""

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko.extensions import DependencyProvider  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from services.kernel.rpc_entrypoint import PlatformRpc  # noqa: E402

rpc = PlatformRpc.decorator

RECORD_FILE_ENV = "RPC_FIXTURE_RECORD_FILE"
PARENT_PID_ENV = "RPC_FIXTURE_PARENT_PID"


class ContextData(DependencyProvider):
    """Exposes the worker's context data (decoded ``nameko.*`` headers)."""

    def get_dependency(self, worker_ctx):
        return worker_ctx.data


class EchoService:
    name = "echo"

    context_data = ContextData()

    @rpc
    def echo(self, x):
        return x

    @rpc
    def sleep(self, seconds, tag=None):
        eventlet.sleep(seconds)
        return {"slept": seconds, "tag": tag}

    @rpc
    def boom(self):
        raise ValueError("bad thing")

    @rpc
    def unserializable(self):
        return {"when": object()}

    @rpc
    def whoami(self):
        data = dict(self.context_data)
        return {
            "correlation_id": data.get("correlation_id"),
            "access_token": data.get("access_token"),
            "keys": sorted(data),
        }

    @rpc
    def record(self, token):
        with open(os.environ[RECORD_FILE_ENV], "a", encoding="utf-8") as fh:
            fh.write(f"{token}\n")
        return token


def exit_when_orphaned(parent_pid: int) -> None:
    # The service runs in its own session so the test can signal it alone;
    # that also means nobody reaps it if pytest dies without its teardown.
    while os.getppid() == parent_pid:
        eventlet.sleep(1.0)
    os._exit(0)


def main(amqp_uri: str) -> None:
    # max_workers well above the concurrency the tests use, so the
    # multiplexing test measures the client rather than the worker pool.
    runner = ServiceRunner(config={"AMQP_URI": amqp_uri, "max_workers": 256})
    runner.add_service(EchoService)

    def on_sigterm(signum, frame):
        # Signal handlers run outside any greenlet; hand the graceful stop
        # to the hub instead of blocking in here.
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, on_sigterm)
    parent_pid = os.environ.get(PARENT_PID_ENV)
    if parent_pid:
        eventlet.spawn_n(exit_when_orphaned, int(parent_pid))
    runner.start()
    print("rpc fixture service started", flush=True)
    waiter = eventlet.spawn(runner.wait)
    while True:
        try:
            waiter.wait()
            break
        except OSError:  # interrupted by the signal; keep waiting for stop()
            continue
        except KeyboardInterrupt:
            runner.stop()


if __name__ == "__main__":
    main(sys.argv[1])
