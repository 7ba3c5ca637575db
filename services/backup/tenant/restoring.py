"""Restoring one tenant at a point in time: its latest full set before that time, then the
incremental sets after it, replayed up to that time: their captured row changes per service
(archive format 2, `services/kernel/row_changes.py`), or for older sets the change log's
after-images.

- Into fresh databases: each service's own migrations build an empty schema at the given
  URL, and the kernel's generic import (`services/kernel/tenant_data.py`) writes the rows, in
  one transaction per service that commits only once every archive passed its checks.
- Into the live platform, for that tenant only: every archive is verified first (decryption,
  signature, hashes); then each service's `tenant_import_chunk` RPC replaces that tenant's rows
  and `tenant_replay` applies the change log. Other tenants' rows are never touched: the
  services delete and insert `WHERE tenant_id = <this tenant>` only, and refuse a row of
  another tenant. The audit trail is append-only, so it is not written back by default.
"""
from __future__ import annotations

import importlib
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from services.kernel import tenant_data
from services.kernel.db import make_engine
from services.kernel.errors import InvalidInput, NotFound
from services.kernel.migrations import upgrade_to_head

from . import keys
from .archive import _yield as yield_now, member_rows_service, member_table, parse_member, read_archive
from .models import BackupSet
from .sets import ROW_WINDOW_MARGIN_SECONDS, Config, Fleet, local_copy

# an event that happened just before a snapshot may have committed just after it: replay a
# little before the snapshot too (replaying an after-image twice changes nothing)
REPLAY_MARGIN_SECONDS = 5.0
LIVE_EXCLUDED = frozenset({"audit"})
Progress = Callable[[float, str], None]


def choose_sets(session, tenant_id: str, at: float) -> tuple[BackupSet, list[BackupSet]]:
    full = session.scalars(select(BackupSet).where(
        BackupSet.tenant_id == tenant_id, BackupSet.kind.in_(("full", "handover")), BackupSet.as_of <= at + 0.001,
        BackupSet.pruned_at.is_(None)).order_by(BackupSet.as_of.desc()).limit(1)).first()
    if full is None:
        raise NotFound("no full backup of this tenant exists before that time")
    incrementals = list(session.scalars(select(BackupSet).where(
        BackupSet.tenant_id == tenant_id, BackupSet.kind == "incremental", BackupSet.pruned_at.is_(None),
        BackupSet.as_of > full.as_of - REPLAY_MARGIN_SECONDS).order_by(BackupSet.as_of)))
    # the sets up to `at`, plus the first one after it (it holds the changes just before `at`)
    chosen = []
    for row in incrementals:
        chosen.append(row)
        if row.as_of >= at:
            break
    return full, chosen


class Increment:
    """What one incremental set holds: the change log's envelopes and, from format 2 on, the row
    changes per service (which then replace the envelopes' after-images for that service)."""

    def __init__(self):
        self.envelopes: list[dict] = []
        self.rows: dict[str, list[dict]] = {}
        self.manifest: dict = {}

    def on_member(self, name: str, data: bytes) -> None:
        if name.startswith("changes/"):
            self.envelopes.extend(parse_member(data))
            return
        service = member_rows_service(name)
        if service is not None:
            self.rows.setdefault(service, []).extend(parse_member(data))

    def has_rows(self, service: str) -> bool:
        return service in (self.manifest.get("row_changes") or {})

    def rows_in_window(self, service: str, full_as_of: float, at: float) -> list[dict]:
        start = full_as_of - ROW_WINDOW_MARGIN_SECONDS
        return [c for c in self.rows.get(service, ()) if start < float(c["at"]) <= at]


def read_increment(config: Config, row: BackupSet, scratch: Path, identity, public_key) -> Increment:
    increment = Increment()
    increment.manifest = read_archive(str(local_copy(config, row, scratch)), identity, public_key,
                                      increment.on_member)
    return increment


def service_metadata(service: str):
    return importlib.import_module(f"services.{service}.models").Base.metadata


def _events_in_window(envelopes: list[dict], start: float, at: float) -> list[dict]:
    from datetime import datetime
    out = []
    for e in envelopes:
        t = datetime.fromisoformat(e["occurred_at"]).timestamp()
        if start - REPLAY_MARGIN_SECONDS < t <= at:
            out.append((t, e))
    return [e for _, e in sorted(out, key=lambda p: (p[0], p[1]["event_id"]))]


