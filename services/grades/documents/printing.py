"""Printouts, generated files and year-end jobs over a session (no broker, no web).

A generated file is written in chunks (`document_chunks`) as it is read from the renderer's
spool, so no file is held whole in memory and any replica of the service can serve it.
Every printout is recorded (what, fingerprint, each pupil's digest, who, when) and is an
event in the audit trail, in the same transaction.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from typing import BinaryIO

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.kernel.errors import Forbidden, NotFound
from services.kernel.identity import Principal, Role

from ..models import SchoolClass
from .models import DocumentChunk, DocumentFile, DocumentJob, DocumentPrintout

CHUNK_BYTES = 256 * 1024
# a single download's file is kept this long (the gateway streams it at once); a job's stays
DOWNLOAD_TTL_SECONDS = 3600
# a running job that has not moved for this long is reported as interrupted (its process ended)
JOB_STALL_SECONDS = 600
PDF, XLSX = "application/pdf", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FACTS = {"year_catalog": "catalog_printed", "report_card": "report_card_printed", "catalog_xlsx": "catalog_exported"}
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def file_name(*parts: str, ext: str) -> str:
    """A Romanian file name, diacritics kept, without characters no file system accepts."""
    name = " – ".join(_UNSAFE.sub("-", unicodedata.normalize("NFC", p)).strip() for p in parts if p)
    return f"{name[:180]}.{ext}"


def class_header(session: Session, principal: Principal, class_id: str) -> SchoolClass:
    klass = session.get(SchoolClass, class_id) if isinstance(class_id, str) else None
    if klass is None or klass.tenant_id != principal.tenant_id:
        raise NotFound("class not found")
    return klass


def store_file(session: Session, principal: Principal, spool: BinaryIO, *, name: str, content_type: str,
               job_id: str | None = None, class_id: str | None = None, fingerprint: str | None = None) -> dict:
    row = DocumentFile(tenant_id=principal.tenant_id, owner_id=principal.user_id, job_id=job_id, class_id=class_id,
                       name=name, content_type=content_type, status="ready", fingerprint=fingerprint)
    session.add(row)
    session.flush()
    digest, size, seq = hashlib.sha256(), 0, 0
    spool.seek(0)
    while chunk := spool.read(CHUNK_BYTES):
        part = DocumentChunk(file_id=row.id, seq=seq, data=chunk)
        session.add(part)
        session.flush()
        session.expunge(part)  # written: the session does not keep the file's bytes
        digest.update(chunk)
        size, seq = size + len(chunk), seq + 1
    row.size, row.chunks, row.sha256 = size, seq, digest.hexdigest()
    return file_dict(row)


def failed_file(session: Session, principal: Principal, *, name: str, job_id: str, class_id: str, error: str) -> dict:
    row = DocumentFile(tenant_id=principal.tenant_id, owner_id=principal.user_id, job_id=job_id, class_id=class_id,
                       name=name, content_type=PDF, status="failed", error=error[:500])
    session.add(row)
    session.flush()
    return file_dict(row)


def file_dict(f: DocumentFile) -> dict:
    return {"id": f.id, "name": f.name, "content_type": f.content_type, "size": f.size, "chunks": f.chunks,
            "sha256": f.sha256, "fingerprint": f.fingerprint, "status": f.status, "error": f.error,
            "class_id": f.class_id, "job_id": f.job_id}


def purge_expired_downloads(session: Session, principal: Principal) -> int:
    """Single downloads older than the TTL (job files stay with their job)."""
    old = select(DocumentFile.id).where(DocumentFile.tenant_id == principal.tenant_id, DocumentFile.job_id.is_(None),
                                        DocumentFile.created_at < time.time() - DOWNLOAD_TTL_SECONDS)
    ids = list(session.scalars(old))
    if ids:
        session.execute(delete(DocumentChunk).where(DocumentChunk.file_id.in_(ids)))
        session.execute(delete(DocumentFile).where(DocumentFile.id.in_(ids)))
    return len(ids)


def _readable_file(session: Session, principal: Principal, file_id: str) -> DocumentFile:
    row = session.get(DocumentFile, file_id) if isinstance(file_id, str) else None
    if row is None or row.tenant_id != principal.tenant_id:
        raise NotFound("document not found")
    if row.owner_id != principal.user_id and not (row.job_id and Role.DIRECTOR in principal.roles):
        raise NotFound("document not found")
    return row


def read_chunk(session: Session, principal: Principal, file_id: str, seq: int) -> bytes:
    row = _readable_file(session, principal, file_id)
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < max(row.chunks, 1):
        raise NotFound("no such part of the document")
    chunk = session.get(DocumentChunk, (row.id, seq))
    return chunk.data if chunk else b""


def get_file(session: Session, principal: Principal, file_id: str) -> dict:
    return file_dict(_readable_file(session, principal, file_id))


def record_printout(session: Session, emit, principal: Principal, *, kind: str, data: dict, fingerprint: str,
                    digests: dict[str, str], student_id: str | None = None, file: dict | None = None,
                    job_id: str | None = None, purged: int = 0) -> dict:
    row = DocumentPrintout(tenant_id=principal.tenant_id, kind=kind, class_id=data["class"]["id"],
                           class_name=data["class"]["name"], school_year=data["class"]["school_year"],
                           period_id=data.get("period_id"), student_id=student_id, fingerprint=fingerprint,
                           pupil_digests=json.dumps(digests, sort_keys=True), printed_by=principal.user_id,
                           job_id=job_id)
    session.add(row)
    session.flush()
    after = {**printout_dict(row), "file_id": (file or {}).get("id"), "file_sha256": (file or {}).get("sha256")}
    if purged:
        after["expired_downloads_removed"] = purged
    emit(session, FACTS[kind], entity_type="class", entity_id=row.class_id, after=after)
    return printout_dict(row)


def printout_dict(p: DocumentPrintout) -> dict:
    return {"id": p.id, "kind": p.kind, "class_id": p.class_id, "class_name": p.class_name,
            "school_year": p.school_year, "period_id": p.period_id, "student_id": p.student_id,
            "fingerprint": p.fingerprint, "printed_by": p.printed_by, "printed_at": p.printed_at, "job_id": p.job_id}


def find_printout(session: Session, principal: Principal, fingerprint: str) -> dict:
    row = session.scalars(select(DocumentPrintout).where(
        DocumentPrintout.tenant_id == principal.tenant_id, DocumentPrintout.fingerprint == fingerprint)
        .order_by(DocumentPrintout.printed_at.desc()).limit(1)).first()
    if row is None:
        raise NotFound("no printout of your school has this fingerprint")
    return {**printout_dict(row), "pupil_digests": json.loads(row.pupil_digests)}


# --- year-end jobs --------------------------------------------------------------------------------

def start_job(session: Session, emit, principal: Principal, *, school_year: str, classes: int) -> dict:
    row = DocumentJob(tenant_id=principal.tenant_id, school_year=school_year, requested_by=principal.user_id,
                      status="running", total=classes)
    session.add(row)
    session.flush()
    emit(session, "year_end_set_started", entity_type="document_job", entity_id=row.id, after=job_dict(row))
    return job_dict(row)


def job_progress(session: Session, job_id: str, *, ok: bool) -> None:
    column = DocumentJob.done if ok else DocumentJob.failed
    session.execute(update(DocumentJob).where(DocumentJob.id == job_id)
                    .values({column: column + 1, DocumentJob.heartbeat_at: time.time()}))


def finish_job(session: Session, emit, job_id: str) -> dict:
    row = session.get(DocumentJob, job_id)
    before = job_dict(row)
    row.status, row.finished_at = "done", time.time()
    emit(session, "year_end_set_generated", entity_type="document_job", entity_id=row.id, after=job_dict(row),
         before=before)
    return job_dict(row)


def job_dict(j: DocumentJob) -> dict:
    status = j.status
    if status == "running" and (j.heartbeat_at or j.created_at) < time.time() - JOB_STALL_SECONDS:
        status = "interrupted"
    return {"id": j.id, "school_year": j.school_year, "status": status, "total": j.total, "done": j.done,
            "failed": j.failed, "progress": f"{j.done + j.failed}/{j.total}", "created_at": j.created_at,
            "finished_at": j.finished_at}


def get_job(session: Session, principal: Principal, job_id: str, *, with_files: bool = True) -> dict:
    if Role.DIRECTOR not in principal.roles:
        raise Forbidden("only the director generates the school's year-end set")
    row = session.get(DocumentJob, job_id) if isinstance(job_id, str) else None
    if row is None or row.tenant_id != principal.tenant_id:
        raise NotFound("job not found")
    result = job_dict(row)
    if with_files:
        files = session.scalars(select(DocumentFile).where(DocumentFile.job_id == row.id)
                                .order_by(DocumentFile.name)).all()
        result["files"] = [file_dict(f) for f in files]
    return result
