"""Opaque random tokens: refresh, password reset, e-mail confirmation,
invitation.

Only ``token_hash(token)`` is stored, so a database leak does not hand out
live tokens.  Plain SHA-256 is the right tool: the tokens carry 256 bits of
randomness, so there is nothing to brute-force and neither salt nor a slow
hash adds protection -- while an unsalted, deterministic hash lets the
service look a token up by an indexed column in one query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["TOKEN_BYTES", "new_token", "token_hash", "tokens_equal"]

TOKEN_BYTES: Final = 32


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    """URL-safe random token; at least 256 bits (43+ characters)."""
    if nbytes < TOKEN_BYTES:
        raise ValueError(f"tokens must have at least {TOKEN_BYTES} bytes of randomness")
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """SHA-256 hex digest to store and index instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    """Constant-time comparison (of tokens or of their hashes)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
