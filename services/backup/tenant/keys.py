"""Keys of the per-tenant archives, from configuration (files the operator keeps).

- `BACKUP_AGE_RECIPIENT` (an `age1...` public key) or `BACKUP_AGE_RECIPIENT_FILE`: archives
  are encrypted to it. The backup service holds only this public half, so it cannot read an
  archive it wrote, and a stolen backup host leaks nothing.
- `BACKUP_AGE_IDENTITY_FILE`: the private half (`AGE-SECRET-KEY-1...`), needed only to
  restore or to run a drill; the operator keeps it off the backup host in production.
- `BACKUP_MANIFEST_KEY_FILE` / `BACKUP_MANIFEST_PUBLIC_KEY_FILE`: Ed25519 PEM pair that signs
  every manifest.

Outside production, missing keys are created once under `<data dir>/keys/` (under a file
lock, like auth's development key pair).
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from pyrage import x25519

from services.kernel.identity import ensure_dev_keypair
from services.kernel.settings import get_settings


def _keys_dir() -> Path:
    return get_settings().keys_dir()


def _dev_age_identity_path() -> Path:
    return _keys_dir() / "backup_age_identity.txt"


def _ensure_dev_age_identity() -> None:
    path = _dev_age_identity_path()
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".backup-age.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return
        identity = x25519.Identity.generate()
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
        tmp.chmod(0o600)
        tmp.replace(path)


def _development() -> bool:
    return not get_settings().is_production


def age_recipient() -> x25519.Recipient:
    value = os.environ.get("BACKUP_AGE_RECIPIENT")
    if not value and os.environ.get("BACKUP_AGE_RECIPIENT_FILE"):
        value = Path(os.environ["BACKUP_AGE_RECIPIENT_FILE"]).read_text().strip()
    if not value:
        if not _development():
            raise RuntimeError("BACKUP_AGE_RECIPIENT must be set in production")
        return age_identity(_dev_age_identity_path(), create=True).to_public()
    return x25519.Recipient.from_str(value.strip())


def age_identity(path: Path | None = None, *, create: bool = False) -> x25519.Identity:
    """The private key for restores and drills (a file the operator keeps)."""
    if path is None:
        explicit = os.environ.get("BACKUP_AGE_IDENTITY_FILE")
        path = Path(explicit) if explicit else _dev_age_identity_path()
    if create and _development():
        _ensure_dev_age_identity()
    if not path.exists():
        raise FileNotFoundError(f"no age identity at {path}: restores need BACKUP_AGE_IDENTITY_FILE")
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return x25519.Identity.from_str(lines[0])


def _manifest_paths() -> tuple[Path, Path]:
    private = os.environ.get("BACKUP_MANIFEST_KEY_FILE")
    public = os.environ.get("BACKUP_MANIFEST_PUBLIC_KEY_FILE")
    return (Path(private) if private else _keys_dir() / "backup_manifest_ed25519.pem",
            Path(public) if public else _keys_dir() / "backup_manifest_ed25519.pub.pem")


def manifest_signing_key():
    private, public = _manifest_paths()
    if _development():
        ensure_dev_keypair(private, public)
    return serialization.load_pem_private_key(private.read_bytes(), password=None)


def manifest_public_key():
    private, public = _manifest_paths()
    if _development():
        ensure_dev_keypair(private, public)
    return serialization.load_pem_public_key(public.read_bytes())
