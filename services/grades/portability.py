"""A school's portability (issue 11 §6): its whole catalog out as one documented, versioned JSON
document (`catalog-export` version 1, `docs/catalog-export-format.md`, JSON Schema
`docs/schemas/catalog-export.v1.schema.json`), and back into a fresh tenant.

Export: one consistent snapshot (the kernel's tenant export sessions: PostgreSQL's exported
snapshot, SQLite's read transaction), read section by section in keyset pages, so the gateway
streams the document and nothing is built whole in memory. Each section is one table of the
catalog; a record is the row without `tenant_id` (dates ISO text; a period mark names
`subject_id`, null for conduct).

Import: into a tenant with no catalog yet (409 otherwise), in one transaction (every row or none).
The gateway parses the upload as it arrives and stages its records in chunks of at most 1,000
(`start_import`, `add_import_chunk`); `finish_import` then inserts them section by section, one
chunk in memory at a time, and removes the staging.
Registry person ids (`student_id`) and account ids (teachers, actors) are kept as they are; the
catalog's own row ids are re-derived for the target tenant, `UUIDv5(IMPORT_NAMESPACE,
"<target tenant>:<id>")`, and so is every reference to them (school year, period, class, subject,
grade, motivation request; thesis periods; the subject keys of frozen annual averages): ids never
collide with the source's even on the same platform, and exporting the target again gives the
source's document with its ids mapped by that one function.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import delete, exc as sa_exc, func, insert, select, update

from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.tenant_data import ExportSessions, decode_row

from .models import Base, SchoolClass, SchoolImport, SchoolImportChunk, SchoolYear, Subject

FORMAT, VERSION = "catalog-export", 1
IMPORT_NAMESPACE = uuid.UUID("6b0e5a7c-3f1d-5b8e-9c2a-1d4f7e8a9b0c")
MAX_PAGE = 1000

# section → table, in the order they are written and imported (parents first)
SECTIONS: dict[str, str] = {
    "school_years": "school_years", "periods": "periods", "subjects": "subjects", "classes": "classes",
    "curriculum": "curriculum", "teaching_assignments": "teaching_assignments", "rosters": "class_students",
    "delegations": "delegations", "motivation_requests": "motivation_requests", "grades": "grades",
    "grade_versions": "grade_versions", "period_marks": "final_marks", "absences": "absences",
    "amendments": "amendments", "year_results": "year_results", "reexaminations": "reexaminations",
    "grade_disputes": "grade_disputes",
}
# per section: the columns holding ids of the catalog's own rows (re-derived on import)
REFERENCES: dict[str, tuple[str, ...]] = {
    "school_years": (), "periods": ("school_year_id",), "subjects": (), "classes": (),
    "curriculum": ("class_id", "subject_id"), "teaching_assignments": ("class_id", "subject_id"),
    "rosters": ("class_id",), "delegations": ("class_id", "subject_id"), "motivation_requests": ("class_id",),
    "grades": ("class_id", "subject_id", "period_id"), "grade_versions": ("grade_id",),
    "period_marks": ("class_id", "period_id", "subject_id"),
    "absences": ("class_id", "subject_id", "period_id", "request_id"),
    "amendments": ("period_id", "class_id", "subject_id"), "year_results": ("school_year_id", "class_id"),
    "reexaminations": ("class_id", "subject_id"), "grade_disputes": ("grade_id", "class_id", "subject_id"),
}


def _require_admin(principal: Principal) -> None:
    require(principal, Role.SCHOOL_ADMIN)


# --- export -------------------------------------------------------------------------------------------

def header(principal: Principal, as_of: str) -> dict:
    return {"format": FORMAT, "version": VERSION, "exported_at": as_of,
            "source": {"tenant_id": principal.tenant_id}, "sections": list(SECTIONS)}


def to_record(section: str, row: dict) -> dict:
    """A table row (as the kernel's export encodes it) as the format's record."""
    out = {k: v for k, v in row.items() if k != "tenant_id"}
    if section == "period_marks":
        key = out.pop("subject_key")
        out["subject_id"] = None if key == "-" else key
    return out


def open_export(exports: ExportSessions, principal: Principal) -> dict:
    _require_admin(principal)
    opened = exports.open(principal.tenant_id)
    return {"session_id": opened["session_id"], "snapshot": opened["snapshot"],
            "header": header(principal, opened["as_of"])}


def export_page(exports: ExportSessions, principal: Principal, *, session_id: str, snapshot: str | None,
                section: str, after: list | None = None, limit: int = MAX_PAGE) -> dict:
    _require_admin(principal)
    if section not in SECTIONS:
        raise InvalidInput("section must be one of: " + ", ".join(SECTIONS))
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
    page = exports.chunk(str(session_id), snapshot, principal.tenant_id, SECTIONS[section], after, limit)
    return {"section": section, "records": [to_record(section, r) for r in page["rows"]], "next": page["next"]}


def close_export(exports: ExportSessions, principal: Principal, *, session_id: str) -> dict:
    _require_admin(principal)
    return {"closed": exports.close(str(session_id))}


def export_document(exports: ExportSessions, principal: Principal, limit: int = MAX_PAGE) -> dict:
    """The whole document in memory: for tests and small tools (the gateway streams instead)."""
    opened = open_export(exports, principal)
    try:
        doc = dict(opened["header"])
        for section in SECTIONS:
            records, after = [], None
            while True:
                page = export_page(exports, principal, session_id=opened["session_id"],
                                   snapshot=opened["snapshot"], section=section, after=after, limit=limit)
                records += page["records"]
                after = page["next"]
                if after is None:
                    break
            doc[section] = records
        return doc
    finally:
        close_export(exports, principal, session_id=opened["session_id"])


# --- import -------------------------------------------------------------------------------------------

def imported_id(tenant_id: str, old_id: str) -> str:
    return str(uuid.uuid5(IMPORT_NAMESPACE, f"{tenant_id}:{old_id}"))


def has_catalog(session, tenant_id: str) -> bool:
    return any(session.scalar(select(func.count()).select_from(m).where(m.tenant_id == tenant_id)) for m in
               (SchoolYear, SchoolClass, Subject))


def _row(section: str, record: Any, tenant_id: str, index: int) -> dict:
    where = f"{section}[{index}]"
    if not isinstance(record, dict):
        raise InvalidInput(f"{where} must be an object")
    table = Base.metadata.tables[SECTIONS[section]]
    row = dict(record)
    if "tenant_id" in row:
        raise InvalidInput(f"{where}: records carry no tenant_id (the importing school's is used)")
    if section == "period_marks":
        subject = row.pop("subject_id", None)
        row["subject_key"] = "-" if subject is None else subject
    remap = lambda value: imported_id(tenant_id, value) if isinstance(value, str) and value else value  # noqa: E731
    if not isinstance(row.get("id"), str) or not row["id"]:
        raise InvalidInput(f"{where}: id is required")
    row["id"] = remap(row["id"])
    for column in REFERENCES[section]:
        if column == "subject_id" and section == "period_marks":
            row["subject_key"] = row["subject_key"] if row["subject_key"] == "-" else remap(row["subject_key"])
        elif row.get(column) is not None:
            if not isinstance(row[column], str):
                raise InvalidInput(f"{where}: {column} must be an id")
            row[column] = remap(row[column])
    if section == "curriculum" and isinstance(row.get("thesis_periods"), list):
        row["thesis_periods"] = [remap(p) for p in row["thesis_periods"]]
    if section == "year_results" and isinstance(row.get("result"), dict) \
            and isinstance(row["result"].get("annual_averages"), dict):
        row["result"] = {**row["result"], "annual_averages": {
            remap(k): v for k, v in row["result"]["annual_averages"].items()}}
    try:
        decoded = decode_row(table, row)
    except ValueError as exc:  # a date that is not one
        raise InvalidInput(f"{where}: {exc}") from exc
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from exc
    missing = sorted(c.name for c in table.c if not c.nullable and c.default is None and c.server_default is None
                     and c.name != "tenant_id" and decoded.get(c.name) is None)
    if missing:
        raise InvalidInput(f"{where}: missing " + ", ".join(missing))
    return {**decoded, "tenant_id": tenant_id}


def _check_header(header: Any) -> dict:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(f'not a catalog export: "format" must be "{FORMAT}"')
    if header.get("version") != VERSION:
        raise InvalidInput(f"this platform reads version {VERSION} of the catalog export format")
    unknown = sorted(set(header) - set(SECTIONS) - HEADER_KEYS)
    if unknown:
        raise InvalidInput("unknown sections: " + ", ".join(unknown))
    return header


HEADER_KEYS = {"format", "version", "exported_at", "source", "sections"}


def _refuse_unless_fresh(session, tenant_id: str) -> None:
    if has_catalog(session, tenant_id):
        raise Conflict("this school already has a catalog; a catalog is imported only into a fresh school")


def _store(session, principal: Principal, header: dict, batches) -> dict:
    """Insert every section's records (`batches(section)` yields lists of records, in order)."""
    tenant = principal.tenant_id
    _refuse_unless_fresh(session, tenant)
    counts: dict[str, int] = {}
    connection = session.connection()
    for section, table_name in SECTIONS.items():
        counts[section] = 0
        for records in batches(section):
            rows = [_row(section, r, tenant, counts[section] + i) for i, r in enumerate(records)]
            counts[section] += len(rows)
            # one executemany per shape (a record may leave out columns that have a default)
            shapes: dict[tuple, list[dict]] = {}
            for row in rows:
                shapes.setdefault(tuple(sorted(row)), []).append(row)
            for shape in shapes.values():
                try:
                    with connection.begin_nested():
                        connection.execute(insert(Base.metadata.tables[table_name]), shape)
                except sa_exc.StatementError as exc:  # integrity, data type, a value the driver cannot adapt
                    raise InvalidInput(f"{section}: the records could not be stored (a duplicate, a missing "
                                       "reference or a value of the wrong type)") from exc
    source = header.get("source") if isinstance(header.get("source"), dict) else {}
    return {"format": FORMAT, "version": VERSION, "counts": counts, "imported_at": time.time(),
            "source_tenant_id": str(source.get("tenant_id"))[:36] if source.get("tenant_id") else None,
            "exported_at": str(header.get("exported_at"))[:40] if header.get("exported_at") else None}


def import_document(session, emit, principal: Principal, *, document: Any) -> dict:
    """Rebuild a catalog from a whole `catalog-export` v1 document held in memory (small documents,
    tools, tests); the gateway stages a streamed upload instead (`start_import` … `finish_import`)."""
    _require_admin(principal)
    header = _check_header(document)

    def batches(section):
        records = document.get(section, [])
        if not isinstance(records, list):
            raise InvalidInput(f"{section} must be a list")
        for start in range(0, len(records), 500):
            yield records[start:start + 500]
    after = _store(session, principal, header, batches)
    emit(session, "school_imported", entity_type="tenant", entity_id=principal.tenant_id, after=after)
    return after


# --- a streamed upload: staged in chunks, then rebuilt in one transaction ------------------------------

MAX_CHUNK_RECORDS = 1000


def start_import(session, emit, principal: Principal) -> dict:
    """Open an upload into this school; refused at once if it has a catalog. An upload left
    unfinished by an earlier caller is dropped."""
    _require_admin(principal)
    _refuse_unless_fresh(session, principal.tenant_id)
    stale = select(SchoolImport.id).where(SchoolImport.tenant_id == principal.tenant_id,
                                          SchoolImport.status == "staging")
    session.execute(delete(SchoolImportChunk).where(SchoolImportChunk.import_id.in_(stale)))
    session.execute(update(SchoolImport).where(SchoolImport.id.in_(stale)).values(status="failed",
                                                                                  finished_at=time.time()))
    job = SchoolImport(tenant_id=principal.tenant_id, requested_by=principal.user_id, status="staging", counts={})
    session.add(job)
    session.flush()
    return {"import_id": job.id, "status": job.status}


def _staging(session, principal: Principal, import_id) -> SchoolImport:
    job = session.get(SchoolImport, import_id) if isinstance(import_id, str) else None
    if job is None or job.tenant_id != principal.tenant_id:
        raise NotFound("import not found")
    if job.status != "staging":
        raise Conflict("this import has ended; start a new one")
    return job


def add_import_chunk(session, principal: Principal, *, import_id: str, seq: int, section: str,
                     records: list) -> dict:
    _require_admin(principal)
    job = _staging(session, principal, import_id)
    if section not in SECTIONS:
        raise InvalidInput("unknown section: " + str(section)[:40])
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_CHUNK_RECORDS:
        raise InvalidInput(f"a chunk holds 1 to {MAX_CHUNK_RECORDS} records")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidInput("seq must be a whole number from 0")
    session.add(SchoolImportChunk(import_id=job.id, seq=seq, section=section, records=records))
    session.flush()
    return {"import_id": job.id, "seq": seq}


def finish_import(session, emit, principal: Principal, *, import_id: str, header: Any) -> dict:
    """Every staged record into the catalog, in one transaction (the caller's), or none."""
    _require_admin(principal)
    job = _staging(session, principal, import_id)
    header = _check_header(header)

    def batches(section):
        seqs = session.scalars(select(SchoolImportChunk.seq).where(SchoolImportChunk.import_id == job.id,
                                                                   SchoolImportChunk.section == section)
                               .order_by(SchoolImportChunk.seq)).all()
        for seq in seqs:  # one chunk in memory at a time
            chunk = session.get(SchoolImportChunk, (job.id, seq))
            records = chunk.records
            session.expunge(chunk)
            yield records
    after = _store(session, principal, header, batches)
    session.execute(delete(SchoolImportChunk).where(SchoolImportChunk.import_id == job.id))
    job.status, job.counts, job.finished_at = "imported", after["counts"], time.time()
    emit(session, "school_imported", entity_type="tenant", entity_id=principal.tenant_id,
         after={**after, "import_id": job.id})
    return {**after, "import_id": job.id}


def abandon_import(session, principal: Principal, *, import_id: str) -> dict:
    """The staged records of an import that failed or was given up are removed."""
    _require_admin(principal)
    job = _staging(session, principal, import_id)
    session.execute(delete(SchoolImportChunk).where(SchoolImportChunk.import_id == job.id))
    job.status, job.finished_at = "failed", time.time()
    return {"import_id": job.id, "status": job.status}
