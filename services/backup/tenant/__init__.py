"""Per-tenant backups (issue 10, items 3-7): change log, daily incremental and monthly full
sets per school, packaging (tar + zstd, age, signed manifest), off-site uploads, retention
(CAT-8), restore and restore drills. The cluster level lives in `services/backup/cluster/`."""
