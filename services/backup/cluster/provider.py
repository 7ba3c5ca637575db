"""The nameko dependency that makes cluster backups "automatic and independent": a greenthread
runs them on their cron schedules (no person triggers them), another watches replication.
Entrypoints get a `ClusterBackups` handle for the operator's read-outs and on-demand runs."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from services.kernel.errors import Conflict, InvalidInput, NotFound
from services.kernel.logging import get_logger
from services.kernel.nameko_support import CallContext, Database, Store

from . import jobs, metrics, replication, runs
from .models import ClusterBackupRun
from .pgbackrest import PgBackRest, PgBackRestError, progress_of
from .schedule import FULL, INCREMENTAL, KINDS, due_runs, next_fire
from .settings import ClusterBackupSettings, get_cluster_settings

log = get_logger("backup.cluster")
NOT_CONFIGURED = ("pgBackRest is not configured (CLUSTER_BACKUP_STANZA is unset): no scheduled cluster "
                  "backups run, CAT-7 is NOT met at cluster level")


def _at(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None


def _iso(ts: float | None) -> str | None:
    return _at(ts).isoformat() if ts is not None else None


class ClusterBackupsProvider(DependencyProvider):
    def __init__(self, settings: ClusterBackupSettings | None = None):
        self._given = settings

    def setup(self):
        self.settings = self._given or get_cluster_settings()
        s = self.settings
        extra = [f"--pg1-user={s.pg_user}"] if s.pg_user else []
        self.engine = PgBackRest(s.stanza, s.pgbackrest_config, s.run_as, extra=extra) if s.enabled else None
        self.replication: dict = replication.summary({})
        self.busy = Semaphore(1)
        self.started_at = time.time()
        self.stopping = False
        metrics.CONFIGURED.set(1 if s.enabled else 0)

    def start(self):
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.store = Store(database.service, database.sessions, database.metadata, database._wake_relay)
        with self.store.reading() as session:
            for run in runs.last_by_kind(session, "succeeded").values():
                metrics.restore_last_success(run)
        self.container.spawn_managed_thread(self._watch_loop)
        if self.engine is not None:
            self._forget_interrupted()
            self.container.spawn_managed_thread(self._schedule_loop)

    def stop(self):
        self.stopping = True

    def kill(self):
        self.stopping = True

    def get_dependency(self, worker_ctx) -> "ClusterBackups":
        return ClusterBackups(self)

    # -- background work --
    def _watch_loop(self) -> None:
        while not self.stopping:
            try:
                self.check_replication()
            except Exception as exc:  # noqa: BLE001 - the watch must outlive one bad check
                log.error("replication_watch.failed", error_type=type(exc).__name__, exc_info=exc)
            eventlet.sleep(self.settings.replication_interval_seconds)

    def check_replication(self) -> dict:
        results = replication.watch(self.settings.watched_databases())
        metrics.record_replication(results)
        self.replication = replication.summary(results)
        return self.replication

    def _forget_interrupted(self) -> None:
        if jobs.live_progress(self.engine) is None:  # no pgBackRest backup holds the lock here
            with self.store.transaction() as session:
                if runs.abandon_interrupted(session, older_than=time.time()):
                    log.warning("cluster_backup.interrupted_runs_marked_failed")

    def schedules(self) -> dict[str, str]:
        return {FULL: self.settings.full_schedule, INCREMENTAL: self.settings.incremental_schedule}

    def _schedule_loop(self) -> None:
        while not self.stopping:
            eventlet.sleep(self.settings.check_interval_seconds)
            try:
                self.run_due()
            except Exception as exc:  # noqa: BLE001 - the schedule must outlive one bad tick
                log.error("cluster_backup.schedule_tick_failed", error_type=type(exc).__name__, exc_info=exc)

    def run_due(self, now: datetime | None = None) -> list[dict]:
        """Start every backup whose cron fire time has come (one tick of the scheduler)."""
        now = now or datetime.now(timezone.utc)
        with self.store.reading() as session:
            fired = {k: _at(v) for k, v in runs.last_fired(session).items()}
        done = []
        for kind, fire in due_runs(self.schedules(), fired, _at(self.started_at), now):
            with self.busy:
                with self.store.transaction() as session:
                    run_id = runs.claim(session, kind, "schedule", "schedule", fire.timestamp())
                if run_id is None:
                    continue  # another replica took this fire time
                done.append(self._execute(run_id, kind))
        return done

    def _execute(self, run_id: str, kind: str) -> dict:
        record = jobs.execute(self.store.sessions, self.engine, self.settings, run_id, kind)
        with self.store.transaction() as session:
            self.store.emit(session, system_context(), "cluster_backup_finished", entity_type="cluster_backup",
                            entity_id=run_id, after={k: record[k] for k in (
                                "kind", "trigger", "status", "duration_seconds", "size_bytes", "stored_bytes",
                                "error")})
        return record


def system_context() -> CallContext:
    return CallContext(correlation_id=str(uuid.uuid4()), token=None, verifier=None)


class ClusterBackups:
    """What an entrypoint gets: read-outs and the on-demand run."""

    def __init__(self, provider: ClusterBackupsProvider):
        self.p = provider

    def readiness(self) -> dict:
        summary = self.p.replication
        return {"cat6": {"met": summary["cat6_met"], "statement": summary["statement"]},
                "cluster_backups": "configured" if self.p.engine else NOT_CONFIGURED}

    def status(self) -> dict:
        p, s = self.p, self.p.settings
        with p.store.reading() as session:
            last_ok = runs.last_by_kind(session, "succeeded")
            last_failed = runs.last_by_kind(session, "failed")
            active = runs.running(session)
        answer = {
            "cat6": p.replication,
            "pgbackrest": {"configured": p.engine is not None,
                           "statement": "scheduled by the backup service" if p.engine else NOT_CONFIGURED,
                           "stanza": s.stanza,
                           "schedules": {FULL: s.full_schedule, INCREMENTAL: s.incremental_schedule},
                           "next_runs": {k: next_fire(v, datetime.now(timezone.utc)).isoformat()
                                         for k, v in p.schedules().items()} if p.engine else {},
                           "repositories": {"local": s.local_repo, "offsite": s.offsite_repo},
                           "local_retention_full": s.local_retention_full,
                           "offsite_retention_days": metrics.OFFSITE_RETENTION_DAYS._value.get() or None},
            "last_success": {k: {**v, "age_seconds": round(time.time() - v["finished_at"], 1)}
                             for k, v in last_ok.items()},
            "last_failure": last_failed,
            "running": active,
            "backups": [],
        }
        if p.engine is not None:
            try:
                backups, status = p.engine.info()
                answer["backups"] = [{"label": b.label, "type": b.type, "repo": b.repo,
                                      "started_at": _iso(b.started), "stopped_at": _iso(b.stopped),
                                      "size_bytes": b.size, "stored_bytes": b.repo_size} for b in backups[-20:]]
                live = progress_of(status)
                for run in active:
                    run["pgbackrest_progress"] = live
            except PgBackRestError as exc:
                answer["pgbackrest"]["info_error"] = str(exc)
        return answer

    def runs(self, kind: str | None, limit: int, offset: int) -> dict:
        if kind is not None and kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        with self.p.store.reading() as session:
            return runs.page(session, kind=kind, limit=limit, offset=offset)

    def run(self, run_id: str) -> dict:
        with self.p.store.reading() as session:
            found = session.get(ClusterBackupRun, run_id)
            if found is None:
                raise NotFound("no cluster backup run has this id")
            return runs.as_dict(found)

    def trigger(self, ctx: CallContext, kind: str, reason: str | None) -> dict:
        """An operator's on-demand backup: recorded and announced now, run in the background."""
        p = self.p
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        if p.engine is None:
            raise Conflict(NOT_CONFIGURED)
        if not p.busy.acquire(blocking=False):
            raise Conflict("a cluster backup is already running; wait for it to finish")
        try:
            with p.store.transaction() as session:
                if runs.running(session):
                    raise Conflict("a cluster backup is already running; wait for it to finish")
                run_id = runs.claim(session, kind, "operator", ctx.principal.user_id, None)
                p.store.emit(session, ctx, "cluster_backup_requested", entity_type="cluster_backup",
                             entity_id=run_id, after={"kind": kind, "trigger": "operator"}, reason=reason,
                             tenant_id=None)
                record = runs.as_dict(session.get(ClusterBackupRun, run_id))
        except BaseException:
            p.busy.release()
            raise

        def work():
            try:
                p._execute(run_id, kind)
            finally:
                p.busy.release()

        p.container.spawn_managed_thread(work)
        return record
