"""The browser session: tokens sealed into a cookie, and the CSRF token bound to it.

The access and refresh tokens travel in one `__Host-session` cookie, sealed with AES-GCM
under a key only the gateway holds (HttpOnly, Secure, SameSite=Lax): JavaScript never sees
a token, and a cookie edited by hand does not open. The gateway stays stateless, so any
worker or replica serves any request.

CSRF: a signed double-submit token. A random nonce lives in the `__Host-csrf` cookie
(HttpOnly too); every form carries HMAC(key, nonce). A POST whose form field (or
`X-CSRF-Token` header, for the little JavaScript) does not match is refused. The nonce is
renewed at sign-in and sign-out, so a token learnt before a sign-in is worth nothing after.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_COOKIE = "__Host-session"
CSRF_COOKIE = "__Host-csrf"
LANG_COOKIE = "__Host-lang"
# the refresh token lives for days; the cookie as long (the session itself is ended server-side)
SESSION_MAX_AGE = 14 * 24 * 3600
_AAD = b"catalog-web-session-v1"


@dataclass(frozen=True)
class WebSession:
    access_token: str
    refresh_token: str | None = None


class SessionKeys:
    """One 32-byte secret; the sealing and CSRF keys are derived from it for their purpose."""

    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("the web session key must be at least 32 bytes")
        self._aead = AESGCM(hashlib.sha256(b"seal:" + secret).digest())
        self._csrf = hashlib.sha256(b"csrf:" + secret).digest()

    # -- the session cookie -----------------------------------------------------------
    def seal(self, session: WebSession) -> str:
        nonce = os.urandom(12)
        plain = json.dumps({"a": session.access_token, "r": session.refresh_token}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plain, _AAD)).decode().rstrip("=")

    def unseal(self, value: str | None) -> WebSession | None:
        if not value or len(value) > 4000:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            data = json.loads(self._aead.decrypt(raw[:12], raw[12:], _AAD))
            return WebSession(str(data["a"]), data.get("r"))
        except Exception:  # noqa: BLE001 - any damage means "no session"
            return None

    # -- CSRF -------------------------------------------------------------------------
    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, nonce: str) -> str:
        return hmac.new(self._csrf, nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.csrf_token(nonce), token)


def load_keys(path: Path, explicit: str | None = None) -> SessionKeys:
    """`GATEWAY_SESSION_KEY` (urlsafe base64) wins; else a key file made once (under a lock,
    so several gateway workers starting together share one key)."""
    if explicit:
        return SessionKeys(base64.urlsafe_b64decode(explicit + "=" * (-len(explicit) % 4)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".web_session.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(32))
        return SessionKeys(path.read_bytes())


def cookie_header(name: str, value: str, *, max_age: int | None = None) -> str:
    """A `__Host-` cookie: Secure, Path=/, no Domain; HttpOnly and SameSite=Lax always."""
    parts = [f"{name}={value}", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def clear_cookie_header(name: str) -> str:
    return cookie_header(name, "", max_age=0)
