"""Gateway configuration from the environment."""
from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    workers: int = 1
    readiness_timeout_seconds: float = 1.5
    hsts_seconds: int = 31536000
    max_body_bytes: int = 1_048_576
    # registry imports stream their body to the registry in chunks: never held whole here
    max_upload_bytes: int = 512 * 1_048_576
    client_rate_per_second: float = 20.0
    client_burst: int = 40
    # the web pages' session cookies are sealed with this key (urlsafe base64, 32 bytes), else
    # with a key file made once beside the token keys (every replica must share it)
    session_key: str | None = None
    session_key_file: Path | None = None
