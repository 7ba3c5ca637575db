"""Import of persons with enrolments from CSV, through the gateway's upload, to completion.

`python -m bench.registry_import [--rows 100000] [--small 10000]`

The registry runs on PostgreSQL (a scratch database), the rest of the platform as usual. A CSV
of `--rows` new persons, each with an enrolment (persons_enrolments template columns), is
streamed to `POST /v1/registry/imports?mode=accept_valid` and followed until the job is done.
Baseline, in the same script and the same database: PostgreSQL `COPY` of the same file into a
plain table (no validation, no versions, no events). Beside it, a floor: `COPY` of exactly the
rows the import wrote (persons, links, enrolments, versions, outbox, row changes) into an empty
registry schema with its indexes, i.e. what PostgreSQL alone spends to store them. Reported: rows/s of both, the ratio of
the import's time to COPY's (target ≤ 10), and the registry's peak RSS (sampled at 20 Hz)
during a `--small`-row import and the big one: its growth must stay under 50 MB.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg2

from services.registry.rules import cnp_check_digit
from tests.infra import temporary_pg_database

from .common import (CpuMeter, Row, Scratch, add_platform_options, platform_kwargs, platform_pids, print_table,
                     proc_cpu_seconds, results_name, scratch_platform, write_results)

NAME = "registry_import"
COLUMNS = ["external_id", "cnp", "citizenship", "last_name_at_birth", "last_name", "first_name", "birth_country",
           "birth_county", "civil_status", "domicile_country", "domicile_county", "faculty_matriculation_number",
           "academic_year", "faculty", "cycle", "domain", "programme", "programme_language", "study_year", "form",
           "financing", "scholarship_type", "enrolment_situation", "start_situation"]
_COUNTIES = ["CJ", "B", "IS", "TM", "BV", "CT"]


def write_csv(path: Path, rows: int, tag: str, start: int) -> None:
    rnd = random.Random(start)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(start, start + rows):
            # distinct valid CNPs: births 1990-2005, every county digit pair 01-46
            yy, mm, dd, county, serial = 90 + i % 10, 1 + (i // 10) % 12, 1 + (i // 120) % 28, 1 + (i // 3360) % 46, \
                (i // 154560) % 1000
            first12 = f"{rnd.choice('12')}{yy:02d}{mm:02d}{dd:02d}{county:02d}{serial:03d}"
            cnp = first12 + str(cnp_check_digit(first12))
            writer.writerow([f"{tag}-{i}", cnp, "RO", "Popescu", "Popescu", "Ioana", "RO", rnd.choice(_COUNTIES),
                             "necasatorit", "RO", rnd.choice(_COUNTIES), f"M{i}", "2025-2026", "Facultatea de Informatică",
                             "licenta", "Informatică", "Informatică", "română", str(1 + i % 3), "IF",
                             rnd.choice(["buget", "taxa_cpl"]), "nebursier", "inmatriculat_admitere", "admis"])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self.start = rss_kib(pid)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def upload(scratch: Scratch, token: str, path: Path) -> tuple[float, dict]:
    """Stream the file, then follow the job (signing in again when the 15-minute token ends)."""
    def body():
        with path.open("rb") as fh:
            while chunk := fh.read(64 * 1024):
                yield chunk
    started = time.perf_counter()
    with scratch.client(token) as c:
        r = c.post("/v1/registry/imports", params={"format": "csv", "mode": "accept_valid"}, content=body(),
                   headers={"Content-Type": "text/csv"}, timeout=600)
        if r.status_code != 202:
            raise RuntimeError(f"upload refused: {r.status_code} {r.text}")
        job = r.json()
        while job["status"] in ("queued", "running"):
            time.sleep(0.25)
            r = c.get(f"/v1/registry/imports/{job['id']}")
            if r.status_code == 401:
                c.headers["Authorization"] = f"Bearer {scratch.login('admin')}"
                continue
            job = r.json()
    return time.perf_counter() - started, job


def copy_baseline(dsn: str, path: Path) -> float:
    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS copy_baseline")
        cur.execute("CREATE TABLE copy_baseline (" + ", ".join(f"{c} text" for c in COLUMNS) + ")")
        conn.commit()
        started = time.perf_counter()
        with path.open("r", encoding="utf-8") as fh:
            cur.copy_expert("COPY copy_baseline FROM STDIN WITH (FORMAT csv, HEADER true)", fh)
        conn.commit()
        return time.perf_counter() - started
    finally:
        conn.close()


# what the import writes per row: the regulation's versions (REG-8), the outbox (every change is
# an event) and the row changes (incremental backups); the floor copies exactly these rows
FLOOR_TABLES = ("persons", "person_links", "enrolments", "record_versions", "outbox", "row_changes")


def copy_floor(dsn: str, scratch_dsn: str) -> tuple[float, dict[str, int], dict[str, float]]:
    """The time PostgreSQL alone needs to store the rows the import wrote, with the registry's own
    schema (indexes, constraints): each table's rows taken out with `COPY … TO`, then loaded into
    an empty registry database with `COPY … FROM`. No Python per row: a lower bound of any
    implementation that keeps these rows."""
    import io

    from services.kernel.migrations import upgrade_to_head
    upgrade_to_head("registry", scratch_dsn)
    dumps: dict[str, tuple[list[str], io.BytesIO]] = {}
    with psycopg2.connect(dsn) as src:
        cur = src.cursor()
        for table in FLOOR_TABLES:
            cur.execute(f"SELECT * FROM {table} LIMIT 0")
            columns = [d[0] for d in cur.description]
            buf = io.BytesIO()
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) TO STDOUT", buf)
            buf.seek(0)
            dumps[table] = (columns, buf)
    counts = {t: buf.getvalue().count(b"\n") for t, (_c, buf) in dumps.items()}
    conn = psycopg2.connect(scratch_dsn)
    try:
        cur = conn.cursor()
        started, seconds = time.perf_counter(), {}
        for table, (columns, buf) in dumps.items():
            t0 = time.perf_counter()
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
            seconds[table] = time.perf_counter() - t0
        conn.commit()
        return time.perf_counter() - started, counts, seconds
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    add_platform_options(parser)
    args = parser.parse_args()
    options = platform_kwargs(args)
    with ExitStack() as stack:
        dsn = stack.enter_context(temporary_pg_database("bench_registry"))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-registry-")))
        options["extra_env"] = {"REGISTRY_DATABASE_URL": dsn, "LOG_LEVEL": "WARNING", **options["extra_env"]}
        scratch = stack.enter_context(scratch_platform(NAME, **options))
        registry = next(p.popen.pid for p in scratch.platform.procs if p.name.startswith("registry"))
        gateway = next(p.popen.pid for p in scratch.platform.procs if p.name.startswith("gateway"))
        token = scratch.login("admin")
        small, big = tmp / "small.csv", tmp / "big.csv"
        write_csv(small, args.small, "s", 0)
        write_csv(big, args.rows, "b", 10_000_000)
        print(f"[bench] files: {args.small} rows ({small.stat().st_size / 1e6:.1f} MB), "
              f"{args.rows} rows ({big.stat().st_size / 1e6:.1f} MB)", flush=True)
        with PeakRss(registry) as small_rss, PeakRss(gateway) as small_gw:
            small_s, small_job = upload(scratch, token, small)
        cpu_before = {name: proc_cpu_seconds(pid) or 0.0 for name, pid in (("registry", registry),
                                                                           ("gateway", gateway))}
        meter = CpuMeter(platform_pids(scratch.platform))
        before = meter.sample()
        with PeakRss(registry) as big_rss, PeakRss(gateway) as big_gw:
            big_s, big_job = upload(scratch, token, big)
        split = meter.split(before, meter.sample())
        cpu = {name: (proc_cpu_seconds(pid) or 0.0) - cpu_before[name]
               for name, pid in (("registry", registry), ("gateway", gateway))}
        copy_s = copy_baseline(dsn, big)
        floor_all_s, floor_counts, floor_tables = copy_floor(dsn, stack.enter_context(temporary_pg_database("bench_floor")))
        # the tables hold the small import too: the floor of the big one is its share
        floor_s = floor_all_s * args.rows / (args.rows + args.small)
        for job in (small_job, big_job):
            if job["status"] != "done" or job["errors"]:
                print(f"[bench] !!! job ended {job}", flush=True)
        growth_mb = (big_rss.peak - small_rss.peak) / 1024
        rows = [
            Row("import time (big file)", copy_s, big_s, "s", target="≤ 10× COPY", met=big_s <= 10 * copy_s),
            Row("floor: COPY of the rows the import writes", copy_s, floor_s, "s"),
            Row("import time vs that floor", floor_s, big_s, "s"),
            Row("rows per second", args.rows / copy_s, args.rows / big_s, "rows/s"),
            # the machine is shared: CPU-seconds of the registry say what the code costs
            Row("rows per registry CPU-second", args.rows / copy_s, args.rows / max(cpu["registry"], 1e-9),
                "rows/CPU-s"),
            Row("registry peak RSS, small → big", small_rss.peak / 1024, big_rss.peak / 1024, "MB",
                target="growth < 50 MB", met=growth_mb < 50),
            Row("gateway peak RSS, small → big", small_gw.peak / 1024, big_gw.peak / 1024, "MB"),
            Row(f"import time ({args.small} rows)", args.small / (args.rows / copy_s), small_s, "s"),
        ]
        table = print_table(f"registry import of {args.rows} persons with enrolments (CSV, accept_valid)",
                            f"PostgreSQL COPY of the same CSV into a plain table ({copy_s:.2f} s)",
                            "POST /v1/registry/imports → job done (validation, codes, versions, events)", rows,
                            notes=[f"CPU seconds during the big import: registry {cpu['registry']:.1f}, "
                                   f"gateway {cpu['gateway']:.1f} (wall {big_s:.1f} s)",
                                   "CPU during the big import, % of a core: " + ", ".join(
                                       f"{k} {v:.0f}" for k, v in sorted(split.items(), key=lambda kv: -kv[1])
                                       if v >= 1),
                                   f"registry RSS growth {growth_mb:.1f} MB between {args.small} and {args.rows} rows",
                                   "floor: the import's own rows (" + ", ".join(f"{t} {n:,}" for t, n in
                                   floor_counts.items()) + f") loaded by COPY into an empty registry schema "
                                   f"in {floor_all_s:.2f} s, {floor_s / copy_s:.1f}× the plain COPY for "
                                   f"{args.rows} rows: the ≤ 10× target leaves "
                                   f"{max(10 * copy_s - floor_s, 0):.2f} s for everything else",
                                   "floor per table, s: " + ", ".join(f"{t} {v:.2f}" for t, v in floor_tables.items()),
                                   f"big job: {big_job}"])
        write_results(results_name(NAME, args), {"table": table, "cpu_text": "", "rows": rows, "copy_seconds": copy_s,
                             "import_seconds": big_s, "floor_seconds": floor_s, "floor_rows": floor_counts, "floor_table_seconds": floor_tables, "cpu_seconds": cpu, "cpu_split": split, "small_import_seconds": small_s,
                             "registry_peak_rss_mb": {"small": small_rss.peak / 1024, "big": big_rss.peak / 1024},
                             "gateway_peak_rss_mb": {"small": small_gw.peak / 1024, "big": big_gw.peak / 1024},
                             "jobs": {"small": small_job, "big": big_job}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
