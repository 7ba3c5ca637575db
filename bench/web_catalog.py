"""The teacher's page vs the JSON view of the same data, at 20 concurrent users (issue 12).

`python -m bench.web_catalog [--seconds 8] [--rounds 3] [--connections 20] [--pupils 30] [--grades 5]`

The measured page is the teacher's class catalog grid of one subject
(`GET /web/teacher/classes/{class}/subjects/{subject}`: session cookie opened, policy, grades'
`class_catalog` RPC, Jinja2 rendering of a row per pupil with every grade (a link to its
history), the period's and annual averages, absences and an entry box), beside
`GET /v1/classes/{class}/catalog` (the same `class_catalog` answer as JSON: the teacher's scope is
that one subject) in the same script, alternating windows.
Target: the page costs at most 1.5× the JSON view (requests/s ratio ≥ 0.67, p50 ratio ≤ 1.5).
"""
from __future__ import annotations

import argparse
import sys
import time

from gateway.web.session import CSRF_COOKIE, SESSION_COOKIE, SessionKeys, WebSession
from tests.infra import valid_cnp

from .common import (CpuMeter, LoadResult, Row, Scratch, add_platform_options, background_note, median, median_cpu,
                     platform_kwargs, platform_pids, print_cpu, print_table, results_name, run_load, scratch_platform,
                     write_results)

NAME = "web_catalog"
LAST_NAMES = ("Popescu", "Ionescu", "Munteanu", "Țurcanu", "Mureșan", "Bălănescu", "Ștefănescu", "Dumitrescu")


def seed_class(scratch: Scratch, admin: str, teacher: str, pupils: int, grades: int) -> None:
    demo = scratch.demo
    klass, subject = demo["class"]["id"], demo["subject"]["id"]
    with scratch.client(admin) as a, scratch.client(teacher) as t:
        for i in range(pupils):
            cnp = valid_cnp(f"510{(i % 12) + 1:02d}{(i % 28) + 1:02d}40{i:03d}")
            r = a.post("/v1/students", json={"email": f"elev{i}-bench@demo-creanga.ro", "password": f"parola-elev-{i}-bench",
                                             "last_name": LAST_NAMES[i % len(LAST_NAMES)], "first_name": f"Elev{i}",
                                             "cnp": cnp})
            if r.status_code != 201:
                raise RuntimeError(f"a pupil could not be registered: {r.status_code} {r.text}")
            person = r.json()["person"]["id"]
            a.post(f"/v1/classes/{klass}/students", json={"student_id": person}).raise_for_status()
            for g in range(grades):
                r = t.post("/v1/grades", json={"class_id": klass, "subject_id": subject, "student_id": person,
                                               "value": (i + g) % 10 + 1})
                if r.status_code != 201:
                    raise RuntimeError(f"a grade could not be recorded: {r.status_code} {r.text}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.web_catalog", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=8.0, help="length of each measurement window")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=20, help="concurrent users (one request in flight each)")
    p.add_argument("--client-procs", type=int, default=1)
    p.add_argument("--pupils", type=int, default=30)
    p.add_argument("--grades", type=int, default=5, help="grades per pupil")
    p.add_argument("--retries", type=int, default=2, help="times a window disturbed by other users is measured again")
    add_platform_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_platform("web-catalog", **platform_kwargs(args)) as scratch:
        return run(args, scratch)


