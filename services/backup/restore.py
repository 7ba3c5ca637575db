"""Restore one school from its backups, from the command line (the operator's tool).

    python -m services.backup.restore sets   --tenant T
    python -m services.backup.restore fresh  --tenant T [--at ISO] --into 'sqlite:////srv/r/{service}.db'
    python -m services.backup.restore live   --tenant T [--at ISO] --confirm T [--services grades,registry]
    python -m services.backup.restore verify --file ARCHIVE.age

It runs on the backup host with the backup service's configuration (BACKUP_DATABASE_URL,
BACKUP_ARCHIVE_DIR, BACKUP_TARGETS, AMQP_URI) plus the private age key the operator keeps
(--identity or BACKUP_AGE_IDENTITY_FILE). `fresh` writes new databases through each
service's own migrations; `live` asks the running services to replace that school's rows
only (RPC with the backup service's credential). Every restore is recorded as an event.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import AppError
from services.kernel.nameko_support import Store
from services.kernel.settings import database_url

from .models import Base
from .tenant import keys, restoring
from .tenant.archive import read_archive
from .tenant.jobs import SystemContext
from .tenant.models import BackupSet
from .tenant.sets import Config, set_dict


def _store() -> Store:
    return Store("backup", make_sessionmaker(make_engine(database_url("backup"), pool_size=2)), Base.metadata)


def _at(value: str | None) -> float:
    if not value:
        return time.time()
    when = datetime.fromisoformat(value)
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.backup.restore", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("sets", "fresh", "live"):
        p = sub.add_parser(name)
        p.add_argument("--tenant", required=True)
        if name != "sets":
            p.add_argument("--at", help="point in time, ISO 8601 (default: now)")
            p.add_argument("--identity", type=Path, help="the age private key file (else BACKUP_AGE_IDENTITY_FILE)")
        if name == "fresh":
            p.add_argument("--into", required=True, help="database URL template with {service}")
        if name == "live":
            p.add_argument("--confirm", required=True, help="the tenant id again: this replaces its live data")
            p.add_argument("--services", help="comma-separated (default: every service but audit)")
    v = sub.add_parser("verify")
    v.add_argument("--file", required=True, type=Path)
    v.add_argument("--identity", type=Path)
    args = parser.parse_args(argv)
    try:
        print(json.dumps(_run(args), ensure_ascii=False, indent=2, default=str))
        return 0
    except (AppError, FileNotFoundError) as exc:
        print(f"refused: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 2


def _run(args) -> dict:
    config = Config.from_env()
    identity = keys.age_identity(args.identity) if getattr(args, "identity", None) else None
    if args.command == "verify":
        manifest = read_archive(str(args.file), identity or keys.age_identity(), keys.manifest_public_key())
        return {"ok": True, "tenant_id": manifest.get("tenant_id"), "kind": manifest.get("kind"),
                "tables": manifest["tables"], "events": manifest.get("events")}
    store = _store()
    if args.command == "sets":
        with store.reading() as s:
            rows = s.scalars(select(BackupSet).where(BackupSet.tenant_id == args.tenant)
                             .order_by(BackupSet.as_of.desc()).limit(100))
            return {"items": [set_dict(r) for r in rows]}
    at = _at(args.at)
    with store.reading() as s:
        full, incrementals = restoring.choose_sets(s, args.tenant, at)
        s.expunge_all()
    if args.command == "fresh":
        if "{service}" not in args.into:
            raise SystemExit("--into must contain {service}")
        report = restoring.restore_fresh(config, full, incrementals, at, lambda svc: args.into.format(service=svc),
                                         identity=identity)
    else:
        if args.confirm != args.tenant:
            raise SystemExit("--confirm must repeat --tenant: a live restore replaces that school's data")
        from .tenant.provider import rpc_fleet
        services = tuple(s.strip() for s in args.services.split(",")) if args.services else None
        with rpc_fleet() as fleet:
            report = restoring.restore_live(fleet, config, full, incrementals, at, services=services,
                                            identity=identity)
    with store.transaction() as s:
        store.emit(s, SystemContext(correlation_id=f"cli-{int(time.time())}"), "tenant_restored", entity_type="tenant",
                   entity_id=args.tenant, tenant_id=args.tenant,
                   after={"mode": args.command, "at": datetime.fromtimestamp(at, timezone.utc).isoformat(),
                          "full_set_id": full.id, "incremental_set_ids": [r.id for r in incrementals], "by": "cli"})
    return report


if __name__ == "__main__":
    sys.exit(main())
