"""Backup service skeleton: sees every mutation event and counts them per type.

Its real duties (incremental and full backups, CAT-7/CAT-8) have their own issue; the
counts already let an operator check that backup hears everything audit hears.
"""
from __future__ import annotations

import time

from sqlalchemy import select

from services.kernel.events import Envelope
from services.kernel.identity import Role, require
from services.kernel.nameko_support import ServiceBase, Database, RequestContext, event_consumer, rpc

from .models import Base, EventCount


class BackupService(ServiceBase):
    name = "backup"
    db = Database("backup", Base.metadata, relay=False)
    ctx = RequestContext("backup")

    @event_consumer("backup.events")
    def count(self, envelope: Envelope) -> None:
        with self.db.transaction() as s:
            if self.db.already_processed(s, envelope.event_id, "backup.count"):
                return
            row = s.get(EventCount, envelope.type)
            if row is None:
                s.add(EventCount(type=envelope.type, count=1, last_seen_at=time.time()))
            else:
                row.count += 1
                row.last_seen_at = time.time()

    @rpc
    def stats(self) -> dict:
        require(self.ctx.principal, Role.OPERATOR)
        with self.db.reading() as s:
            rows = s.scalars(select(EventCount).order_by(EventCount.type)).all()
            return {"counts": {r.type: r.count for r in rows}, "total": sum(r.count for r in rows)}
