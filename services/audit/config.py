"""The audit log's configuration (environment variables `AUDIT_*`)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.identity import ensure_dev_keypair
from services.kernel.settings import get_settings

from . import notes


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    origin: str = Field("catalog-platform.local/audit-log", description="the log's name, first line of a checkpoint")
    key_file: Path | None = Field(None, description="Ed25519 private key (PEM) that signs checkpoints")
    public_key_file: Path | None = Field(None, description="its public half, for verifiers")
    checkpoint_every_entries: int = Field(1000, ge=1)
    checkpoint_every_seconds: float = Field(0.25, gt=0, le=60)
    witness_dir: Path | None = Field(None, description="a directory where every checkpoint is also written")
    witness_url: str | None = Field(None, description="a C2SP tlog-witness base URL (add-checkpoint)")

    def private_key_path(self) -> Path:
        return self.key_file or get_settings().keys_dir() / "audit_log_ed25519.pem"

    def public_key_path(self) -> Path:
        return self.public_key_file or get_settings().keys_dir() / "audit_log_ed25519.pub.pem"

    def witness_directory(self) -> Path:
        return self.witness_dir or get_settings().data_dir / "witness"


@lru_cache(maxsize=1)
def audit_settings() -> AuditSettings:
    return AuditSettings()


def load_signing_key(settings: AuditSettings) -> Ed25519PrivateKey:
    """The checkpoint key; outside production a development pair is made once (file lock)."""
    path = settings.private_key_path()
    if not get_settings().is_production:
        ensure_dev_keypair(path, settings.public_key_path())
    elif settings.key_file is None:
        raise RuntimeError("AUDIT_KEY_FILE must be set in production")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError("the audit log key must be an Ed25519 key")
    return key


def load_public_key(path: Path) -> bytes:
    key = serialization.load_pem_public_key(path.read_bytes())
    return notes.raw_public_key(key)
