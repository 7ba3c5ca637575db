"""Prometheus metrics of the per-tenant backups (alert rules: deploy/prometheus/backup_tenant.rules.yml)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LAST_SUCCESS = Gauge("backup_tenant_last_success_timestamp_seconds",
                     "When a job of this kind last succeeded (any tenant)", ["kind"])
LAST_SIZE = Gauge("backup_tenant_last_set_bytes", "Size of the last encrypted set of this kind", ["kind"])
JOB_DURATION = Histogram("backup_tenant_job_duration_seconds", "Duration of backup, restore and drill jobs",
                         ["kind", "outcome"], buckets=(0.5, 1, 5, 15, 60, 300, 900, 3600))
JOB_FAILURES = Counter("backup_tenant_job_failures_total", "Failed jobs", ["kind"])
DRILL_LAST = Gauge("backup_tenant_drill_last_timestamp_seconds", "When the last restore drill finished")
DRILL_RESULT = Gauge("backup_tenant_drill_last_result", "1 if the last restore drill passed for every tenant, else 0")
DRILL_DURATION = Gauge("backup_tenant_drill_last_duration_seconds", "How long the last restore drill took")
DRILL_TENANT_RESULT = Gauge("backup_tenant_drill_tenant_result", "1 if the tenant's last drill passed",
                            ["tenant_id"])
CHANGELOG_LAG = Histogram("backup_tenant_changelog_lag_milliseconds",
                          "From an event's occurrence to its storage in the change log",
                          buckets=(5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000))
