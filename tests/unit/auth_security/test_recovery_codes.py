from __future__ import annotations

import math
import re

import pytest

from services.auth.security.recovery_codes import (
    ALPHABET,
    CODE_LENGTH,
    generate_recovery_codes,
    hash_recovery_code,
    hash_recovery_codes,
    match_recovery_code,
    normalise_recovery_code,
)

PEPPER = b"r" * 32
CODE_RE = re.compile(rf"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}")


def test_ten_distinct_well_formed_codes() -> None:
    codes = generate_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(CODE_RE.fullmatch(code) for code in codes)
    # Two batches never overlap in practice (50 bits each).
    assert not set(codes) & set(generate_recovery_codes())


def test_alphabet_is_unambiguous_and_entropy_at_least_50_bits() -> None:
    assert len(set(ALPHABET)) == len(ALPHABET) == 32
    assert not set("ilou") & set(ALPHABET)
    assert CODE_LENGTH * math.log2(len(ALPHABET)) >= 50


def test_match_returns_index_and_tolerates_formatting() -> None:
    codes = generate_recovery_codes()
    hashes = hash_recovery_codes(codes, pepper=PEPPER)
    target = codes[7]
    compact = target.replace("-", "")
    variants = [
        target,
        target.upper(),
        compact,
        f"  {compact[:3]} {compact[3:7]}-{compact[7:]} ",
        "-".join(compact),
    ]
    for variant in variants:
        assert match_recovery_code(variant, hashes, pepper=PEPPER) == 7, variant


def test_lookalike_letters_map_to_digits() -> None:
    hashes = [hash_recovery_code("0a1b2-c3d4e", pepper=PEPPER)]
    assert match_recovery_code("OA1B2-C3D4E", hashes, pepper=PEPPER) == 0
    assert match_recovery_code("oalb2 c3d4e", hashes, pepper=PEPPER) == 0
    assert match_recovery_code("0aIb2c3d4e", hashes, pepper=PEPPER) == 0


def test_no_match_after_removal() -> None:
    codes = generate_recovery_codes()
    hashes: list[str | None] = list(hash_recovery_codes(codes, pepper=PEPPER))
    assert match_recovery_code(codes[3], hashes, pepper=PEPPER) == 3

    hashes[3] = None  # burned in place: other indices stay stable
    assert match_recovery_code(codes[3], hashes, pepper=PEPPER) is None
    assert match_recovery_code(codes[4], hashes, pepper=PEPPER) == 4

    compacted = [h for h in hashes if h is not None]  # or removed from the list
    assert match_recovery_code(codes[3], compacted, pepper=PEPPER) is None
    assert match_recovery_code(codes[4], compacted, pepper=PEPPER) == 3


def test_wrong_pepper_or_unknown_code_does_not_match() -> None:
    codes = generate_recovery_codes()
    hashes = hash_recovery_codes(codes, pepper=PEPPER)
    assert match_recovery_code(codes[0], hashes, pepper=b"s" * 32) is None
    other = next(c for c in generate_recovery_codes() if c not in codes)
    assert match_recovery_code(other, hashes, pepper=PEPPER) is None
    assert match_recovery_code(codes[0], [], pepper=PEPPER) is None


@pytest.mark.parametrize(
    "bad", ["", "abcde", "abcde-fghjkm", "abcde-fghju", "abcde-fgh!k", "ăbcde-fghjk"]
)
def test_malformed_input_is_rejected(bad: str) -> None:
    assert normalise_recovery_code(bad) is None
    hashes = [hash_recovery_code("abcde-fghjk", pepper=PEPPER)]
    assert match_recovery_code(bad, hashes, pepper=PEPPER) is None


def test_stored_hash_is_not_the_code() -> None:
    code = generate_recovery_codes(1)[0]
    digest = hash_recovery_code(code, pepper=PEPPER)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert code.replace("-", "") not in digest


def test_short_pepper_refused() -> None:
    with pytest.raises(ValueError):
        hash_recovery_code("abcde-fghjk", pepper=b"x")
