"""Class catalog view: GET /v1/classes/{id}/catalog over HTTPS vs the same rows by one SQL query.

`python -m bench.class_catalog [--pupils 30] [--subjects 15] [--grades 20] [--seconds 10] [--rounds 3]
                               [--connections 20]`

Starts the whole platform with the grades service on a scratch PostgreSQL database (the hosted
configuration), seeds the demo school, then a class of `--pupils` pupils × `--subjects` subjects
× `--grades` grades each (through the API, as teachers would), plus absences. Then it alternates
windows of
  (a) the baseline: one SQL query (psycopg2, the grades service's database) returning the same
      rows the view is built from (every active grade of the class and every absence), run by
      `--connections` threads at once, each on its own connection;
  (b) GET /v1/classes/{id}/catalog as the director, `--connections` keep-alive HTTPS connections:
      TLS, token check, one RPC, the rows read, every period/annual/general average computed with
      exact decimals, the JSON answer.
Target: the view's p50 ≤ 4× the query's p50 (both under the same concurrency).
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from deploy.local.demo_catalog import seeded

from tests.infra import temporary_pg_database, valid_cnp

from .common import (CpuMeter, LoadResult, Row, Scratch, background_note, median, median_cpu, percentile,
                     platform_pids, print_cpu, print_table, run_load, scratch_platform, write_results)

NAME = "class_catalog"
ROWS_QUERY = """
SELECT 'g' AS k, g.id, g.student_id, g.subject_id, g.period_id, g.value, g.kind, g.awarded_on, g.version
  FROM grades g WHERE g.class_id = %(c)s AND g.status = 'active'
UNION ALL
SELECT 'a', a.id, a.student_id, a.subject_id, a.period_id, a.hour, a.status, a.occurred_on, a.version
  FROM absences a WHERE a.class_id = %(c)s AND a.status <> 'cancelled'
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.class_catalog", description=__doc__.split("\n")[0])
    p.add_argument("--pupils", type=int, default=30)
    p.add_argument("--subjects", type=int, default=15)
    p.add_argument("--grades", type=int, default=20, help="grades per pupil and subject")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=20)
    p.add_argument("--client-procs", type=int, default=1)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_pg_database("bench_catalog") as url:
        with scratch_platform("class-catalog", extra_env={"GRADES_DATABASE_URL": url}) as scratch:
            return run(args, scratch, url)


def _check(r, what: str) -> dict:
    if r.status_code >= 300:
        raise RuntimeError(f"{what} failed: {r.status_code} {r.text[:500]}")
    return r.json()


def seed_class(args: argparse.Namespace, scratch: Scratch) -> str:
    demo = scratch.demo
    admin, teacher = scratch.login("admin"), scratch.login("teacher")
    year = demo["catalog"]["school_year"]
    m2 = year["periods"][1]
    with scratch.client(admin) as c:
        klass = _check(c.post("/v1/classes", json={"name": "a X-a bench", "school_year": year["name"],
                                                    "level": 10}), "class")["id"]
        subjects = []
        for i in range(args.subjects):
            subject = _check(c.post("/v1/subjects", json={"name": f"Disciplina {i + 1:02d}", "weekly_hours": 2}),
                             "subject")["id"]
            _check(c.put(f"/v1/classes/{klass}/curriculum/{subject}",
                         json={"weekly_hours": 2, "thesis_periods": [m2["id"]] if i < 3 else []}), "curriculum")
            _check(c.post(f"/v1/classes/{klass}/teachers",
                          json={"subject_id": subject, "teacher_id": demo["users"]["teacher"]["id"]}), "assign")
            subjects.append(subject)
        pupils = []
        for i in range(args.pupils):
            person = _check(c.post("/v1/registry/persons", json={
                "last_name": f"Elev{i:02d}", "first_name": "Ștefan",
                "cnp": valid_cnp(f"510010140{i:03d}")}), "person")["id"]
            _check(c.post(f"/v1/classes/{klass}/students", json={"student_id": person}), "enrol")
            pupils.append(person)
    days = [seeded(f"2026-09-{d:02d}") for d in range(2, 24)] + [seeded(f"2026-11-0{d}") for d in range(2, 7)]
    jobs = [(p, s, days[g % len(days)], g % 10 + 1) for p in pupils for s in subjects for g in range(args.grades)]
    local = threading.local()

    def post(job):
        if not hasattr(local, "c"):
            local.c = scratch.client(teacher)
        pupil, subject, day, value = job
        _check(local.c.post("/v1/grades", json={"class_id": klass, "subject_id": subject, "student_id": pupil,
                                                 "value": value, "awarded_on": day}), "grade")

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, jobs))
    with scratch.client(teacher) as c:
        for s in subjects:
            for hour, day in ((1, seeded("2026-09-15")), (2, seeded("2026-10-06")), (3, seeded("2026-11-10"))):
                _check(c.post("/v1/absences", json={"class_id": klass, "subject_id": s, "occurred_on": day,
                                                    "hour": hour, "student_ids": pupils[hour::3]}), "absences")
    print(f"[bench] seeded {len(jobs)} grades and the absences in {time.monotonic() - started:.0f} s", flush=True)
    return klass


