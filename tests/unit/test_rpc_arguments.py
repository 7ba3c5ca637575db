"""What may reach the bus: integers every peer reads exactly; anything larger is refused before sending."""
from __future__ import annotations

import orjson
import pytest

from gateway.rpc import ArgumentOutOfRange, encode_arguments

LARGEST = 2 ** 53 - 1


@pytest.mark.parametrize("value", [0, 1, -1, LARGEST, -LARGEST])
def test_integers_within_the_safe_range_travel(value):
    assert orjson.loads(encode_arguments((), {"offset": value})) == {"args": [], "kwargs": {"offset": value}}


@pytest.mark.parametrize("value", [LARGEST + 1, -LARGEST - 1, 2 ** 63, 94853991111313752064, 10 ** 36])
@pytest.mark.parametrize("where", ["kwarg", "arg", "nested"])
def test_larger_integers_are_refused_wherever_they_are(value, where):
    args, kwargs = {"kwarg": ((), {"offset": value}), "arg": ((value,), {}),
                    "nested": ((), {"filters": {"ids": [1, value]}})}[where]
    with pytest.raises(ArgumentOutOfRange, match="too large"):
        encode_arguments(args, kwargs)


def test_values_json_cannot_carry_are_still_a_type_error():
    with pytest.raises(TypeError):
        encode_arguments((), {"x": object()})
