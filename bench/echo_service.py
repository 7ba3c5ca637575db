"""A nameko service whose only work is to echo its argument: `python -m bench.echo_service`.

It runs with exactly the platform's nameko configuration (`services.kernel.runner.nameko_config`,
read from the same environment: AMQP_URI, SERVICE_MAX_WORKERS) and the platform's RPC entrypoint
(`services.kernel.nameko_support.rpc`), but without the platform's dependency providers, so the
RPC round trip benchmark measures transport + nameko only.
"""
from services.kernel import green

green.patch()  # before anything else imports socket/threading

import signal  # noqa: E402
from typing import Any  # noqa: E402

import eventlet  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from services.kernel.nameko_support import rpc  # noqa: E402
from services.kernel.runner import nameko_config  # noqa: E402
from services.kernel.settings import get_settings  # noqa: E402

SERVICE_NAME = "bench_echo"


class EchoService:
    name = SERVICE_NAME

    @rpc
    def echo(self, payload: Any) -> Any:
        return payload


def main() -> None:
    runner = ServiceRunner(nameko_config(get_settings()))
    runner.add_service(EchoService)

    def _stop(_signum: int, _frame: object) -> None:
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner.start()
    runner.wait()


if __name__ == "__main__":
    main()