def sql_window(url: str, klass: str, *, connections: int, seconds: float) -> LoadResult:
    """`connections` threads, each on its own psycopg2 connection, running the query for `seconds`."""
    stop_at = [0.0]
    latencies: list[list[float]] = [[] for _ in range(connections)]
    conns = [psycopg2.connect(url) for _ in range(connections)]
    for conn in conns:
        conn.autocommit = True
    barrier = threading.Barrier(connections + 1)

    def worker(i: int) -> None:
        cur = conns[i].cursor()
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            t0 = time.perf_counter()
            cur.execute(ROWS_QUERY, {"c": klass})
            cur.fetchall()
            latencies[i].append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + seconds
    started = time.time()
    barrier.wait()
    for t in threads:
        t.join()
    for conn in conns:
        conn.close()
    flat = [x for lat in latencies for x in lat]
    result = LoadResult(started_at=started, duration=seconds, ok=len(flat), rps=len(flat) / seconds,
                        p50_ms=percentile(flat, 50), p99_ms=percentile(flat, 99), errors={}, client_cpu_pct=[])
    print(f"[bench]   {'SQL query':<28} {result.rps:9.1f} q/s    p50 {result.p50_ms:7.2f} ms  "
          f"p99 {result.p99_ms:7.2f} ms", flush=True)
    return result


def run(args: argparse.Namespace, scratch: Scratch, url: str) -> int:
    klass = seed_class(args, scratch)
    director = scratch.login("director")
    with scratch.client(director) as c:
        view = _check(c.get(f"/v1/classes/{klass}/catalog"), "catalog view")
    counted = sum(len(cell["grades"]) + (1 if cell["thesis"] else 0) for p in view["pupils"]
                  for s in p["subjects"].values() for cell in s["periods"].values())
    if counted != args.pupils * args.subjects * args.grades:
        raise RuntimeError(f"the view shows {counted} grades, expected {args.pupils * args.subjects * args.grades}")
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(ROWS_QUERY, {"c": klass})
        rows = len(cur.fetchall())

    def request() -> dict:
        # a fresh sign-in before each window: seeding and the rounds outlast an access token
        return {"method": "GET", "path": f"/v1/classes/{klass}/catalog",
                "headers": {"Authorization": f"Bearer {scratch.login('director')}"}, "expect_status": 200}
    meter = CpuMeter(platform_pids(scratch.platform))
    print(f"[bench] {rows} rows; {args.rounds} rounds of {args.seconds:g} s, {args.connections} concurrent readers",
          flush=True)
    run_load(scratch, request(), connections=args.connections, processes=args.client_procs, duration=2, meter=meter,
             label="warm-up view")
    results: dict[str, list[LoadResult]] = {"sql": [], "view": []}
    for r in range(args.rounds):
        for kind in (("sql", "view") if r % 2 == 0 else ("view", "sql")):
            if kind == "sql":
                results["sql"].append(sql_window(url, klass, connections=args.connections, seconds=args.seconds))
            else:
                results["view"].append(run_load(scratch, request(), connections=args.connections,
                                                processes=args.client_procs, duration=args.seconds, meter=meter,
                                                label=f"round {r + 1} view"))
            time.sleep(0.5)

    def med(kind: str, attr: str) -> float:
        return median(getattr(x, attr) for x in results[kind])

    ratio = med("view", "p50_ms") / med("sql", "p50_ms")
    errors = [x.errors for x in results["view"] if x.errors]
    rows_table = [
        Row("latency p50", med("sql", "p50_ms"), med("view", "p50_ms"), "ms", target="ratio ≤ 4", met=ratio <= 4),
        Row("latency p99", med("sql", "p99_ms"), med("view", "p99_ms"), "ms"),
        Row("requests/s", med("sql", "rps"), med("view", "rps"), "req/s"),
    ]
    notes = [f"{args.pupils} pupils × {args.subjects} subjects × {args.grades} grades + absences ({rows} rows); "
             f"medians over {args.rounds} alternating rounds of {args.seconds:g} s at {args.connections} "
             "concurrent readers (threads with their own connection for SQL, keep-alive HTTPS for the view)",
             background_note([x.cpu for x in results["view"]])]
    if errors:
        notes.append(f"!!! ERRORS during the windows: {errors}")
    table = print_table("Class catalog view", "one SQL query of the same rows (psycopg2, PostgreSQL)",
                        "GET /v1/classes/{id}/catalog as the director (averages computed)", rows_table, notes)
    cpu = median_cpu([x.cpu for x in results["view"]])
    cpu_text = print_cpu("GET /v1/classes/{id}/catalog", cpu)
    write_results(NAME, {"args": vars(args), "rows": rows_table, "rounds": results, "cpu_pct_of_one_core": cpu,
                         "errors": errors, "table": table, "cpu_text": cpu_text})
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
