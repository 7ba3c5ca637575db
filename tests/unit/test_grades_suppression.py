"""Statistics suppression, case by case (services/grades/suppression.py)."""
from __future__ import annotations

import pytest

from services.grades.suppression import Cell, suppress


@pytest.mark.parametrize("cells, total, expected", [
    # every cell from at least 5 pupils: all shown
    ({"a": Cell(5, 10), "b": Cell(7, 3)}, 12, {"a": 10, "b": 3}),
    # one pupil's single grade (the old GET /v1/stats/grades bug): the whole row rests on 1 pupil
    ({"mate": Cell(1, "10.00")}, 1, {"mate": None}),
    # one small cell beside a total: a second cell goes too, the smallest one shown
    ({"a": Cell(2, 2), "b": Cell(6, 6), "c": Cell(9, 9)}, 17, {"a": None, "b": None, "c": 9}),
    # two small cells: neither can be derived from the total alone
    ({"a": Cell(2, 2), "b": Cell(3, 3), "c": Cell(9, 9)}, 14, {"a": None, "b": None, "c": 9}),
    # no total published: no complementary suppression
    ({"a": Cell(2, 2), "b": Cell(6, 6)}, None, {"a": None, "b": 6}),
    # zero cells stay shown and are not picked as the complement
    ({"a": Cell(0, 0), "b": Cell(4, 4), "c": Cell(8, 8), "d": Cell(6, 6)}, 18,
     {"a": 0, "b": None, "c": 8, "d": None}),
])
def test_suppress(cells, total, expected):
    assert suppress(cells, total_pupils=total) == expected


def test_a_suppressed_cell_cannot_be_recovered_from_the_total():
    cells = {v: Cell(p, p) for v, p in ((1, 1), (5, 6), (8, 7), (10, 12))}
    shown = suppress(cells, total_pupils=26)
    assert sum(1 for v in shown.values() if v is None) >= 2
