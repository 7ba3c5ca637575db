"""Per-tenant full export + package + encrypt, and its restore, beside pg_dump / pg_restore.

One school of 1,000 pupils with a year of grades (12 subjects, ~8 grades each, one audit
entry per grade), seeded directly into the grades, registry and audit databases on PostgreSQL
(only that school, so pg_dump dumps exactly the same rows). Measured, in alternating rounds:

- baseline: `pg_dump -Fc` of the three databases (compressed, not encrypted), and
  `pg_restore` of those dumps into fresh databases;
- ours, in process: the kernel's snapshot export (keyset pages of 1,000 rows in one
  REPEATABLE READ snapshot) → tar + zstd → age → signed manifest; restore: decrypt, verify,
  fresh databases by the services' own migrations, generic import;
- ours, over RPC: the same export asked of running grades/registry/audit services over
  RabbitMQ, as the backup service does it.

MB/s are of the same logical volume for every column (the rows as canonical JSON lines), so
the ratio compares times. `python -m bench.backup_export [--pupils N] [--rounds R]`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("registry", "grades", "audit")
NAME = "backup_export"


def seed(urls: dict[str, str], tenant: str, pupils: int) -> dict[str, int]:
    import random

    from sqlalchemy import create_engine

    from services.kernel.db import normalise_url
    from services.audit.models import Base as AuditBase
    from services.grades.models import Base as GradesBase
    from services.registry.models import Base as RegistryBase
    rnd = random.Random(7)
    now = time.time()
    counts: dict[str, int] = {}
    persons = [str(uuid.uuid4()) for _ in range(pupils)]
    with create_engine(normalise_url(urls["registry"])).begin() as c:
        t = RegistryBase.metadata.tables
        c.execute(t["persons"].insert(), [{"id": p, "matriculation_code": f"RO{i:010d}", "cnp": None,
                                           "last_name": rnd.choice(["Popescu", "Ionescu", "Țăranu", "Bălănescu"]),
                                           "first_name": rnd.choice(["Ștefan", "Ana", "Mihai", "Ioana"]),
                                           "birth_date": date(2010, 1, 1) + timedelta(days=i % 1500), "sex": "F",
                                           "version": 1, "created_at": now} for i, p in enumerate(persons)])
        c.execute(t["person_links"].insert(), [{"id": str(uuid.uuid4()), "person_id": p, "tenant_id": tenant,
                                                "created_at": now} for p in persons])
        counts["registry"] = 2 * pupils
    classes = [str(uuid.uuid4()) for _ in range(max(1, pupils // 25))]
    subjects = [str(uuid.uuid4()) for _ in range(12)]
    grades, audit = [], []
    for i, p in enumerate(persons):
        klass = classes[i % len(classes)]
        for s in subjects:
            for k in range(8):
                gid = str(uuid.uuid4())
                day = date(2025, 9, 15) + timedelta(days=(k * 37 + i) % 270)
                grades.append({"id": gid, "tenant_id": tenant, "class_id": klass, "subject_id": s, "student_id": p,
                               "value": rnd.randint(4, 10), "awarded_on": day, "teacher_id": str(uuid.UUID(int=k)),
                               "version": 1, "created_at": now})
                envelope = {"event_id": gid, "type": "grades.grade_recorded", "tenant_id": tenant,
                            "entity": {"type": "grade", "id": gid}, "data": {"after": {"value": grades[-1]["value"]}}}
                audit.append({"event_id": gid, "type": "grades.grade_recorded", "tenant_id": tenant,
                              "actor_id": str(uuid.UUID(int=k)), "actor_role": "teacher", "entity_type": "grade",
                              "entity_id": gid, "reason": None, "occurred_at": f"{day.isoformat()}T08:00:00+00:00",
                              "recorded_at": now, "correlation_id": gid, "envelope": json.dumps(envelope)})
    with create_engine(normalise_url(urls["grades"])).begin() as c:
        t = GradesBase.metadata.tables
        c.execute(t["classes"].insert(), [{"id": k, "tenant_id": tenant, "name": f"a {i}-a", "school_year": "2025-2026",
                                           "created_at": now} for i, k in enumerate(classes)])
        c.execute(t["subjects"].insert(), [{"id": s, "tenant_id": tenant, "name": f"Materia {i}", "weekly_hours": 2,
                                            "created_at": now} for i, s in enumerate(subjects)])
        c.execute(t["class_students"].insert(), [{"id": str(uuid.uuid4()), "tenant_id": tenant,
                                                  "class_id": classes[i % len(classes)], "student_id": p,
                                                  "created_at": now} for i, p in enumerate(persons)])
        c.execute(t["teaching_assignments"].insert(), [{"id": str(uuid.uuid4()), "tenant_id": tenant, "class_id": k,
                                                        "subject_id": s, "teacher_id": str(uuid.uuid4()),
                                                        "created_at": now} for k in classes for s in subjects])
        for start in range(0, len(grades), 10_000):
            c.execute(t["grades"].insert(), grades[start:start + 10_000])
        counts["grades"] = len(grades)
    with create_engine(normalise_url(urls["audit"])).begin() as c:
        t = AuditBase.metadata.tables
        for start in range(0, len(audit), 10_000):
            c.execute(t["audit_entries"].insert(), audit[start:start + 10_000])
        counts["audit"] = len(audit)
    return counts


class InProcessFleet:
    """The services' tenant-data RPCs, called as functions on their engines (no broker hop)."""

    def __init__(self, urls: dict[str, str]):
        from services.backup.tenant.restoring import service_metadata
        from services.kernel.db import make_engine
        from services.kernel.tenant_data import ExportSessions
        self.sessions = {s: ExportSessions(make_engine(u), service_metadata(s)) for s, u in urls.items()}

    def call(self, service, method, **kw):
        x = self.sessions[service]
        if method == "tenant_export_open":
            return x.open(kw["tenant_id"])
        if method == "tenant_export_chunk":
            return x.chunk(kw["session_id"], kw["snapshot"], kw["tenant_id"], kw["table"], kw["after"], kw["limit"])
        if method == "tenant_export_close":
            return {"closed": x.close(kw["session_id"])}
        raise ValueError(method)


