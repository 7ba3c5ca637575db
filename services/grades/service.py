"""Grades service entrypoints."""
from __future__ import annotations

import base64

from eventlet import tpool
from nameko.rpc import RpcProxy

from services.kernel.errors import InvalidInput
from services.kernel.identity import Role
from services.kernel.nameko_support import ServiceBase, Database, RequestContext, rpc

from . import catalog
from .documents import models as _documents_tables  # noqa: F401 (their tables join Base)
from .documents.making import Maker
from .documents.printing import get_file, read_chunk
from .documents.threads import BackgroundWork
from .models import Base


class GradesService(ServiceBase):
    name = "grades"
    db = Database("grades", Base.metadata)
    ctx = RequestContext("grades")
    registry = RpcProxy("registry")
    auth = RpcProxy("auth")

    @rpc
    def create_class(self, name, school_year) -> dict:
        with self.db.transaction() as s:
            return catalog.create_class(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                        name=name, school_year=school_year)

    @rpc
    def create_subject(self, name, weekly_hours) -> dict:
        with self.db.transaction() as s:
            return catalog.create_subject(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                          name=name, weekly_hours=weekly_hours)

    @rpc
    def enrol_student(self, class_id, student_id) -> dict:
        principal = self.ctx.require_principal()
        # Ask the registry (outside any local transaction) whether the person is ours;
        # it answers NotFound for another tenant's person, with the caller's own token.
        self.registry.get_person(student_id)
        with self.db.transaction() as s:
            return catalog.enrol_student(s, self.db.emitter(self.ctx), principal,
                                         class_id=class_id, student_id=student_id)

    def _require_teacher_here(self, teacher_id: str) -> None:
        # auth answers NotFound for an account of another school (the caller's token travels)
        if Role.TEACHER not in self.auth.get_member(teacher_id)["roles"]:
            raise InvalidInput("that account is not a teacher in this school")

    @rpc
    def set_homeroom_teacher(self, class_id, teacher_id) -> dict:
        principal = self.ctx.require_principal()
        self._require_teacher_here(teacher_id)
        with self.db.transaction() as s:
            return catalog.set_homeroom_teacher(s, self.db.emitter(self.ctx), principal, class_id=class_id,
                                                teacher_id=teacher_id)

    @rpc
    def assign_teacher(self, class_id, subject_id, teacher_id) -> dict:
        principal = self.ctx.require_principal()
        self._require_teacher_here(teacher_id)
        with self.db.transaction() as s:
            return catalog.assign_teacher(s, self.db.emitter(self.ctx), principal, class_id=class_id,
                                          subject_id=subject_id, teacher_id=teacher_id)

    @rpc
    def record_grade(self, class_id, subject_id, student_id, value, awarded_on=None, reason=None) -> dict:
        with self.db.writing() as db:
            return catalog.record_grade(db, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                        class_id=class_id, subject_id=subject_id, student_id=student_id,
                                        value=value, awarded_on=awarded_on, reason=reason)

    @rpc
    def list_grades(self, student_id=None, class_id=None, subject_id=None, limit=None, offset=None) -> dict:
        with self.db.reading_rows() as rows:
            return catalog.list_grades(rows, self.ctx.require_principal(), student_id=student_id,
                                       class_id=class_id, subject_id=subject_id, limit=limit, offset=offset)

    @rpc
    def grade_statistics(self) -> dict:
        with self.db.reading() as s:
            return catalog.grade_statistics(s, self.ctx.require_principal())

    # --- documents ---
    background = BackgroundWork()

    def _maker(self) -> Maker:
        return Maker(self.db, self.db.emitter(self.ctx), self.ctx.require_principal(),
                     names_for=self.auth.names_for_documents, person=self.registry.get_person,
                     offload=tpool.execute)

    @rpc
    def documents_class_catalog_pdf(self, class_id) -> dict:
        return self._maker().class_catalog_pdf(class_id)

    @rpc
    def documents_class_catalog_xlsx(self, class_id) -> dict:
        return self._maker().class_catalog_xlsx(class_id)

    @rpc
    def documents_report_card_pdf(self, class_id, student_id, period_id=None) -> dict:
        return self._maker().report_card_pdf(class_id, student_id, period_id)

    @rpc
    def documents_verify(self, text) -> dict:
        return self._maker().verify(text)

    @rpc
    def documents_start_year_end_set(self, school_year) -> dict:
        return self._maker().start_school_set(school_year, self.background)

    @rpc
    def documents_job(self, job_id) -> dict:
        return self._maker().job(job_id)

    @rpc
    def documents_file(self, file_id) -> dict:
        with self.db.reading() as s:
            return get_file(s, self.ctx.require_principal(), file_id)

    @rpc
    def documents_chunk(self, file_id, seq) -> dict:
        with self.db.reading() as s:
            data = read_chunk(s, self.ctx.require_principal(), file_id, seq)
        return {"data": base64.b64encode(data).decode("ascii")}
