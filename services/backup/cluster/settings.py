"""Settings of the cluster-level backups, from the environment (`CLUSTER_BACKUP_*`)."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.settings import SERVICES, database_url, get_settings

from .schedule import validate_cron


class ClusterBackupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLUSTER_BACKUP_", extra="ignore")

    # pgBackRest is configured by the operator (deploy/pgbackrest/pgbackrest.conf); no stanza,
    # no scheduled backups (the status says so, and the "not configured" alert fires).
    stanza: str | None = Field(None, description="pgBackRest stanza of the PostgreSQL cluster")
    pgbackrest_config: Path | None = Field(None, description="pgbackrest.conf (default: pgBackRest's own)")
    run_as: str | None = Field(None, description="OS user that runs pgbackrest (the database's), via runuser")
    pg_user: str | None = Field(None, description="database user pgBackRest connects as (pg1-user)")
    # Art. 7: a daily incremental, a monthly full (cron syntax, UTC)
    incremental_schedule: str = Field("0 2 * * *", description="daily incremental backup, cron (UTC)")
    full_schedule: str = Field("30 1 1 * *", description="monthly full backup, cron (UTC)")
    local_repo: int = Field(1, ge=1, le=4, description="pgBackRest repository on site: incrementals + full")
    offsite_repo: int | None = Field(2, ge=1, le=4, description="off-site (S3, encrypted) repository: full")
    local_retention_full: int = Field(2, ge=1, le=100, description="full backups kept on site (count)")
    offsite_min_retention_days: int = Field(62, ge=1, description="off-site fulls are never kept shorter")
    check_interval_seconds: float = Field(20.0, gt=0, le=3600)
    # CAT-6: which databases to watch (name=url,...); default every service's database
    watch: str | None = Field(None, description="name=postgresql://...,... databases whose replication to watch")
    replication_interval_seconds: float = Field(15.0, gt=0, le=3600)

    @field_validator("incremental_schedule", "full_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return validate_cron(value)

    @property
    def enabled(self) -> bool:
        return bool(self.stanza)

    def watched_databases(self) -> dict[str, str]:
        if self.watch:
            pairs = (item.split("=", 1) for item in self.watch.split(",") if "=" in item)
            return {name.strip(): url.strip() for name, url in pairs}
        # Each service's own URL where this process knows it; in development the others use the
        # embedded SQLite files of the shared data dir. In production an unknown URL is left out
        # (set CLUSTER_BACKUP_WATCH there).
        watched = {}
        for name in SERVICES:
            if os.environ.get(f"{name.upper()}_DATABASE_URL") or not get_settings().is_production:
                watched[name] = database_url(name)
        return watched


@lru_cache(maxsize=1)
def get_cluster_settings() -> ClusterBackupSettings:
    return ClusterBackupSettings()