class Store:
    """Just enough of the backup service's store for `export_full` (no database writes)."""

    def __init__(self, sessions):
        self.sessions = sessions

    def reading(self):
        return self.sessions.begin(readonly=True)

    def transaction(self):
        return self.sessions.begin()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-rpc", action="store_true", help="skip the over-RPC variant")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    os.environ["PLATFORM_DATA_DIR"] = str(scratch)
    os.environ["BACKUP_ARCHIVE_DIR"] = str(scratch / "archives")
    os.environ["BACKUP_TENANT_SERVICES"] = ",".join(SERVICES)
    sys.path.insert(0, str(REPO))
    from bench.common import Row, median, print_table, write_results
    from services.backup.tenant import models as _models  # noqa: F401
    from services.backup.tenant.models import BackupSet
    from services.backup.tenant.restoring import restore_fresh
    from services.backup.tenant.sets import Config, export_full
    from services.kernel.db import make_engine, make_sessionmaker
    from services.kernel.migrations import upgrade_to_head
    from services.kernel.tenant_data import row_bytes
    from tests.infra import temporary_pg_database

    tenant = str(uuid.uuid4())
    with ExitStack() as stack:
        urls = {s: stack.enter_context(temporary_pg_database(f"bench_{s}")) for s in SERVICES}
        for s, u in urls.items():
            upgrade_to_head(s, u)
        t0 = time.perf_counter()
        counts = seed(urls, tenant, args.pupils)
        print(f"[bench] seeded {counts} in {time.perf_counter() - t0:.1f} s", flush=True)
        backup_url = f"sqlite:///{scratch / 'backup.db'}"
        upgrade_to_head("backup", backup_url)
        store = Store(make_sessionmaker(make_engine(backup_url)))
        config = Config.from_env()
        fleet = InProcessFleet(urls)
        # the logical volume: the tenant's rows as canonical JSON lines
        volume = 0
        for s, x in fleet.sessions.items():
            opened = x.open(tenant)
            for table in opened["tables"]:
                after = None
                while True:
                    page = x.chunk(opened["session_id"], opened["snapshot"], tenant, table["name"], after, 5000)
                    volume += sum(len(row_bytes(r)) for r in page["rows"])
                    after = page["next"]
                    if after is None:
                        break
            x.close(opened["session_id"])
        mb = volume / 1e6
        results: dict[str, list[float]] = {k: [] for k in ("pg_dump", "ours", "ours_rpc", "pg_restore", "restore")}
        sizes: dict[str, int] = {}
        rpc_fleet = stack.enter_context(_rpc_services(urls, scratch)) if not args.no_rpc else None
        for r in range(args.rounds):
            dumps = scratch / f"dumps{r}"
            dumps.mkdir()
            t0 = time.perf_counter()
            for s, u in urls.items():
                subprocess.run(["pg_dump", "-Fc", "-f", str(dumps / f"{s}.dump"), u], check=True)
            results["pg_dump"].append(time.perf_counter() - t0)
            sizes["pg_dump"] = sum(p.stat().st_size for p in dumps.iterdir())
            t0 = time.perf_counter()
            made = export_full(fleet, store, config, tenant)
            results["ours"].append(time.perf_counter() - t0)
            sizes["ours"] = made["size_bytes"]
            if rpc_fleet is not None:
                t0 = time.perf_counter()
                export_full(rpc_fleet, store, config, tenant)
                results["ours_rpc"].append(time.perf_counter() - t0)
            # restores into fresh databases
            with ExitStack() as fresh:
                targets = {s: fresh.enter_context(temporary_pg_database(f"bench_pgr_{s}")) for s in SERVICES}
                t0 = time.perf_counter()
                for s, u in targets.items():
                    subprocess.run(["pg_restore", "--no-owner", "-d", u, str(dumps / f"{s}.dump")], check=True)
                results["pg_restore"].append(time.perf_counter() - t0)
            with ExitStack() as fresh:
                targets = {s: fresh.enter_context(temporary_pg_database(f"bench_rst_{s}")) for s in SERVICES}
                row = BackupSet(id=made["id"], tenant_id=tenant, kind="full", as_of=time.time(), file_name=made["file_name"],
                                size_bytes=made["size_bytes"], sha256=made["sha256"], manifest="{}", uploads="[]")
                t0 = time.perf_counter()
                report = restore_fresh(config, row, [], time.time(), lambda s: targets[s])
                results["restore"].append(time.perf_counter() - t0)
                assert report["tables"] == report["manifest_tables"], "restored data differ from the set"
            shutil.rmtree(dumps)
            print(f"[bench] round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in results.items() if v),
                  flush=True)
        pg, ours, rpc = median(results["pg_dump"]), median(results["ours"]), median(results["ours_rpc"])
        rows = [
            Row("full export + package + encrypt, in process", mb / pg, mb / ours, "MB/s"),
            Row("full export + package + encrypt, over RPC", mb / pg, mb / rpc if rpc == rpc else float("nan"),
                "MB/s"),
            Row("  time (in process)", pg, ours, "s"),
            Row("restore into fresh databases", mb / median(results["pg_restore"]), mb / median(results["restore"]),
                "MB/s"),
            Row("  restore time", median(results["pg_restore"]), median(results["restore"]), "s"),
            Row("archive size", sizes["pg_dump"] / 1e6, sizes["ours"] / 1e6, "MB"),
        ]
        table = print_table(
            f"Per-tenant backup of one school ({args.pupils} pupils, {counts['grades']:,} grades, "
            f"{counts['audit']:,} audit entries; {mb:.1f} MB of rows)",
            "pg_dump -Fc / pg_restore of the same rows (3 databases, compressed, not encrypted)",
            "kernel snapshot export → tar+zstd → age, signed manifest; restore: verify + migrations + import",
            rows, notes=[f"median of {args.rounds} alternating rounds; MB/s over the rows as JSON lines",
                         "restore includes creating the schema by each service's Alembic migrations"])
        write_results(NAME, {"table": table, "cpu_text": "", "rows": rows, "seconds": results, "sizes": sizes,
                             "logical_mb": mb, "counts": counts})
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


