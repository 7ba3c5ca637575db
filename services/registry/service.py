"""Registry service entrypoints (thin: the rules are in the modules beside this one)."""
from __future__ import annotations

import base64

from nameko.extensions import DependencyProvider

from services.kernel import subject_parts
from services.kernel.batch_consumer import event_batch_consumer
from services.kernel.nameko_support import CallContext, Database, RequestContext, ServiceBase, rpc

from . import (accounts, enrolments, imports, nomenclatures, persons, rectifications, reports, restrictions,
               subject_export)
from .models import Base


class ImportRunner(DependencyProvider):
    """Runs import jobs in background greenthreads of this container (and resumes, at start,
    the jobs a stopped replica left queued or running)."""

    def _store(self):
        # the container's own (bound, set up) Database, not the class-level declaration
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        return database.get_dependency(None)

    def start(self):
        store = self._store()
        with store.reading() as s:
            pending = imports.resumable_jobs(s)
        for job_id in pending:
            self.spawn(job_id)

    def spawn(self, job_id: str) -> None:
        store = self._store()
        self.container.spawn_managed_thread(lambda: imports.run_job(store, _job_context, job_id),
                                            identifier=f"import.{job_id}")

    def get_dependency(self, worker_ctx):
        return self.spawn


def _job_context(principal, job_id: str) -> CallContext:
    return CallContext(correlation_id=job_id, token=None, verifier=None, _principal=principal, _checked=True)


