import pytest

from services.registry.suppression import suppress


@pytest.mark.parametrize("count,shown", [(0, 0), (1, None), (4, None), (5, 5), (120, 120)])
def test_cells_under_five_are_suppressed(count, shown):
    (row,) = suppress({("licenta", "buget"): count})
    assert row["count"] == shown and row["suppressed"] is (shown is None)


def test_rows_keep_their_keys_in_a_stable_order():
    rows = suppress({("master", "buget"): 7, ("licenta", "taxa_cpl"): 2})
    assert [r["key"] for r in rows] == [["licenta", "taxa_cpl"], ["master", "buget"]]
