"""Run the whole platform as supervised local processes (used by `make up`, tests, benchmarks).

Each service is `python -m services.<name>`; the gateway is `python -m gateway`. A
crashed process is restarted with backoff; `stop()` terminates everything it started.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICE_NAMES = ("auth", "registry", "grades", "audit", "backup")


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None
    restarts: int = 0
    next_start: float = 0.0

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class LocalPlatform:
    data_dir: Path
    gateway_port: int = 8443
    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    replicas: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    metrics_base_port: int = 0  # 0: no per-service metrics ports (tests); `make up` sets 9101
    procs: list[Proc] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.gateway_port}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "gateway.crt"

    def env(self, **more: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"PLATFORM_DATA_DIR": str(self.data_dir), "AMQP_URI": self.amqp_uri,
                    "GATEWAY_PORT": str(self.gateway_port), "PYTHONUNBUFFERED": "1",
                    "PYTHONWARNINGS": "ignore::DeprecationWarning"})
        env.update(self.extra_env)
        env.update(more)
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        port = self.metrics_base_port
        for name in SERVICE_NAMES:
            for i in range(self.replicas.get(name, 1)):
                label = name if i == 0 else f"{name}-{i + 1}"
                env = self.env(METRICS_PORT=str(port) if port else "0")
                port = port + 1 if port else 0
                self.procs.append(Proc(label, [sys.executable, "-m", f"services.{name}"], env,
                                       logs / f"{label}.log"))
        self.procs.append(Proc("gateway", [sys.executable, "-m", "gateway"], self.env(), logs / "gateway.log"))
        for proc in self.procs:
            proc.start()

    def wait_ready(self, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.popen is not None and proc.popen.poll() is not None and proc.restarts == 0:
                    raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log_path}")
            try:
                r = httpx.get(f"{self.url}/readyz", verify=str(self.ca_file), timeout=3)
                last = r.json()
                if r.status_code == 200:
                    return last
            except (httpx.HTTPError, ValueError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"platform not ready after {timeout}s: {last}")

    def supervise_once(self) -> None:
        """Restart any process that died, with a growing delay."""
        now = time.monotonic()
        for proc in self.procs:
            if not proc.alive and now >= proc.next_start:
                proc.restarts += 1
                proc.next_start = now + min(30.0, 2 ** proc.restarts)
                print(f"[supervisor] {proc.name} exited; restarting (#{proc.restarts})", flush=True)
                proc.start()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        for proc in self.procs:
            if proc.name == name and proc.alive:
                os.killpg(proc.popen.pid, sig)
                proc.popen.wait(10)

    def restart(self, name: str) -> None:
        for proc in self.procs:
            if proc.name == name and not proc.alive:
                proc.start()

    def stop(self, timeout: float = 15.0) -> None:
        for proc in self.procs:
            if proc.alive:
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(5)
