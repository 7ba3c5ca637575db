"""Audit service: consumes every mutation event into a Merkle log; answers trail queries,
proofs and verification. Entries are never deleted: no entrypoint removes one."""
from __future__ import annotations

from services.kernel import subject_parts
from services.kernel.batch_consumer import event_batch_consumer
from services.kernel.events import Envelope
from services.kernel.identity import Role, require
from services.kernel.nameko_support import RequestContext, ServiceBase, rpc

from . import subject_export, trail
from .keeper import AuditDatabase
from .kit import export_kit, tenant_leaves
from .models import Base
from .verification import run_verifier


class AuditService(ServiceBase):
    name = "audit"
    # the relay carries `audit.checkpoint_signed` to the backup service
    db = AuditDatabase("audit", Base.metadata, relay=True)
    ctx = RequestContext("audit")

    @event_batch_consumer("audit.events", max_batch=2000)
    def record(self, envelopes: list[Envelope]) -> None:
        self.db.keeper.ingest(envelopes)

    @rpc
    def list_events(self, type=None, entity_type=None, entity_id=None, tenant_id=None, actor_id=None,
                    correlation_id=None, since=None, until=None, after_sequence=None, limit=None,
                    with_proofs=False) -> dict:
        with self.db.reading() as s:
            return trail.query(s, self.ctx.require_principal(), type=type, entity_type=entity_type,
                               entity_id=entity_id, tenant_id=tenant_id, actor_id=actor_id,
                               correlation_id=correlation_id, since=since, until=until,
                               after_sequence=after_sequence, limit=limit, with_proofs=bool(with_proofs))

    @rpc
    def entity_history(self, entity_type, entity_id, after_sequence=None, limit=None, with_proofs=False) -> dict:
        with self.db.reading() as s:
            return trail.entity_history(s, self.ctx.require_principal(), entity_type=entity_type,
                                        entity_id=entity_id, after_sequence=after_sequence, limit=limit,
                                        with_proofs=bool(with_proofs))

    @rpc
    def inclusion_proof(self, event_id, tree_size=None) -> dict:
        with self.db.reading() as s:
            return trail.inclusion_proof(s, self.ctx.require_principal(), event_id=event_id, tree_size=tree_size)

    @rpc
    def consistency_proof(self, first, second=None) -> dict:
        with self.db.reading() as s:
            return trail.consistency_proof(s, self.ctx.require_principal(), first=first, second=second)

    @rpc
    def list_checkpoints(self, after_size=None, limit=None) -> dict:
        with self.db.reading() as s:
            page = trail.checkpoints(s, self.ctx.require_principal(), after_size=after_size, limit=limit)
        return {**page, "origin": self.db.keeper.signer.origin, "verifier_key": self.db.keeper.verifier_key}

    @rpc
    def verify_log(self) -> dict:
        """Recompute the whole tree and check it against checkpoints and witnesses (operator)."""
        require(self.ctx.require_principal(), Role.OPERATOR)
        with self.db.reading() as s:
            return run_verifier(s, self.db.keeper)

    @rpc
    def export_kit(self, tenant_id=None, after_sequence=None, limit=None) -> dict:
        """A tenant's entries with inclusion proofs and the checkpoints, for offline checking."""
        with self.db.reading() as s:
            return export_kit(s, self.ctx.require_principal(), self.db.keeper, tenant_id=tenant_id,
                              after_sequence=after_sequence, limit=limit)

    @rpc
    def tenant_audit_leaves(self, tenant_id, up_to=None, after=None, limit=None, credential=None) -> dict:
        """A tenant's (leaf_index, leaf_hash) pairs up to a leaf, for the backup's restore drill
        (service credential of scope `tenant_data`, or an operator); read-only."""
        self._require_tenant_data_caller(credential)
        with self.db.reading() as s:
            return tenant_leaves(s, tenant_id, up_to=up_to, after=after, limit=limit)

    @rpc
    def subject_export_part(self, credential, subject, cursor=None, limit=500) -> dict:
        """The audit entries about a person, for auth's export job (service credential, scope
        `subject_export`); the export itself is recorded by auth as an event."""
        subject_parts.verify_caller(credential, self.name)
        subject, limit = subject_parts.clean_subject(subject), subject_parts.clean_limit(limit)
        with self.db.reading() as s:
            return subject_export.export_part(s, subject, cursor=cursor, limit=limit)
