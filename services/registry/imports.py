"""Imports (REG-7): jobs fed in chunks over RPC, processed row by row in batches, with a per-row
report; the same row processing serves the batch upsert web service.

Modes: `validate` (report only), `all_or_nothing` (a validation pass, then every row written in
one transaction, or none), `accept_valid` (valid rows written batch by batch, the others
reported). Re-importing a file changes nothing: rows are keyed on institution + external id.
"""
from __future__ import annotations

import gc
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.kernel.db import bulk_insert
from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.identity import Principal, require
from services.kernel.logging import get_logger
from services.kernel.model_base import new_ids
from services.kernel.validation import page_args

from . import enrolments as enrolment_rules
from .fields import SECTIONS, SENSITIVE_KEYS, current_academic_year, person_footnote_problems, split_sensitive, validate_section
from .import_formats import READERS, FileProblem
from .models import Enrolment, ImportChunk, ImportJob, ImportProblem, Person, PersonLink, RecordVersion
from .nomenclatures import Vocabulary
from .persons import WRITERS, _apply_changes, _snapshot, person_dict, validate_person
from .rules import new_matriculation_code
from .sealing import seal, unseal
from .templates import split_row

log = get_logger(__name__)
MODES = ("validate", "all_or_nothing", "accept_valid")
FORMATS = tuple(READERS)
BATCH_ROWS = 500
MAX_STORED_PROBLEMS = 20_000
MAX_CHUNK_BYTES = 1024 * 1024


def job_dict(j: ImportJob) -> dict:
    elapsed = ((j.finished_at or time.time()) - j.started_at) if j.started_at else 0.0
    return {"id": j.id, "format": j.format, "mode": j.mode, "status": j.status, "message": j.message,
            "rows_done": j.rows_done, "rows_total": max(j.rows_total, j.rows_done), "rows_written": j.rows_written,
            "errors": j.errors, "rate_rows_per_second": round(j.rows_done / elapsed, 1) if elapsed > 0 else None,
            "bytes_received": j.bytes_received}


# --- receiving ---------------------------------------------------------------------------------

def start_import(session: Session, emit, principal: Principal, *, fmt: str, mode: str) -> dict:
    require(principal, *WRITERS, scope="registry:write")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
    job = ImportJob(tenant_id=principal.tenant_id, created_by=principal.user_id, actor_role=principal.role,
                    format=fmt, mode=mode, status="receiving")
    session.add(job)
    session.flush()
    emit(session, "import_started", entity_type="import_job", entity_id=job.id, after=job_dict(job))
    return job_dict(job)


def _own_job(session: Session, principal: Principal, job_id: str) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None or job.tenant_id != principal.tenant_id:
        raise NotFound("import job not found")
    return job


def add_chunk(session: Session, principal: Principal, job_id: str, *, seq: int, body: bytes) -> dict:
    require(principal, *WRITERS, scope="registry:write")
    job = _own_job(session, principal, job_id)
    if job.status != "receiving":
        raise Conflict("this import is no longer receiving data")
    if seq != job.chunks:
        raise InvalidInput(f"chunk {seq} arrived out of order (expected {job.chunks})")
    if len(body) > MAX_CHUNK_BYTES:
        raise InvalidInput("a chunk is at most 1 MiB")
    session.add(ImportChunk(job_id=job.id, seq=seq, body=body))
    job.chunks += 1
    job.bytes_received += len(body)
    # an estimate for the progress bar: lines (CSV) or <row> elements (XML)
    job.rows_total += body.count(b"\n") if job.format == "csv" else body.count(b"<row") if job.format == "xml" else 0
    return {"chunks": job.chunks, "bytes": job.bytes_received}


def finish_upload(session: Session, emit, principal: Principal, job_id: str) -> dict:
    require(principal, *WRITERS, scope="registry:write")
    job = _own_job(session, principal, job_id)
    if job.status != "receiving":
        raise Conflict("this import was already submitted")
    if job.bytes_received == 0:
        raise InvalidInput("the file is empty")
    job.status = "queued"
    if job.format == "csv":
        job.rows_total = max(job.rows_total - 1, 0)  # the header
    emit(session, "import_submitted", entity_type="import_job", entity_id=job.id, after=job_dict(job))
    return job_dict(job)


