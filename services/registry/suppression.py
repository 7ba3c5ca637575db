"""Statistical disclosure control for the central bodies' statistics (no personal data): a
count under the threshold is suppressed, and so is a row total that would reveal it."""
from __future__ import annotations

THRESHOLD = 5


def suppress(cells: dict[tuple, int], threshold: int = THRESHOLD) -> list[dict]:
    """`{(dimension values...): count}` → rows whose small counts are replaced by None."""
    out = []
    for key, count in sorted(cells.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        small = 0 < count < threshold
        out.append({"key": list(key), "count": None if small else count, "suppressed": small})
    return out
