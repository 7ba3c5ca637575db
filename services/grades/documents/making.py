"""Making documents: read the catalog, fingerprint it, render it (off the event loop), store the
file in chunks, record the printout and its event. Also the verification of a printout and
a whole school's year-end set, one class after another in the background.

Plain code over the service's `Store`; the nameko entrypoints (service.py) hand it the caller,
the event emitter and the lookup of names (from auth).
"""
from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from typing import Callable

from services.kernel.errors import AppError, NotFound
from services.kernel.identity import Principal, Role
from services.kernel.logging import get_logger
from services.kernel.nameko_support import Store

from . import access, canonical, printing, source, verification
from .pdf_catalog import render_catalog_pdf
from .pdf_report_card import render_report_card_pdf
from .xlsx_catalog import write_catalog_xlsx

log = get_logger(__name__)
SPOOL_IN_MEMORY = 4 * 1024 * 1024  # a bigger file spills to a temporary file while it is made


def verify_url() -> str:
    default = f"https://localhost:{os.environ.get('GATEWAY_PORT', '8443')}/v1/documents/verify"
    return os.environ.get("DOCUMENTS_VERIFY_URL", default)


def _direct(fn, *args, **kwargs):
    return fn(*args, **kwargs)


_RENDERING = threading.Lock()


def one_at_a_time(fn, *args, **kwargs):
    """reportlab's font subsetting keeps per-document state on shared font objects: documents are
    rendered one after another (on an OS thread, see `Maker.offload`, so the event loop runs on)."""
    with _RENDERING:
        return fn(*args, **kwargs)


