from datetime import date

import pytest

from services.kernel.errors import InvalidInput
from services.registry.rules import (cnp_check_digit, is_valid_matriculation_code, new_matriculation_code,
                                     parse_cnp)


def cnp(first12: str) -> str:
    return first12 + str(cnp_check_digit(first12))


def test_a_valid_cnp_yields_sex_and_birth_date():
    parsed = parse_cnp(cnp("509031540001"))
    assert parsed["sex"] == "M" and parsed["birth_date"] == date(2009, 3, 15)
    assert parse_cnp(cnp("295123140001"))["birth_date"] == date(1995, 12, 31)
    assert parse_cnp(cnp("295123140001"))["sex"] == "F"


def test_known_check_digit():
    # check digit 10 becomes 1 (the algorithm's special case)
    for prefix in ("609051222669", "500101234567"):
        assert 0 <= cnp_check_digit(prefix) <= 9
    assert cnp_check_digit("609051222669") == 0


@pytest.mark.parametrize("bad,why", [
    ("123", "13 digits"), ("50903154000a1", "13 digits"), ("0090315400011", "start with 0"),
    ("5090315400012", "check digit"), ("5091315400019", "check digit"),
])
def test_invalid_cnps_are_refused_with_a_reason(bad, why):
    with pytest.raises(InvalidInput, match=why):
        parse_cnp(bad)


def test_impossible_dates_and_counties_are_refused():
    with pytest.raises(InvalidInput, match="birth date"):
        parse_cnp(cnp("509023040001"))  # 30 February
    with pytest.raises(InvalidInput, match="county"):
        parse_cnp(cnp("509031599001"))


def test_matriculation_codes_are_valid_unique_and_unrelated_to_the_person():
    codes = {new_matriculation_code() for _ in range(20000)}
    assert len(codes) == 20000
    assert all(is_valid_matriculation_code(c) for c in list(codes)[:500])
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for code in list(codes)[:50]:
        for pos in range(2, len(code)):  # every single-character mistake is caught
            for ch in alphabet:
                if ch != code[pos]:
                    assert not is_valid_matriculation_code(code[:pos] + ch + code[pos + 1:]), (code, pos, ch)
    assert not is_valid_matriculation_code("RM" + "I" * 13)
