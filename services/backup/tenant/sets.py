"""Making a tenant's sets: the monthly full export and the daily incremental (sealed change log).

A full set asks every service for one consistent snapshot of the tenant's rows
(`tenant_export_open`, opened on all services first so the snapshots are taken together),
pages through them (`tenant_export_chunk`) and writes each chunk into the archive as it
arrives. An incremental set seals the change log's unsealed events of the tenant and the row
changes every service captured in its window (`tenant_row_changes`, see `rows_window_start`).
Both are encrypted to the age public key, signed, stored locally and uploaded to every
configured off-site target.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

import orjson
from sqlalchemy import select

from services.kernel.settings import get_settings

from . import changelog, keys
from .archive import ArchiveWriter, file_sha256
from .models import BackupSet
from .targets import Target, configured_targets

DEFAULT_SERVICES = ("auth", "registry", "grades", "audit")
CHUNK_ROWS = 1000
# An incremental set seals the row changes recorded up to its time; a transaction that recorded
# a change just before that may commit just after the set read them, so the next set starts this
# long before the previous one ended (the overlap is replayed twice, in order: same result).
# BACKUP_ROW_SETTLE_SECONDS, at most ROW_WINDOW_MARGIN_SECONDS.
ROW_SETTLE_SECONDS = 30.0
# The first incremental after a full set starts this long before the full set's time (and a
# restore replays row changes from there): changes recorded before the snapshot but committed
# after it are in no snapshot. Replaying older images of rows in order changes nothing.
ROW_WINDOW_MARGIN_SECONDS = 60.0
Progress = Callable[[float, str], None]


class Fleet(Protocol):
    """How the backup side reaches the services' tenant-data RPCs."""

    def call(self, service: str, method: str, **kwargs) -> Any: ...


@dataclass
class Config:
    archive_dir: Path
    services: tuple[str, ...] = DEFAULT_SERVICES
    targets: list[Target] = field(default_factory=list)
    chunk_rows: int = CHUNK_ROWS
    row_settle_seconds: float = ROW_SETTLE_SECONDS

    @classmethod
    def from_env(cls) -> "Config":
        raw = os.environ.get("BACKUP_ARCHIVE_DIR")
        services = tuple(s.strip() for s in os.environ.get("BACKUP_TENANT_SERVICES", "").split(",") if s.strip())
        return cls(archive_dir=Path(raw) if raw else get_settings().data_dir / "backups" / "tenants",
                   services=services or DEFAULT_SERVICES, targets=configured_targets(),
                   row_settle_seconds=min(ROW_WINDOW_MARGIN_SECONDS,
                                          float(os.environ.get("BACKUP_ROW_SETTLE_SECONDS", ROW_SETTLE_SECONDS))))


def set_dict(row: BackupSet) -> dict:
    manifest = orjson.loads(row.manifest)
    return {"id": row.id, "tenant_id": row.tenant_id, "kind": row.kind, "as_of": _iso(row.as_of),
            "covers_from": _iso(row.covers_from) if row.covers_from else None, "size_bytes": row.size_bytes,
            "sha256": row.sha256, "file_name": row.file_name, "uploads": orjson.loads(row.uploads),
            "tables": manifest.get("tables", {}), "events": manifest.get("events"),
            "row_changes": manifest.get("row_changes"), "rows_window": manifest.get("rows_window"),
            "audit_checkpoint": manifest.get("audit_checkpoint"),
            "pruned_at": _iso(row.pruned_at) if row.pruned_at else None}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def archive_path(config: Config, tenant_id: str, file_name: str) -> Path:
    return config.archive_dir / tenant_id / file_name