def run(args: argparse.Namespace, scratch: Scratch) -> int:
    teacher = scratch.login("teacher")
    seed_class(scratch, scratch.login("admin"), teacher, args.pupils, args.grades)
    demo = scratch.demo
    klass, subject = demo["class"]["id"], demo["subject"]["id"]
    page_path = f"/web/teacher/classes/{klass}/subjects/{subject}"
    json_path = f"/v1/classes/{klass}/catalog"
    # the browser's cookies, sealed as the sign-in page seals them (the key the gateway made at start)
    keys = SessionKeys((scratch.platform.data_dir / "keys" / "web_session.key").read_bytes())
    nonce = keys.new_nonce()
    cookie = f"{SESSION_COOKIE}={keys.seal(WebSession(teacher))}; {CSRF_COOKIE}={nonce}"
    with scratch.client() as c:
        page = c.get(page_path, headers={"Cookie": cookie})
        rows = page.text.count('class="grade-input"')
        data = c.get(json_path, headers={"Authorization": f"Bearer {teacher}"}).json()
    expected = args.pupils * args.grades + 0
    in_json = sum(len(cell["grades"]) for p in data.get("pupils", [])
                  for s in p["subjects"].values() for cell in s["periods"].values())
    if page.status_code != 200 or rows < args.pupils or in_json < expected:
        raise RuntimeError(f"set-up check failed: page {page.status_code} with {rows} rows, JSON {in_json} grades")
    requests = {
        "json": {"method": "GET", "path": json_path, "headers": {"Authorization": f"Bearer {teacher}"},
                 "expect_status": 200},
        "page": {"method": "GET", "path": page_path, "headers": {"Cookie": cookie, "Accept": "text/html"},
                 "expect_status": 200},
    }
    meter = CpuMeter(platform_pids(scratch.platform))

    def window(kind: str, seconds: float, label: str) -> LoadResult:
        return run_load(scratch, requests[kind], connections=args.connections, processes=args.client_procs,
                        duration=seconds, meter=meter, label=label, retries=args.retries)

    print(f"[bench] {rows} pupils × {args.grades} grades; warm-up, then {args.rounds} rounds of {args.seconds:g} s "
          f"per view, {args.connections} connections", flush=True)
    window("json", 2, "warm-up JSON")
    window("page", 2, "warm-up page")
    results: dict[str, list[LoadResult]] = {"json": [], "page": []}
    for r in range(args.rounds):
        for kind in (("json", "page") if r % 2 == 0 else ("page", "json")):
            results[kind].append(window(kind, args.seconds, f"round {r + 1} {kind}"))
            time.sleep(0.5)

    def med(kind: str, attr: str) -> float:
        return median(getattr(x, attr) for x in results[kind])

    cost = med("json", "rps") / med("page", "rps")  # how many JSON views one page costs
    p50_ratio = med("page", "p50_ms") / med("json", "p50_ms")
    errors = {k: [x.errors for x in v if x.errors] for k, v in results.items()}
    rows_out = [
        Row("requests/s", med("json", "rps"), med("page", "rps"), "req/s",
            target="page ≥ 0.67 × JSON", met=cost <= 1.5),
        Row("latency p50", med("json", "p50_ms"), med("page", "p50_ms"), "ms", target="≤ 1.5×", met=p50_ratio <= 1.5),
        Row("latency p99", med("json", "p99_ms"), med("page", "p99_ms"), "ms"),
        Row("cost of one page in JSON views", 1.0, cost, "×", ratio=cost, target="≤ 1.5", met=cost <= 1.5),
    ]
    notes = [f"medians over {args.rounds} alternating rounds of {args.seconds:g} s; {args.connections} keep-alive "
             f"HTTPS connections (one request in flight each) over {args.client_procs} load generator process(es)",
             "both views answer from the same class_catalog RPC (the teacher's scope: one subject)", background_note([x.cpu for v in results.values() for x in v])]
    if any(errors.values()):
        notes.append(f"!!! ERRORS during the windows: {errors}")
    table = print_table("Web page vs JSON view", f"GET /v1/classes/{{class}}/catalog JSON ({args.pupils} pupils × {args.grades} grades)",
                        "GET /web/teacher/classes/{class}/subjects/{subject} (HTML, same data)", rows_out, notes)
    cpu = {kind: median_cpu([x.cpu for x in v]) for kind, v in results.items()}
    cpu_text = "\n\n".join([print_cpu("JSON view", cpu["json"]), print_cpu("web page", cpu["page"])])
    write_results(results_name(NAME, args), {
        "args": vars(args), "rows": rows_out, "rounds": results, "cpu_pct_of_one_core": cpu, "errors": errors,
        "table": table, "cpu_text": cpu_text})
    return 1 if any(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