@dataclass
class Maker:
    db: Store
    emit: Callable
    principal: Principal
    names_for: Callable[[list[str]], dict]          # auth.names_for_documents
    offload: Callable = _direct                      # eventlet.tpool.execute in the service

    # --- reading --------------------------------------------------------------------------------
    def _load(self, class_id: str, period_id: str | None = None) -> dict:
        with self.db.reading() as s:
            return source.load_class_catalog(s, self.principal, class_id, period_id)

    def _names(self, data: dict, extra: set[str] = frozenset()) -> tuple[str, dict[str, str], str]:
        ids = {t for s in data["subjects"] for t in s.get("teacher_ids") or []} | set(extra)
        ids |= {a["approved_by"] for p in data["pupils"] for a in p.get("amendments") or [] if a.get("approved_by")}
        ids |= {data["class"].get("homeroom_teacher_id") or "", self.principal.user_id}
        answer = self.names_for(sorted(i for i in ids if i))
        members, directors = answer.get("members") or {}, answer.get("directors") or []
        director = members.get(self.principal.user_id, "") if Role.DIRECTOR in self.principal.roles else ""
        if not director and len(directors) == 1:
            director = directors[0]
        return answer.get("school") or "", members, director

    def _class_checked(self, class_id: str) -> None:
        with self.db.reading() as s:
            klass = printing.class_header(s, self.principal, class_id)
            access.may_print_class(self.principal, klass.homeroom_teacher_id)

    # --- one document -----------------------------------------------------------------------------
    def _make(self, *, kind: str, data: dict, fingerprint: str, render: Callable, name: str, content_type: str,
              student_id: str | None = None) -> dict:
        digests = canonical.pupil_digests(data)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            pages = self.offload(one_at_a_time, render, spool)
            with self.db.transaction() as s:
                purged = printing.purge_expired_downloads(s, self.principal)
                stored = printing.store_file(s, self.principal, spool, name=name, content_type=content_type,
                                             class_id=data["class"]["id"], fingerprint=fingerprint)
                printout = printing.record_printout(s, self.emit, self.principal, kind=kind, data=data,
                                                    fingerprint=fingerprint, digests=digests, student_id=student_id,
                                                    file=stored, purged=purged)
        return {"file": stored, "printout": printout, "fingerprint": fingerprint, "pages": pages}

    def class_catalog_pdf(self, class_id: str) -> dict:
        self._class_checked(class_id)
        data = self._load(class_id)
        fingerprint = canonical.fingerprint(data)
        school, names, director = self._names(data)
        klass = data["class"]
        return self._make(
            kind="year_catalog", data=data, fingerprint=fingerprint, content_type=printing.PDF,
            name=printing.file_name(f"Catalogul clasei {klass['name']}", f"anul școlar {klass['school_year']}",
                                    ext="pdf"),
            render=lambda out: render_catalog_pdf(data, out, school=school, names=names, fingerprint=fingerprint,
                                                  verify_url=verify_url(), director=director))

    def class_catalog_xlsx(self, class_id: str) -> dict:
        self._class_checked(class_id)
        data = self._load(class_id)
        fingerprint = canonical.fingerprint(data)
        school, _, _ = self._names(data)
        klass = data["class"]

        def render(out):
            write_catalog_xlsx(data, out, school=school, fingerprint=fingerprint)
            return None
        return self._make(kind="catalog_xlsx", data=data, fingerprint=fingerprint, content_type=printing.XLSX,
                          name=printing.file_name(f"Catalogul clasei {klass['name']}", klass["school_year"], ext="xlsx"),
                          render=render)

    def report_card_pdf(self, class_id: str, student_id: str, period_id: str | None = None) -> dict:
        access.may_print_report_card(self.principal)
        if access.is_staff(self.principal):
            self._class_checked(class_id)
        with self.db.reading() as s:  # as the caller: the catalog's rule decides whose card they may read
            data = source.load_report_card(s, self.principal, class_id, student_id, period_id)
        fingerprint = canonical.report_card_fingerprint(data, student_id)
        school, names, director = self._names(data)
        pupil = data["pupils"][0]
        period = next((p["name"] for p in data["school_year"]["periods"] if p["id"] == period_id), None)
        name = printing.file_name("Situația școlară", f"{pupil['last_name']} {pupil['first_name']}".strip(),
                                  f"clasa {data['class']['name']}", period or data["class"]["school_year"], ext="pdf")
        return self._make(
            kind="report_card", data=data, fingerprint=fingerprint, content_type=printing.PDF, name=name,
            student_id=student_id,
            render=lambda out: render_report_card_pdf(data, student_id, out, school=school, names=names,
                                                      fingerprint=fingerprint, verify_url=verify_url(),
                                                      period_id=period_id, director=director))

    # --- verification ---------------------------------------------------------------------------
    def verify(self, text: str) -> dict:
        fingerprint = verification.parse_fingerprint(text)
        with self.db.reading() as s:
            printout = printing.find_printout(s, self.principal, fingerprint)
            klass = printing.class_header(s, self.principal, printout["class_id"])
            access.may_print_class(self.principal, klass.homeroom_teacher_id)
        current = self._load(printout["class_id"], printout["period_id"])
        result = verification.compare(printout, current)
        shown = {k: v for k, v in printout.items() if k != "pupil_digests"}
        return {**result, "fingerprint": fingerprint, "printout": shown}

    # --- a whole school's year-end set --------------------------------------------------------------
    def start_school_set(self, school_year: str, spawn: Callable[[Callable[[], None]], None]) -> dict:
        access.may_run_school_set(self.principal)
        with self.db.reading() as s:
            classes = source.classes_of_year(s, self.principal, school_year)
            staff = source.staff_of_year(s, self.principal, school_year)
        if not classes:
            raise NotFound("the school has no classes in that school year")
        school, names, director = self._names({"subjects": [], "pupils": [], "class": {}}, extra=staff)
        with self.db.transaction() as s:
            job = printing.start_job(s, self.emit, self.principal, school_year=school_year, classes=len(classes))
        spawn(lambda: self.run_school_set(job["id"], classes, school, names, director))
        return job

    def run_school_set(self, job_id: str, classes: list[tuple[str, str]], school: str, names: dict[str, str],
                       director: str) -> None:
        for class_id, class_name in classes:
            name = printing.file_name(f"Catalogul clasei {class_name}", ext="pdf")
            try:
                data = self._load(class_id)
                fingerprint = canonical.fingerprint(data)
                digests = canonical.pupil_digests(data)
                with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
                    self.offload(one_at_a_time, render_catalog_pdf, data, spool, school=school, names=names,
                                 fingerprint=fingerprint,
                                 verify_url=verify_url(), director=director)
                    with self.db.transaction() as s:
                        stored = printing.store_file(s, self.principal, spool, name=name, content_type=printing.PDF,
                                                     job_id=job_id, class_id=class_id, fingerprint=fingerprint)
                        printing.record_printout(s, self.emit, self.principal, kind="year_catalog", data=data,
                                                 fingerprint=fingerprint, digests=digests, file=stored, job_id=job_id)
                        printing.job_progress(s, job_id, ok=True)
            except Exception as exc:  # one class that fails does not stop the others
                log.warning("documents.class_failed", job_id=job_id, class_id=class_id, error_type=type(exc).__name__)
                message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: could not render"
                with self.db.transaction() as s:
                    printing.failed_file(s, self.principal, name=name, job_id=job_id, class_id=class_id,
                                         error=message)
                    self.emit(s, "year_end_class_failed", entity_type="class", entity_id=class_id,
                              after={"job_id": job_id, "class_id": class_id, "error": message})
                    printing.job_progress(s, job_id, ok=False)
        with self.db.transaction() as s:
            printing.finish_job(s, self.emit, job_id)

    def job(self, job_id: str) -> dict:
        with self.db.reading() as s:
            return printing.get_job(s, self.principal, job_id)
