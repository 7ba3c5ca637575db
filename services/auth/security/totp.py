"""Time-based one-time passwords (RFC 6238) for authenticator apps.

Fixed profile: SHA-1, 6 digits, 30-second steps.  That is the only profile
every authenticator app implements correctly (several ignore the
``algorithm``/``digits``/``period`` URI parameters and silently show wrong
codes); SHA-1 is not a weakness here because HMAC-SHA-1 does not depend on
collision resistance.

Replay protection: ``verify_totp`` returns the time-step counter it matched;
the caller must store it with the user (compare-and-set, so two concurrent
requests cannot both succeed) and pass it back as ``last_used_step``.  A code
is then usable once, and codes older than the last accepted one never again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import time
from typing import Final

import pyotp
import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage

__all__ = [
    "DIGITS",
    "SECRET_BYTES",
    "STEP_SECONDS",
    "WINDOW_STEPS",
    "new_secret",
    "provisioning_uri",
    "qr_png",
    "verify_totp",
]

DIGITS: Final = 6
STEP_SECONDS: Final = 30
# One step either side tolerates clock drift and the time spent typing.
WINDOW_STEPS: Final = 1
# RFC 4226 requires at least 128 bits and recommends 160 (the SHA-1 output size).
SECRET_BYTES: Final = 20


def new_secret() -> str:
    """A fresh 160-bit secret, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _otp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, digest=hashlib.sha1, interval=STEP_SECONDS)


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    """The ``otpauth://`` URI to show as a QR code during enrolment.

    The label is ``issuer:account_name`` and the colon is its separator, so
    neither part may contain one (Key Uri Format).
    """
    if not account_name or not issuer:
        raise ValueError("account_name and issuer are required")
    if ":" in account_name or ":" in issuer:
        raise ValueError("account_name and issuer must not contain ':'")
    return _otp(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def qr_png(uri: str) -> bytes:
    """Render ``uri`` as a PNG QR code."""
    # Medium error correction keeps the code small enough to scan from a
    # laptop screen while surviving glare.
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=8,
        border=4,
        image_factory=PilImage,
    )
    qr.add_data(uri)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image().save(buffer)
    return buffer.getvalue()


def _clean_code(code: str) -> str | None:
    # Apps display "123 456"; people type it that way.  Anything else that is
    # not an ASCII digit (including Unicode digits such as "٣") is refused.
    if not isinstance(code, str):
        return None
    compact = code.strip().replace(" ", "")
    if len(compact) != DIGITS or not (compact.isascii() and compact.isdigit()):
        return None
    return compact


def verify_totp(
    secret: str,
    code: str,
    *,
    last_used_step: int | None,
    now: float | None = None,
) -> int | None:
    """Return the time-step counter ``code`` belongs to, or None.

    Accepts the current step and one step either side, but never a step at or
    before ``last_used_step``.
    """
    cleaned = _clean_code(code)
    if cleaned is None:
        return None
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    otp = _otp(secret)
    submitted = cleaned.encode("ascii")

    matched: int | None = None
    # Every candidate is computed and compared (no early exit) so the timing
    # does not depend on which step matched or whether any did.
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if step < 0:
            continue
        expected = otp.generate_otp(step).encode("ascii")
        is_match = hmac.compare_digest(expected, submitted)
        replayed = last_used_step is not None and step <= last_used_step
        if is_match and not replayed:
            # On the (1e-6) chance two steps share a code, keep the newest so
            # storing it burns every step the code could stand for.
            matched = step
    return matched