def get_job(session: Session, principal: Principal, job_id: str) -> dict:
    require(principal, *WRITERS, scope="registry:write")
    return job_dict(_own_job(session, principal, job_id))


def list_problems(session: Session, principal: Principal, job_id: str, *, after_row: int, limit: int) -> dict:
    require(principal, *WRITERS, scope="registry:write")
    _own_job(session, principal, job_id)
    limit, _ = page_args(limit, 0, max_limit=5000)
    rows = session.execute(select(ImportProblem.id, ImportProblem.row, ImportProblem.field, ImportProblem.message)
                           .where(ImportProblem.job_id == job_id, ImportProblem.id > after_row)
                           .order_by(ImportProblem.id).limit(limit)).all()
    return {"items": [{"row": r.row, "field": r.field, "message": r.message} for r in rows],
            "next": rows[-1].id if len(rows) == limit else None}


# --- processing ----------------------------------------------------------------------------------

@dataclass
class Tally:
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: int = 0
    problems: list = field(default_factory=list)


class RowProcessor:
    """Validates (and writes) rows batch by batch for one institution; no per-row round trip to
    another service, one executemany per table per batch."""

    def __init__(self, session_factory, store_emit_many, principal: Principal):
        self.principal = principal
        # what every version row of this import shares (REG-8: who, why)
        self._version_base = {"tenant_id": principal.tenant_id, "actor_id": principal.user_id,
                              "actor_role": principal.role, "reason": "import", "document_ref": None,
                              "document_date": None, "status_change": False}
        self.emit_many = store_emit_many
        self.session_factory = session_factory
        self.year = current_academic_year(date.today())
        self.vocab: Vocabulary | None = None
        self.new_cnps: dict[str, str] = {}  # CNPs of new persons seen in this file → their external id

    def batch(self, session: Session, rows: list[tuple[int, dict]], *, write: bool, tally: Tally) -> None:
        with _no_cyclic_gc():
            self._batch(session, rows, write=write, tally=tally)

    def _batch(self, session: Session, rows: list[tuple[int, dict]], *, write: bool, tally: Tally) -> None:
        if self.vocab is None:
            self.vocab = Vocabulary(session, memo=True)
        tenant = self.principal.tenant_id
        parsed = []
        for number, raw in rows:
            tally.rows += 1
            if "__problem__" in raw:
                self._bad(tally, number, "(row)", raw["__problem__"])
                continue
            ext, sections, enrolment = split_row(raw)
            if not ext:
                self._bad(tally, number, "external_id", "your id of the person is required in every row")
                continue
            parsed.append((number, ext, sections, enrolment))
        if not parsed:
            return
        exts = {p[1] for p in parsed}
        linked = dict(session.execute(select(PersonLink.external_id, PersonLink.person_id).where(
            PersonLink.tenant_id == tenant, PersonLink.external_id.in_(exts))).all())
        persons = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(set(linked.values()))))}
        new_rows, existing_rows = [], []
        for item in parsed:
            (existing_rows if item[1] in linked else new_rows).append(item)
        # new persons: full validation, then one look-up of their CNPs
        created: dict[str, dict] = {}  # external id → person row (dict) created in this batch
        candidates = []
        for number, ext, sections, enrolment in new_rows:
            if ext in created:  # another row of a person this batch creates: an extra enrolment
                existing_rows.append((number, ext, {}, enrolment))
                continue
            clean, problems = validate_person(sections, self.vocab, year=self.year)
            if problems:
                self._bad_many(tally, number, problems)
                continue
            cnp = clean["personal"].get("cnp")
            if cnp and self.new_cnps.get(cnp, ext) != ext:
                self._bad(tally, number, "personal.cnp", f"the same CNP is in another row (external_id "
                                                         f"{self.new_cnps[cnp]})")
                continue
            if cnp:
                self.new_cnps[cnp] = ext
            candidates.append((number, ext, clean, enrolment))
        cnps = {c[2]["personal"]["cnp"] for c in candidates if c[2]["personal"].get("cnp")}
        known = set(session.scalars(select(Person.cnp).where(Person.cnp.in_(cnps)))) if cnps else set()
        person_rows, link_rows, version_rows, facts, enrol_items = [], [], [], [], []
        today = date.today()
        for number, ext, clean, enrolment in candidates:
            personal = clean["personal"]
            if personal.get("cnp") in known:
                self._bad(tally, number, "personal.cnp", "this CNP is already in the registry (another institution, "
                                                         "or your own under another external id): register the "
                                                         "person through POST /v1/registry/persons and confirm the "
                                                         "match, then re-import")
                continue
            enrol_clean = self._enrolment(tally, number, ext, enrolment)
            if enrol_clean is False:
                continue
            tally.created += 1
            if not write:
                created[ext] = {}
                continue
            pid = _uuid()
            plain, secret = split_sensitive(personal)
            row = {"id": pid, "matriculation_code": new_matriculation_code(), "cnp": personal.get("cnp"),
                   "foreign_id": personal.get("foreign_id"), "citizenship": personal.get("citizenship"),
                   "last_name": personal["last_name"], "first_name": personal["first_name"],
                   "birth_date": date.fromisoformat(personal["birth_date"]) if personal.get("birth_date") else None,
                   "sex": personal.get("sex"), "status": "active", "data": {**clean, "personal": plain},
                   "sensitive": seal(pid, secret), "version": 1, "created_at": time.time()}
            person_rows.append(row)
            created[ext] = row
            link_rows.append({"id": _uuid(), "person_id": pid, "tenant_id": tenant, "external_id": ext,
                              "created_at": time.time()})
            version_rows.append(self._version("person", pid, pid, 1, _snapshot_of(row), "import", today))
            fact = {"fact": "person_imported", "entity_type": "person", "entity_id": pid,
                    "after": {"id": pid, "matriculation_code": row["matriculation_code"], "external_id": ext,
                              "status": "active"}}
            if enrol_clean:
                enrol_items.append((pid, enrol_clean, fact["after"]))
            facts.append(fact)
        # rows of persons already linked (or created above): changes, and their enrolments
        for number, ext, sections, enrolment in existing_rows:
            pid = linked.get(ext) or (created.get(ext) or {}).get("id")
            person = persons.get(pid) if pid in persons else None
            changes, problems = {}, []
            for name, values in sections.items():
                changes[name], found = validate_section(SECTIONS[name], values, self.year, self.vocab,
                                                        prefix=f"{name}.", partial=True)
                problems += found
            if problems:
                self._bad_many(tally, number, problems)
                continue
            enrol_clean = self._enrolment(tally, number, ext, enrolment)
            if enrol_clean is False:
                continue
            differs = person is not None and _differs(person, changes)
            if differs and person.status in ("graduated", "withdrawn", "expelled", "deceased"):
                self._bad(tally, number, "(row)", "the person's record is an archive: request a correction")
                continue
            if differs:
                footnotes = person_footnote_problems({**person.data.get("personal", {}),
                                                      **changes.get("personal", {})})
                if footnotes:
                    self._bad_many(tally, number, footnotes)
                    continue
            touched = differs
            if write and differs:
                before = person_dict(person)
                _apply_changes(session, person, changes)
                session.add(RecordVersion(**self._version("person", person.id, person.id, person.version,
                                                          _snapshot(person), "import", today)))
                facts.append({"fact": "person_changed", "entity_type": "person", "entity_id": person.id,
                              "after": person_dict(person), "before": before, "reason": "import"})
            if enrol_clean:
                if write and pid:
                    enrol_items.append((pid, enrol_clean, None))
                elif not write:
                    touched = True
            if touched:
                tally.changed += 1
            else:
                tally.unchanged += 1
        if write:
            if person_rows:
                bulk_insert(session, Person.__table__, person_rows)
                bulk_insert(session, PersonLink.__table__, link_rows)
            self._write_enrolments(session, enrol_items, version_rows, facts, tally)
            if version_rows:
                bulk_insert(session, RecordVersion.__table__, version_rows)
            self.emit_many(session, facts)

    def _write_enrolments(self, session, items, version_rows, facts, tally) -> None:
        if not items:
            return
        tenant, today = self.principal.tenant_id, date.today()
        exts = {e["external_id"] for _pid, e, _carrier in items}
        existing = {e.external_id: e for e in session.scalars(select(Enrolment).where(
            Enrolment.tenant_id == tenant, Enrolment.external_id.in_(exts)))}
        rows = []
        for pid, data, carrier in items:
            row = existing.get(data["external_id"])
            if row is _SEEN:
                continue
            if row is not None:
                if row.data != data and row.person_id == pid:
                    enrolment_rules._change(session, lambda s, fact, **kw: facts.append(
                        {"fact": fact, **kw}), self.principal, row, data, "import", None,
                        date.today() if data.get("end_situation") != row.data.get("end_situation") else None)
                continue
            eid = _uuid()
            existing[data["external_id"]] = _SEEN  # a repeat of this enrolment later in the batch: skipped
            rows.append({"id": eid, "person_id": pid, "tenant_id": tenant, "kind": "university",
                         "academic_year": data["academic_year"], "cycle": data["cycle"],
                         "programme": data.get("programme"), "financing": data.get("financing"),
                         "study_year": data.get("study_year"), "end_situation": data.get("end_situation"),
                         "active": True, "external_id": data["external_id"], "class_id": None, "data": data,
                         "version": 1, "created_at": time.time()})
            version_rows.append(self._version("enrolment", eid, pid, 1, data, "import", today))
            if carrier is not None:  # a new person's row: its event carries the enrolment
                carrier["enrolment"] = {"id": eid, **data}
            else:
                facts.append({"fact": "enrolment_recorded", "entity_type": "enrolment", "entity_id": eid,
                              "after": {"id": eid, "person_id": pid, **data}})
        if rows:
            bulk_insert(session, Enrolment.__table__, rows)

    def _enrolment(self, tally: Tally, number: int, ext: str, enrolment: dict):
        """The row's enrolment cleaned (None: the row has none; False: it is invalid, reported)."""
        if not enrolment:
            return None
        clean, problems = enrolment_rules.validate_enrolment(self.vocab, enrolment)
        if problems:
            self._bad_many(tally, number, problems)
            return False
        clean = {k: v for k, v in clean.items() if v is not None}
        clean.setdefault("external_id", f"{ext}:{clean['academic_year']}:{clean['cycle']}:{clean.get('programme', '')}"[:64])
        return clean

    def _version(self, entity_type, entity_id, person_id, version, snapshot, kind, today) -> dict:
        return {"id": _uuid(), "entity_type": entity_type, "entity_id": entity_id, "person_id": person_id,
                "version": version, **self._version_base, "kind": kind, "recorded_on": today, "snapshot": snapshot,
                "recorded_at": time.time()}

    @staticmethod
    def _bad(tally: Tally, number: int, fieldname: str, message: str) -> None:
        tally.errors += 1
        tally.problems.append({"row": number, "field": fieldname[:80], "message": message[:500]})

    def _bad_many(self, tally: Tally, number: int, problems: list[dict]) -> None:
        tally.errors += 1
        tally.problems.extend({"row": number, "field": p["field"][:80], "message": p["message"][:500]}
                              for p in problems)


