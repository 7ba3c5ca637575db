"""Prometheus metrics of the cluster backups and of CAT-6 replication (alert rules:
deploy/prometheus/backup-cluster.rules.yml). Age = time() - last success, in the rules."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

CONFIGURED = Gauge("backup_cluster_configured", "1 when pgBackRest backups are configured and scheduled")
LAST_SUCCESS = Gauge("backup_cluster_last_success_timestamp_seconds", "End of the last successful backup",
                     ["kind"])
LAST_FAILURE = Gauge("backup_cluster_last_failure_timestamp_seconds", "End of the last failed backup", ["kind"])
LAST_DURATION = Gauge("backup_cluster_last_duration_seconds", "Duration of the last successful backup", ["kind"])
LAST_SIZE = Gauge("backup_cluster_last_size_bytes", "Database size covered by the last successful backup",
                  ["kind"])
LAST_STORED = Gauge("backup_cluster_last_stored_bytes", "Bytes written to the repositories by the last backup",
                    ["kind"])
RUNS = Counter("backup_cluster_runs_total", "Cluster backup runs", ["kind", "outcome"])
PROGRESS = Gauge("backup_cluster_running_progress_ratio", "Progress of the backup running now (0-1)", ["kind"])
OFFSITE_RETENTION_DAYS = Gauge("backup_cluster_offsite_retention_days", "Off-site full backups kept (days)")

SYNC_STANDBYS = Gauge("backup_replication_sync_standbys", "Synchronous standbys streaming (CAT-6)", ["database"])
TWO_SOURCES = Gauge("backup_replication_two_sources", "1 when commits wait for a synchronous standby (CAT-6)",
                    ["database"])
REPLAY_LAG = Gauge("backup_replication_replay_lag_seconds", "Largest standby replay lag", ["database"])


def record_replication(results: dict[str, dict]) -> None:
    for name, r in results.items():
        SYNC_STANDBYS.labels(name).set(r.get("sync_standbys", 0))
        TWO_SOURCES.labels(name).set(1 if r.get("cat6_met") else 0)
        lags = [s.get("replay_lag_seconds") or 0.0 for s in r.get("standbys", [])]
        REPLAY_LAG.labels(name).set(max(lags) if lags else 0.0)


def record_run(run: dict) -> None:
    kind, outcome = run["kind"], run["status"]
    RUNS.labels(kind, outcome).inc()
    PROGRESS.labels(kind).set(0)
    if outcome == "succeeded":
        restore_last_success(run)
    elif run.get("finished_at"):
        LAST_FAILURE.labels(kind).set(run["finished_at"])


def restore_last_success(run: dict) -> None:
    """Also at start-up, from the runs table: a restart does not make the age look fresh or unknown."""
    kind = run["kind"]
    LAST_SUCCESS.labels(kind).set(run["finished_at"])
    LAST_DURATION.labels(kind).set(run.get("duration_seconds") or 0)
    LAST_SIZE.labels(kind).set(run.get("size_bytes") or 0)
    LAST_STORED.labels(kind).set(run.get("stored_bytes") or 0)
