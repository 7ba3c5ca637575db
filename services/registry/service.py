"""Registry service entrypoints (thin: the rules are in the modules beside this one)."""
from __future__ import annotations

from services.kernel.batch_consumer import event_batch_consumer
from services.kernel.nameko_support import Database, RequestContext, ServiceBase, rpc

from . import enrolments, nomenclatures, persons
from .models import Base


class RegistryService(ServiceBase):
    name = "registry"
    db = Database("registry", Base.metadata)
    ctx = RequestContext("registry")

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

    @event_batch_consumer(enrolments.CATALOG_QUEUE, binding=enrolments.CATALOG_EVENTS, max_batch=200)
    def on_catalog_events(self, envelopes) -> None:
        """The pupils' school and class per school year, from the catalog (idempotent on event_id)."""
        with self.db.transaction() as s:
            fresh = self.db.newly_processed(s, [e.event_id for e in envelopes], enrolments.CATALOG_QUEUE)
            enrolments.record_catalog_events(s, lambda session, fact, **kw: self.db.emit(session, self.ctx, fact, **kw),
                                             [e for e in envelopes if e.event_id in fresh])
