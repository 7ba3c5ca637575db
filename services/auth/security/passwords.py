"""Password hashing (argon2id) and the password policy.

Hashing parameters follow the OWASP Password Storage Cheat Sheet minimum for
argon2id (19 MiB, 2 iterations, 1 lane).  Stored hashes carry their own
parameters, so raising them later only needs new constants: old hashes keep
verifying and are upgraded on the next successful login (``verify_password``
returns the replacement hash).

Passwords are normalised to Unicode NFC before hashing and before the policy
counts characters.  The same visible text can arrive composed ("ă", U+0103)
or decomposed ("a" + U+0306) depending on the operating system and keyboard;
without normalisation a user with diacritics in the password could be locked
out when switching devices (NIST SP 800-63B recommends normalising before
hashing).  Nothing else is altered: no truncation, no case folding, no
whitespace trimming.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "ARGON2_MEMORY_COST_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PasswordRejected",
    "RejectReason",
    "check_password_policy",
    "common_passwords",
    "dummy_verify",
    "hash_password",
    "verify_password",
]

_log = logging.getLogger(__name__)

ARGON2_MEMORY_COST_KIB: Final = 19456
ARGON2_TIME_COST: Final = 2
ARGON2_PARALLELISM: Final = 1

MIN_LENGTH: Final = 8
MAX_LENGTH: Final = 128

# Login input longer than this cannot match any stored hash (the policy caps
# new passwords at MAX_LENGTH) and is refused without hashing so an attacker
# cannot make the service hash megabytes per request.  It is generous so that
# lowering MAX_LENGTH later never locks out existing users.
_VERIFY_MAX_LENGTH: Final = 1024

_HASHER: Final = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_COST_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# Hash of a random password that was thrown away; made with the parameters
# above.  A unit test fails if the parameters change without regenerating it,
# because then unknown-user logins would become measurably faster/slower.
_DUMMY_HASH: Final = (
    "$argon2id$v=19$m=19456,t=2,p=1$ao44ABE0IBaLPUFdUwBaFw"
    "$1fyrAg2kYdm/yJe7VjH220dxOKucOnY+n3yeIXyOKc8"
)

# Control characters, line/paragraph separators, lone surrogates and
# unassigned code points: none can be typed into a password field on purpose,
# surrogates cannot even be encoded as UTF-8, and unassigned code points have
# no stable normalisation.  Everything else (letters with diacritics, spaces,
# symbols, emoji including joiners) is allowed.
_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cs", "Cn", "Zl", "Zp"})


class RejectReason(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    INVALID_CHARACTER = "invalid_character"
    COMMON = "common"
    MATCHES_USER_INPUT = "matches_user_input"


class PasswordRejected(ValueError):
    """The password does not satisfy the policy.

    ``reason_code`` is stable for clients/translations; ``message`` is a short
    English text.  Neither ever contains the password.
    """

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def _encode(password: str) -> bytes:
    # "surrogatepass" so that junk input at login (a JSON "\ud800" escape
    # decodes to a lone surrogate) yields a plain mismatch instead of an
    # exception; the policy never lets such a password be stored.
    return _normalise(password).encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    """Return an argon2id PHC string (salt and parameters embedded)."""
    return _HASHER.hash(_encode(password))


def verify_password(stored_hash: str, password: str) -> tuple[bool, str | None]:
    """Check ``password`` against ``stored_hash``.

    Returns ``(ok, new_hash)``; ``new_hash`` is set only when the password is
    correct and the stored hash was made with other parameters: the caller
    should persist it (transparent upgrade).
    """
    if len(password) > _VERIFY_MAX_LENGTH:
        return False, None
    secret = _encode(password)
    try:
        _HASHER.verify(stored_hash, secret)
    except VerifyMismatchError:
        return False, None
    except (InvalidHashError, VerificationError):
        # A corrupt hash is a data problem, not a wrong password: fail closed,
        # make it visible in the logs, and spend the usual time so the
        # response does not single out this account.
        _log.warning("unusable password hash in storage; login refused")
        dummy_verify(password)
        return False, None
    if _HASHER.check_needs_rehash(stored_hash):
        return True, _HASHER.hash(secret)
    return True, None


def dummy_verify(password: str) -> None:
    """Spend the cost of one verification when there is no user to check.

    Call it for unknown accounts (or accounts without a password) so that the
    response time does not reveal whether an account exists.
    """
    if len(password) > _VERIFY_MAX_LENGTH:
        return
    try:
        _HASHER.verify(_DUMMY_HASH, _encode(password))
    except VerificationError:
        pass


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common-password list (case-folded), loaded on first use.

    The list is the ``passwords`` frequency list shipped with zxcvbn (30 000
    entries mined from real password leaks).  The import is deferred because
    the module holds several large word lists that most processes never need.
    """
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(_normalise(word).casefold() for word in FREQUENCY_LISTS["passwords"])


def _user_input_variants(user_inputs: Iterable[str | None]) -> set[str]:
    variants: set[str] = set()
    for value in user_inputs:
        if not value:
            continue
        folded = _normalise(value).strip().casefold()
        if not folded:
            continue
        variants.add(folded)
        # The local part of an e-mail address is as guessable as the address.
        local, at, _domain = folded.rpartition("@")
        if at and local:
            variants.add(local)
    return variants


def check_password_policy(password: str, *, user_inputs: Iterable[str | None] = ()) -> None:
    """Raise ``PasswordRejected`` unless ``password`` may be set.

    Rules: 8..128 characters (code points after NFC), only printable
    characters, not on the common-password list, not equal (ignoring case) to
    any of ``user_inputs`` (e-mail, names, school name ...).  There are no
    composition rules (upper/lower/digit/symbol) on purpose: they do not add
    strength and push users to predictable patterns (NIST SP 800-63B, ASVS V6).
    """
    normalised = _normalise(password)
    length = len(normalised)
    if length < MIN_LENGTH:
        raise PasswordRejected(
            RejectReason.TOO_SHORT, f"Password must be at least {MIN_LENGTH} characters long."
        )
    if length > MAX_LENGTH:
        raise PasswordRejected(
            RejectReason.TOO_LONG, f"Password must be at most {MAX_LENGTH} characters long."
        )
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in normalised):
        raise PasswordRejected(
            RejectReason.INVALID_CHARACTER, "Password contains a character that is not allowed."
        )

    folded = normalised.casefold()
    common = common_passwords()
    # Surrounding spaces do not make a leaked password any stronger.
    if folded in common or folded.strip() in common:
        raise PasswordRejected(
            RejectReason.COMMON, "This password is too common. Choose a different one."
        )
    if folded in _user_input_variants(user_inputs):
        raise PasswordRejected(
            RejectReason.MATCHES_USER_INPUT,
            "Password must not be your e-mail address or name.",
        )