class RegistryService(ServiceBase):
    name = "registry"
    db = Database("registry", Base.metadata)
    ctx = RequestContext("registry")
    run_import = ImportRunner()

    def _write(self, fn, *args, **kwargs):
        with self.db.transaction() as s:
            return fn(s, self.db.emitter(self.ctx), self.ctx.require_principal(), *args, **kwargs)

    def _read(self, fn, *args, **kwargs):
        with self.db.reading() as s:
            return fn(s, self.ctx.require_principal(), *args, **kwargs)

    # --- persons ----------------------------------------------------------------------------
    @rpc
    def register_person(self, last_name=None, first_name=None, cnp=None, birth_date=None, record=None,
                        external_id=None) -> dict:
        return self._write(persons.register_person, last_name=last_name, first_name=first_name, cnp=cnp,
                           birth_date=birth_date, record=record, external_id=external_id)

    @rpc
    def get_person(self, person_id, include_sensitive=False) -> dict:
        # a write unit: every view is recorded as an audit event (REG-9)
        return self._write(persons.get_person, person_id, include_sensitive=include_sensitive)

    @rpc
    def list_persons(self, q=None, status=None, limit=50, offset=0) -> dict:
        return self._read(persons.list_persons, q=q, status=status, limit=limit, offset=offset)

    @rpc
    def person_history(self, person_id, limit=50, offset=0) -> dict:
        return self._write(persons.person_history, person_id, limit=limit, offset=offset)

    @rpc
    def find_own_person_by_cnp(self, cnp) -> dict:
        return self._read(persons.find_own_person_by_cnp, cnp)

    @rpc
    def update_person(self, person_id, changes, reason, document_ref=None, document_date=None) -> dict:
        return self._write(persons.update_person, person_id, changes=changes, reason=reason,
                           document_ref=document_ref, document_date=document_date)

    @rpc
    def change_status(self, person_id, status, reason, document_ref, document_date) -> dict:
        return self._write(persons.change_status, person_id, status=status, reason=reason,
                           document_ref=document_ref, document_date=document_date)

    @rpc
    def request_correction(self, person_id, changes, reason, document_ref, document_date) -> dict:
        return self._write(persons.request_correction, person_id, changes=changes, reason=reason,
                           document_ref=document_ref, document_date=document_date)

    @rpc
    def list_corrections(self, status=None, limit=50, offset=0) -> dict:
        return self._read(persons.list_corrections, status=status, limit=limit, offset=offset)

    @rpc
    def decide_correction(self, correction_id, approve) -> dict:
        return self._write(persons.decide_correction, correction_id, approve=approve)

    @rpc
    def list_matches(self, status=None, limit=50, offset=0) -> dict:
        return self._read(persons.list_matches, status=status, limit=limit, offset=offset)

    @rpc
    def decide_match(self, candidate_id, confirm) -> dict:
        return self._write(persons.decide_match, candidate_id, confirm=confirm)

    # --- nomenclatures ------------------------------------------------------------------------
    @rpc
    def list_nomenclatures(self, nomenclature=None, academic_year=None) -> dict:
        with self.db.reading() as s:  # public reference data
            return nomenclatures.list_values(s, nomenclature=nomenclature, academic_year=academic_year)

    @rpc
    def add_nomenclature_value(self, nomenclature, code, label, valid_from) -> dict:
        return self._write(nomenclatures.add_value, nomenclature=nomenclature, code=code, label=label,
                           valid_from=valid_from)

    @rpc
    def retire_nomenclature_value(self, nomenclature, code, last_valid_year, reason) -> dict:
        return self._write(nomenclatures.retire_value, nomenclature=nomenclature, code=code,
                           last_valid_year=last_valid_year, reason=reason)

    # --- schooling and diplomas ---------------------------------------------------------------
    @rpc
    def add_enrolment(self, person_id, fields, document_ref=None, document_date=None) -> dict:
        return self._write(enrolments.add_enrolment, person_id, fields=fields, document_ref=document_ref,
                           document_date=document_date)

    @rpc
    def update_enrolment(self, enrolment_id, changes, reason, document_ref=None, document_date=None) -> dict:
        return self._write(enrolments.update_enrolment, enrolment_id, changes=changes, reason=reason,
                           document_ref=document_ref, document_date=document_date)

    @rpc
    def list_enrolments(self, person_id) -> dict:
        return self._write(enrolments.list_enrolments, person_id)

    @rpc
    def add_diploma(self, person_id, fields) -> dict:
        return self._write(enrolments.add_diploma, person_id, fields=fields)

    @rpc
    def list_diplomas(self, person_id) -> dict:
        return self._write(enrolments.list_diplomas, person_id)

    @event_batch_consumer(enrolments.CATALOG_QUEUE, max_batch=200)
    def on_catalog_events(self, envelopes) -> None:
        """The pupils' school and class per school year, from the catalog (idempotent on event_id)."""
        with self.db.transaction() as s:
            fresh = self.db.newly_processed(s, [e.event_id for e in envelopes], enrolments.CATALOG_QUEUE)
            enrolments.record_catalog_events(s, lambda session, fact, **kw: self.db.emit(session, self.ctx, fact, **kw),
                                             [e for e in envelopes if e.event_id in fresh])

    # --- imports and the batch web service ---------------------------------------------------
    @rpc
    def start_import(self, format, mode) -> dict:  # noqa: A002 - the API's word
        return self._write(imports.start_import, fmt=format, mode=mode)

    @rpc
    def add_import_chunk(self, job_id, seq, data) -> dict:
        with self.db.transaction() as s:
            return imports.add_chunk(s, self.ctx.require_principal(), job_id, seq=seq, body=base64.b64decode(data))

    @rpc
    def finish_import(self, job_id) -> dict:
        job = self._write(imports.finish_upload, job_id)
        self.run_import(job_id)
        return job

    @rpc
    def get_import_job(self, job_id) -> dict:
        return self._read(imports.get_job, job_id)

    @rpc
    def list_import_problems(self, job_id, after=0, limit=1000) -> dict:
        return self._read(imports.list_problems, job_id, after_row=after, limit=limit)

    @rpc
    def batch_upsert(self, mode, rows) -> dict:
        return imports.batch_upsert(self.db, self.ctx, self.ctx.require_principal(), mode=mode, rows=rows)

    @rpc
    def import_layouts(self) -> dict:
        from . import templates
        return {"sections": {k: list(v) for k, v in templates.SECTION_COLUMNS.items()}, "xsd": templates.xsd(),
                "json_schema": templates.json_schema()}

    # --- reports ---------------------------------------------------------------------------------
    @rpc
    def report_counts(self, academic_year) -> dict:
        return self._read(reports.counts, academic_year=academic_year)

    @rpc
    def report_late_changes(self, limit=200, offset=0) -> dict:
        return self._read(reports.late_changes, limit=limit, offset=offset)

    @rpc
    def report_double_financing(self, academic_year) -> dict:
        return self._read(reports.double_financing, academic_year=academic_year)

    @rpc
    def report_diploma_readiness(self, academic_year) -> dict:
        return self._read(reports.diploma_readiness, academic_year=academic_year)

    @rpc
    def export_enrolled(self, body, purpose, academic_year, limit=1000, offset=0) -> dict:
        return self._write(reports.scoped_export, body=body, purpose=purpose, academic_year=academic_year,
                           limit=limit, offset=offset)

    @rpc
    def report_statistics(self, academic_year) -> dict:
        return self._read(reports.statistics, academic_year=academic_year)

    # --- account requests (REG-9) ------------------------------------------------------------------
    @rpc
    def request_account(self, email, full_name, role, reason) -> dict:
        return self._write(accounts.create_request, email=email, full_name=full_name, role=role, reason=reason)

    @rpc
    def list_account_requests(self, status=None, limit=50, offset=0) -> dict:
        return self._read(accounts.list_requests, status=status, limit=limit, offset=offset)

    @rpc
    def decide_account_request(self, request_id, approve) -> dict:
        return self._write(accounts.decide, request_id, approve=approve)

    @rpc
    def approved_account_request(self, request_id) -> dict:
        return self._read(accounts.approved, request_id)

    @rpc
    def account_request_fulfilled(self, request_id, user_id) -> dict:
        return self._write(accounts.mark_created, request_id, user_id=user_id)

    # --- data-subject rights (CAT-11): restriction, rectification, the person's export ------------
    @rpc
    def get_processing_restriction(self, person_id) -> dict:
        return self._read(restrictions.get_restriction, person_id)

    @rpc
    def set_processing_restriction(self, person_id, reason) -> dict:
        return self._write(restrictions.set_restriction, person_id, reason=reason)

    @rpc
    def lift_processing_restriction(self, person_id, reason) -> dict:
        return self._write(restrictions.lift_restriction, person_id, reason=reason)

    @rpc
    def request_rectification(self, field, proposed_value, reason, person_id=None, attachment_ref=None) -> dict:
        return self._write(rectifications.request_rectification, person_id=person_id, field=field,
                           proposed_value=proposed_value, reason=reason, attachment_ref=attachment_ref)

    @rpc
    def list_rectifications(self, status=None, person_id=None, limit=50, offset=0) -> dict:
        # a write unit: a sealed value shown to the registrar is recorded (REG-9)
        return self._write(rectifications.list_rectifications, status=status, person_id=person_id, limit=limit,
                           offset=offset)

    @rpc
    def decide_rectification(self, request_id, approve, reason) -> dict:
        return self._write(rectifications.decide_rectification, request_id, approve=bool(approve), reason=reason)

    @rpc
    def subject_export_part(self, credential, subject, cursor=None, limit=500) -> dict:
        """System call from auth's export job (service credential, scope `subject_export`)."""
        caller = subject_parts.verify_caller(credential, self.name)
        subject, limit = subject_parts.clean_subject(subject), subject_parts.clean_limit(limit)
        with self.db.transaction() as s:
            page = subject_export.export_part(s, subject, cursor=cursor, limit=limit)
            if cursor is None and subject_export.registered_here(s, subject["tenant_id"], subject["person_id"]):
                # REG-9: who read whose record; once per export, on its first page
                self.db.emit(s, self.ctx, "person_viewed", entity_type="person", entity_id=subject["person_id"],
                             tenant_id=subject["tenant_id"],
                             after={"person_id": subject["person_id"], "viewer_id": f"service:{caller}",
                                    "viewer_role": "system", "viewer_tenant_id": subject["tenant_id"],
                                    "what": "subject_export"})
        return page
