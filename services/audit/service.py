"""Audit service: consumes every mutation event; answers trail queries."""
from __future__ import annotations

from services.kernel.events import Envelope
from services.kernel.batch_consumer import event_batch_consumer
from services.kernel.nameko_support import ServiceBase, Database, RequestContext, rpc

from . import trail
from .models import Base


class AuditService(ServiceBase):
    name = "audit"
    db = Database("audit", Base.metadata, relay=False)
    ctx = RequestContext("audit")

    @event_batch_consumer("audit.events")
    def record(self, envelopes: list[Envelope]) -> None:
        with self.db.transaction() as s:
            trail.store_events(s, envelopes)

    @rpc
    def list_events(self, type=None, entity_type=None, entity_id=None, tenant_id=None,
                    after_sequence=None, limit=None) -> dict:
        with self.db.reading() as s:
            return trail.list_events(s, self.ctx.require_principal(), type=type, entity_type=entity_type,
                                     entity_id=entity_id, tenant_id=tenant_id,
                                     after_sequence=after_sequence, limit=limit)
