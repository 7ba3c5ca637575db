"""Restore drills: restore each tenant's latest set into scratch databases and compare.

Per tenant:
1. every archive of the chain (the latest full set and the incrementals after it) must
   decrypt and match its signed manifest: a corrupted or altered archive fails the drill;
2. the full set restored into scratch databases must give, table by table, the row counts
   and checksums the manifest recorded from the live snapshot at the set's time;
3. the live data now is compared with the restored data: equal when the change log holds
   no event of the tenant after the set, otherwise the drill reports how many changes
   happened since (the data legitimately moved on); when every incremental after the full set
   carries row changes (format 2), the chain is replayed on top up to the last set's time and
   compared with the live data table by table: a table no row change touched since must be
   equal (`chain_equals_live`), else the drill fails;
4. the audit log (`audit_check.py`): the restored audit trail holds as many of the tenant's
   entries as the manifest says; every restored row that an entry of that trail describes as a
   row image (the change-log replay's rule) agrees on the image's columns with the newest such
   image up to the set's time (rows compared, agreeing, the first disagreements by table, id and
   column; rows no event describes are counted, not compared); and the restored entries are the
   live log's, leaf by leaf (same leaf index, same leaf hash, asked of the audit service). Any
   disagreement fails the drill. The manifest's newest signed audit checkpoint is reported.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import orjson
from sqlalchemy import select

from services.kernel.db import make_engine

from services.kernel.errors import AppError

from . import audit_check, changelog, keys
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
            urls = url_for or scratch_url_for(Path(scratch))
            restored = restore_fresh(config, full, [], full.as_of, urls, identity=identity)
            audit_rows, audit_leaves = _audit_checks(fleet, store, tenant_id, full.as_of, restored, urls)
            chain = [r for r in incrementals if orjson.loads(r.manifest).get("rows_window")]
            if fleet is not None and chain and chain == incrementals:
                # the whole chain carries row changes: restored up to the last set's time, it must be
                # the live data, table by table, except the tables changed since
                chain_at = chain[-1].as_of
                replayed = restore_fresh(config, full, chain, chain_at, urls, identity=identity,
                                         increments_only=True)
                report["checks"]["chain_equals_live"] = _chain_check(
                    fleet, tenant_id, chain_at - config.row_settle_seconds, replayed)
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
            "checkpoint": (restored.get("audit_checkpoint") or {}).get("event_id"),
            "rows": audit_rows, "leaves": audit_leaves}
        failures = []
        if str(report["checks"].get("chain_equals_live", "")).startswith("differs"):
            failures.append(f"the restored chain {report['checks']['chain_equals_live']}")
        if audit_rows and audit_rows["disagree"]:
            first = audit_rows["disagreements"][0]
            failures.append(f"{audit_rows['disagree']} restored rows disagree with the audit log, first "
                            f"{first['table']} {first['id']} column {first['column']}")
        if audit_leaves and audit_leaves["differs_at"] is not None:
            failures.append(f"the restored audit trail differs from the live log at leaf {audit_leaves['differs_at']}")
        if failures:
            report["error"] = "; ".join(failures)
        report["ok"] = (not differing and not failures
                        and (audit is None or report["checks"]["audit"]["entries_in_set"]
                             == report["checks"]["audit"]["restored_entries"])
                        and not str(report["checks"].get("live_equals_set", "ok")).startswith("differs"))
    except (AppError, FileNotFoundError, OSError) as exc:
        report["error"] = getattr(exc, "message", None) or str(exc)
    report["seconds"] = round(time.time() - started, 3)
    return report


def _chain_check(fleet: Fleet, tenant_id: str, chain_at: float, replayed: dict) -> str:
    """The full set + its incrementals, restored at the last set's time, against the live data now:
    every table no row change touched since `chain_at` (that time less the settling delay: a
    transaction may have committed after the set) must be equal (the others moved on)."""
    moved: set[str] = set()
    differs: list[str] = []
    for service in sorted({t.split(".", 1)[0] for t in replayed["tables"]}):
        after, pages = None, 0
        while True:
            page = fleet.call(service, "tenant_row_changes", tenant_id=tenant_id, since=chain_at,
                              until=time.time() + 60, after_id=after, limit=1000)
            moved.update(f"{service}.{c['table']}" for c in page["changes"])
            after, pages = page["next"], pages + 1
            if after is None or pages >= 20:
                break
        live = fleet.call(service, "tenant_checksums", tenant_id=tenant_id)
        pruned = page.get("oldest_kept") is not None and page["oldest_kept"] > chain_at
        if after is not None or pruned:  # too much moved, or changes since already pruned: cannot tell
            moved.update(f"{service}.{t}" for t in live)
            continue
        differs.extend(f"{service}.{t}" for t, d in live.items()
                       if f"{service}.{t}" not in moved and replayed["tables"].get(f"{service}.{t}") != d)
    if differs:
        return f"differs from the live data with no change since: {', '.join(sorted(differs))}"
    return "ok" if not moved else f"ok; {len(moved)} tables changed since the last set"


def _audit_checks(fleet: Fleet | None, store, tenant_id: str, as_of: float, restored: dict,
                  url_for) -> tuple[dict | None, dict | None]:
    """The row-image and leaf comparisons on the scratch databases (None: not possible, e.g. the
    set holds no audit trail, or no fleet to ask the live log)."""
    if "audit" not in restored["databases"]:
        return None, None
    engines = {s: make_engine(url_for(s), pool_size=1) for s in restored["databases"]}
    try:
        connections = {s: e.connect() for s, e in engines.items()}
        try:
            rows = audit_check.compare_rows(connections, tenant_id, as_of,
                                            {k: v["rows"] for k, v in restored["tables"].items()},
                                            audit_check.in_flight_rows(store, tenant_id, as_of))
            leaves = audit_check.compare_leaves(connections["audit"], fleet, tenant_id) if fleet else None
        finally:
            for conn in connections.values():
                conn.close()
    finally:
        for engine in engines.values():
            engine.dispose()
    return rows, leaves
