from __future__ import annotations

import re
import unicodedata

import pytest
from argon2 import PasswordHasher

from services.auth.security import passwords
from services.auth.security.passwords import (
    MAX_LENGTH,
    PasswordRejected,
    RejectReason,
    check_password_policy,
    common_passwords,
    dummy_verify,
    hash_password,
    verify_password,
)

ROMANIAN_PASSPHRASE = "Școala din Țăndărei 2026!"
# 128 characters with diacritics: exercises the maximum length, NFC handling
# and the absence of truncation with a single (slow) hash for the module.
LONG_PASSWORD = (ROMANIAN_PASSPHRASE + " ") * 6
LONG_PASSWORD = LONG_PASSWORD[:MAX_LENGTH]

OWASP_PREFIX = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password(LONG_PASSWORD)


# --- hashing -------------------------------------------------------------


def test_hash_uses_owasp_argon2id_parameters(stored_hash: str) -> None:
    match = OWASP_PREFIX.match(stored_hash)
    assert match is not None, stored_hash
    assert tuple(int(g) for g in match.groups()) == (19456, 2, 1)
    assert stored_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify_correct_password_without_rehash(stored_hash: str) -> None:
    assert len(LONG_PASSWORD) == 128
    assert verify_password(stored_hash, LONG_PASSWORD) == (True, None)


def test_verify_is_exact_no_truncation_no_case_folding(stored_hash: str) -> None:
    assert verify_password(stored_hash, LONG_PASSWORD[:-1] + "X") == (False, None)
    assert verify_password(stored_hash, LONG_PASSWORD.swapcase()) == (False, None)


def test_verify_accepts_decomposed_unicode_form(stored_hash: str) -> None:
    decomposed = unicodedata.normalize("NFD", LONG_PASSWORD)
    assert decomposed != LONG_PASSWORD
    assert verify_password(stored_hash, decomposed) == (True, None)


def test_rehash_when_parameters_differ() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    old_hash = weak.hash("old parameters pw")
    assert verify_password(old_hash, "wrong password") == (False, None)

    ok, new_hash = verify_password(old_hash, "old parameters pw")
    assert ok is True
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(new_hash, "old parameters pw") == (True, None)


def test_dummy_hash_costs_the_same_as_a_real_one() -> None:
    # If the parameters change, the dummy hash must be regenerated, otherwise
    # unknown-user logins become distinguishable by timing.
    assert OWASP_PREFIX.match(passwords._DUMMY_HASH)
    assert not passwords._HASHER.check_needs_rehash(passwords._DUMMY_HASH)
    assert dummy_verify("whatever the user typed") is None


def test_corrupt_stored_hash_fails_closed() -> None:
    assert verify_password("not-an-argon2-hash", "any password") == (False, None)


def test_lone_surrogate_at_login_is_a_plain_mismatch(stored_hash: str) -> None:
    assert verify_password(stored_hash, "abc\ud800defgh") == (False, None)


def test_oversized_login_input_is_refused_without_hashing(
    stored_hash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Exploding:
        def verify(self, *_args: object) -> None:
            raise AssertionError("must not hash oversized input")

    monkeypatch.setattr(passwords, "_HASHER", Exploding())
    assert verify_password(stored_hash, "a" * 100_000) == (False, None)
    assert dummy_verify("a" * 100_000) is None


# --- policy --------------------------------------------------------------


def _rejection(password: str, **kwargs: object) -> PasswordRejected:
    with pytest.raises(PasswordRejected) as info:
        check_password_policy(password, **kwargs)  # type: ignore[arg-type]
    exc = info.value
    assert password not in exc.message
    assert password not in str(exc)
    return exc


def test_policy_rejects_7_accepts_8() -> None:
    assert _rejection("tr4v-Qz").reason_code == RejectReason.TOO_SHORT
    check_password_policy("tr4v-Qz8")


def test_policy_accepts_128_rejects_129() -> None:
    check_password_policy("x7" * 64)
    assert _rejection("x7" * 64 + "y").reason_code == RejectReason.TOO_LONG


def test_policy_counts_code_points_after_nfc() -> None:
    # 7 letters "ă" are 14 code points when decomposed: still too short.
    decomposed_short = unicodedata.normalize("NFD", "ăâîșțăâ")
    assert len(decomposed_short) > 8
    assert _rejection(decomposed_short).reason_code == RejectReason.TOO_SHORT
    # 128 composed letters are 256 code points decomposed: still allowed.
    decomposed_max = unicodedata.normalize("NFD", "ăâî" * 42 + "ăâ")
    assert len(decomposed_max) > MAX_LENGTH
    check_password_policy(decomposed_max)


@pytest.mark.parametrize(
    "common", ["password1", "qwerty123", "PassWord1", "QWERTY123", "iloveyou1"]
)
def test_policy_rejects_common_passwords(common: str) -> None:
    assert _rejection(common).reason_code == RejectReason.COMMON


def test_policy_rejects_common_password_with_surrounding_spaces() -> None:
    assert _rejection(" password1 ").reason_code == RejectReason.COMMON


def test_common_list_is_the_zxcvbn_passwords_list_loaded_once() -> None:
    common = common_passwords()
    assert isinstance(common, frozenset)
    assert len(common) >= 10_000
    assert {"password1", "qwerty123", "12345678"} <= common
    assert common_passwords() is common


def test_policy_accepts_romanian_passphrase() -> None:
    check_password_policy(
        ROMANIAN_PASSPHRASE, user_inputs=("ion.popescu@scoala.ro", "Ion Popescu")
    )


def test_policy_rejects_password_equal_to_email_ignoring_case() -> None:
    exc = _rejection("Ion.Popescu@Scoala.RO", user_inputs=("ion.popescu@scoala.ro", "Ion Popescu"))
    assert exc.reason_code == RejectReason.MATCHES_USER_INPUT


def test_policy_rejects_password_equal_to_name_or_email_local_part() -> None:
    inputs = ("maria.ionescu2010@scoala.ro", "Maria Ionescu", None, "")
    for password in ("maria ionescu", "MARIA.IONESCU2010"):
        exc = _rejection(password, user_inputs=inputs)
        assert exc.reason_code == RejectReason.MATCHES_USER_INPUT
    check_password_policy("maria.ionescu2010 învață", user_inputs=inputs)


@pytest.mark.parametrize("bad", ["abcd\x00efgh", "abcd\nefgh", "abcd\tefgh", "abcd\ud800efgh"])
def test_policy_rejects_control_and_surrogate_characters(bad: str) -> None:
    assert _rejection(bad).reason_code == RejectReason.INVALID_CHARACTER


def test_policy_allows_spaces_symbols_and_emoji() -> None:
    check_password_policy("  spații   și 🙂‍↕️ emoji  ")
