"""Scratch PostgreSQL clusters built with the Debian binaries (initdb, pg_ctl, pg_basebackup),
on spare ports, run as the `postgres` OS user (we are root), in a temporary directory owned by
it; every cluster is stopped and the directory removed on exit, even when a test fails."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psycopg2
import pytest

from tests.infra import free_port

OS_USER = "postgres"


def pg_bin() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        bindir = Path(subprocess.run([found, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


def as_postgres(*argv: str, timeout: float = 120, check: bool = True, env: dict | None = None):
    result = subprocess.run(["runuser", "-u", OS_USER, "--", *argv], capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL, cwd="/", env=env)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stdout}{result.stderr}")
    return result


def require_local_clusters() -> Path:
    """The binaries' directory, or skip: not root, no postgres OS user, no PostgreSQL binaries."""
    bindir = pg_bin()
    if os.geteuid() != 0 or bindir is None or subprocess.run(["id", OS_USER], capture_output=True).returncode:
        pytest.skip("needs root, the postgres OS user and the PostgreSQL server binaries")
    return bindir


@dataclass
class LocalCluster:
    root: Path
    name: str
    bindir: Path
    port: int = 0

    def __post_init__(self):
        self.port = self.port or free_port()

    @property
    def data(self) -> Path:
        return self.root / self.name

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://root@127.0.0.1:{self.port}/{database}"

    def initdb(self, **settings) -> "LocalCluster":
        as_postgres(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "root", "-A", "trust", "-N",
                    "--no-instructions")
        self.configure(port=self.port, listen_addresses="127.0.0.1", unix_socket_directories=str(self.root),
                       **settings)
        return self

    def configure(self, **settings) -> None:
        lines = [f"{key} = '{value}'" if isinstance(value, str) else f"{key} = {value}"
                 for key, value in settings.items()]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n" + "\n".join(lines) + "\n")

    def start(self) -> "LocalCluster":
        as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                    "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop",
                        check=False)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend of it, as a crash of the machine's database would."""
        pid = self.postmaster_pid()
        children = [p for p in _children(pid)]
        os.kill(pid, signal.SIGKILL)
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in [pid, *children]) and time.monotonic() < deadline:
            time.sleep(0.02)

    def promote(self) -> None:
        as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "promote")

    def sql(self, query: str, database: str = "postgres", params=None) -> list[tuple]:
        connection = psycopg2.connect(self.url(database), connect_timeout=5)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(query, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def standby_of(self, primary: "LocalCluster", application_name: str) -> "LocalCluster":
        """A streaming standby made by pg_basebackup, named for synchronous_standby_names."""
        conninfo = f"host=127.0.0.1 port={primary.port} user=root application_name={application_name}"
        as_postgres(str(self.bindir / "pg_basebackup"), "-d", conninfo, "-D", str(self.data), "-R",
                    "-X", "stream", "-c", "fast")
        self.configure(port=self.port, primary_conninfo=conninfo, unix_socket_directories=str(self.root))
        return self


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def scratch_clusters(prefix: str = "pgscratch") -> Iterator[tuple[Path, list[LocalCluster], Path]]:
    """A directory owned by postgres; every cluster appended to the list is stopped at exit."""
    bindir = require_local_clusters()
    root = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir="/tmp"))
    shutil.chown(root, OS_USER, OS_USER)
    clusters: list[LocalCluster] = []
    try:
        yield root, clusters, bindir
    finally:
        for cluster in clusters:
            try:
                cluster.stop("immediate")
            except Exception:  # noqa: BLE001 - stop the others and remove the directory regardless
                pass
        shutil.rmtree(root, ignore_errors=True)
