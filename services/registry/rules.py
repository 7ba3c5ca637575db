"""Registry rules with no infrastructure: CNP validation and matriculation codes (REG-6)."""
from __future__ import annotations

import secrets
from datetime import date

from services.kernel.errors import InvalidInput

_CNP_WEIGHTS = (2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9)
_CENTURY = {"1": 1900, "2": 1900, "3": 1800, "4": 1800, "5": 2000, "6": 2000, "7": None, "8": None, "9": None}
# County codes 01-46, 51-52 (Călărași, Giurgiu), 47-48 historic Bucharest sectors 7-8; 70 = any
# county, used for foreign residents since 2024.
_VALID_COUNTY = {f"{n:02d}" for n in list(range(1, 49)) + [51, 52, 70]}
# Crockford base32: no I, L, O, U, so a code read aloud or retyped is unambiguous.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Crockford's check symbols: the 32 digits above and five more for the values 32-36.
_CHECK_SYMBOLS = _CODE_ALPHABET + "*~$=U"
CODE_PREFIX = "RM"
# The second generation of codes carries this marker after the prefix. First-generation codes
# (RM + 12 + a weighted-sum check, which misses some swaps) stay valid: a code never changes.
CODE_V2_MARKER = "2"
_BODY_LEN = 12


def cnp_check_digit(first12: str) -> int:
    total = sum(int(d) * w for d, w in zip(first12, _CNP_WEIGHTS))
    rest = total % 11
    return 1 if rest == 10 else rest


def cnp_problems(cnp: str, *, field: str = "cnp") -> list[dict]:
    """Every reason the CNP is wrong, as `{"field", "message"}` (empty: valid)."""
    cnp = (cnp or "").strip()
    if len(cnp) != 13 or not cnp.isdigit():
        return [{"field": field, "message": "CNP must be exactly 13 digits"}]
    problems = []
    if cnp[0] == "0":
        problems.append({"field": f"{field}.sex_century", "message": "CNP must not start with 0"})
    if cnp_check_digit(cnp[:12]) != int(cnp[12]):
        problems.append({"field": f"{field}.control_digit", "message": "CNP check digit is wrong"})
    if cnp[7:9] not in _VALID_COUNTY:
        problems.append({"field": f"{field}.county", "message": "CNP county code is not valid"})
    if cnp[0] != "0" and not _cnp_birth_candidates(cnp):
        problems.append({"field": f"{field}.birth_date", "message": "CNP encodes an impossible birth date"})
    return problems


def _cnp_birth_candidates(cnp: str) -> list[date]:
    century = _CENTURY[cnp[0]]
    yy, mm, dd = int(cnp[1:3]), int(cnp[3:5]), int(cnp[5:7])
    out = []
    # Residents (7-9) do not encode the century; the date must still exist in one of them.
    for c in ((century,) if century is not None else (1900, 2000)):
        try:
            out.append(date(c + yy, mm, dd))
        except ValueError:
            pass
    return out


def parse_cnp(cnp: str) -> dict:
    """Validate a Romanian personal numeric code; return the sex and birth date it encodes."""
    problems = cnp_problems(cnp)
    if problems:
        raise InvalidInput("; ".join(p["message"] for p in problems), problems)
    cnp = cnp.strip()
    birth = _cnp_birth_candidates(cnp)[0] if _CENTURY[cnp[0]] is not None else None
    sex = None if cnp[0] == "9" else ("M" if int(cnp[0]) % 2 == 1 else "F")
    return {"cnp": cnp, "sex": sex, "birth_date": birth}


# --- matriculation codes -------------------------------------------------------------------

def new_matriculation_code() -> str:
    """Random (60 bits), so it reveals nothing about the person; unique by constraint; ends with
    Crockford's mod-37 check symbol, which catches every single mistyped character and every
    swap of two adjacent characters (see `mod37_check`)."""
    value = int.from_bytes(secrets.token_bytes(8), "big") >> 4  # 60 random bits: 12 base-32 digits
    digits = []
    for _ in range(_BODY_LEN):
        value, digit = divmod(value, 32)
        digits.append(_CODE_ALPHABET[digit])
    body = "".join(digits)
    return f"{CODE_PREFIX}{CODE_V2_MARKER}{body}{mod37_check(body)}"


def mod37_check(body: str) -> str:
    """The body read as a base-32 number, modulo 37 (a prime). A substitution at position k
    changes the number by d*32^k with 0 < |d| < 32; a swap of neighbours by (a-b)*31*32^k:
    neither is a multiple of 37, so the remainder always changes. A swap of the last body
    character with the check symbol c leaves 2c - b ≡ b (mod 37) only when c = b: no change."""
    value = 0
    for ch in body:
        value = (value * 32 + _CODE_ALPHABET.index(ch)) % 37
    return _CHECK_SYMBOLS[value]


def _v1_check(body: str) -> str:
    # first generation: odd weights modulo 32 (catches substitutions, misses some swaps)
    total = sum((2 * i + 1) * _CODE_ALPHABET.index(ch) for i, ch in enumerate(body))
    return _CODE_ALPHABET[total % 32]


def normalise_code(code: str) -> str:
    return (code or "").strip().upper()


def is_valid_matriculation_code(code: str) -> bool:
    code = normalise_code(code)
    if not code.startswith(CODE_PREFIX):
        return False
    rest = code[len(CODE_PREFIX):]
    if len(rest) == _BODY_LEN + 2 and rest[0] == CODE_V2_MARKER:
        body, check = rest[1:-1], rest[-1]
        return all(ch in _CODE_ALPHABET for ch in body) and mod37_check(body) == check
    if len(rest) == _BODY_LEN + 1:  # first generation, still valid for the persons who hold one
        body, check = rest[:-1], rest[-1]
        return all(ch in _CODE_ALPHABET for ch in body) and _v1_check(body) == check
    return False
