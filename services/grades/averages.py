"""Romanian grading rules as pure functions over exact decimals (no database, no floats).

- A period average without a thesis: the mean of the grades rounded to a whole number, an exact
  .50 rounding up (in the pupil's favour).
- With a thesis T: M = the mean of the other grades truncated to two decimals; the average is
  (3M + T) / 4, rounded as above.
- The annual subject average: the mean of the period averages, truncated to two decimals.
- The general average: the mean of every annual average including conduct, truncated to two
  decimals.
- Qualifiers (levels 0-IV): the teacher sets each period's final qualifier; the annual qualifier
  is the last period's (the teacher's closing judgement of the year).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

QUALIFIERS = ("FB", "B", "S", "I")  # foarte bine, bine, suficient, insuficient
FAILING_QUALIFIER = "I"
PASS_MARK = Decimal(5)
CONDUCT_PASS_MARK = Decimal(6)
MAX_FAILED_FOR_REEXAMINATION = 2
_HUNDREDTH, _WHOLE = Decimal("0.01"), Decimal(1)


def qualifier_level(level: int | None) -> bool:
    """Levels 0 (preparatory) to IV are assessed by qualifiers; V and up (or unknown) by grades."""
    return level is not None and 0 <= level <= 4


def truncate2(value: Decimal) -> Decimal:
    return value.quantize(_HUNDREDTH, rounding=ROUND_DOWN)


def round_whole(value: Decimal) -> Decimal:
    """To the nearest whole number; exactly .50 goes up."""
    return value.quantize(_WHOLE, rounding=ROUND_HALF_UP)


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, Decimal(0)) / len(values)


def period_average(grades: Iterable[int], thesis: int | None = None) -> Decimal | None:
    """The period average of one subject, a whole number; None with no grade at all (the thesis
    alone does not make an average: the other grades are needed for M).

    Grades are whole numbers, so this is exact integer arithmetic (what Decimal would compute,
    without its cost: the class catalog computes thousands of these per view)."""
    values = list(grades)
    if not values:
        return None
    total, n = sum(values), len(values)
    if thesis is None:
        return Decimal((2 * total + n) // (2 * n))  # round(total / n), exactly .50 up
    m100 = (100 * total) // n  # M truncated to two decimals, in hundredths
    return Decimal((2 * (3 * m100 + 100 * thesis) + 400) // 800)  # round((3M + T) / 4), .50 up


def period_average_decimal(grades: Iterable[int], thesis: int | None = None) -> Decimal | None:
    """The same rule written with decimals, as the regulation states it (the tests hold the two
    equal over every case)."""
    values = [Decimal(g) for g in grades]
    if not values:
        return None
    if thesis is None:
        return round_whole(_mean(values))
    m = truncate2(_mean(values))
    return round_whole((3 * m + Decimal(thesis)) / 4)


def annual_average(period_averages: Sequence[Decimal | None]) -> Decimal | None:
    """The mean of the period averages truncated to two decimals; None if any period lacks one."""
    if not period_averages or any(a is None for a in period_averages):
        return None
    return truncate2(_mean([Decimal(a) for a in period_averages]))  # type: ignore[arg-type]


def general_average(annual_averages: Sequence[Decimal | None], conduct: Decimal | None) -> Decimal | None:
    """The mean of all annual averages including conduct, truncated; None if any is missing."""
    values = [*annual_averages, conduct]
    if not annual_averages or any(v is None for v in values):
        return None
    return truncate2(_mean([Decimal(v) for v in values]))  # type: ignore[arg-type]


def annual_qualifier(period_qualifiers: Sequence[str | None]) -> str | None:
    if not period_qualifiers or period_qualifiers[-1] is None:
        return None
    return period_qualifiers[-1]


def minimum_grades(weekly_hours: int, *, at_risk: bool = False) -> int:
    """The subject's weekly hours, at least 2; one more for a pupil in a corigență situation."""
    return max(2, weekly_hours) + (1 if at_risk else 0)


def at_risk(grades: Sequence[int], thesis: int | None = None) -> bool:
    """A pupil whose average so far is below 5 is in a corigență situation."""
    average = period_average(grades, thesis)
    return average is not None and average < PASS_MARK


# The default rule many schools use: one point off conduct per 10 unmotivated absences in the
# period (schools configure their own table in the school year's settings).
DEFAULT_CONDUCT_THRESHOLDS = ((10, 9), (20, 8), (30, 7), (40, 6), (50, 5), (60, 4))


def conduct_suggestion(unmotivated: int, thresholds: Iterable[Sequence[int]] = DEFAULT_CONDUCT_THRESHOLDS) -> int:
    """The conduct grade the thresholds suggest: the grade of the highest threshold reached."""
    suggestion = 10
    for reached_at, grade in sorted((int(t), int(g)) for t, g in thresholds):
        if unmotivated >= reached_at:
            suggestion = grade
    return suggestion


@dataclass(frozen=True)
class SubjectResult:
    """One subject of a pupil's year: its annual average (grades) or qualifier (levels 0-IV), and a
    re-examination result if one was recorded."""
    annual: Decimal | None = None
    qualifier: str | None = None
    reexamination: Decimal | None = None  # corigență or late closing (încheiere) result
    uses_qualifiers: bool = False

    @property
    def final(self) -> Decimal | str | None:
        if self.uses_qualifiers:
            return self.qualifier
        return self.reexamination if self.reexamination is not None else self.annual

    @property
    def failed_at_first(self) -> bool:
        """Failed before any re-examination."""
        if self.uses_qualifiers:
            return self.qualifier == FAILING_QUALIFIER
        return self.annual is not None and self.annual < PASS_MARK

    @property
    def failed(self) -> bool:
        """Failed, after the re-examination if one was recorded."""
        if self.reexamination is not None:
            return self.reexamination < PASS_MARK
        return self.failed_at_first

    @property
    def missing(self) -> bool:
        return self.final is None and self.reexamination is None


def situation(subjects: Mapping[str, SubjectResult], conduct: Decimal | None, *, postponed: bool = False) -> str:
    """The end-of-year situation.

    postponed (amânat) when the school postponed it; incomplete (situație neîncheiată) while a
    subject or conduct has no result; repeating with conduct below 6 or more than two subjects
    failed; corigent with one or two failed subjects until their re-examinations are in (then
    promoted if every one was passed, repeating otherwise); promoted otherwise.
    """
    if postponed:
        return "postponed"
    if any(s.missing for s in subjects.values()) or (conduct is None and not _all_qualifiers(subjects)):
        return "incomplete"
    if conduct is not None and conduct < CONDUCT_PASS_MARK:
        return "repeating"
    if sum(1 for s in subjects.values() if s.failed_at_first) > MAX_FAILED_FOR_REEXAMINATION:
        return "repeating"
    failed = [s for s in subjects.values() if s.failed]
    if not failed:
        return "promoted"
    if any(s.reexamination is None for s in failed):
        return "corigent"
    return "repeating"


def _all_qualifiers(subjects: Mapping[str, SubjectResult]) -> bool:
    return bool(subjects) and all(s.uses_qualifiers for s in subjects.values())


def as_text(value: Decimal | None, places: int = 2) -> str | None:
    """Decimals cross the bus as strings; whole period averages without decimals ("9")."""
    if value is None:
        return None
    if places == 0:
        return str(value.quantize(_WHOLE))
    return str(value.quantize(_HUNDREDTH))
