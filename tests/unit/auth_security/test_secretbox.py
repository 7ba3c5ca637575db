from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from services.auth.security.secretbox import SecretBox, SecretBoxError, generate_key

AD = b"totp:tenant-17:user-42"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(generate_key())


def test_round_trip(box: SecretBox) -> None:
    token = box.seal(SECRET, associated_data=AD)
    assert token.startswith("v1.")
    assert SECRET not in token
    assert box.open(token, associated_data=AD) == SECRET


def test_round_trip_unicode_and_empty(box: SecretBox) -> None:
    for plaintext in ("Școală ține ștampila", ""):
        assert box.open(box.seal(plaintext, associated_data=AD), associated_data=AD) == plaintext


def test_each_seal_uses_a_fresh_nonce(box: SecretBox) -> None:
    first = box.seal(SECRET, associated_data=AD)
    second = box.seal(SECRET, associated_data=AD)
    assert first != second
    assert _unb64(first[3:])[:12] != _unb64(second[3:])[:12]


@pytest.mark.parametrize("position", [0, 11, 12, -1])  # nonce, ciphertext, tag
def test_tampering_is_detected(box: SecretBox, position: int) -> None:
    token = box.seal(SECRET, associated_data=AD)
    blob = bytearray(_unb64(token[3:]))
    blob[position] ^= 0x01
    with pytest.raises(SecretBoxError):
        box.open("v1." + _b64(bytes(blob)), associated_data=AD)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-4],  # truncated
        lambda t: "v2." + t[3:],  # unknown version
        lambda t: t[3:],  # no version
        lambda t: "v1.!!!" + t[6:],  # not base64
        lambda t: "v1." + _b64(b"short"),  # shorter than nonce + tag
        lambda t: "",
    ],
)
def test_malformed_tokens_are_rejected(box: SecretBox, mangle: Callable[[str], str]) -> None:
    token = box.seal(SECRET, associated_data=AD)
    with pytest.raises(SecretBoxError):
        box.open(mangle(token), associated_data=AD)


def test_wrong_associated_data_is_detected(box: SecretBox) -> None:
    token = box.seal(SECRET, associated_data=AD)
    with pytest.raises(SecretBoxError):
        box.open(token, associated_data=b"totp:tenant-17:user-43")
    with pytest.raises(SecretBoxError):
        box.open(token, associated_data=b"")


def test_wrong_key_is_detected(box: SecretBox) -> None:
    token = box.seal(SECRET, associated_data=AD)
    with pytest.raises(SecretBoxError):
        SecretBox(generate_key()).open(token, associated_data=AD)


def test_key_rotation() -> None:
    old_key, new_key = generate_key(), generate_key()
    old_box = SecretBox(old_key)
    rotated = SecretBox(new_key, old_keys=[old_key])

    legacy_token = old_box.seal(SECRET, associated_data=AD)
    assert rotated.open(legacy_token, associated_data=AD) == SECRET
    assert rotated.needs_reseal(legacy_token, associated_data=AD) is True

    fresh_token = rotated.seal(SECRET, associated_data=AD)
    assert rotated.needs_reseal(fresh_token, associated_data=AD) is False
    # Sealed with the new key: the old key alone cannot open it, the new one can.
    with pytest.raises(SecretBoxError):
        old_box.open(fresh_token, associated_data=AD)
    assert SecretBox(new_key).open(fresh_token, associated_data=AD) == SECRET

    # Once the old key is retired, legacy tokens no longer open.
    with pytest.raises(SecretBoxError):
        SecretBox(new_key).open(legacy_token, associated_data=AD)


def test_generate_key_is_32_random_bytes() -> None:
    key = generate_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert generate_key() != key


def test_key_without_padding_is_accepted() -> None:
    key = generate_key()
    token = SecretBox(key).seal(SECRET, associated_data=AD)
    assert SecretBox(key.rstrip("=")).open(token, associated_data=AD) == SECRET


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        _b64(b"\x00" * 16),  # AES-128 size
        _b64(b"\x00" * 33),
        "not base64 at all!!",
    ],
)
def test_bad_keys_are_rejected(bad_key: str) -> None:
    with pytest.raises(ValueError):
        SecretBox(bad_key)
    with pytest.raises(ValueError):
        SecretBox(generate_key(), old_keys=[bad_key])


def test_repr_does_not_leak_keys() -> None:
    key = generate_key()
    assert key.rstrip("=") not in repr(SecretBox(key))
    assert repr(SecretBox(key, old_keys=[generate_key()])) == "<SecretBox keys=2>"
