"""Authenticated encryption of small secrets at rest (e.g. TOTP secrets).

AES-256-GCM with a random 96-bit nonce per message.  Random nonces are safe
for far more than the number of secrets this platform will ever seal with one
key (the NIST bound is 2**32 messages per key).

Token format: ``"v1." + urlsafe_b64(nonce || ciphertext || tag)``.  The
version prefix leaves room for a future algorithm without guessing.

``associated_data`` is mandatory: pass something that identifies the row the
secret belongs to (e.g. ``b"totp:<tenant>:<user id>"``).  Then someone who can
write to the database cannot move a sealed secret from one account to another
(their own TOTP secret onto a victim's row) -- opening it fails.

Key rotation: construct ``SecretBox(new_key, old_keys=[old_key])``.  ``open``
accepts tokens sealed with any of the keys, ``seal`` always uses the new one,
and ``needs_reseal`` tells the caller which stored tokens to re-encrypt before
the old key is retired.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_BYTES", "SecretBox", "SecretBoxError", "generate_key"]

KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_PREFIX: Final = "v1."
# Bound into the GCM associated data so a v1 ciphertext can never be accepted
# under another (future) format that happens to use the same key.
_AD_DOMAIN: Final = b"catalog.secretbox.v1\x00"
_URLSAFE_B64: Final = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class SecretBoxError(Exception):
    """A token could not be opened (malformed, tampered, wrong key or context).

    Deliberately one error with one message: the caller must not learn which
    check failed.
    """


def _b64decode(text: str) -> bytes:
    if not _URLSAFE_B64.fullmatch(text):
        raise ValueError("not urlsafe base64")
    # Padding is optional in configuration files and tokens.
    bare = text.rstrip("=")
    return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _parse_key(key_b64: str) -> bytes:
    try:
        key = _b64decode(key_b64.strip())
    except (ValueError, binascii.Error):
        raise ValueError("secretbox key must be urlsafe base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"secretbox key must decode to {KEY_BYTES} bytes")
    return key


def generate_key() -> str:
    """A new random key in the configuration format (urlsafe base64, 32 bytes)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class SecretBox:
    def __init__(self, key_b64: str, old_keys: Iterable[str] = ()) -> None:
        current = _parse_key(key_b64)
        self._current = AESGCM(current)
        seen = {current}
        self._old: list[AESGCM] = []
        for old in old_keys:
            raw = _parse_key(old)
            if raw not in seen:
                seen.add(raw)
                self._old.append(AESGCM(raw))

    def __repr__(self) -> str:
        # Never let key material reach logs or tracebacks.
        return f"<SecretBox keys={1 + len(self._old)}>"

    def seal(self, plaintext: str, *, associated_data: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.encrypt(
            nonce, plaintext.encode("utf-8"), _AD_DOMAIN + associated_data
        )
        return _PREFIX + _b64encode(nonce + sealed)

    def open(self, token: str, *, associated_data: bytes) -> str:
        _key_index, plaintext = self._open(token, associated_data)
        return plaintext

    def needs_reseal(self, token: str, *, associated_data: bytes) -> bool:
        """True if ``token`` opens only with an old key (re-seal it)."""
        key_index, _plaintext = self._open(token, associated_data)
        return key_index != 0

    def _open(self, token: str, associated_data: bytes) -> tuple[int, str]:
        if not isinstance(token, str) or not token.startswith(_PREFIX):
            raise SecretBoxError("cannot open sealed secret")
        try:
            blob = _b64decode(token[len(_PREFIX) :])
        except (ValueError, binascii.Error):
            raise SecretBoxError("cannot open sealed secret") from None
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise SecretBoxError("cannot open sealed secret")
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        ad = _AD_DOMAIN + associated_data
        # Trying each key is sound with GCM: a wrong key fails the tag check.
        for index, aead in enumerate((self._current, *self._old)):
            try:
                plaintext = aead.decrypt(nonce, sealed, ad)
            except InvalidTag:
                continue
            try:
                return index, plaintext.decode("utf-8")
            except UnicodeDecodeError:
                break
        raise SecretBoxError("cannot open sealed secret")
