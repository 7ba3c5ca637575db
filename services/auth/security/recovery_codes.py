"""One-time recovery codes for users who lose their second factor.

Format: ``xxxxx-xxxxx`` over Crockford's base32 alphabet (digits and lower
case letters without i, l, o, u), 10 symbols x 5 bits = 50 bits each.  On
input, case, spaces and dashes are ignored and the look-alikes are mapped the
Crockford way (o -> 0, i/l -> 1), so a code read off paper still matches.

Storage: HMAC-SHA256 under a pepper, not argon2.  Slow hashing exists to
protect low-entropy secrets; these codes are uniformly random and 50 bits
wide, so with the pepper kept out of the database a leaked table reveals
nothing, and even with the pepper an offline search averages 2**49 HMACs per
code for a single-use credential.  Argon2 would also cost one ~40 ms hash per
*stored* code (each has its own salt) on every attempt -- ten per try --
which hands attackers a cheap CPU-exhaustion lever on the recovery endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Final

__all__ = [
    "ALPHABET",
    "CODE_COUNT",
    "CODE_LENGTH",
    "MIN_PEPPER_BYTES",
    "generate_recovery_codes",
    "hash_recovery_code",
    "hash_recovery_codes",
    "match_recovery_code",
    "normalise_recovery_code",
]

ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
CODE_LENGTH: Final = 10
CODE_COUNT: Final = 10
MIN_PEPPER_BYTES: Final = 16
_GROUP: Final = 5
_LOOKALIKES: Final = str.maketrans({"o": "0", "i": "1", "l": "1"})
_SEPARATORS: Final = str.maketrans("", "", " -_\t")
_ALPHABET_SET: Final = frozenset(ALPHABET)
_DOMAIN: Final = b"catalog.recovery-code\x00"


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + _GROUP] for i in range(0, CODE_LENGTH, _GROUP))


def generate_recovery_codes(count: int = CODE_COUNT) -> list[str]:
    """``count`` distinct codes formatted for display (``xxxxx-xxxxx``)."""
    if count <= 0:
        raise ValueError("count must be positive")
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < count:
        code = _new_code()
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes


def normalise_recovery_code(code: str) -> str | None:
    """Canonical form (10 symbols, no dash) or None if it cannot be a code."""
    compact = code.strip().lower().translate(_SEPARATORS).translate(_LOOKALIKES)
    if len(compact) != CODE_LENGTH or not _ALPHABET_SET.issuperset(compact):
        return None
    return compact


def _mac(canonical: str, pepper: bytes) -> str:
    if len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"pepper must be at least {MIN_PEPPER_BYTES} bytes")
    return hmac.new(pepper, _DOMAIN + canonical.encode("ascii"), hashlib.sha256).hexdigest()


def hash_recovery_code(code: str, *, pepper: bytes) -> str:
    canonical = normalise_recovery_code(code)
    if canonical is None:
        raise ValueError("not a recovery code")
    return _mac(canonical, pepper)


def hash_recovery_codes(codes: Sequence[str], *, pepper: bytes) -> list[str]:
    return [hash_recovery_code(code, pepper=pepper) for code in codes]


def match_recovery_code(
    submitted: str, stored_hashes: Sequence[str | None], *, pepper: bytes
) -> int | None:
    """Index of the stored hash ``submitted`` matches, or None.

    ``None`` entries stand for already used codes, so callers may keep
    positions stable instead of compacting the list.  The caller must burn
    the returned index (atomically) before treating the login as recovered.
    """
    canonical = normalise_recovery_code(submitted)
    if canonical is None:
        return None
    candidate = _mac(canonical, pepper).encode("ascii")
    found: int | None = None
    # Compare against every entry so timing does not reveal the position.
    for index, stored in enumerate(stored_hashes):
        if stored is None:
            continue
        if hmac.compare_digest(candidate, stored.encode("utf-8")) and found is None:
            found = index
    return found
