from __future__ import annotations

from pathlib import Path

import pytest

from services.kernel import settings as kernel_settings

from .infra import temporary_pg_database, temporary_vhost

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def amqp_uri():
    with temporary_vhost() as uri:
        yield uri


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each integration test that takes this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    else:
        with temporary_pg_database() as url:
            yield url


@pytest.fixture
def platform_env(monkeypatch, tmp_path):
    """Point settings at a scratch data dir and forget cached settings afterwards."""
    monkeypatch.setenv("PLATFORM_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PLATFORM_ENV", "test")
    kernel_settings.get_settings.cache_clear()
    yield tmp_path / "var"
    kernel_settings.get_settings.cache_clear()
