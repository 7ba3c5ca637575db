"""The registry's import job alone, in this process: for profiling the row processing.

`python -m bench.registry_import_inproc [--rows 20000] [--backend pg|sqlite] [--profile FILE]`

No gateway, no broker, no relay: the CSV is stored as the job's chunks (as `add_import_chunk`
does), then `imports.run_job` runs to completion on a scratch database, beside a PostgreSQL
`COPY` of the same file into a plain table. Prints both times, their ratio and the process's
CPU seconds; with `--profile`, the cProfile stats of `run_job` (top functions by own time).
The figures to report come from `bench.registry_import` (the whole platform); this one shows
where the registry's CPU goes.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from .registry_import import copy_baseline, write_csv


def backend_cpu(dsn: str) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend connected to the database of `dsn`."""
    import psycopg2

    from .common import proc_cpu_seconds
    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
                    "pg_backend_pid()")
        pids = [r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    return {pid: proc_cpu_seconds(pid) or 0.0 for pid in pids}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--backend", choices=("pg", "sqlite"), default="pg")
    parser.add_argument("--profile", default="", help="write cProfile stats there and print the top")
    parser.add_argument("--statements", action="store_true", help="time the SQL statements by their start")
    parser.add_argument("--repeat", type=int, default=1, help="import that many files (new rows each time)")
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-registry-inproc-")))
        os.environ.setdefault("PLATFORM_DATA_DIR", str(tmp / "var"))
        os.environ.setdefault("PLATFORM_ENV", "test")
        from sqlalchemy import insert

        from services.kernel.db import make_engine, make_sessionmaker
        from services.kernel.identity import Principal
        from services.kernel.migrations import upgrade_to_head
        from services.kernel.nameko_support import CallContext, Store
        from services.registry import imports, nomenclatures
        from services.registry.models import Base, ImportChunk, ImportJob
        from tests.infra import temporary_pg_database

        pg_dsn = stack.enter_context(temporary_pg_database("bench_inproc"))
        url = pg_dsn if args.backend == "pg" else f"sqlite:///{tmp / 'registry.db'}"
        upgrade_to_head("registry", url)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        store = Store("registry", make_sessionmaker(engine), Base.metadata)
        statement_time: dict[str, list] = {}
        if args.statements:
            from sqlalchemy import event

            @event.listens_for(engine, "before_cursor_execute")
            def _before(conn, cursor, statement, parameters, context, executemany):
                conn.info["t0"] = time.perf_counter()

            @event.listens_for(engine, "after_cursor_execute")
            def _after(conn, cursor, statement, parameters, context, executemany):
                key = " ".join(statement.split()[:3])[:60]
                entry = statement_time.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - conn.info.pop("t0", time.perf_counter())
        with store.transaction() as s:
            nomenclatures.seed(s)
        principal = Principal(user_id="u-1", tenant_id="uni-1", roles=frozenset({"registry_clerk"}),
                              factors=frozenset({"pwd", "otp"}))

        def make_ctx(p, job_id):
            return CallContext(correlation_id=job_id, token=None, verifier=None, _principal=p, _checked=True)

        total_import, total_copy = 0.0, 0.0
        profiler = cProfile.Profile() if args.profile else None
        for round_ in range(args.repeat):
            path = tmp / f"rows{round_}.csv"
            write_csv(path, args.rows, f"r{round_}", 1_000_000 * (round_ + 1))
            body = path.read_bytes()
            with store.transaction() as s:
                job = ImportJob(tenant_id=principal.tenant_id, created_by=principal.user_id,
                                actor_role="registry_clerk", format="csv", mode="accept_valid", status="queued")
                s.add(job)
                s.flush()
                job_id = job.id
                pieces = [body[i:i + 256 * 1024] for i in range(0, len(body), 256 * 1024)]
                s.execute(insert(ImportChunk), [{"job_id": job_id, "seq": i, "body": b} for i, b in enumerate(pieces)])
                job.chunks, job.bytes_received = len(pieces), len(body)
            pg0 = backend_cpu(pg_dsn) if args.backend == "pg" else {}
            cpu0, started = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            imports.run_job(store, make_ctx, job_id)
            if profiler:
                profiler.disable()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
            pg1 = backend_cpu(pg_dsn) if args.backend == "pg" else {}
            pg_cpu = sum(v - pg0.get(k, 0.0) for k, v in pg1.items())
            copy_s = copy_baseline(pg_dsn, path)
            with store.reading() as s:
                done = s.get(ImportJob, job_id)
                status, written, errors = done.status, done.rows_written, done.errors
            total_import += elapsed
            total_copy += copy_s
            print(f"[inproc] {args.backend} {args.rows} rows: import {elapsed:.2f} s (CPU here {cpu:.2f} s, "
                  f"PostgreSQL backends {pg_cpu:.2f} s, "
                  f"{args.rows / elapsed:.0f} rows/s), COPY {copy_s:.3f} s, ratio {elapsed / copy_s:.0f}x; "
                  f"job {status}, written {written}, errors {errors}", flush=True)
        for key, (count, seconds) in sorted(statement_time.items(), key=lambda kv: -kv[1][1])[:15]:
            print(f"[inproc]   SQL {seconds:7.2f} s {count:6d}x  {key}", flush=True)
        if args.repeat > 1:
            print(f"[inproc] total: import {total_import:.2f} s, COPY {total_copy:.3f} s, "
                  f"ratio {total_import / total_copy:.0f}x", flush=True)
        if profiler:
            profiler.dump_stats(args.profile)
            stats = pstats.Stats(args.profile)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
