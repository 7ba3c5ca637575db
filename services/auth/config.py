"""Auth-only configuration: secrets for factors, message senders, session lifetimes."""
from __future__ import annotations

import base64
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.settings import get_settings

from .security.secretbox import SecretBox, generate_key


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    totp_encryption_key: str | None = Field(None, validation_alias="TOTP_ENCRYPTION_KEY")
    totp_old_keys: str = Field("", validation_alias="TOTP_OLD_ENCRYPTION_KEYS")  # comma-separated
    code_pepper: str | None = Field(None, validation_alias="AUTH_CODE_PEPPER")
    issuer: str = Field("Catalog platform", validation_alias="TOTP_ISSUER")
    refresh_token_days: int = Field(14, validation_alias="REFRESH_TOKEN_DAYS")
    partial_token_minutes: int = Field(5, validation_alias="PARTIAL_TOKEN_MINUTES")
    sms_provider_url: str | None = Field(None, validation_alias="SMS_PROVIDER_URL")
    sms_provider_token: str | None = Field(None, validation_alias="SMS_PROVIDER_TOKEN")
    smtp_url: str | None = Field(None, validation_alias="SMTP_URL")  # smtp+starttls://user:pass@host:587
    mail_from: str = Field("no-reply@catalog.local", validation_alias="MAIL_FROM")
    public_base_url: str = Field("https://127.0.0.1:8443", validation_alias="PUBLIC_BASE_URL")
    # Failures one client address may make in 15 minutes before delays start. A whole
    # school often shares one NAT address: raise it for such deployments.
    address_free_failures: int = Field(20, ge=0, validation_alias="LOGIN_ADDRESS_FREE_FAILURES")


class AuthSecrets:
    def __init__(self, box: SecretBox, pepper: bytes):
        self.box = box
        self.pepper = pepper


def _dev_secrets(path: Path) -> dict:
    """Development only: generated once into the data dir, never in production."""
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"totp_key": generate_key(), "pepper": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


@lru_cache(maxsize=1)
def get_auth_settings() -> AuthSettings:
    return AuthSettings()


def load_secrets() -> AuthSecrets:
    platform, auth = get_settings(), get_auth_settings()
    key, pepper = auth.totp_encryption_key, auth.code_pepper
    if not (key and pepper):
        if platform.is_production:
            raise RuntimeError("TOTP_ENCRYPTION_KEY and AUTH_CODE_PEPPER must be set in production")
        dev = _dev_secrets(platform.keys_dir() / "auth_secrets.json")
        key, pepper = key or dev["totp_key"], pepper or dev["pepper"]
    old = [k for k in auth.totp_old_keys.split(",") if k.strip()]
    return AuthSecrets(SecretBox(key, old_keys=old), base64.urlsafe_b64decode(pepper))


def outbox_dir() -> Path:
    return Path(os.environ.get("PLATFORM_OUTBOX_DIR") or get_settings().data_dir / "outbox")