def _pages(items: list, size: int = 500) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def restore_fresh(config: Config, full: BackupSet, incrementals: list[BackupSet], at: float,
                  url_for: Callable[[str], str], *, identity=None, progress: Progress = lambda f, s: None,
                  increments_only: bool = False) -> dict:
    """Restore into empty databases (`url_for(service)`); returns checksums of what was restored.
    `increments_only`: the databases hold the full set already (a drill restored it and checked
    it); only the incremental sets are applied on top."""
    identity = identity or keys.age_identity()
    public_key = keys.manifest_public_key()
    report: dict = {"full_set_id": full.id, "incremental_set_ids": [r.id for r in incrementals],
                    "replayed": {}, "databases": {}}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        connections, metadata = {}, {}

        def connection_for(service: str):
            if service not in connections:
                url = url_for(service)
                upgrade_to_head(service, url)
                engine = make_engine(url, pool_size=1)
                stack.callback(engine.dispose)
                conn = stack.enter_context(engine.connect())
                conn.begin()
                connections[service], metadata[service] = conn, service_metadata(service)
                report["databases"][service] = url.split("@")[-1]
            return connections[service]

        def on_full_member(name: str, data: bytes) -> None:
            where = member_table(name)
            if where is None or increments_only:
                return
            service, table = where
            tenant_data.import_rows(connection_for(service), metadata[service], full.tenant_id, table,
                                    parse_member(data))

        progress(0.1, "restoring the full set")
        manifest = read_archive(str(local_copy(config, full, Path(scratch))), identity, public_key, on_full_member)
        for key in manifest["tables"]:
            connection_for(key.split(".", 1)[0])  # a service whose tables were all empty
        for i, row in enumerate(incrementals):
            progress(0.5 + 0.4 * i / max(1, len(incrementals)), f"replaying {row.file_name}")
            increment = read_increment(config, row, Path(scratch), identity, public_key)
            for e in _events_in_window(increment.envelopes, full.as_of, at):
                service = e["type"].split(".", 1)[0]
                if service not in connections or increment.has_rows(service):
                    continue
                table = tenant_data.replay_event(connections[service], metadata[service], full.tenant_id, e)
                key = f"{service}.{table}" if table else "not_a_row_image"
                report["replayed"][key] = report["replayed"].get(key, 0) + 1
            for service in connections:
                if not increment.has_rows(service):
                    continue
                for rows in _pages(increment.rows_in_window(service, full.as_of, at), 200):
                    applied = tenant_data.apply_row_changes(connections[service], metadata[service], full.tenant_id,
                                                            rows, update_shared=True, snapshot_at=full.as_of)
                    for table, n in applied.items():
                        key = f"rows.{service}.{table}"
                        report["replayed"][key] = report["replayed"].get(key, 0) + n
                    yield_now()  # the service's other calls (a job's progress) between pages
        progress(0.95, "checksums of the restored data")
        report["tables"] = {}
        for service, conn in connections.items():
            for table, digest in tenant_data.tenant_checksums(conn, metadata[service], full.tenant_id).items():
                report["tables"][f"{service}.{table}"] = digest
        for conn in connections.values():
            conn.commit()
    report["manifest_tables"] = manifest["tables"]
    report["audit_checkpoint"] = manifest.get("audit_checkpoint")
    return report


def restore_live(fleet: Fleet, config: Config, full: BackupSet, incrementals: list[BackupSet], at: float, *,
                 services: tuple[str, ...] | None = None, identity=None,
                 progress: Progress = lambda f, s: None) -> dict:
    """Write the tenant back into the live services, that tenant only (see the module docstring)."""
    identity = identity or keys.age_identity()
    public_key = keys.manifest_public_key()
    with tempfile.TemporaryDirectory() as scratch:
        paths = {row.id: local_copy(config, row, Path(scratch)) for row in [full, *incrementals]}
        progress(0.05, "verifying the archives")
        manifest = read_archive(str(paths[full.id]), identity, public_key)  # nothing is written before this
        for row in incrementals:
            read_archive(str(paths[row.id]), identity, public_key)
        in_set = []
        for key in manifest["tables"]:
            service = key.split(".", 1)[0]
            if service not in in_set:
                in_set.append(service)
        chosen = [s for s in in_set if (s in services if services else s not in LIVE_EXCLUDED)]
        if services and set(services) - set(in_set):
            raise InvalidInput(f"the set holds no data of: {', '.join(sorted(set(services) - set(in_set)))}")
        report: dict = {"full_set_id": full.id, "services": chosen, "inserted": {}, "removed": {}, "replayed": {}}
        for service in chosen:  # first the tenant's current rows go (children before parents)
            first_table = next(k.split(".", 1)[1] for k in manifest["tables"] if k.startswith(service + "."))
            answer = fleet.call(service, "tenant_import_chunk", tenant_id=full.tenant_id, table=first_table, rows=[],
                                replace=True)
            for table, n in answer["removed"].items():
                report["removed"][f"{service}.{table}"] = n

        def on_member(name: str, data: bytes) -> None:
            where = member_table(name)
            if where is None or where[0] not in chosen:
                return
            answer = fleet.call(where[0], "tenant_import_chunk", tenant_id=full.tenant_id, table=where[1],
                                rows=parse_member(data), replace=False)
            key = f"{where[0]}.{where[1]}"
            report["inserted"][key] = report["inserted"].get(key, 0) + answer["inserted"]
        progress(0.3, "writing the full set back")
        read_archive(str(paths[full.id]), identity, public_key, on_member)
        for i, row in enumerate(incrementals):
            progress(0.7 + 0.25 * i / max(1, len(incrementals)), f"replaying {row.file_name}")
            increment = Increment()
            increment.manifest = read_archive(str(paths[row.id]), identity, public_key, increment.on_member)
            window = _events_in_window(increment.envelopes, full.as_of, at)
            for service in chosen:
                if increment.has_rows(service):
                    batches = [{"envelopes": [], "rows": rows, "snapshot_at": full.as_of}
                               for rows in _pages(increment.rows_in_window(service, full.as_of, at))]
                else:
                    batches = [{"envelopes": envelopes}
                               for envelopes in _pages([e for e in window if e["type"].split(".", 1)[0] == service])]
                for batch in batches:
                    answer = fleet.call(service, "tenant_replay", tenant_id=full.tenant_id, **batch)
                    for table, n in answer["applied"].items():
                        report["replayed"][f"{service}.{table}"] = report["replayed"].get(f"{service}.{table}", 0) + n
    return report
