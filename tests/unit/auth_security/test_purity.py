"""The security rules must stay importable without broker, web or database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

MODULES = [
    "passwords",
    "totp",
    "secretbox",
    "otp_codes",
    "recovery_codes",
    "throttle",
    "tokens",
]

FORBIDDEN = [
    "nameko",
    "kombu",
    "eventlet",
    "aio_pika",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "sqlalchemy",
    "alembic",
    "psycopg2",
]

PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module("services.auth.security." + name)
print(json.dumps(sorted(sys.modules)))
"""


def test_modules_import_no_infrastructure_and_defer_word_lists() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(modules=MODULES)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = set(json.loads(result.stdout))
    assert {f"services.auth.security.{m}" for m in MODULES} <= loaded
    offenders = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert offenders == []
    # The common-password list is loaded on first policy check, not on import.
    assert "zxcvbn.frequency_lists" not in loaded
