"""Statistical disclosure control for the catalog's statistics (CAT-19), no database here.

A cell computed from fewer than `MINIMUM_PUPILS` pupils is suppressed (primary suppression).
Where the cells of a row add up to a published total, one suppressed cell could be derived
from the total and the others, so a second cell is suppressed with it: the smallest one still
shown (complementary suppression). A row whose total itself rests on too few pupils is
suppressed whole. Zero cells stay shown: "nobody" reveals no person.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Hashable

MINIMUM_PUPILS = 5


@dataclass(frozen=True)
class Cell:
    pupils: int  # distinct pupils the value is computed from
    value: Any


def suppress(cells: Mapping[Hashable, Cell], *, total_pupils: int | None = None,
             minimum: int = MINIMUM_PUPILS) -> dict[Hashable, Any]:
    """The published values: a suppressed cell becomes None.

    `total_pupils`: the pupils behind a published total of the row (None: no total is published,
    so no complementary suppression is needed)."""
    if total_pupils is not None and total_pupils < minimum:
        return {k: None for k in cells}
    hidden = {k for k, c in cells.items() if 0 < c.pupils < minimum}
    if total_pupils is not None and len(hidden) == 1:
        shown = sorted((c.pupils, str(k), k) for k, c in cells.items() if k not in hidden and c.pupils > 0)
        if shown:
            hidden.add(shown[0][2])
    return {k: (None if k in hidden else c.value) for k, c in cells.items()}
