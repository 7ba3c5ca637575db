"""Backup service skeleton: sees every mutation event and counts them per type.

Its real duties (incremental and full backups, CAT-7/CAT-8) have their own issue; the
counts already let an operator check that backup hears everything audit hears.
"""
from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select

from services.kernel.events import Envelope
from services.kernel.identity import Role, require
from services.kernel.batch_consumer import event_batch_consumer
from services.kernel.db import dialect_insert
from services.kernel.nameko_support import ServiceBase, Database, RequestContext, rpc

from .cluster import models as _cluster_models  # noqa: F401 - its table joins Base.metadata
from .cluster.entrypoints import ClusterBackupEntrypoints
from .models import Base, EventCount
from .tenant import changelog
from .tenant.entrypoints import TenantBackupEntrypoints


def add_counts(session, counts: Counter) -> None:
    """One upsert per event type in the batch."""
    if not counts:
        return
    insert = dialect_insert(session)
    table, now = EventCount.__table__, time.time()
    for type_, n in sorted(counts.items()):  # a fixed order: concurrent replicas never deadlock
        statement = insert(table).values(type=type_, count=n, last_seen_at=now)
        session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.type],
            set_={"count": table.c.count + statement.excluded.count, "last_seen_at": statement.excluded.last_seen_at}))


class BackupService(ClusterBackupEntrypoints, TenantBackupEntrypoints, ServiceBase):
    name = "backup"
    db = Database("backup", Base.metadata)  # relays its own events (cluster runs, contracts, sets, prunes, restores)
    ctx = RequestContext("backup")

    @event_batch_consumer("backup.events")
    def count(self, envelopes: list[Envelope]) -> None:
        with self.db.transaction() as s:
            new = self.db.newly_processed(s, [e.event_id for e in envelopes], "backup.count")
            fresh = {e.event_id: e.type for e in envelopes if e.event_id in new}
            add_counts(s, Counter(fresh.values()))
            changelog.record(s, [e for e in envelopes if e.event_id in new])

    @rpc
    def stats(self) -> dict:
        require(self.ctx.principal, Role.OPERATOR)
        with self.db.reading() as s:
            rows = s.scalars(select(EventCount).order_by(EventCount.type)).all()
            return {"counts": {r.type: r.count for r in rows}, "total": sum(r.count for r in rows)}
