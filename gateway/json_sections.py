"""Read a JSON object whose large members are arrays, as it arrives: the top-level members that are
not arrays come out whole (a header), each array's elements one at a time. Used by
`POST /v1/school-import`, so a school's catalog is never held whole in the gateway.

No dependency: each value is decoded by the standard library's `JSONDecoder.raw_decode`; a value
is accepted only once a delimiter after it has arrived (so `1` is not taken for the start of `10`,
nor `-12` for `-12.5`), and the buffer is trimmed behind the decoded values.
"""
from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any

from services.kernel.errors import InvalidInput

_WS = " \t\r\n"
_DELIMITERS = _WS + ",]}:"
_DECODER = json.JSONDecoder()


class SectionStream:
    """`feed(bytes)` and `end()` yield ("member", key, value) for a non-array top-level member,
    ("element", key, value) for each element of an array member."""

    def __init__(self, max_key: int = 100):
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._state = "start"  # start | key | colon | value | element | after_element | after_member | done
        self._key: str | None = None
        self._max_key = max_key
        self._consumed = 0  # characters trimmed away, for error positions

    def _fail(self, what: str) -> InvalidInput:
        return InvalidInput(f"the body is not a catalog-export JSON document: {what} "
                            f"(at character {self._consumed + self._pos})")

    def feed(self, data: bytes) -> Iterator[tuple[str, str, Any]]:
        try:
            self._buf += self._text.decode(data)
        except UnicodeDecodeError as exc:
            raise self._fail("not UTF-8") from exc
        yield from self._run(final=False)
        if self._pos > 65536:  # forget what has been decoded
            self._consumed += self._pos
            self._buf, self._pos = self._buf[self._pos:], 0

    def end(self) -> Iterator[tuple[str, str, Any]]:
        try:
            self._buf += self._text.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise self._fail("not UTF-8") from exc
        yield from self._run(final=True)
        self._skip_ws()
        if self._state != "done":
            raise self._fail("it ends too early")
        if self._pos < len(self._buf):
            raise self._fail("something follows the document")

    def _skip_ws(self) -> bool:
        """Skip whitespace; False when the buffer ran out."""
        while self._pos < len(self._buf) and self._buf[self._pos] in _WS:
            self._pos += 1
        return self._pos < len(self._buf)

    def _value(self, final: bool) -> tuple[bool, Any]:
        """(True, value) when a whole value is in the buffer, (False, None) to wait for more."""
        try:
            value, end = _DECODER.raw_decode(self._buf, self._pos)
        except json.JSONDecodeError as exc:
            if final:
                raise self._fail(exc.msg) from exc
            return False, None
        if not final and (end >= len(self._buf) or self._buf[end] not in _DELIMITERS):
            return False, None  # a number may go on in the next piece ("1" of "10", "-12" of "-12.5")
        self._pos = end
        return True, value

    def _run(self, final: bool) -> Iterator[tuple[str, str, Any]]:
        while self._state != "done":
            if not self._skip_ws():
                return
            ch = self._buf[self._pos]
            state = self._state
            if state == "start":
                if ch != "{":
                    raise self._fail("a JSON object is expected")
                self._pos += 1
                self._state = "key"
            elif state == "key":
                if ch == "}" and self._key is None:
                    self._pos += 1
                    self._state = "done"
                    continue
                if ch != '"':
                    raise self._fail("a member name is expected")
                done, key = self._value(final)
                if not done:
                    return
                if len(key) > self._max_key:
                    raise self._fail("a member name is too long")
                self._key, self._state = key, "colon"
            elif state == "colon":
                if ch != ":":
                    raise self._fail("':' is expected")
                self._pos += 1
                self._state = "value"
            elif state == "value":
                if ch == "[":
                    self._pos += 1
                    self._state = "first_element"
                    continue
                done, value = self._value(final)
                if not done:
                    return
                yield "member", self._key, value
                self._state = "after_member"
            elif state in ("first_element", "element"):
                if ch == "]" and state == "first_element":
                    self._pos += 1
                    self._state = "after_member"
                    continue
                done, value = self._value(final)
                if not done:
                    return
                yield "element", self._key, value
                self._state = "after_element"
            elif state == "after_element":
                self._pos += 1
                if ch == ",":
                    self._state = "element"
                elif ch == "]":
                    self._state = "after_member"
                else:
                    raise self._fail("',' or ']' is expected")
            elif state == "after_member":
                self._pos += 1
                if ch == ",":
                    self._state = "key"
                elif ch == "}":
                    self._state = "done"
                else:
                    raise self._fail("',' or '}' is expected")
