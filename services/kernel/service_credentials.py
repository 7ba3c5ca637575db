"""A signed credential for system calls between services, where no person is the caller.

User calls carry the user's access token (signed by auth). A scheduled job (the nightly
backup, a restore drill) has no user, so the calling service signs a short-lived Ed25519
JWT with its own key: `iss = service:<caller>`, `aud = service:<callee>`, `scope`, 120 s.
The callee verifies it with the caller's public key (`SERVICE_KEYS_DIR`, by default
`<data dir>/keys/service_<caller>_ed25519.pub.pem`) and accepts it only for the scopes it
names (`tenant_data`: export and import one tenant's rows, for the backup service). In
development the key pair is created once under the same file lock as auth's; in production
the operator mounts the caller's private key and every callee's copy of the public key.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization

from .errors import Forbidden
from .identity import ensure_dev_keypair
from .settings import get_settings

TTL_SECONDS = 120
# which calling service may use which scope
TRUSTED = {"tenant_data": frozenset({"backup"}),
           # a person's export (issue 11): auth's job gathers each service's part
           "subject_export": frozenset({"auth"})}


def keys_dir() -> Path:
    explicit = os.environ.get("SERVICE_KEYS_DIR")
    return Path(explicit) if explicit else get_settings().keys_dir()


def key_paths(service: str) -> tuple[Path, Path]:
    base = keys_dir()
    return base / f"service_{service}_ed25519.pem", base / f"service_{service}_ed25519.pub.pem"


def issue(caller: str, callee: str, scope: str) -> str:
    private_path, public_path = key_paths(caller)
    if not get_settings().is_production:
        ensure_dev_keypair(private_path, public_path)
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    now = int(time.time())
    return jwt.encode({"iss": f"service:{caller}", "aud": f"service:{callee}", "scope": scope, "iat": now,
                       "exp": now + TTL_SECONDS, "jti": str(uuid.uuid4())}, key, algorithm="EdDSA")


_public_keys: dict[str, object] = {}


def verify(token: str, callee: str, scope: str) -> str:
    """The calling service's name, or Forbidden."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
    except jwt.PyJWTError as exc:
        raise Forbidden("invalid service credential") from exc
    caller = issuer.removeprefix("service:")
    if not issuer.startswith("service:") or caller not in TRUSTED.get(scope, ()):
        raise Forbidden("this service may not make this call")
    key = _public_keys.get(caller)
    if key is None:
        path = key_paths(caller)[1]
        if not path.exists():
            raise Forbidden("unknown calling service")
        key = _public_keys[caller] = serialization.load_pem_public_key(path.read_bytes())
    try:
        claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=f"service:{callee}", issuer=issuer,
                            options={"require": ["exp", "iss", "aud", "scope"]})
    except jwt.PyJWTError as exc:
        raise Forbidden("invalid service credential") from exc
    if claims["scope"] != scope:
        raise Forbidden("this service credential does not cover this call")
    return caller
