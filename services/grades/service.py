"""Grades service entrypoints: thin, each a transaction around one rule of the catalog modules."""
from __future__ import annotations

import base64

from eventlet import tpool
from nameko.rpc import RpcProxy
from sqlalchemy.exc import IntegrityError

from services.kernel.batch_consumer import event_batch_consumer
from services.kernel.errors import InvalidInput
from services.kernel.identity import Role
from services.kernel import subject_parts
from services.kernel.nameko_support import Database, RequestContext, ServiceBase, rpc

from . import (absences, alerts, closing, delegation, disputes, grades, idempotency, portability, restrictions, stats,
               subject_export, views)
from . import structure as school
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

    # --- plumbing ---------------------------------------------------------------------------------
    def _write(self, rule, /, **kw):
        with self.db.transaction() as s:
            return rule(s, self.db.emitter(self.ctx), self.ctx.require_principal(), **kw)

    def _read(self, rule, /, **kw):
        with self.db.reading() as s:
            return rule(s, self.ctx.require_principal(), **kw)

    def _idempotent(self, operation: str, key, rule, /, *, core: bool = False, **kw):
        """Run a write once per `Idempotency-Key`: a retry gets the stored first answer."""
        principal = self.ctx.require_principal()
        key = idempotency.check_key(key)
        unit = self.db.writing if core else self.db.transaction
        try:
            with unit() as db:
                reply = idempotency.stored_reply(db, principal, key, operation)
                if reply is None:
                    reply = rule(db, self.db.emitter(self.ctx), principal, **kw)
                    idempotency.store_reply(db, principal, key, operation, reply)
                return reply
        except IntegrityError:
            if key is None:
                raise
            with self.db.reading_rows() as db:  # a concurrent retry stored it first
                reply = idempotency.stored_reply(db, principal, key, operation)
            if reply is None:
                raise
            return reply

    def _require_teacher_here(self, teacher_id: str) -> None:
        # auth answers NotFound for an account of another school (the caller's token travels)
        if Role.TEACHER not in self.auth.get_member(teacher_id)["roles"]:
            raise InvalidInput("that account is not a teacher in this school")

    # --- structure --------------------------------------------------------------------------------
    @rpc
    def create_school_year(self, name, structure, periods, settings=None) -> dict:
        return self._write(school.create_school_year, name=name, structure=structure,
                           periods=periods, settings=settings)

    @rpc
    def update_school_year_settings(self, school_year_id, settings) -> dict:
        return self._write(school.update_school_year_settings, school_year_id=school_year_id, settings=settings)

    @rpc
    def list_school_years(self) -> dict:
        return self._read(school.list_school_years)

    @rpc
    def create_class(self, name, school_year, level=None) -> dict:
        return self._write(school.create_class, name=name, school_year=school_year, level=level)

    @rpc
    def list_classes(self, school_year=None, limit=None, offset=None) -> dict:
        return self._read(views.list_classes, school_year=school_year, limit=limit, offset=offset)

    @rpc
    def list_subjects(self, limit=None, offset=None) -> dict:
        return self._read(views.list_subjects, limit=limit, offset=offset)

    @rpc
    def create_subject(self, name, weekly_hours) -> dict:
        return self._write(school.create_subject, name=name, weekly_hours=weekly_hours)

    @rpc
    def set_curriculum_entry(self, class_id, subject_id, weekly_hours, optional=False, thesis_periods=None) -> dict:
        return self._write(school.set_curriculum_entry, class_id=class_id, subject_id=subject_id,
                           weekly_hours=weekly_hours, optional=optional, thesis_periods=thesis_periods)

    @rpc
    def enrol_student(self, class_id, student_id, enrolled_on=None, transferred_in=False) -> dict:
        self.ctx.require_principal()
        # Ask the registry (outside any local transaction) whether the person is ours; it answers
        # NotFound for another tenant's person. Its names become the roster's display snapshot.
        person = self.registry.get_person(student_id)
        return self._write(school.enrol_student, class_id=class_id, student_id=student_id, person=person,
                           enrolled_on=enrolled_on, transferred_in=transferred_in)

    @rpc
    def transfer_out(self, class_id, student_id, effective_on, reason=None) -> dict:
        return self._write(school.transfer_out, class_id=class_id, student_id=student_id,
                           effective_on=effective_on, reason=reason)

    @rpc
    def set_postponed(self, class_id, student_id, postponed, reason) -> dict:
        return self._write(school.set_postponed, class_id=class_id, student_id=student_id, postponed=postponed,
                           reason=reason)

    @rpc
    def set_homeroom_teacher(self, class_id, teacher_id) -> dict:
        self.ctx.require_principal()
        self._require_teacher_here(teacher_id)
        return self._write(school.set_homeroom_teacher, class_id=class_id, teacher_id=teacher_id)

    @rpc
    def assign_teacher(self, class_id, subject_id, teacher_id) -> dict:
        self.ctx.require_principal()
        self._require_teacher_here(teacher_id)
        return self._write(school.assign_teacher, class_id=class_id, subject_id=subject_id, teacher_id=teacher_id)

    # --- grades -----------------------------------------------------------------------------------
    @rpc
    def record_grade(self, class_id, subject_id, student_id, value=None, awarded_on=None, reason=None,
                     qualifier=None, kind=None, comment=None, idempotency_key=None) -> dict:
        return self._idempotent("record_grade", idempotency_key, grades.record_grade, core=True,
                                class_id=class_id, subject_id=subject_id, student_id=student_id, value=value,
                                qualifier=qualifier, awarded_on=awarded_on, kind=kind, comment=comment,
                                reason=reason)

    @rpc
    def change_grade(self, grade_id, expected_version, reason, value=None, qualifier=None, awarded_on=None,
                     kind=None, comment=None, idempotency_key=None) -> dict:
        return self._idempotent("change_grade", idempotency_key, grades.change_grade, grade_id=grade_id,
                                expected_version=expected_version, reason=reason, value=value, qualifier=qualifier,
                                awarded_on=awarded_on, kind=kind, comment=comment)

    @rpc
    def cancel_grade(self, grade_id, expected_version, reason, idempotency_key=None) -> dict:
        return self._idempotent("cancel_grade", idempotency_key, grades.cancel_grade, grade_id=grade_id,
                                expected_version=expected_version, reason=reason)

    @rpc
    def grade_history(self, grade_id) -> dict:
        return self._read(grades.grade_history, grade_id=grade_id)

    @rpc
    def list_grades(self, student_id=None, class_id=None, subject_id=None, limit=None, offset=None) -> dict:
        with self.db.reading_rows() as rows:
            return grades.list_grades(rows, self.ctx.require_principal(), student_id=student_id,
                                      class_id=class_id, subject_id=subject_id, limit=limit, offset=offset)

    @rpc
    def set_final_qualifier(self, class_id, subject_id, student_id, period_id, qualifier) -> dict:
        return self._write(grades.set_final_qualifier, class_id=class_id, subject_id=subject_id,
                           student_id=student_id, period_id=period_id, qualifier=qualifier)

    @rpc
    def set_conduct_grade(self, class_id, student_id, period_id, value, reason=None) -> dict:
        return self._write(grades.set_conduct_grade, class_id=class_id, student_id=student_id, period_id=period_id,
                           value=value, reason=reason)

    # --- absences ---------------------------------------------------------------------------------
    @rpc
    def record_absences(self, class_id, subject_id, occurred_on, hour, student_ids, idempotency_key=None) -> dict:
        return self._idempotent("record_absences", idempotency_key, absences.record_absences, class_id=class_id,
                                subject_id=subject_id, occurred_on=occurred_on, hour=hour, student_ids=student_ids)

    @rpc
    def cancel_absence(self, absence_id, expected_version, reason) -> dict:
        return self._write(absences.cancel_absence, absence_id=absence_id, expected_version=expected_version,
                           reason=reason)

    @rpc
    def motivate_absences(self, class_id, student_id, reason, document_ref=None, from_date=None, to_date=None,
                          absence_ids=None, idempotency_key=None) -> dict:
        return self._idempotent("motivate_absences", idempotency_key, absences.motivate_absences,
                                class_id=class_id, student_id=student_id, reason=reason, document_ref=document_ref,
                                from_date=from_date, to_date=to_date, absence_ids=absence_ids)

    @rpc
    def list_absences(self, class_id, student_id=None, period_id=None, limit=None, offset=None) -> dict:
        return self._read(absences.list_absences, class_id=class_id, student_id=student_id, period_id=period_id,
                          limit=limit, offset=offset)

    @rpc
    def request_motivation(self, student_id, from_date, to_date, reason, idempotency_key=None) -> dict:
        return self._idempotent("request_motivation", idempotency_key, absences.request_motivation,
                                student_id=student_id, from_date=from_date, to_date=to_date, reason=reason)

    @rpc
    def decide_motivation(self, request_id, approve, reason=None) -> dict:
        return self._write(absences.decide_motivation, request_id=request_id, approve=approve, reason=reason)

    @rpc
    def list_motivation_requests(self, status=None, limit=None, offset=None) -> dict:
        return self._read(absences.list_motivation_requests, status=status, limit=limit, offset=offset)

    # --- delegation -------------------------------------------------------------------------------
    @rpc
    def request_delegation(self, class_id, subject_id, delegate_id, starts_on, ends_on, reason) -> dict:
        self.ctx.require_principal()
        self._require_teacher_here(delegate_id)
        return self._write(delegation.request_delegation, class_id=class_id, subject_id=subject_id,
                           delegate_id=delegate_id, starts_on=starts_on, ends_on=ends_on, reason=reason)

    @rpc
    def decide_delegation(self, delegation_id, approve, reason=None) -> dict:
        return self._write(delegation.decide_delegation, delegation_id=delegation_id, approve=approve, reason=reason)

    @rpc
    def revoke_delegation(self, delegation_id, reason) -> dict:
        return self._write(delegation.revoke_delegation, delegation_id=delegation_id, reason=reason)

    @rpc
    def list_delegations(self, status=None, limit=None, offset=None) -> dict:
        # a write unit: the first listing past a delegation's end records its expiry (an event)
        return self._write(delegation.list_delegations, status=status, limit=limit, offset=offset)

    # --- closing ----------------------------------------------------------------------------------
    @rpc
    def closing_check(self, period_id) -> dict:
        return self._read(closing.closing_check, period_id=period_id)

    @rpc
    def close_period(self, period_id, confirm=False) -> dict:
        return self._write(closing.close_period, period_id=period_id, confirm=bool(confirm))

    @rpc
    def reopen_period(self, period_id, reason) -> dict:
        return self._write(closing.reopen_period, period_id=period_id, reason=reason)

    @rpc
    def close_year(self, school_year_id, confirm=False) -> dict:
        return self._write(closing.close_year, school_year_id=school_year_id, confirm=bool(confirm))

    @rpc
    def approve_amendment(self, period_id, class_id, student_id, subject_id, reason) -> dict:
        return self._write(closing.approve_amendment, period_id=period_id, class_id=class_id, student_id=student_id,
                           subject_id=subject_id, reason=reason)

    @rpc
    def record_reexamination(self, class_id, student_id, subject_id, kind, average) -> dict:
        return self._write(closing.record_reexamination, class_id=class_id, student_id=student_id,
                           subject_id=subject_id, kind=kind, average=average)

    # --- views ------------------------------------------------------------------------------------
    @rpc
    def class_catalog(self, class_id, period_id=None, shape="full") -> dict:
        with self.db.reading() as s:
            return views.class_catalog(s, self.ctx.require_principal(), class_id, period_id, shape)

    @rpc
    def report_card(self, class_id, student_id, period_id=None) -> dict:
        return self._read(views.report_card, class_id=class_id, student_id=student_id, period_id=period_id)

    @rpc
    def teacher_classes(self, limit=None, offset=None) -> dict:
        return self._read(views.teacher_classes, limit=limit, offset=offset)

    @rpc
    def my_children(self) -> dict:
        return self._read(views.my_children)

    @rpc
    def grade_statistics(self, school_year=None) -> dict:
        return self._read(stats.grade_statistics, school_year=school_year)

    @rpc
    def list_alerts(self, limit=None, offset=None) -> dict:
        return self._read(alerts.list_alerts, limit=limit, offset=offset)

    # --- data-subject rights (issue 11) ------------------------------------------------------------
    @rpc
    def open_grade_dispute(self, grade_id, reason, proposed_value=None, proposed_qualifier=None,
                           attachment_ref=None) -> dict:
        return self._write(disputes.open_dispute, grade_id=grade_id, reason=reason, proposed_value=proposed_value,
                           proposed_qualifier=proposed_qualifier, attachment_ref=attachment_ref)

    @rpc
    def list_grade_disputes(self, status=None, limit=None, offset=None) -> dict:
        return self._read(disputes.list_disputes, status=status, limit=limit, offset=offset)

    @rpc
    def decide_grade_dispute(self, dispute_id, approve, reason, value=None, qualifier=None) -> dict:
        return self._write(disputes.decide_dispute, dispute_id=dispute_id, approve=approve, reason=reason,
                           value=value, qualifier=qualifier)

    @rpc
    def escalate_grade_dispute(self, dispute_id, reason=None) -> dict:
        return self._write(disputes.escalate_dispute, dispute_id=dispute_id, reason=reason)

    @event_batch_consumer(restrictions.QUEUE, max_batch=200)
    def on_rights_events(self, envelopes) -> None:
        """The registry's restrictions of processing (idempotent on event_id, newest occurred_at wins)."""
        with self.db.transaction() as s:
            fresh = self.db.newly_processed(s, [e.event_id for e in envelopes], restrictions.QUEUE)
            restrictions.record_events(s, lambda session, fact, **kw: self.db.emit(session, self.ctx, fact, **kw),
                                       [e for e in envelopes if e.event_id in fresh])

    @rpc
    def subject_export_part(self, credential, subject, cursor=None, limit=500) -> dict:
        """Grades' part of a person's export, for auth's export job only (a service credential)."""
        subject_parts.verify_caller(credential, self.name)
        with self.db.reading() as s:
            return subject_export.export_part(s, subject, cursor=cursor, limit=limit)

    # --- a school's portability: the whole catalog out (one snapshot, paged) and into a fresh school ---
    @rpc
    def school_export_open(self) -> dict:
        principal = self.ctx.require_principal()
        opened = portability.open_export(self.db.exports, principal)
        with self.db.writing() as connection:
            self.db.emit(connection, self.ctx, "school_exported", entity_type="tenant", entity_id=principal.tenant_id,
                         after={"format": portability.FORMAT, "version": portability.VERSION,
                                "as_of": opened["header"]["exported_at"]})
        return opened

    @rpc
    def school_export_chunk(self, session_id, snapshot, section, after=None, limit=1000) -> dict:
        return portability.export_page(self.db.exports, self.ctx.require_principal(), session_id=session_id,
                                       snapshot=snapshot, section=section, after=after, limit=limit)

    @rpc
    def school_export_close(self, session_id) -> dict:
        return portability.close_export(self.db.exports, self.ctx.require_principal(), session_id=session_id)

    @rpc
    def school_import_start(self) -> dict:
        return self._write(portability.start_import)

    @rpc
    def school_import_chunk(self, import_id, seq, section, records) -> dict:
        with self.db.transaction() as s:
            return portability.add_import_chunk(s, self.ctx.require_principal(), import_id=import_id, seq=seq,
                                                section=section, records=records)

    @rpc
    def school_import_finish(self, import_id, header) -> dict:
        return self._write(portability.finish_import, import_id=import_id, header=header)

    @rpc
    def school_import_abandon(self, import_id) -> dict:
        with self.db.transaction() as s:
            return portability.abandon_import(s, self.ctx.require_principal(), import_id=import_id)

    # --- documents ---
    background = BackgroundWork()

    def _maker(self) -> Maker:
        return Maker(self.db, self.db.emitter(self.ctx), self.ctx.require_principal(),
                     names_for=self.auth.names_for_documents,
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
