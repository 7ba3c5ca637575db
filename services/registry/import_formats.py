"""Streaming readers of import files (CSV, XLSX, XML) over an iterator of byte chunks.

None of them holds the whole file: CSV is decoded and split line by line; XML is parsed
incrementally by defusedxml (no DTD, so no entities, no external references, no billion
laughs); XLSX, a zip that needs random access, is spooled to a temporary file of the registry
(in memory up to a few MB) and read by openpyxl in read-only mode, row by row.
Each reader yields `(row number, {column: text})` after checking the header.
"""
from __future__ import annotations

import codecs
import csv
import tempfile
from typing import Iterable, Iterator

from .templates import header_problems

_CP1250_ROMANIAN = {0xBA, 0xAA, 0xFE, 0xDE, 0xE3, 0xC3, 0xE2, 0xC2, 0xEE, 0xCE}


class FileProblem(Exception):
    """The whole file is refused (encoding, header, structure): nothing of it is imported."""

    def __init__(self, message: str, problems: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or [{"row": 0, "field": "(file)", "message": message}]


def _not_utf8(chunk: bytes, exc: UnicodeDecodeError) -> FileProblem:
    if chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return FileProblem("the file is UTF-16 (Excel's «Unicode text»); save it as «CSV UTF-8» and import it again")
    bad = chunk[exc.start:exc.start + 1]
    if bad and bad[0] in _CP1250_ROMANIAN:
        return FileProblem("the file is not UTF-8: it looks like Windows-1250 (ANSI), where „ș” is the byte 0xBA; "
                           "save it from Excel as «CSV UTF-8 (delimitat prin virgulă)» and import it again")
    return FileProblem(f"the file is not valid UTF-8 (byte 0x{bad[:1].hex()} cannot be decoded); save it as UTF-8")


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise _not_utf8(chunk, exc) from None
        pending += text
        start = 0
        while True:
            end = pending.find("\n", start)
            if end < 0:
                break
            yield pending[start:end + 1]
            start = end + 1
        pending = pending[start:]
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FileProblem("the file ends in the middle of a UTF-8 character") from None
    if pending:
        yield pending


def _check_header(header: list[str]) -> list[str]:
    header = [h.strip().lower() for h in header]
    problems = header_problems(header)
    if problems:
        raise FileProblem("the header row is not valid: " + "; ".join(f"{p['field']}: {p['message']}"
                                                                      for p in problems[:5]), problems)
    return header


def iter_csv(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict]]:
    lines = _lines(chunks)
    first = next(lines, None)
    if first is None or not first.strip():
        raise FileProblem("the file is empty: the first row must name the columns")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(_chain(first, lines), delimiter=delimiter)
    try:
        header = _check_header(next(reader))
        width = len(header)
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) > width:
                yield reader.line_num, {"__problem__": f"the row has {len(cells)} cells, the header {width}"}
                continue
            yield reader.line_num, dict(zip(header, cells))
    except csv.Error as exc:
        raise FileProblem(f"the CSV structure is broken near line {reader.line_num}: {exc}") from None


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def iter_xlsx(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException
    import zipfile
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        try:
            book = load_workbook(spool, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise FileProblem(f"the file is not an Excel workbook (.xlsx): {type(exc).__name__}") from None
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            first = next(rows, None)
            if not first:
                raise FileProblem("the first sheet is empty: its first row must name the columns")
            header = _check_header([str(c) if c is not None else "" for c in first])
            for number, cells in enumerate(rows, start=2):
                if not cells or all(c is None or str(c).strip() == "" for c in cells):
                    continue
                yield number, {h: _cell(c) for h, c in zip(header, cells) if h}
        finally:
            book.close()


def _cell(value) -> str | None:
    if value is None:
        return None
    if hasattr(value, "date") and hasattr(value, "hour"):  # a datetime: Excel stores dates so
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _ChunkStream:
    """A read()-able view of the chunks, for the incremental XML parser."""

    def __init__(self, chunks: Iterable[bytes]):
        self._it = iter(chunks)
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            try:
                self._buf += next(self._it)
            except StopIteration:
                break
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out


def iter_xml(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict]]:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse
    number = 1
    header_checked: set[str] = set()
    try:
        for event, elem in iterparse(_ChunkStream(chunks), events=("end",), forbid_dtd=True,
                                     forbid_entities=True, forbid_external=True):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag != "row":
                continue
            number += 1
            values = {}
            for child in elem:
                name = child.tag.rsplit("}", 1)[-1].lower()
                if name in values:
                    values["__problem__"] = f"the element {name} appears twice in this row"
                values[name] = (child.text or "").strip()
            new = set(values) - header_checked - {"__problem__"}
            if new:
                problems = [p for p in header_problems(sorted(new | {"external_id"})) if p["field"] in new]
                if problems:
                    raise FileProblem(f"row {number}: " + "; ".join(f"{p['field']}: {p['message']}"
                                                                    for p in problems[:5]), problems)
                header_checked |= new
            yield number, values
            elem.clear()
    except DefusedXmlException as exc:
        raise FileProblem("the XML declares a DTD, entities or external references, which are refused "
                          f"(no entities, no external references): {type(exc).__name__}") from None
    except ParseError as exc:
        raise FileProblem(f"the XML is not well-formed: {exc}") from None


READERS = {"csv": iter_csv, "xlsx": iter_xlsx, "xml": iter_xml}
