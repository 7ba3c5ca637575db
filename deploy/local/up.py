"""`make up`: RabbitMQ check, every service and the gateway as supervised processes, a demo school.

Ctrl-C (or SIGTERM) stops everything it started.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from services.kernel.settings import DEV_AMQP_URI

from .demo import operator_credentials, seed_demo
from .platform import LocalPlatform


def broker_reachable(amqp_uri: str) -> bool:
    parsed = urlparse(amqp_uri)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), timeout=2):
            return True
    except OSError:
        return False


def ensure_rabbitmq(amqp_uri: str) -> None:
    if broker_reachable(amqp_uri):
        return
    local = urlparse(amqp_uri).hostname in ("127.0.0.1", "localhost", None)
    server = shutil.which("rabbitmq-server")
    if local and server:
        print("RabbitMQ is installed but not running; starting it…", flush=True)
        subprocess.run([server, "-detached"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(90):
            if broker_reachable(amqp_uri):
                return
            time.sleep(1)
    sys.exit(
        f"RabbitMQ is not reachable at {urlparse(amqp_uri).hostname}:{urlparse(amqp_uri).port or 5672}.\n"
        "Install and start it, then run `make up` again:\n"
        "  Debian/Ubuntu: sudo apt-get install -y rabbitmq-server && sudo rabbitmq-server -detached\n"
        "  macOS:         brew install rabbitmq && brew services start rabbitmq\n"
        "or point AMQP_URI at a running broker.")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def main() -> None:
    data_dir = Path(os.environ.get("PLATFORM_DATA_DIR", "var")).resolve()
    port = int(os.environ.get("GATEWAY_PORT", "8443"))
    amqp_uri = os.environ.get("AMQP_URI", DEV_AMQP_URI)
    ensure_rabbitmq(amqp_uri)
    if not port_free(port):
        sys.exit(f"Port {port} is already in use; stop what runs there or set GATEWAY_PORT=<free port>.")
    operator = operator_credentials(data_dir)
    platform = LocalPlatform(
        data_dir=data_dir, gateway_port=port, amqp_uri=amqp_uri,
        metrics_base_port=int(os.environ.get("METRICS_BASE_PORT", "9101")),
        extra_env={"PLATFORM_OPERATOR_EMAIL": operator["email"], "PLATFORM_OPERATOR_PASSWORD": operator["password"]})
    stopping = {"now": False}

    def request_stop(signum, _frame):
        stopping["now"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Starting the platform (data in {data_dir}, logs in {data_dir / 'logs'})…", flush=True)
    platform.start()
    try:
        platform.wait_ready()
        demo = seed_demo(platform.url, platform.ca_file, data_dir)
        print(banner(platform, demo), flush=True)
        while not stopping["now"]:
            platform.supervise_once()
            time.sleep(0.5)
    finally:
        print("Stopping…", flush=True)
        platform.stop()
        print("Stopped.", flush=True)


def banner(platform: LocalPlatform, demo: dict) -> str:
    lines = [
        "",
        "The platform is up.",
        f"  HTTPS API:  {platform.url}   (docs: {platform.url}/docs)",
        f"  TLS cert:   {platform.ca_file}   (self-signed; curl --cacert it, or -k)",
        f"  Demo school: {demo['tenant']['name']}",
        "  Logins (POST /v1/auth/login):",
        f"    operator  {demo['operator']['email']}  {demo['operator']['password']}",
    ]
    lines[-1] += f"  TOTP secret {demo['operator']['totp_secret']}"
    for role, user in demo["users"].items():
        totp = f"  TOTP secret {user['totp_secret']}" if user.get("totp_secret") else "  (no second factor)"
        lines.append(f"    {role:<9} {user['email']}  {user['password']}{totp}")
    lines.append("  Second factor: POST /v1/auth/2fa/verify with the code from "
                 "`.venv/bin/python -m deploy.local.code <role>` (or any authenticator app).")
    lines += [f"  Demo ids: class {demo['class']['id']}, subject {demo['subject']['id']}, "
              f"student {demo['student_person']['id']}",
              *[f"  {hint}" for hint in demo.get("hints", [])],
              "  Walkthrough: README.md → 'Try it with curl'.  Ctrl-C stops everything.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
