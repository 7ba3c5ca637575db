from __future__ import annotations

import base64
import re

import pytest

from services.auth.security.tokens import new_token, token_hash, tokens_equal


def test_new_token_is_urlsafe_with_256_bits() -> None:
    token = new_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32
    assert len({new_token() for _ in range(100)}) == 100


def test_new_token_refuses_less_than_256_bits() -> None:
    with pytest.raises(ValueError):
        new_token(16)
    assert len(new_token(48)) == 64


def test_token_hash_is_sha256_hex() -> None:
    # FIPS 180-2 test vector for "abc".
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    token = new_token()
    assert token_hash(token) == token_hash(token)
    assert token_hash(token) != token_hash(new_token())


def test_tokens_equal() -> None:
    token = new_token()
    assert tokens_equal(token, str(token))
    assert not tokens_equal(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not tokens_equal(token, "")
    assert tokens_equal(token_hash(token), token_hash(token))
