"""Registry rules without infrastructure: CNP validation, matriculation codes, chapter V fields."""
from datetime import date

import pytest

from services.kernel.errors import InvalidInput
from services.registry.fields import PERSONAL, person_footnote_problems, validate_section
from services.registry.rules import (_CHECK_SYMBOLS, _CODE_ALPHABET, _v1_check, cnp_check_digit, cnp_problems,
                                     is_valid_matriculation_code, mod37_check, new_matriculation_code, parse_cnp)


def cnp(first12: str) -> str:
    return first12 + str(cnp_check_digit(first12))


def test_a_valid_cnp_yields_sex_and_birth_date():
    parsed = parse_cnp(cnp("509031540001"))
    assert parsed["sex"] == "M" and parsed["birth_date"] == date(2009, 3, 15)
    assert parse_cnp(cnp("295123140001"))["birth_date"] == date(1995, 12, 31)
    assert parse_cnp(cnp("295123140001"))["sex"] == "F"
    assert parse_cnp(cnp("709031570001"))["birth_date"] is None  # a resident: century not encoded


def test_known_check_digit():
    for prefix in ("609051222669", "500101234567"):
        assert 0 <= cnp_check_digit(prefix) <= 9
    assert cnp_check_digit("609051222669") == 0


@pytest.mark.parametrize("bad,field,why", [
    ("123", "cnp", "13 digits"),
    ("50903154000a1", "cnp", "13 digits"),
    ("0090315400011", "cnp.sex_century", "start with 0"),
    ("5090315400012", "cnp.control_digit", "check digit"),
    (cnp("509023040001"), "cnp.birth_date", "impossible birth date"),   # 30 February
    (cnp("509131540001"), "cnp.birth_date", "impossible birth date"),   # month 13
    (cnp("509031599001"), "cnp.county", "county"),
    (cnp("509031549001"), "cnp.county", "county"),                       # 49 is no county
])
def test_invalid_cnps_are_refused_with_a_reason_per_field(bad, field, why):
    problems = cnp_problems(bad)
    assert any(p["field"] == field and why in p["message"] for p in problems), problems
    with pytest.raises(InvalidInput, match=why):
        parse_cnp(bad)


def test_several_problems_of_one_cnp_are_all_reported():
    fields = {p["field"] for p in cnp_problems("5091399990010")}
    assert {"cnp.county", "cnp.birth_date"} <= fields


@pytest.mark.parametrize("county", ["01", "40", "46", "51", "52", "70"])
def test_every_real_county_code_is_accepted(county):
    assert cnp_problems(cnp(f"5090315{county}001")) == []


# --- matriculation codes ------------------------------------------------------------------------

SAMPLES = [new_matriculation_code() for _ in range(40)] + ["RM2" + "0" * 12 + mod37_check("0" * 12),
                                                          "RM2" + "Z" * 12 + mod37_check("Z" * 12)]


def test_codes_are_random_unique_and_valid():
    codes = {new_matriculation_code() for _ in range(20000)}
    assert len(codes) == 20000
    assert all(is_valid_matriculation_code(c) for c in codes)


@pytest.mark.parametrize("code", SAMPLES)
def test_every_single_substitution_and_every_adjacent_swap_is_caught(code):
    symbols = set(_CHECK_SYMBOLS) | set("RM") | set("ILO")
    caught = total = 0
    for pos in range(len(code)):
        for ch in symbols - {code[pos]}:
            total += 1
            caught += not is_valid_matriculation_code(code[:pos] + ch + code[pos + 1:])
    for pos in range(len(code) - 1):
        if code[pos] != code[pos + 1]:
            total += 1
            caught += not is_valid_matriculation_code(code[:pos] + code[pos + 1] + code[pos] + code[pos + 2:])
    assert caught == total, f"{code}: {total - caught} of {total} mistakes pass as valid"


def test_the_weighted_sum_of_the_first_generation_missed_swaps_the_new_one_catches():
    # the reason for the second generation: positions 16 apart carry the same weight modulo 32 in
    # v1 and even neighbours can collide; mod 37 never does
    body = "0123456789AB"
    assert is_valid_matriculation_code("RM" + body + _v1_check(body))  # old codes stay valid
    swaps = 0
    for a in _CODE_ALPHABET:
        for b in _CODE_ALPHABET:
            if a != b:
                one, two = a + b + "0" * 10, b + a + "0" * 10
                swaps += _v1_check(one) == _v1_check(two)
                assert mod37_check(one) != mod37_check(two)
    assert swaps > 0


def test_malformed_codes_are_refused():
    for bad in ("", "RM", "RM" + "I" * 13, "XX2" + "0" * 13, "RM3" + "0" * 12 + "0", "RM2" + "0" * 11):
        assert not is_valid_matriculation_code(bad)


# --- chapter V fields and footnotes ---------------------------------------------------------------

def allowed(name, year):
    return {"county": {"B", "CJ"}, "civil_status": {"casatorit", "nedeclarat"}, "ethnicity": {"romana", "nedeclarat"},
            "id_document_type": {"CI", "pasaport", "document_calatorie"}}.get(name, set())


def personal(**kw):
    base = {"last_name_at_birth": "Pop", "last_name": "Pop", "first_name": "Ana", "citizenship": "RO",
            "cnp": cnp("609031540001")}
    return {**base, **kw}


@pytest.mark.parametrize("data,field", [
    (personal(citizenship="FR", cnp=None, foreign_id="X1", domicile_county="CJ", domicile_country="FR"),
     "personal.domicile_county"),
    (personal(citizenship="FR", cnp=None, foreign_id="X1", ethnicity="romana"), "personal.ethnicity"),
    (personal(birth_country="FR", birth_county="CJ"), "personal.birth_county"),
    (personal(foreign_id="X1"), "personal.foreign_id"),
    (personal(cnp=None), "personal.cnp"),
    (personal(id_document_type="document_calatorie"), "personal.id_document_type"),
    (personal(citizenship="MD", cnp=None, foreign_id="M1", id_document_type="CI"), "personal.id_document_type"),
])
def test_the_footnote_rules_hold(data, field):
    clean, problems = validate_section(PERSONAL, data, "2025-2026", allowed)
    assert problems == []
    assert field in {p["field"] for p in person_footnote_problems(clean)}


def test_civil_status_and_ethnicity_may_be_undeclared_and_foreigners_use_the_country_code():
    clean, problems = validate_section(PERSONAL, personal(civil_status="nedeclarat", ethnicity="nedeclarat",
                                                          domicile_country="RO", domicile_county="B"),
                                       "2025-2026", allowed, prefix="personal.")
    assert problems == [] and person_footnote_problems(clean) == []
    clean, _ = validate_section(PERSONAL, personal(citizenship="FR", cnp=None, foreign_id="F-1",
                                                   domicile_country="FR", id_document_type="CI"), "2025-2026", allowed)
    assert person_footnote_problems(clean) == []


def test_every_bad_field_is_reported_at_once_with_its_name():
    _clean, problems = validate_section(PERSONAL, personal(civil_status="vaduv", birth_date="2001-02-30",
                                                           email="nu-e-adresa", bogus=1), "2025-2026", allowed,
                                        prefix="personal.")
    fields = {p["field"] for p in problems}
    assert fields == {"personal.civil_status", "personal.birth_date", "personal.email", "personal.bogus"}
    assert any("nomenclature civil_status" in p["message"] for p in problems)


def test_cedilla_letters_are_stored_with_the_comma_below():
    clean, _ = validate_section(PERSONAL, personal(last_name="Ştefănescu"), "2025-2026", allowed)
    assert clean["last_name"] == "Ștefănescu"
