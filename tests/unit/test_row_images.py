"""Row images for the backups' change log are written by one orjson call per row
(`row_changes._dumps`): byte for byte what encoding each value with the export's
`tenant_data.encode_value` first gives, for every kind of value a row holds."""
from __future__ import annotations

import datetime as dt
import decimal
import uuid

import orjson
import pytest

from services.kernel.row_changes import _dumps
from services.kernel.tenant_data import encode_value

ROW = {
    "id": 7, "name": "Ștefan Țăranu", "empty": None, "average": 9.25, "passed": True,
    "at": dt.datetime(2026, 12, 2, 22, 46, 31, 357926, tzinfo=dt.timezone.utc),
    "naive_at": dt.datetime(2026, 12, 2, 8, 0), "day": dt.date(2026, 9, 8), "hour": dt.time(8, 30),
    "fee": decimal.Decimal("12.50"), "leaf_hash": bytes(range(32)), "token": uuid.UUID(int=5),
    "quote": 'a"b\\c\n\u0001',
}


def test_an_image_is_what_encoding_each_value_first_gives():
    expected = orjson.dumps({k: encode_value(v) for k, v in ROW.items()}).decode()
    assert _dumps(ROW) == expected
    assert _dumps([7, "k"]) == orjson.dumps([7, "k"]).decode()


def test_a_value_no_row_holds_is_refused():
    with pytest.raises(TypeError):
        _dumps({"x": object()})
