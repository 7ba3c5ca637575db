"""Cluster-level backups of the PostgreSQL databases, for the operator (CAT-6, CAT-7, CAT-8).

- CAT-6, two sources at save: PostgreSQL synchronous streaming replication (configured in
  `deploy/`); `replication` watches `pg_stat_replication.sync_state` of each database.
- CAT-7, daily incremental and monthly full: pgBackRest (`pgbackrest`), run on cron schedules
  by `scheduler`, each run recorded (`runs`) and exported as metrics (`metrics`).
- CAT-8, retention: `retention` computes how long the off-site repository keeps full backups
  from the schools' contract end dates.

Rules that need no database or broker (`schedule`, `retention`, the config and JSON parts of
`pgbackrest`) import neither, and are tested by tables of cases.
"""
