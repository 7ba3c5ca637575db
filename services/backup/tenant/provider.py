"""The nameko side of per-tenant backups: background jobs, the schedule, RPC to the services.

`TenantBackups` is a dependency of the backup service. It runs jobs on managed
greenthreads (a full export outlives any RPC timeout), wakes every `BACKUP_SCHEDULER_SECONDS`
to start the scheduled jobs whose cron slot is due (`BACKUP_INCREMENTAL_CRON`,
`BACKUP_FULL_CRON`, `BACKUP_DRILL_CRON`, `BACKUP_RETENTION_CRON`), and picks up queued jobs
another replica did not start. It calls the services with a signed service credential
(`services/kernel/service_credentials.py`), since a scheduled job has no person behind it.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import eventlet
from nameko.extensions import DependencyProvider
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import select

from services.kernel import service_credentials
from services.kernel.logging import get_logger
from services.kernel.nameko_support import Store
from services.kernel.runner import nameko_config
from services.kernel.settings import get_settings

from . import contracts, jobs, schedule
from .metrics import LAST_SUCCESS
from .models import BackupJob
from .sets import Config

log = get_logger(__name__)
CALL_TIMEOUT = float(os.environ.get("BACKUP_RPC_TIMEOUT_SECONDS", "120"))


class RpcFleet:
    """Calls a service's tenant-data RPCs with a fresh service credential (cached a minute)."""

    def __init__(self, proxy, caller: str = "backup"):
        self.proxy = proxy
        self.caller = caller
        self._credentials: dict[str, tuple[float, str]] = {}

    def credential(self, service: str) -> str:
        cached = self._credentials.get(service)
        if cached is None or cached[0] < time.time():
            cached = (time.time() + 60, service_credentials.issue(self.caller, service, "tenant_data"))
            self._credentials[service] = cached
        return cached[1]

    def call(self, service: str, method: str, **kwargs):
        return getattr(self.proxy[service], method)(credential=self.credential(service), **kwargs)


@contextmanager
def rpc_fleet():
    with ClusterRpcProxy(nameko_config(get_settings()), timeout=CALL_TIMEOUT) as proxy:
        yield RpcFleet(proxy)


def schedules() -> dict[str, str]:
    return {kind: os.environ.get(f"BACKUP_{kind.upper()}_CRON", cron) for kind, cron in
            schedule.DEFAULT_SCHEDULES.items()}


class TenantBackups(DependencyProvider):
    def setup(self):
        self.config = Config.from_env()
        self.schedules = schedules()
        for cron in self.schedules.values():
            schedule.current_slot(cron, datetime.now(timezone.utc))  # a bad cron fails the start, not later
        self.interval = float(os.environ.get("BACKUP_SCHEDULER_SECONDS", "30"))
        self.started = datetime.now(timezone.utc)
        self._store = None

    def store(self) -> Store:
        if self._store is None:
            db = next(d for d in self.container.dependencies if getattr(d, "attr_name", None) == "db")
            self._store = Store(db.service, db.sessions, db.metadata, db._wake_relay, db.exports)
        return self._store

    def start(self):
        self.container.spawn_managed_thread(self._loop)

    def runner(self) -> jobs.Runner:
        return jobs.Runner(self.store(), self.config, rpc_fleet)

    def spawn(self, job_id: str) -> None:
        self.container.spawn_managed_thread(lambda: self.runner().run(job_id))

    def _loop(self):
        eventlet.sleep(1)
        self._restore_metrics()
        while True:
            try:
                self.tick(datetime.now(timezone.utc))
            except Exception as exc:  # noqa: BLE001 - the schedule must survive a bad tick
                log.error("backup.schedule_failed", error=f"{type(exc).__name__}: {exc}")
            eventlet.sleep(self.interval)

    def _restore_metrics(self):
        with self.store().reading() as s:
            for kind in jobs.KINDS:
                last = s.scalar(select(BackupJob.finished_at).where(BackupJob.kind == kind,
                                                                    BackupJob.status == "succeeded")
                                .order_by(BackupJob.finished_at.desc()).limit(1))
                if last:
                    LAST_SUCCESS.labels(kind).set(last)

    def tick(self, now: datetime) -> None:
        store = self.store()
        emit = jobs.Runner(store, self.config, rpc_fleet).emitter("schedule")
        for kind, cron in self.schedules.items():
            with store.reading() as s:
                last = s.scalar(select(BackupJob.params).where(BackupJob.kind == ("drill" if kind == "drill" else kind),
                                                               BackupJob.requested_by == "schedule")
                                .order_by(BackupJob.created_at.desc()).limit(1))
            last_slot = datetime.fromisoformat(__import__("orjson").loads(last)["slot"]) if last else None
            slot = schedule.due(cron, now, last_slot, self.started)
            if slot is None:
                continue
            with store.reading() as s:
                tenants = contracts.known_tenants(s)
            targets = [None] if kind in ("drill", "retention") else tenants
            for tenant in targets:
                job_id = schedule.slot_job_id(f"{kind}:{tenant}", slot)
                try:
                    with store.transaction() as s:
                        if s.get(BackupJob, job_id) is None:
                            jobs.create(s, emit, kind, tenant, "schedule", {"slot": slot.isoformat()}, job_id=job_id)
                except Exception:  # noqa: BLE001 - another replica created it first
                    continue
        with store.reading() as s:
            queued = list(s.scalars(select(BackupJob.id).where(BackupJob.status == "queued",
                                                               BackupJob.created_at < time.time() - 2)))
        for job_id in queued:
            self.spawn(job_id)

    def get_dependency(self, worker_ctx):
        return self
