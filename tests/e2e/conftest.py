"""Start the platform the way `make up` does (its very entry point), on a scratch vhost and data dir."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.local.demo import Api
from tests.infra import free_port, temporary_pg_database, temporary_vhost

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_NAMES = ("auth", "grades", "registry", "audit", "backup")


@dataclass
class RunningPlatform:
    url: str
    data_dir: Path
    amqp_uri: str
    demo: dict
    proc: subprocess.Popen
    backend: str = ""
    _tokens: dict = field(default_factory=dict)

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "gateway.crt"

    @property
    def api(self) -> Api:
        if "api" not in self._tokens:
            self._tokens["api"] = Api(self.url, self.ca_file)
        return self._tokens["api"]

    def client(self, token: str | None = None, **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, verify=str(self.ca_file), headers=headers, timeout=30, **kw)

    def sign_in(self, email: str, password: str, totp_secret: str | None = None) -> dict:
        """Password + TOTP (enrolling it when the role needs one); returns the final answer."""
        return self.api.sign_in(email, password, totp_secret)

    def user(self, role: str) -> dict:
        return self.demo["operator"] if role == "operator" else self.demo["users"][role]

    def token(self, role: str) -> str:
        """One full sign-in per demo role per module (TOTP steps cannot be reused)."""
        if role not in self._tokens:
            u = self.user(role)
            self._tokens[role] = self.sign_in(u["email"], u["password"], u.get("totp_secret"))["access_token"]
        return self._tokens[role]

    def log(self, name: str) -> str:
        return (self.data_dir / "logs" / f"{name}.log").read_text(errors="replace")


def start_platform(tmp: Path, amqp_uri: str, extra_env: dict[str, str]) -> RunningPlatform:
    port = free_port()
    env = dict(os.environ, PLATFORM_DATA_DIR=str(tmp), GATEWAY_PORT=str(port), AMQP_URI=amqp_uri,
               METRICS_BASE_PORT="0", RPC_TIMEOUT_SECONDS="3", PYTHONUNBUFFERED="1",
               # every test client comes from 127.0.0.1: one shared NAT address, as in a school
               LOGIN_ADDRESS_FREE_FAILURES="1000", **extra_env)
    out = open(tmp.parent / f"{tmp.name}-up.out", "w")
    proc = subprocess.Popen([sys.executable, "-m", "deploy.local.up"], cwd=REPO_ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"make up exited early: {Path(out.name).read_text()}")
        if "The platform is up." in Path(out.name).read_text():
            demo = json.loads((tmp / "demo.json").read_text())
            return RunningPlatform(f"https://127.0.0.1:{port}", tmp, amqp_uri, demo, proc)
        time.sleep(0.5)
    proc.kill()
    raise TimeoutError(f"platform did not come up: {Path(out.name).read_text()[-3000:]}")


def stop_platform(p: RunningPlatform) -> None:
    p.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        p.proc.wait(60)
    except subprocess.TimeoutExpired:
        p.proc.kill()
        raise


def _running_platform(backend: str, tmp_path_factory):
    with ExitStack() as stack:
        amqp_uri = stack.enter_context(temporary_vhost("e2e"))
        extra: dict[str, str] = {}
        if backend == "postgresql":
            for name in SERVICE_NAMES:
                extra[f"{name.upper()}_DATABASE_URL"] = stack.enter_context(temporary_pg_database(f"e2e_{name}"))
        running = start_platform(tmp_path_factory.mktemp(f"platform-{backend}"), amqp_uri, extra)
        running.backend = backend
        stack.callback(stop_platform, running)
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def platform(request, tmp_path_factory):
    """The platform on SQLite, then on PostgreSQL: every test of the module runs on both."""
    yield from _running_platform(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def sqlite_platform(tmp_path_factory):
    """For modules whose subject does not depend on the database (one platform, faster)."""
    yield from _running_platform("sqlite", tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    """One Debian Chromium per test module, driven by Playwright (tests/e2e/web_browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.web_browser import launch
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
