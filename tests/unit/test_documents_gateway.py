"""The documents routes' own pieces: file names in Content-Disposition and the streamed ZIP."""
from __future__ import annotations

import asyncio
import base64
import io
import zipfile
from urllib.parse import unquote

from gateway.routes.documents import _archive, content_disposition


def test_content_disposition_sends_the_romanian_name_and_an_ascii_fallback():
    name = "Situația școlară – Țurcanu Ștefan – clasa a VII-a B – Semestrul I.pdf"
    header = content_disposition(name)
    assert header.startswith('attachment; filename="Situatia scolara - Turcanu Stefan - clasa a VII-a B - Semestrul I.pdf"; ')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded, encoding="utf-8") == name
    assert all(c.isascii() and c not in ' ";' for c in encoded)  # a token, as RFC 5987 requires
    assert header.isascii()
    quoted = content_disposition('Școala „Mihai Eminescu" \\ Iași.pdf')
    fallback = quoted.split('filename="', 1)[1].split('"; ', 1)[0]
    assert fallback == "Scoala Mihai Eminescu Iasi.pdf"


class FakeServices:
    def __init__(self, files: dict[str, bytes]):
        self.files = files

    async def call(self, service, method, **kw):
        assert (service, method) == ("grades", "documents_chunk")
        data = self.files[kw["file_id"]]
        return {"data": base64.b64encode(data[kw["seq"] * 5:(kw["seq"] + 1) * 5]).decode()}


def test_the_year_end_archive_is_streamed_from_the_stored_chunks():
    files = {"a": b"%PDF-first class", "b": b"%PDF-second"}
    job = {"files": [
        {"id": "a", "name": "Catalogul clasei a V-a Ă.pdf", "status": "ready", "size": 16, "chunks": 4, "error": None},
        {"id": "x", "name": "Catalogul clasei a VI-a.pdf", "status": "failed", "size": 0, "chunks": 0,
         "error": "catalogul nu a putut fi citit"},
        {"id": "b", "name": "Catalogul clasei a VIII-a Ț.pdf", "status": "ready", "size": 11, "chunks": 3, "error": None}]}

    async def collect():
        return [part async for part in _archive(FakeServices(files), job)]
    parts = asyncio.run(collect())
    assert len(parts) > 3  # piece by piece, not one buffer at the end
    archive = zipfile.ZipFile(io.BytesIO(b"".join(parts)))
    assert archive.testzip() is None
    assert archive.namelist() == ["Catalogul clasei a V-a Ă.pdf", "Catalogul clasei a VIII-a Ț.pdf",
                                  "Clase negenerate.txt"]
    assert archive.read("Catalogul clasei a V-a Ă.pdf") == files["a"]
    assert archive.read("Catalogul clasei a VIII-a Ț.pdf") == files["b"]
    assert "catalogul nu a putut fi citit" in archive.read("Clase negenerate.txt").decode()
