"""The fault tests cut the broker with TcpProxy; a cut that leaks a connection makes them lie."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.infra import TcpProxy


@pytest.fixture
def echo_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: [c.sendall(d) for d in iter(lambda: c.recv(1024), b"")],
                             daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _echo(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"ping")
        s.settimeout(2)
        return s.recv(16)


def test_forwards_while_running_and_refuses_every_connection_once_stopped(echo_port):
    proxy = TcpProxy(echo_port).start()
    assert _echo(proxy.port) == b"ping"
    held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    time.sleep(0.1)  # the accept thread is blocked in accept() again
    proxy.stop()
    time.sleep(0.1)
    held.settimeout(2)
    assert held.recv(16) == b"", "open connections are cut"
    held.close()
    for _ in range(3):
        with pytest.raises(OSError):
            _echo(proxy.port)
    proxy.start()
    assert _echo(proxy.port) == b"ping"
    proxy.stop()
