from __future__ import annotations

import base64
import hashlib
import io
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from PIL import Image

from services.auth.security.totp import (
    STEP_SECONDS,
    new_secret,
    provisioning_uri,
    qr_png,
    verify_totp,
)

RFC_SEED = base64.b32encode(b"12345678901234567890").decode("ascii")

# RFC 6238 Appendix B, SHA-1 column.
RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]

# Fixed secret and instant so the window tests are deterministic.
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_767_225_600.0 + 7  # 2026-01-01T00:00:07Z, inside a step
STEP = int(NOW // STEP_SECONDS)


def code_at_step(step: int, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret, digits=6, digest=hashlib.sha1, interval=30).generate_otp(step)


@pytest.mark.parametrize(("at", "expected"), RFC_6238_SHA1)
def test_rfc6238_vectors_via_pyotp(at: int, expected: str) -> None:
    assert pyotp.TOTP(RFC_SEED, digits=8, digest=hashlib.sha1, interval=30).at(at) == expected


@pytest.mark.parametrize(("at", "expected"), RFC_6238_SHA1)
def test_verify_totp_accepts_rfc6238_codes_truncated_to_6_digits(at: int, expected: str) -> None:
    # A 6-digit HOTP value is the last 6 digits of the 8-digit one.
    assert verify_totp(RFC_SEED, expected[-6:], last_used_step=None, now=at) == at // 30


def test_accepts_current_and_adjacent_steps() -> None:
    for offset in (-1, 0, 1):
        assert verify_totp(SECRET, code_at_step(STEP + offset), last_used_step=None, now=NOW) == (
            STEP + offset
        )


def test_refuses_two_steps_away() -> None:
    for offset in (-2, 2):
        code = code_at_step(STEP + offset)
        assert code not in {code_at_step(STEP + k) for k in (-1, 0, 1)}
        assert verify_totp(SECRET, code, last_used_step=None, now=NOW) is None


def test_uses_wall_clock_when_now_is_omitted() -> None:
    totp = pyotp.TOTP(SECRET)
    assert verify_totp(SECRET, totp.now(), last_used_step=None) is not None


def test_refuses_replay_of_the_same_step() -> None:
    code = code_at_step(STEP)
    used = verify_totp(SECRET, code, last_used_step=None, now=NOW)
    assert used == STEP
    assert verify_totp(SECRET, code, last_used_step=used, now=NOW) is None
    # Still refused a few seconds later, while the step is inside the window.
    assert verify_totp(SECRET, code, last_used_step=used, now=NOW + 30) is None


def test_refuses_older_step_after_newer_was_used() -> None:
    assert verify_totp(SECRET, code_at_step(STEP - 1), last_used_step=STEP, now=NOW) is None
    assert verify_totp(SECRET, code_at_step(STEP), last_used_step=STEP, now=NOW) is None


def test_accepts_newer_step_after_older_was_used() -> None:
    assert verify_totp(SECRET, code_at_step(STEP + 1), last_used_step=STEP, now=NOW) == STEP + 1


@pytest.mark.parametrize(
    "bad",
    ["", "12345", "1234567", "12a456", "abcdef", "١٢٣٤٥٦", "12345\n6x", "-12345"],
)
def test_malformed_codes_are_refused(bad: str) -> None:
    assert verify_totp(SECRET, bad, last_used_step=None, now=NOW) is None


def test_code_typed_with_display_space_is_accepted() -> None:
    code = code_at_step(STEP)
    assert verify_totp(SECRET, f" {code[:3]} {code[3:]} ", last_used_step=None, now=NOW) == STEP


def test_wrong_secret_refused() -> None:
    other = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    assert verify_totp(other, code_at_step(STEP), last_used_step=None, now=NOW) is None


def test_new_secret_is_160_bit_base32() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert len(first) == 32
    assert len(base64.b32decode(first)) == 20
    # Usable by the verifier as is.
    assert verify_totp(first, code_at_step(STEP, first), last_used_step=None, now=NOW) == STEP


def test_provisioning_uri() -> None:
    uri = provisioning_uri(SECRET, "ion.popescu@scoala.ro", "Catalog Școlar")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == "/Catalog Școlar:ion.popescu@scoala.ro"
    query = parse_qs(parts.query)
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Catalog Școlar"]
    parsed = pyotp.parse_uri(uri)
    assert parsed.now() == pyotp.TOTP(SECRET).now()


@pytest.mark.parametrize(
    ("account", "issuer"), [("a:b@x.ro", "Catalog"), ("a@x.ro", "Cat:alog"), ("", "C")]
)
def test_provisioning_uri_rejects_bad_labels(account: str, issuer: str) -> None:
    with pytest.raises(ValueError):
        provisioning_uri(SECRET, account, issuer)


def test_qr_png_is_a_png_image() -> None:
    uri = provisioning_uri(SECRET, "ion.popescu@scoala.ro", "Catalog Școlar")
    png = qr_png(uri)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width == height
        assert width >= 21 * 8  # at least a version-1 QR code at 8 px per module
    assert qr_png(uri + "x") != png