class _rpc_services:
    """grades, registry and audit as processes on a scratch vhost; a fleet that calls them."""

    def __init__(self, urls, scratch):
        self.urls, self.scratch = urls, scratch

    def __enter__(self):
        from tests.infra import temporary_vhost
        self.stack = ExitStack()
        amqp = self.stack.enter_context(temporary_vhost("bench-backup"))
        os.environ["AMQP_URI"] = amqp
        env = dict(os.environ, METRICS_PORT="0", PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore",
                   **{f"{s.upper()}_DATABASE_URL": u for s, u in self.urls.items()})
        self.procs = [subprocess.Popen([sys.executable, "-m", f"services.{s}"], env=env, cwd=REPO,
                                       stdout=open(self.scratch / f"{s}.log", "wb"), stderr=subprocess.STDOUT)
                      for s in SERVICES]
        from services.kernel.settings import get_settings
        get_settings.cache_clear()
        from nameko.standalone.rpc import ClusterRpcProxy
        from services.backup.tenant.provider import RpcFleet
        from services.kernel.runner import nameko_config
        deadline = time.monotonic() + 90
        with ClusterRpcProxy(nameko_config(get_settings()), timeout=3) as pinger:
            for s in SERVICES:
                while True:
                    try:
                        pinger[s].ping()
                        break
                    except Exception:  # noqa: BLE001 - not up yet
                        if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                            raise
                        time.sleep(0.5)
        self.proxy = ClusterRpcProxy(nameko_config(get_settings()), timeout=120)
        return RpcFleet(self.proxy.start())

    def __exit__(self, *exc):
        self.proxy.stop()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(20)
        self.stack.close()


if __name__ == "__main__":
    sys.exit(main())
