"""The Romanian grading rules, case by case (services/grades/averages.py: no database)."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.grades import averages as av
from services.grades.averages import SubjectResult as R


@pytest.mark.parametrize("grades, thesis, expected", [
    ([10], None, "10"),
    ([9, 10], None, "10"),           # 9.50 exactly: up, in the pupil's favour
    ([9, 10, 9, 10], None, "10"),
    ([9, 9, 10], None, "9"),          # 9.33
    ([8, 9, 9, 10, 10, 9], None, "9"),  # 9.1666...
    ([4, 5], None, "5"),              # 4.50 passes
    ([4, 4, 5], None, "4"),           # 4.33
    ([1, 2], None, "2"),
    ([5, 6, 6], None, "6"),           # 5.666
    ([7, 8, 8], 6, "7"),              # M=7.66 → (22.98+6)/4 = 7.245 → 7
    ([9, 10], 8, "9"),                # M=9.50 → (28.50+8)/4 = 9.125 → 9
    ([10, 10], 8, "10"),              # (30+8)/4 = 9.50 → 10
    ([7, 8, 8], 9, "8"),              # M=7.66 → (22.98+9)/4 = 7.995 → 8
    ([3, 4, 4], 6, "4"),              # M=3.66 → (10.98+6)/4 = 4.245 → 4
])
def test_period_average(grades, thesis, expected):
    assert str(av.period_average(grades, thesis)) == expected


@pytest.mark.parametrize("grades, thesis, expected", [
    ([4, 5, 5], 4, "4"),   # M = 4.66 (truncated, not 4.67): (13.98 + 4) / 4 = 4.495 → 4
    ([6, 6, 7], 4, "6"),   # M = 6.33: (18.99 + 4) / 4 = 5.7475 → 6
    ([5, 5, 6], 3, "5"),   # M = 5.33: (15.99 + 3) / 4 = 4.7475 → 5
    ([7, 7, 8], 7, "7"),   # M = 7.33: (21.99 + 7) / 4 = 7.2475 → 7
    ([8, 9], 7, "8"),      # M = 8.50: (25.50 + 7) / 4 = 8.125 → 8
    ([6, 7], 8, "7"),      # M = 6.50: (19.50 + 8) / 4 = 6.875 → 7
    ([5, 6], 7, "6"),      # M = 5.50: (16.50 + 7) / 4 = 5.875 → 6
    ([8, 8, 9], 6, "8"),   # M = 8.33: (24.99 + 6) / 4 = 7.7475 → 8
    ([9, 9], 8, "9"),      # (27 + 8) / 4 = 8.75 → 9
    ([8, 8], 7, "8"),      # (24 + 7) / 4 = 7.75 → 8
    ([6, 6], 8, "7"),      # (18 + 8) / 4 = 6.50 exactly → 7
    ([6, 6], 7, "6"),      # (18 + 7) / 4 = 6.25 → 6
])
def test_period_average_with_thesis_truncates_m_first(grades, thesis, expected):
    assert str(av.period_average(grades, thesis)) == expected


def test_truncating_m_matters():
    # M = 8.666… → 8.66 (truncated); (25.98 + 7) / 4 = 8.245 → 8. With M rounded to 8.67:
    # (26.01 + 7) / 4 = 8.2525 → 8 as well; the difference shows at the .50 edge:
    # M = 9.666… → 9.66: (28.98 + 9) / 4 = 9.495 → 9; rounding M to 9.67 would give 9.5025 → 10.
    assert av.period_average([9, 10, 10], 9) == D(9)


def test_no_grade_no_average():
    assert av.period_average([]) is None
    assert av.period_average([], thesis=9) is None


@pytest.mark.parametrize("periods, expected", [
    ([D(9), D(10)], "9.50"),
    ([D(7), D(8), D(8)], "7.66"),          # 7.666… truncated, not rounded
    ([D(9), D(9), D(10), D(10), D(10)], "9.60"),  # five modules
    ([D(4), D(5)], "4.50"),                # no rounding up of the annual average
    ([D(10), None], None),                  # a period without an average: no annual average
    ([], None),
])
def test_annual_average(periods, expected):
    got = av.annual_average(periods)
    assert (str(got) if got is not None else None) == expected


@pytest.mark.parametrize("annuals, conduct, expected", [
    ([D("9.50"), D("8.66")], D(10), "9.38"),     # 28.16 / 3 = 9.3866… → 9.38
    ([D("7.66"), D("8.33"), D("9.00")], D(9), "8.49"),  # 33.99 / 4 = 8.4975 → 8.49
    ([D("10.00")], D(10), "10.00"),
    ([D("9.00"), None], D(10), None),
    ([D("9.00")], None, None),
])
def test_general_average_includes_conduct_and_truncates(annuals, conduct, expected):
    got = av.general_average(annuals, conduct)
    assert (str(got) if got is not None else None) == expected


@pytest.mark.parametrize("periods, expected", [
    (["B", "FB"], "FB"), (["FB", "S"], "S"), (["FB", None], None), ([], None),
])
def test_annual_qualifier_is_the_last_periods(periods, expected):
    assert av.annual_qualifier(periods) == expected


@pytest.mark.parametrize("level, qualifiers", [(0, True), (4, True), (5, False), (12, False), (None, False)])
def test_levels_0_to_iv_use_qualifiers(level, qualifiers):
    assert av.qualifier_level(level) is qualifiers


@pytest.mark.parametrize("hours, risk, expected", [(1, False, 2), (2, False, 2), (4, False, 4), (1, True, 3),
                                                   (5, True, 6)])
def test_minimum_grades(hours, risk, expected):
    assert av.minimum_grades(hours, at_risk=risk) == expected


def test_at_risk_means_below_five_so_far():
    assert av.at_risk([4, 4]) and not av.at_risk([4, 5]) and not av.at_risk([])


@pytest.mark.parametrize("unmotivated, thresholds, expected", [
    (0, av.DEFAULT_CONDUCT_THRESHOLDS, 10), (9, av.DEFAULT_CONDUCT_THRESHOLDS, 10),
    (10, av.DEFAULT_CONDUCT_THRESHOLDS, 9), (25, av.DEFAULT_CONDUCT_THRESHOLDS, 8),
    (200, av.DEFAULT_CONDUCT_THRESHOLDS, 4),
    (5, [[5, 8], [3, 9]], 8),  # a school's own table, in any order
    (4, [[5, 8], [3, 9]], 9),
])
def test_conduct_suggestion(unmotivated, thresholds, expected):
    assert av.conduct_suggestion(unmotivated, thresholds) == expected


G = dict  # readability of the table below


@pytest.mark.parametrize("subjects, conduct, postponed, expected", [
    (G(mate=R(D("9.50")), ro=R(D("8.00"))), D(10), False, "promoted"),
    (G(mate=R(D("4.66")), ro=R(D("8.00"))), D(10), False, "corigent"),
    (G(mate=R(D("4.66")), ro=R(D("4.00")), fiz=R(D("9"))), D(10), False, "corigent"),
    (G(mate=R(D("4.66")), ro=R(D("4.00")), fiz=R(D("3"))), D(10), False, "repeating"),  # three failed
    (G(mate=R(D("9.50"))), D(5), False, "repeating"),  # conduct below 6
    (G(mate=R(None), ro=R(D("8"))), D(10), False, "incomplete"),
    (G(mate=R(D("9"))), None, False, "incomplete"),
    (G(mate=R(D("9"))), D(10), True, "postponed"),
    # re-examinations: passed → promoted; failed → repeating; one of two still pending → corigent
    (G(mate=R(D("4.66"), reexamination=D("6"))), D(10), False, "promoted"),
    (G(mate=R(D("4.66"), reexamination=D("4"))), D(10), False, "repeating"),
    (G(mate=R(D("4.66"), reexamination=D("6")), ro=R(D("4"))), D(10), False, "corigent"),
    # a late closing (situație încheiată) fills the missing average
    (G(mate=R(None, reexamination=D("7"))), D(10), False, "promoted"),
    # primary school: qualifiers, no conduct grade needed
    (G(cls=R(qualifier="FB", uses_qualifiers=True), mat=R(qualifier="S", uses_qualifiers=True)), None, False,
     "promoted"),
    (G(cls=R(qualifier="I", uses_qualifiers=True)), None, False, "corigent"),
    (G(cls=R(qualifier=None, uses_qualifiers=True)), None, False, "incomplete"),
])
def test_situation(subjects, conduct, postponed, expected):
    assert av.situation(subjects, conduct, postponed=postponed) == expected


def test_text_forms():
    assert av.as_text(D(9), 0) == "9" and av.as_text(D("9.5")) == "9.50" and av.as_text(None) is None


def test_the_integer_computation_equals_the_decimal_rule_everywhere():
    import itertools
    for n in range(1, 5):
        for grades in itertools.combinations_with_replacement(range(1, 11), n):
            for thesis in (None, *range(1, 11)):
                assert av.period_average(grades, thesis) == av.period_average_decimal(grades, thesis), (grades, thesis)
