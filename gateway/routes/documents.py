"""Printed documents (CAT-10): the year-end class catalog, report cards, the XLSX export, the
verification of a printout, and a whole school's year-end set generated in the background.

Files are made and stored by the grades service in chunks; these routes stream them chunk by
chunk (never whole in the gateway's memory) with the right content type and a Romanian file
name in `Content-Disposition` (an ASCII `filename=` and the exact `filename*=UTF-8''...`).
"""
from __future__ import annotations

import base64
import time
import unicodedata
import zipfile
from typing import Annotated, AsyncIterator
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from services.kernel.errors import Conflict

from ..deps import Services, ServicesDep

router = APIRouter(prefix="/v1", tags=["documents"])
PeriodId = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                       description="a period of the school year; none: the whole year")]
FILE_RESPONSE = {"description": "the document, streamed", "content": {
    "application/pdf": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
    "application/zip": {}}}
_ASCII_FALLBACK = str.maketrans({"–": "-", "—": "-", "„": "", "”": "", "“": "", '"': "", "\\": "", "«": "", "»": ""})


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra={"examples": [
                                  {"code": "4da22eb2fd24504c513a5b8541b616fb14ddbd10b12c609df21fb802b1b59efa"},
                                  {"code": "https://catalog.example.ro/v1/documents/verify?f=4da22eb2fd24504c513a5b85"
                                           "41b616fb14ddbd10b12c609df21fb802b1b59efa"}]})
    code: str = Field(min_length=64, max_length=2000,
                      description="the fingerprint printed on the document, or the text of its QR code")


class YearEndSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra={"examples": [{"school_year": "2025-2026"}]})
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$", description="the school year whose classes are printed")


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback (diacritics dropped) and the exact UTF-8 name (RFC 5987/6266)."""
    plain = unicodedata.normalize("NFKD", name.translate(_ASCII_FALLBACK))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).encode("ascii", "ignore").decode()
    plain = " ".join(plain.split()) or "document"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _chunks(services: Services, file: dict) -> AsyncIterator[bytes]:
    for seq in range(file["chunks"]):
        part = await services.call("grades", "documents_chunk", file_id=file["id"], seq=seq)
        yield base64.b64decode(part["data"])


def _stream(services: Services, made: dict) -> StreamingResponse:
    file = made["file"]
    headers = {"Content-Disposition": content_disposition(file["name"]), "Content-Length": str(file["size"]),
               "X-Document-Fingerprint": made["fingerprint"], "X-Document-Sha256": file["sha256"] or "",
               "Cache-Control": "no-store"}
    return StreamingResponse(_chunks(services, file), media_type=file["content_type"], headers=headers)


@router.get("/classes/{class_id}/documents/year-end-catalog.pdf", response_class=StreamingResponse,
            responses={200: FILE_RESPONSE},
            summary="The class's year-end catalog (PDF) for the director to sign",
            description="Cover page, a page per pupil (every grade, thesis, averages, absences, conduct, "
                        "situation, amendments), closing page with signature fields and stamp area. Every page "
                        "carries the SHA-256 fingerprint of the record and a QR code to verify it "
                        "(`X-Document-Fingerprint`). The director, or the class's homeroom teacher. "
                        "Printing is recorded in the audit trail (`grades.catalog_printed`).")
async def year_end_catalog(class_id: UUID, services: ServicesDep):
    return _stream(services, await services.call("grades", "documents_class_catalog_pdf", class_id=str(class_id)))


@router.get("/classes/{class_id}/documents/catalog.xlsx", response_class=StreamingResponse,
            responses={200: FILE_RESPONSE},
            summary="The class catalog as a spreadsheet (XLSX) for the school's own records",
            description="A summary sheet and one sheet per subject. The director or the homeroom teacher "
                        "(`grades.catalog_exported`).")
async def catalog_xlsx(class_id: UUID, services: ServicesDep):
    return _stream(services, await services.call("grades", "documents_class_catalog_xlsx", class_id=str(class_id)))


@router.get("/classes/{class_id}/students/{student_id}/report-card.pdf", response_class=StreamingResponse,
            responses={200: FILE_RESPONSE},
            summary="A pupil's report card (PDF) for a period or the whole year",
            description="The director and the homeroom teacher; a parent for their own child; a pupil their "
                        "own. Without `period_id`, the whole year (`grades.report_card_printed`).")
async def report_card(class_id: UUID, student_id: UUID, services: ServicesDep, period_id: PeriodId = None):
    return _stream(services, await services.call("grades", "documents_report_card_pdf", class_id=str(class_id),
                                                 student_id=str(student_id), period_id=period_id))


_VERIFY_DESCRIPTION = ("Answers `matches` when the printout is the current record of its class and year, or "
                       "`changed` (\"the record changed after this printout\") with the pupils whose record "
                       "changed and the amendments approved since it was printed. The director, or the "
                       "class's homeroom teacher.")


@router.post("/documents/verify", summary="Verify a printed document by its fingerprint or QR code",
             description=_VERIFY_DESCRIPTION)
async def verify(body: VerifyIn, services: ServicesDep):
    return await services.call("grades", "documents_verify", text=body.code)


@router.get("/documents/verify", summary="Verify a printed document (the address its QR code holds)",
            description=_VERIFY_DESCRIPTION)
async def verify_link(services: ServicesDep,
                      f: Annotated[str, Query(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$",
                                              description="the fingerprint")]):
    return await services.call("grades", "documents_verify", text=f)


@router.post("/documents/year-end-sets", status_code=202,
             summary="Generate the year-end catalogs of every class of the school (background job)",
             description="Answers at once with the job; `GET` it for progress (classes done out of the total) "
                         "and download the archive when it is done. A class that fails is reported and does "
                         "not stop the others. The director only.")
async def start_year_end_set(body: YearEndSetIn, services: ServicesDep):
    return await services.call("grades", "documents_start_year_end_set", school_year=body.school_year)


@router.get("/documents/year-end-sets/{job_id}", summary="Progress and files of a year-end set",
            description="`progress` is classes done (or failed) out of the total; `files` lists each class's "
                        "PDF, or why it failed. The director only.")
async def year_end_set(job_id: UUID, services: ServicesDep):
    return await services.call("grades", "documents_job", job_id=str(job_id))


class _Sink:
    """A write-only stream for zipfile: what it wrote is taken out piece by piece."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


async def _archive(services: Services, job: dict) -> AsyncIterator[bytes]:
    sink = _Sink()
    now = time.localtime()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        failures = []
        for file in job["files"]:
            if file["status"] != "ready":
                failures.append(f"{file['name']}: {file['error']}")
                continue
            info = zipfile.ZipInfo(file["name"], date_time=now)
            info.file_size = file["size"]
            with archive.open(info, "w") as member:
                async for chunk in _chunks(services, file):
                    member.write(chunk)
                    yield sink.take()
        if failures:
            archive.writestr(zipfile.ZipInfo("Clase negenerate.txt", date_time=now),
                             "\n".join(failures).encode("utf-8"))
    yield sink.take()


@router.get("/documents/year-end-sets/{job_id}/archive.zip", response_class=StreamingResponse,
            responses={200: FILE_RESPONSE, 409: {"description": "the set is still being generated"}},
            summary="Download a finished year-end set (ZIP of the classes' PDFs), streamed",
            description="The director only.")
async def year_end_set_archive(job_id: UUID, services: ServicesDep):
    job = await services.call("grades", "documents_job", job_id=str(job_id))
    if job["status"] == "running":
        raise Conflict(f"the set is still being generated ({job['progress']} classes)")
    name = f"Cataloage de sfârșit de an {job['school_year']}.zip"
    return StreamingResponse(_archive(services, job), media_type="application/zip",
                             headers={"Content-Disposition": content_disposition(name), "Cache-Control": "no-store"})
