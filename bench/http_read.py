"""HTTPS read path: GET /v1/me/grades (student) vs GET /healthz, same gateway process.

`python -m bench.http_read [--seconds 10] [--rounds 3] [--connections 50] [--client-procs 2]`

Starts the whole platform on a scratch vhost and data dir, seeds the demo school, has the
teacher record `--grades` grades for the demo student, logs the student in once (the access
token lives 15 minutes; a run takes about two), then alternates windows of
  (a) authenticated GET /v1/me/grades: TLS, policy + token check in the gateway, one RPC to the
      grades service, token check + SQLite query there;
  (b) GET /healthz: public, no token, no RPC; the same TLS, middleware and routing, so it is the
      ceiling of this gateway process on this machine.
Load: `--connections` keep-alive HTTPS connections spread over `--client-procs` processes of
`bench.loadgen`; their CPU is reported so one can see they are not the bottleneck.
"""
from __future__ import annotations

import argparse
import sys
import time

from .common import (CpuMeter, LoadResult, Row, Scratch, add_platform_options, background_note, median, median_cpu,
                     platform_kwargs, platform_pids, print_cpu, print_table, results_name, run_load, scratch_platform,
                     write_results)

NAME = "http_read"


def record_grades(scratch: Scratch, teacher_token: str, count: int) -> None:
    demo = scratch.demo
    body = {"class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
            "student_id": demo["student_person"]["id"]}
    with scratch.client(teacher_token) as c:
        for i in range(count):
            r = c.post("/v1/grades", json={**body, "value": i % 10 + 1})
            if r.status_code != 201:
                raise RuntimeError(f"recording a grade failed: {r.status_code} {r.text}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.http_read", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measurement window")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--client-procs", type=int, default=2)
    p.add_argument("--grades", type=int, default=20, help="grades the student has")
    add_platform_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_platform("http-read", **platform_kwargs(args)) as scratch:
        return run(args, scratch)


def run(args: argparse.Namespace, scratch: Scratch) -> int:
    record_grades(scratch, scratch.login("teacher"), args.grades)
    student = scratch.login("student")
    with scratch.client(student) as c:
        page = c.get("/v1/me/grades").json()
    if page.get("total") != args.grades:
        raise RuntimeError(f"the student should see {args.grades} grades, sees {page}")
    auth = {"Authorization": f"Bearer {student}"}
    requests = {
        "healthz": {"method": "GET", "path": "/healthz", "headers": {}, "expect_status": 200},
        "me_grades": {"method": "GET", "path": "/v1/me/grades", "headers": auth, "expect_status": 200},
    }
    meter = CpuMeter(platform_pids(scratch.platform))

    def window(kind: str, seconds: float, label: str) -> LoadResult:
        return run_load(scratch, requests[kind], connections=args.connections, processes=args.client_procs,
                        duration=seconds, meter=meter, label=label)

    print(f"[bench] warm-up, then {args.rounds} rounds of {args.seconds:g} s per endpoint, "
          f"{args.connections} connections over {args.client_procs} load generator processes", flush=True)
    window("healthz", 2, "warm-up /healthz")
    window("me_grades", 2, "warm-up /v1/me/grades")
    results: dict[str, list[LoadResult]] = {"healthz": [], "me_grades": []}
    for r in range(args.rounds):
        order = ("healthz", "me_grades") if r % 2 == 0 else ("me_grades", "healthz")
        for kind in order:
            results[kind].append(window(kind, args.seconds, f"round {r + 1} {kind}"))
            time.sleep(0.5)  # let in-flight work settle before the next window opens

    def med(kind: str, attr: str) -> float:
        return median(getattr(x, attr) for x in results[kind])

    rps_ratio = med("me_grades", "rps") / med("healthz", "rps")
    errors = {k: [x.errors for x in v if x.errors] for k, v in results.items()}
    rows = [
        Row("requests/s", med("healthz", "rps"), med("me_grades", "rps"), "req/s",
            target="ratio ≥ 0.25", met=rps_ratio >= 0.25),
        Row("latency p50", med("healthz", "p50_ms"), med("me_grades", "p50_ms"), "ms"),
        Row("latency p99", med("healthz", "p99_ms"), med("me_grades", "p99_ms"), "ms"),
        Row("load generator CPU (max proc)", max(max(x.client_cpu_pct) for x in results["healthz"]),
            max(max(x.client_cpu_pct) for x in results["me_grades"]), "% core"),
    ]
    notes = [f"medians over {args.rounds} alternating rounds of {args.seconds:g} s; {args.connections} "
             f"keep-alive HTTPS connections over {args.client_procs} load generator processes",
             background_note([x.cpu for v in results.values() for x in v])]
    if any(errors.values()):
        notes.append(f"!!! ERRORS during the windows: {errors}")
    table = print_table("HTTP read path", "GET /healthz (public, no auth, no RPC)",
                        f"GET /v1/me/grades as the student ({args.grades} grades)", rows, notes)
    cpu = {kind: median_cpu([x.cpu for x in v]) for kind, v in results.items()}
    cpu_text = "\n\n".join([print_cpu("GET /healthz", cpu["healthz"]),
                          print_cpu("GET /v1/me/grades", cpu["me_grades"])])
    write_results(results_name(NAME, args), {
        "args": vars(args), "rows": rows, "rounds": results, "cpu_pct_of_one_core": cpu, "errors": errors,
        "table": table, "cpu_text": cpu_text})
    return 1 if any(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
