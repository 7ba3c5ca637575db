"""Restore drills: restore each tenant's latest set into scratch databases and compare.

Per tenant:
1. every archive of the chain (the latest full set and the incrementals after it) must
   decrypt and match its signed manifest: a corrupted or altered archive fails the drill;
2. the full set restored into scratch databases must give, table by table, the row counts
   and checksums the manifest recorded from the live snapshot at the set's time;
3. the live data now is compared with the restored data: equal when the change log holds
   no event of the tenant after the set, otherwise the drill reports how many changes
   happened since (the data legitimately moved on);
4. the audit log: the restored audit trail holds as many of the tenant's entries as the
   manifest says, and the manifest carries the newest signed audit checkpoint (reported).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from services.kernel.errors import AppError

from . import changelog, keys
from .archive import read_archive
from .models import BackupSet
from .restoring import choose_sets, restore_fresh
from .sets import Config, Fleet, local_copy


def scratch_url_for(directory: Path):
    template = os.environ.get("BACKUP_DRILL_DATABASE_URL_TEMPLATE")  # e.g. postgresql://…/drill_{service}
    if template:
        return lambda service: template.format(service=service)
    return lambda service: f"sqlite:///{directory / f'{service}.db'}"


def tenants_with_sets(session) -> list[str]:
    return sorted(set(session.scalars(select(BackupSet.tenant_id).where(
        BackupSet.kind.in_(("full", "handover")), BackupSet.pruned_at.is_(None)))))


def drill_tenant(fleet: Fleet | None, store, config: Config, tenant_id: str, *, identity=None,
                 url_for=None) -> dict:
    started = time.time()
    report: dict = {"tenant_id": tenant_id, "ok": False, "checks": {}}
    try:
        identity = identity or keys.age_identity()
        with store.reading() as s:
            full, incrementals = choose_sets(s, tenant_id, time.time())
            s.expunge_all()
        report["full_set_id"], report["set_as_of"] = full.id, full.as_of
        with tempfile.TemporaryDirectory() as scratch:
            public_key = keys.manifest_public_key()
            for row in incrementals:
                read_archive(str(local_copy(config, row, Path(scratch))), identity, public_key)
            report["checks"]["archives"] = f"{1 + len(incrementals)} verified"
            restored = restore_fresh(config, full, [], full.as_of, url_for or scratch_url_for(Path(scratch)),
                                     identity=identity)
        differing = sorted(t for t, d in restored["manifest_tables"].items() if restored["tables"].get(t) != d)
        report["checks"]["restored_equals_set"] = "ok" if not differing else f"differs: {', '.join(differing)}"
        with store.reading() as s:
            changes_since = changelog.count_after(s, tenant_id, full.as_of)
        if fleet is not None:
            live_differs = []
            for service in {t.split(".", 1)[0] for t in restored["tables"]}:
                for table, digest in fleet.call(service, "tenant_checksums", tenant_id=tenant_id).items():
                    if restored["tables"].get(f"{service}.{table}") != digest:
                        live_differs.append(f"{service}.{table}")
            if not live_differs:
                report["checks"]["live_equals_set"] = "ok"
            elif changes_since:
                report["checks"]["live_equals_set"] = f"changed since the set by {changes_since} events"
            else:
                report["checks"]["live_equals_set"] = f"differs with no change logged: {', '.join(sorted(live_differs))}"
        audit = restored["manifest_tables"].get("audit.audit_entries")
        report["checks"]["audit"] = {
            "entries_in_set": audit["rows"] if audit else None,
            "restored_entries": restored["tables"].get("audit.audit_entries", {}).get("rows"),
            "checkpoint": (restored.get("audit_checkpoint") or {}).get("event_id")}
        report["ok"] = (not differing and (audit is None or report["checks"]["audit"]["entries_in_set"]
                                           == report["checks"]["audit"]["restored_entries"])
                        and not str(report["checks"].get("live_equals_set", "ok")).startswith("differs"))
    except (AppError, FileNotFoundError, OSError) as exc:
        report["error"] = getattr(exc, "message", None) or str(exc)
    report["seconds"] = round(time.time() - started, 3)
    return report
