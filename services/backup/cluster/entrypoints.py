"""The backup service's cluster-level entrypoints (mixed into `BackupService`), operator only."""
from __future__ import annotations

from services.kernel.identity import Role, require
from services.kernel.nameko_support import rpc
from services.kernel.validation import clean_text, page_args

from .provider import ClusterBackupsProvider


class ClusterBackupEntrypoints:
    cluster = ClusterBackupsProvider()

    def readiness_details(self) -> dict:
        """Shown by the gateway's /readyz: CAT-6 met or not, and whether backups are scheduled."""
        return self.cluster.readiness()

    @rpc
    def cluster_status(self) -> dict:
        require(self.ctx.principal, Role.OPERATOR)
        return self.cluster.status()

    @rpc
    def list_cluster_runs(self, kind: str | None = None, limit: int = 50, offset: int = 0) -> dict:
        require(self.ctx.principal, Role.OPERATOR)
        return self.cluster.runs(kind, *page_args(limit, offset))

    @rpc
    def get_cluster_run(self, run_id: str) -> dict:
        require(self.ctx.principal, Role.OPERATOR)
        return self.cluster.run(str(run_id))

    @rpc
    def trigger_cluster_backup(self, kind: str, reason: str | None = None) -> dict:
        require(self.ctx.principal, Role.OPERATOR)
        reason = clean_text(reason, field="reason", max_len=500) if reason else None
        return self.cluster.trigger(self.ctx, kind, reason)
