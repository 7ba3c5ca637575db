"""Routes of the backup area (see docs/architecture.md)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1")

# --- per-tenant backups: tenants, sets, contracts, restores, drills, jobs (backup-tenant) ---
# defined in their own module, on this router
from . import backup_tenant  # noqa: E402,F401