def _file_name(kind: str, as_of: float, set_id: str) -> str:
    stamp = datetime.fromtimestamp(as_of, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{kind}-{set_id[:8]}.age"


def _upload(config: Config, path: Path, tenant_id: str, progress: Progress) -> list[dict]:
    receipts = []
    for i, t in enumerate(config.targets):
        progress(0.9 + 0.1 * i / max(1, len(config.targets)), f"uploading to {t.name}")
        receipts.append({**t.put(str(path), f"{tenant_id}/{path.name}"), "at": time.time()})
    return receipts


def export_full(fleet: Fleet, store, config: Config, tenant_id: str, *, kind: str = "full",
                progress: Progress = lambda f, s: None, emit=None, extra_recipients: tuple = ()) -> dict:
    """Write one full (or hand-over) set of the tenant; returns the stored set."""
    set_id = str(uuid.uuid4())
    started = time.time()
    with store.reading() as s:
        checkpoint = changelog.latest_checkpoint(s, tenant_id)
    path = archive_path(config, tenant_id, _file_name(kind, started, set_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ArchiveWriter(str(path), [keys.age_recipient(), *extra_recipients], keys.manifest_signing_key(),
                           {"set_id": set_id, "tenant_id": tenant_id, "kind": kind,
                            "services": list(config.services)})
    sessions: dict[str, dict] = {}
    try:
        progress(0.02, "opening snapshots")
        for service in config.services:
            sessions[service] = fleet.call(service, "tenant_export_open", tenant_id=tenant_id)
        as_of = time.time()
        total_tables = sum(len(s["tables"]) for s in sessions.values()) or 1
        done = 0
        for service, session in sessions.items():
            for table in session["tables"]:
                writer.declare_table(service, table["name"])
                after = None
                while True:
                    page = fleet.call(service, "tenant_export_chunk", session_id=session["session_id"],
                                      snapshot=session["snapshot"], tenant_id=tenant_id, table=table["name"],
                                      after=after, limit=config.chunk_rows)
                    writer.add_rows(service, table["name"], page["rows"])
                    after = page["next"]
                    if after is None:
                        break
                done += 1
                progress(0.05 + 0.8 * done / total_tables, f"exported {service}.{table['name']}")
        manifest = writer.finish(as_of=as_of, created_at=started, audit_checkpoint=checkpoint,
                                 snapshots={s: v["as_of"] for s, v in sessions.items()})
    except BaseException:
        writer.abort()
        raise
    finally:
        for service, session in sessions.items():
            try:
                fleet.call(service, "tenant_export_close", session_id=session["session_id"])
            except Exception:  # noqa: BLE001 - the opener's timeout closes it anyway
                pass
    return _store_set(store, config, path, manifest, tenant_id, kind, as_of, None, progress, emit)


def rows_window_start(previous: BackupSet | None, settle: float = ROW_SETTLE_SECONDS) -> float:
    """Where the next incremental's row changes start: a settling delay before the previous
    incremental's ended, or a margin before a full set (or before an incremental of format 1,
    which had none)."""
    if previous is None:
        return 0.0
    window = orjson.loads(previous.manifest).get("rows_window")
    if previous.kind == "incremental" and window:
        return float(window[1]) - settle
    return previous.as_of - ROW_WINDOW_MARGIN_SECONDS


def seal_incremental(store, config: Config, tenant_id: str, *, fleet: Fleet | None = None,
                     progress: Progress = lambda f, s: None, emit=None) -> dict:
    """Seal the tenant's change log received so far into a daily incremental set, with the row
    changes every service captured since the previous set (`tenant_row_changes`, asked of the
    services through `fleet`; without one, the set holds the change log only, as format 1 did)."""
    set_id = str(uuid.uuid4())
    cut = time.time()
    with store.reading() as s:
        previous = s.scalars(select(BackupSet).where(BackupSet.tenant_id == tenant_id)
                             .order_by(BackupSet.as_of.desc()).limit(1)).first()
        checkpoint = changelog.latest_checkpoint(s, tenant_id)
    covers_from = previous.as_of if previous else None
    path = archive_path(config, tenant_id, _file_name("incremental", cut, set_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ArchiveWriter(str(path), keys.age_recipient(), keys.manifest_signing_key(),
                           {"set_id": set_id, "tenant_id": tenant_id, "kind": "incremental"})
    sealed: list[str] = []
    try:
        cursor = None
        while True:
            with store.reading() as s:
                page = changelog.unsealed(s, tenant_id, cut, cursor, config.chunk_rows)
                envelopes = [orjson.loads(c.envelope) for c in page]
            if not page:
                break
            writer.add_changes(envelopes)
            sealed.extend(c.event_id for c in page)
            cursor = (page[-1].occurred_at, page[-1].event_id)
            progress(0.5, f"sealed {len(sealed)} events")
        extra = {}
        if fleet is not None:
            since, until = rows_window_start(previous, config.row_settle_seconds), cut
            counts = {}
            for i, service in enumerate(config.services):
                counts[service] = _seal_row_changes(fleet, writer, config, service, tenant_id, since, until)
                progress(0.5 + 0.3 * (i + 1) / len(config.services), f"sealed the row changes of {service}")
            extra = {"row_changes": counts, "rows_window": [since, until]}
        manifest = writer.finish(as_of=cut, covers_from=covers_from, events=len(sealed),
                                 base_set_id=previous.id if previous else None, audit_checkpoint=checkpoint, **extra)
    except BaseException:
        writer.abort()
        raise
    return _store_set(store, config, path, manifest, tenant_id, "incremental", cut, covers_from, progress, emit,
                      sealed=sealed)


def _seal_row_changes(fleet: Fleet, writer: ArchiveWriter, config: Config, service: str, tenant_id: str,
                      since: float, until: float) -> int:
    total, after = 0, None
    while True:
        page = fleet.call(service, "tenant_row_changes", tenant_id=tenant_id, since=since, until=until,
                          after_id=after, limit=config.chunk_rows)
        writer.add_row_changes(service, page["changes"])
        total += len(page["changes"])
        after = page["next"]
        if after is None:
            return total


def _store_set(store, config, path: Path, manifest: dict, tenant_id: str, kind: str, as_of: float,
               covers_from: float | None, progress: Progress, emit, sealed: list[str] | None = None) -> dict:
    progress(0.88, "checking the archive")
    digest, size = file_sha256(str(path)), path.stat().st_size
    uploads = _upload(config, path, tenant_id, progress)
    with store.transaction() as s:
        row = BackupSet(id=manifest["set_id"], tenant_id=tenant_id, kind=kind, as_of=as_of, covers_from=covers_from,
                        size_bytes=size, sha256=digest, file_name=path.name, manifest=orjson.dumps(manifest).decode(),
                        uploads=orjson.dumps(uploads).decode())
        s.add(row)
        s.flush()
        if sealed:
            changelog.seal(s, sealed, row.id)
        result = set_dict(row)
        if emit is not None:
            emit(s, "set_created", entity_type="backup_set", entity_id=row.id, tenant_id=tenant_id,
                 after={k: result[k] for k in ("id", "kind", "as_of", "size_bytes", "sha256", "events",
                                               "row_changes")}
                 | {"rows": {t: v["rows"] for t, v in result["tables"].items()},
                    "targets": [u["target"] for u in uploads]})
    return result


def find_set(session, tenant_id: str, set_id: str) -> BackupSet | None:
    row = session.get(BackupSet, set_id)
    return row if row is not None and row.tenant_id == tenant_id else None


def local_copy(config: Config, row: BackupSet, scratch: Path) -> Path:
    """The archive on this host, or fetched back from the first target that has it."""
    path = archive_path(config, row.tenant_id, row.file_name)
    if path.exists():
        return path
    for receipt in orjson.loads(row.uploads):
        for t in config.targets:
            if t.name == receipt["target"]:
                dest = scratch / row.file_name
                t.get(receipt["key"], str(dest))
                return dest
    raise FileNotFoundError(f"archive {row.file_name} is neither on this host nor on a configured target")
