"""The gateway reads a catalog-export upload as it arrives (`gateway.json_sections`): whatever the
pieces it comes in, the members and array elements are exactly what `json.loads` sees; a broken
document is refused with a 422 naming where."""
from __future__ import annotations

import json
import random

import pytest

from gateway.json_sections import SectionStream
from gateway.routes.rights_grades import SECTIONS
from services.grades.portability import SECTIONS as SERVICE_SECTIONS
from services.kernel.errors import InvalidInput

DOC = {"format": "catalog-export", "version": 10, "exported_at": "2027-07-01T08:00:00+00:00",
       "source": {"tenant_id": "t-1", "nested": [1, {"a": [2, 3]}]}, "sections": ["grades", "classes"],
       "classes": [{"id": "c1", "name": "a IX-a A", "level": 9}, {"id": "c2", "name": "Clasa pregătitoare „Ț”"}],
       "grades": [{"id": f"g{i}", "value": i % 10 + 1, "comment": "ș]ț,\"}{" * (i % 3)} for i in range(50)],
       "empty": [], "flag": True, "nothing": None, "number": -12.5e3}


def events_of(pieces) -> list:
    stream, out = SectionStream(), []
    for piece in pieces:
        out += list(stream.feed(piece))
    return out + list(stream.end())


def expected() -> list:
    out = []
    for key, value in DOC.items():
        if isinstance(value, list):
            out += [("element", key, v) for v in value]
        else:
            out.append(("member", key, value))
    return out


@pytest.mark.parametrize("indent", [None, 2])
def test_any_split_of_the_body_gives_the_same_members_and_elements(indent):
    raw = json.dumps(DOC, ensure_ascii=False, indent=indent).encode()
    assert events_of([raw]) == expected()
    assert events_of([raw[i:i + 1] for i in range(len(raw))]) == expected()  # byte by byte (UTF-8 split too)
    rng = random.Random(7)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(raw)), 12))
        assert events_of([raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])]) == expected()


@pytest.mark.parametrize("body, where", [
    (b"[1, 2]", "a JSON object is expected"), (b'{"a": 1', "ends too early"), (b'{"a": 1,}', "member name"),
    (b'{"a" 1}', "':' is expected"), (b'{"a": [1 2]}', "',' or ']'"), (b'{"a": 1} x', "follows the document"),
    (b'{"a": [{"b": }]}', "at character"), (b'{"a": "\\xff"}'.replace(b"\\xff", b"\xff"), "not UTF-8"),
    (b"", "ends too early"), (b'{"a": tru}', "at character"),
])
def test_a_broken_body_is_refused_naming_where(body, where):
    with pytest.raises(InvalidInput, match=where):
        events_of([body])


def test_the_gateway_knows_the_formats_sections():
    assert SECTIONS == set(SERVICE_SECTIONS)