_SEEN = object()


@contextmanager
def _no_cyclic_gc():
    """No cyclic garbage collection during a batch: its thousands of short-lived dicts and lists
    (freed by reference counting, no cycles) otherwise trigger collections that walk every
    object of the process again and again (a sixth of a batch's CPU). Switched back on after,
    by whoever switched it off (batches of other greenthreads may overlap)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_ID_POOL: list[str] = []
_ID_POOL_PID = [0]


def _uuid() -> str:
    """A new random id (as `model_base.new_id`), drawn from a pool filled 1000 at a time (a
    forked child never reuses its parent's pool)."""
    if not _ID_POOL or _ID_POOL_PID[0] != os.getpid():
        _ID_POOL[:] = new_ids(1000)
        _ID_POOL_PID[0] = os.getpid()
    return _ID_POOL.pop()


def _snapshot_of(row: dict) -> dict:
    return {"status": row["status"], "matriculation_code": row["matriculation_code"], "data": row["data"],
            "sensitive": row["sensitive"]}


def _differs(person: Person, changes: dict) -> bool:
    """Whether a row changes the person: sensitive fields compared with their sealed values
    (they are not in `data`), so re-importing a file with them changes nothing either."""
    data = person.data or {}
    secret = None
    for name, values in changes.items():
        for key, value in values.items():
            if key == "cnp":
                continue
            if name == "personal" and key in SENSITIVE_KEYS:
                if secret is None:
                    secret = unseal(person.id, person.sensitive)
                current = secret.get(key)
            else:
                current = data.get(name, {}).get(key)
            if current != value:
                return True
    return False


def batches(rows: Iterable[tuple[int, dict]], size: int = BATCH_ROWS) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- the batch upsert web service ------------------------------------------------------------------

def batch_upsert(store, ctx, principal: Principal, *, mode: str, rows: list[dict]) -> dict:
    require(principal, *WRITERS, scope="registry:write")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
    if not 1 <= len(rows) <= 1000:
        raise InvalidInput("send between 1 and 1000 rows")
    numbered = [(i, {str(k).lower(): (None if v is None else str(v) if not isinstance(v, str) else v)
                     for k, v in (r or {}).items()}) for i, r in enumerate(rows, start=1)]
    from .templates import header_problems
    columns = sorted({k for _i, r in numbered for k in r} | {"external_id"})
    unknown = [p for p in header_problems(columns) if p["message"].startswith("unknown")]
    if unknown:
        raise InvalidInput("unknown fields: " + ", ".join(p["field"] for p in unknown),
                           [{"field": p["field"], "message": p["message"]} for p in unknown])
    emit_many = lambda s, facts: store.emit_many(s, ctx, facts)  # noqa: E731
    tally = Tally()
    if mode in ("validate", "all_or_nothing"):
        with store.reading() as s:
            RowProcessor(None, emit_many, principal).batch(s, numbered, write=False, tally=tally)
        if mode == "validate" or tally.errors:
            return _report(tally, written=False)
        tally = Tally()
    with store.transaction() as s:
        RowProcessor(None, emit_many, principal).batch(s, numbered, write=True, tally=tally)
        if mode == "all_or_nothing" and tally.errors:  # changed between the two passes
            raise Conflict("the data changed during the import; nothing was written, send it again")
    return _report(tally, written=True)


def _report(t: Tally, *, written: bool) -> dict:
    return {"written": written, "rows": t.rows, "created": t.created, "changed": t.changed,
            "unchanged": t.unchanged, "errors": t.errors, "problems": t.problems[:1000]}


# --- the job runner (a background greenthread of the registry) --------------------------------------

def _chunks(store, job_id: str, count: int) -> Iterator[bytes]:
    for seq in range(count):
        with store.reading() as s:
            body = s.scalar(select(ImportChunk.body).where(ImportChunk.job_id == job_id, ImportChunk.seq == seq))
        yield bytes(body)


def run_job(store, make_ctx, job_id: str) -> None:
    with store.transaction() as s:
        job = s.get(ImportJob, job_id)
        if job is None or job.status not in ("queued", "running"):
            return
        job.status, job.started_at = "running", job.started_at or time.time()
        job.rows_done = job.rows_written = job.errors = 0
        fmt, mode, chunks = job.format, job.mode, job.chunks
        principal = Principal(user_id=job.created_by, tenant_id=job.tenant_id, roles=frozenset({job.actor_role}),
                              factors=frozenset({"pwd", "otp"}))
    ctx = make_ctx(principal, job_id)
    emit_many = lambda s, facts: store.emit_many(s, ctx, facts)  # noqa: E731
    processor = RowProcessor(None, emit_many, principal)
    stored = 0
    try:
        if mode in ("validate", "all_or_nothing"):
            errors = 0
            for batch in batches(READERS[fmt](_chunks(store, job_id, chunks))):
                tally = Tally()
                with store.reading() as s:
                    processor.batch(s, batch, write=False, tally=tally)
                errors += tally.errors
                stored = _progress(store, job_id, tally, stored, written=0)
            if mode == "validate" or errors:
                _finish(store, ctx, job_id, "failed" if errors and mode == "all_or_nothing" else "done",
                        f"{errors} row(s) with errors: nothing was written" if errors and mode == "all_or_nothing"
                        else None)
                return
            processor = RowProcessor(None, emit_many, principal)
            written = 0
            with store.transaction() as s:  # every row, or none
                for batch in batches(READERS[fmt](_chunks(store, job_id, chunks))):
                    tally = Tally()
                    processor.batch(s, batch, write=True, tally=tally)
                    if tally.errors:
                        raise Conflict("the data changed during the import; nothing was written")
                    written += tally.created + tally.changed
                s.execute(update(ImportJob).where(ImportJob.id == job_id).values(rows_written=written))
        else:
            for batch in batches(READERS[fmt](_chunks(store, job_id, chunks))):
                tally = Tally()
                with store.transaction() as s:
                    processor.batch(s, batch, write=True, tally=tally)
                    stored = _progress_in(s, job_id, tally, stored, written=tally.created + tally.changed)
        _finish(store, ctx, job_id, "done", None)
    except FileProblem as exc:
        with store.transaction() as s:
            _store_problems(s, job_id, exc.problems, 0)
        _finish(store, ctx, job_id, "failed", exc.message, file_errors=len(exc.problems))
    except Exception as exc:  # noqa: BLE001 - recorded on the job; the greenthread must not die silently
        log.error("import.failed", job_id=job_id, error_type=type(exc).__name__, exc_info=exc)
        _finish(store, ctx, job_id, "failed", getattr(exc, "message", None) or "the import failed; nothing more "
                                                                                "was written")


def _progress(store, job_id, tally: Tally, stored: int, *, written: int) -> int:
    with store.transaction() as s:
        return _progress_in(s, job_id, tally, stored, written=written)


def _progress_in(s: Session, job_id: str, tally: Tally, stored: int, *, written: int) -> int:
    stored = _store_problems(s, job_id, tally.problems, stored)
    s.execute(update(ImportJob).where(ImportJob.id == job_id).values(
        rows_done=ImportJob.rows_done + tally.rows, errors=ImportJob.errors + tally.errors,
        rows_written=ImportJob.rows_written + written))
    return stored


def _store_problems(s: Session, job_id: str, problems: list[dict], stored: int) -> int:
    room = MAX_STORED_PROBLEMS - stored
    if problems and room > 0:
        s.execute(insert(ImportProblem), [{"job_id": job_id, **p} for p in problems[:room]])
    return stored + min(len(problems), max(room, 0))


def _finish(store, ctx, job_id: str, status: str, message: str | None, *, file_errors: int = 0) -> None:
    with store.transaction() as s:
        job = s.get(ImportJob, job_id)
        job.status, job.message, job.finished_at = status, message, time.time()
        job.errors += file_errors
        if status == "done":
            job.rows_total = job.rows_done
        # the upload has served its purpose; the per-row report stays
        s.execute(ImportChunk.__table__.delete().where(ImportChunk.job_id == job_id))
        store.emit(s, ctx, "import_finished", entity_type="import_job", entity_id=job_id, after=job_dict(job),
                   tenant_id=job.tenant_id)


def resumable_jobs(session: Session) -> list[str]:
    return list(session.scalars(select(ImportJob.id).where(ImportJob.status.in_(("queued", "running")))))

