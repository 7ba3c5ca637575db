"""Configuration from the environment (CAT-3): one place, read once per process.

Every process (service or gateway) reads the same variables; nothing is stored in
code except development defaults, and production refuses to start on those.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("auth", "grades", "registry", "audit", "backup")
DEFAULT_METRICS_PORTS = {"auth": 9101, "grades": 9102, "registry": 9103, "audit": 9104, "backup": 9105}
DEV_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLATFORM_", extra="ignore")

    env: str = Field("development", description="development | test | production")
    data_dir: Path = Field(Path("var"), description="embedded databases, dev keys, TLS files")
    amqp_uri: str = Field(DEV_AMQP_URI, validation_alias="AMQP_URI")
    rpc_timeout_seconds: float = Field(5.0, validation_alias="RPC_TIMEOUT_SECONDS")
    max_workers: int = Field(10, validation_alias="SERVICE_MAX_WORKERS")
    # After publishing a batch the outbox relay waits this long for more events to join the
    # next one (an isolated event still goes out at once): fewer, larger batches downstream.
    outbox_linger_seconds: float = Field(0.01, ge=0, le=1, validation_alias="OUTBOX_LINGER_SECONDS")
    # Published outbox rows are deleted after this many days: the audit log and the backup
    # change log keep the events; the window leaves time to re-publish by hand if needed.
    outbox_retention_days: float = Field(7.0, ge=0.0, validation_alias="OUTBOX_RETENTION_DAYS")
    # Captured row changes (services/kernel/row_changes.py) are deleted after this many days: the
    # daily incremental backup set has sealed them long before.
    row_changes_retention_days: float = Field(8.0, ge=0.0, validation_alias="ROW_CHANGES_RETENTION_DAYS")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    signing_key_file: Path | None = Field(None, validation_alias="AUTH_SIGNING_KEY_FILE")
    public_key_file: Path | None = Field(None, validation_alias="AUTH_PUBLIC_KEY_FILE")
    access_token_minutes: int = Field(15, ge=1, le=15, validation_alias="ACCESS_TOKEN_MINUTES")
    operator_email: str | None = Field(None, validation_alias="PLATFORM_OPERATOR_EMAIL")
    operator_password: str | None = Field(None, validation_alias="PLATFORM_OPERATOR_PASSWORD")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @model_validator(mode="after")
    def _refuse_dev_defaults_in_production(self) -> "PlatformSettings":
        if self.is_production:
            if self.amqp_uri == DEV_AMQP_URI:
                raise ValueError("AMQP_URI must be set explicitly in production")
            if not (self.signing_key_file or self.public_key_file):
                raise ValueError("AUTH_SIGNING_KEY_FILE / AUTH_PUBLIC_KEY_FILE must be set in production")
        return self

    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def private_key_path(self) -> Path:
        return self.signing_key_file or self.keys_dir() / "auth_ed25519.pem"

    def public_key_path(self) -> Path:
        return self.public_key_file or self.keys_dir() / "auth_ed25519.pub.pem"


@lru_cache(maxsize=1)
def get_settings() -> PlatformSettings:
    return PlatformSettings()


def database_url(service: str, settings: PlatformSettings | None = None) -> str:
    """`<SERVICE>_DATABASE_URL` selects PostgreSQL (or any SQLAlchemy URL); else an SQLite file."""
    explicit = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if explicit:
        return explicit
    settings = settings or get_settings()
    if settings.is_production:
        raise RuntimeError(f"{service.upper()}_DATABASE_URL must be set in production")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.data_dir / f'{service}.db').resolve()}"


def metrics_port(service: str) -> int:
    """`METRICS_PORT` per process (0 disables), so two replicas on one host do not collide."""
    raw = os.environ.get("METRICS_PORT")
    return int(raw) if raw is not None else DEFAULT_METRICS_PORTS.get(service, 0)
