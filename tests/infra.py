"""Real infrastructure for tests: a RabbitMQ vhost and PostgreSQL databases made and dropped per use."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid
from contextlib import contextmanager
from typing import Iterator

import psycopg2

BROKER_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1:5672")
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://root@127.0.0.1:5432/test")


def rabbitmqctl(*args: str) -> str:
    proc = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {proc.stdout}{proc.stderr}")
    return proc.stdout


@contextmanager
def temporary_vhost(prefix: str = "test") -> Iterator[str]:
    """Yield an AMQP URI on a fresh vhost; the vhost (and its queues) is deleted afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{BROKER_HOST}/{name}"
    finally:
        rabbitmqctl("delete_vhost", name)


@contextmanager
def temporary_pg_database(prefix: str = "test") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    try:
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_DSN.rsplit("/", 1)[0]
        yield f"{base}/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def valid_cnp(prefix12: str) -> str:
    from services.registry.rules import cnp_check_digit
    return prefix12 + str(cnp_check_digit(prefix12))


class TcpProxy:
    """A loopback TCP forwarder we can cut, to take the broker away from the platform."""

    def __init__(self, target_port: int, port: int | None = None, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._server is not server:  # cut meanwhile: refuse, as a dead broker would
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """Refuse new connections and cut every open one, as a broker crash would."""
        with self._lock:
            server, self._server = self._server, None
            conns, self._conns = self._conns, []
        if server is not None:
            # close() alone does not wake a thread blocked in accept() on Linux, and
            # that thread would still accept one more connection; shutdown() does.
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def random_cnp(sex_digit: str = "6", year: int = 10) -> str:
    """A valid, random CNP (tests need many distinct persons)."""
    import random
    prefix = f"{sex_digit}{year:02d}{random.randint(1, 12):02d}{random.randint(1, 28):02d}40{random.randint(0, 999):03d}"
    return valid_cnp(prefix)
