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
CODE_PREFIX = "RM"


def cnp_check_digit(first12: str) -> int:
    total = sum(int(d) * w for d, w in zip(first12, _CNP_WEIGHTS))
    rest = total % 11
    return 1 if rest == 10 else rest


def parse_cnp(cnp: str) -> dict:
    """Validate a Romanian personal numeric code; return the sex and birth date it encodes."""
    cnp = (cnp or "").strip()
    if len(cnp) != 13 or not cnp.isdigit():
        raise InvalidInput("CNP must be exactly 13 digits")
    if cnp[0] == "0":
        raise InvalidInput("CNP must not start with 0")
    if cnp_check_digit(cnp[:12]) != int(cnp[12]):
        raise InvalidInput("CNP check digit is wrong")
    if cnp[7:9] not in _VALID_COUNTY:
        raise InvalidInput("CNP county code is not valid")
    century = _CENTURY[cnp[0]]
    yy, mm, dd = int(cnp[1:3]), int(cnp[3:5]), int(cnp[5:7])
    birth: date | None = None
    if century is not None:
        try:
            birth = date(century + yy, mm, dd)
        except ValueError as exc:
            raise InvalidInput("CNP encodes an impossible birth date") from exc
    else:
        # Residents (7-9) do not encode the century; the date must still exist in one of them.
        candidates = []
        for c in (1900, 2000):
            try:
                candidates.append(date(c + yy, mm, dd))
            except ValueError:
                pass
        if not candidates:
            raise InvalidInput("CNP encodes an impossible birth date")
    sex = None if cnp[0] == "9" else ("M" if int(cnp[0]) % 2 == 1 else "F")
    return {"cnp": cnp, "sex": sex, "birth_date": birth}


def new_matriculation_code() -> str:
    """Random (60 bits) + a check character that catches any single mistyped character:
    unique by constraint, reveals nothing about the person."""
    body = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{CODE_PREFIX}{body}{_check_char(body)}"


def _check_char(body: str) -> str:
    # odd weights are invertible modulo 32, so any single mistyped character changes the check
    total = sum((2 * i + 1) * _CODE_ALPHABET.index(ch) for i, ch in enumerate(body))
    return _CODE_ALPHABET[total % 32]


def is_valid_matriculation_code(code: str) -> bool:
    if not code or len(code) != len(CODE_PREFIX) + 13 or not code.startswith(CODE_PREFIX):
        return False
    body, check = code[len(CODE_PREFIX):-1], code[-1]
    return all(ch in _CODE_ALPHABET for ch in body) and _check_char(body) == check
