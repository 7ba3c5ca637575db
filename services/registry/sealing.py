"""The key that seals the registry's sensitive fields (ethnicity, medical and social situation).

`REGISTRY_ENCRYPTION_KEY` (urlsafe base64, 32 bytes) and optionally
`REGISTRY_OLD_ENCRYPTION_KEYS` (comma-separated, for rotation). In development a key is
generated once into the data dir's keys folder; production refuses to start without one.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache

from services.kernel.secretbox import SecretBox, generate_key
from services.kernel.settings import get_settings


@lru_cache(maxsize=1)
def registry_box() -> SecretBox:
    key = os.environ.get("REGISTRY_ENCRYPTION_KEY")
    old = [k for k in os.environ.get("REGISTRY_OLD_ENCRYPTION_KEYS", "").split(",") if k.strip()]
    if not key:
        settings = get_settings()
        if settings.is_production:
            raise RuntimeError("REGISTRY_ENCRYPTION_KEY must be set in production")
        path = settings.keys_dir() / "registry_secrets.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # one creator even when replicas start together
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"key": generate_key()}, fh)
        except FileExistsError:
            pass
        key = json.loads(path.read_text())["key"]
    return SecretBox(key, old_keys=old)


def seal(person_id: str, values: dict) -> str | None:
    if not values:
        return None
    return registry_box().seal(json.dumps(values, ensure_ascii=False), associated_data=f"person:{person_id}".encode())


def unseal(person_id: str, token: str | None) -> dict:
    if not token:
        return {}
    return json.loads(registry_box().open(token, associated_data=f"person:{person_id}".encode()))
