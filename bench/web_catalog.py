"""The teacher's pages vs the JSON view of the same data, at 20 concurrent users (issue 12).

`python -m bench.web_catalog [--seconds 8] [--rounds 3] [--connections 20] [--pupils 30] [--subjects 15] [--grades 5]`

The class is seeded to `--pupils` pupils × `--subjects` subjects (the demo teacher teaches every
one of them) × `--grades` grades each. The measured page is the teacher's class catalog
(`GET /web/teacher/classes/{class}/catalog`: session cookie opened, policy, grades'
`class_catalog` RPC, Jinja2 rendering of a row per pupil and a cell per subject with every grade,
the period's and annual averages, the absences and the general average), beside
`GET /v1/classes/{class}/catalog` (the same `class_catalog` answer as JSON: the teacher's scope is
every subject they teach) in the same script, alternating windows. The one-subject entry grid
(`/web/teacher/classes/{class}/subjects/{subject}`) is measured too, as a second row.
Target: the page costs at most 1.5× the JSON view (requests/s ratio ≥ 0.67, p50 ratio ≤ 1.5).
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gateway.web.session import CSRF_COOKIE, SESSION_COOKIE, SessionKeys, WebSession
from tests.infra import valid_cnp

from .common import (CpuMeter, LoadResult, Row, Scratch, add_platform_options, background_note, median, median_cpu,
                     platform_kwargs, platform_pids, print_cpu, print_table, results_name, run_load, scratch_platform,
                     write_results)

NAME = "web_catalog"
LAST_NAMES = ("Popescu", "Ionescu", "Munteanu", "Țurcanu", "Mureșan", "Bălănescu", "Ștefănescu", "Dumitrescu")


SUBJECTS = ("Limba engleză", "Limba franceză", "Fizică", "Chimie", "Biologie", "Istorie", "Geografie",
            "Informatică", "Educație fizică", "Educație muzicală", "Educație plastică", "Religie",
            "Logică și argumentare", "Economie", "Filosofie", "Psihologie", "Sociologie")


def seed_class(scratch: Scratch, admin: str, teacher: str, pupils: int, subjects: int, grades: int) -> list[str]:
    """The demo class filled to `pupils` pupils, the demo teacher teaching `subjects` subjects
    there (the demo's mathematics and new ones), `grades` grades of each pupil in each subject;
    returns the teacher's subject ids."""
    demo = scratch.demo
    klass = demo["class"]["id"]
    teacher_id = demo["users"]["teacher"]["id"]
    with scratch.client(admin) as a:
        subject_ids = [demo["subject"]["id"]]
        for name in SUBJECTS[:max(0, subjects - 1)]:
            r = a.post("/v1/subjects", json={"name": name, "weekly_hours": 2})
            r.raise_for_status()
            subject_ids.append(r.json()["id"])
            a.put(f"/v1/classes/{klass}/curriculum/{subject_ids[-1]}", json={"weekly_hours": 2}).raise_for_status()
            a.post(f"/v1/classes/{klass}/teachers",
                   json={"subject_id": subject_ids[-1], "teacher_id": teacher_id}).raise_for_status()
        persons = list(demo.get("catalog", {}).get("pupils", [])) or [demo["student_person"]["id"]]
        for i in range(max(0, pupils - len(persons))):
            cnp = valid_cnp(f"510{(i % 12) + 1:02d}{(i % 28) + 1:02d}40{i:03d}")
            r = a.post("/v1/students", json={"email": f"elev{i}-bench@demo-creanga.ro", "password": f"parola-elev-{i}-bench",
                                             "last_name": LAST_NAMES[i % len(LAST_NAMES)], "first_name": f"Elev{i}",
                                             "cnp": cnp})
            if r.status_code != 201:
                raise RuntimeError(f"a pupil could not be registered: {r.status_code} {r.text}")
            person = r.json()["person"]["id"]
            a.post(f"/v1/classes/{klass}/students", json={"student_id": person}).raise_for_status()
            persons.append(person)
    work = [(person, subject, (n + g) % 10 + 1) for n, person in enumerate(persons)
            for subject in subject_ids for g in range(grades)]

    def record(part: list[tuple[str, str, int]]) -> None:
        with scratch.client(teacher) as t:
            for person, subject, value in part:
                r = t.post("/v1/grades", json={"class_id": klass, "subject_id": subject, "student_id": person,
                                               "value": value})
                if r.status_code != 201:
                    raise RuntimeError(f"a grade could not be recorded: {r.status_code} {r.text}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(record, [work[i::4] for i in range(4)]))
    return subject_ids


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.web_catalog", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=8.0, help="length of each measurement window")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=20, help="concurrent users (one request in flight each)")
    p.add_argument("--client-procs", type=int, default=1)
    p.add_argument("--pupils", type=int, default=30)
    p.add_argument("--subjects", type=int, default=15, help="subjects of the class, all taught by the teacher")
    p.add_argument("--grades", type=int, default=5, help="grades per pupil per subject")
    p.add_argument("--dump", metavar="FILE", help="write the JSON view's answer there (to study the page's rendering offline)")
    p.add_argument("--retries", type=int, default=2, help="times a window disturbed by other users is measured again")
    add_platform_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_platform("web-catalog", **platform_kwargs(args)) as scratch:
        return run(args, scratch)


def run(args: argparse.Namespace, scratch: Scratch) -> int:
    teacher = scratch.login("teacher")
    t0 = time.perf_counter()
    subject_ids = seed_class(scratch, scratch.login("admin"), teacher, args.pupils, args.subjects, args.grades)
    print(f"[bench] seeded in {time.perf_counter() - t0:.0f} s", flush=True)
    klass = scratch.demo["class"]["id"]
    catalog_path = f"/web/teacher/classes/{klass}/catalog"
    grid_path = f"/web/teacher/classes/{klass}/subjects/{subject_ids[0]}"
    json_path = f"/v1/classes/{klass}/catalog"
    # the browser's cookies, sealed as the sign-in page seals them (the key the gateway made at start)
    keys = SessionKeys((scratch.platform.data_dir / "keys" / "web_session.key").read_bytes())
    nonce = keys.new_nonce()
    cookie = f"{SESSION_COOKIE}={keys.seal(WebSession(teacher))}; {CSRF_COOKIE}={nonce}"
    with scratch.client() as c:
        page = c.get(catalog_path, headers={"Cookie": cookie})
        grid = c.get(grid_path, headers={"Cookie": cookie})
        answer = c.get(json_path, headers={"Authorization": f"Bearer {teacher}"})
    data, json_bytes = answer.json(), len(answer.content)
    if args.dump:
        Path(args.dump).write_bytes(answer.content)
    in_json = sum(len(cell["grades"]) for p in data.get("pupils", [])
                  for s in p["subjects"].values() for cell in s["periods"].values())
    in_page = page.text.count('class="mark')
    pupils, subjects = len(data.get("pupils", [])), len(data.get("subjects", []))
    expected = args.pupils * args.subjects * args.grades
    if page.status_code != 200 or grid.status_code != 200 or in_json < expected or in_page < in_json \
            or pupils < args.pupils or subjects < args.subjects:
        raise RuntimeError(f"set-up check failed: pages {page.status_code}/{grid.status_code} with {in_page} marks, "
                           f"JSON {pupils} pupils × {subjects} subjects, {in_json} grades (expected ≥ {expected})")
    requests = {
        "json": {"method": "GET", "path": json_path, "headers": {"Authorization": f"Bearer {teacher}"},
                 "expect_status": 200},
        "page": {"method": "GET", "path": catalog_path, "headers": {"Cookie": cookie, "Accept": "text/html"},
                 "expect_status": 200},
        "grid": {"method": "GET", "path": grid_path, "headers": {"Cookie": cookie, "Accept": "text/html"},
                 "expect_status": 200},
    }
    meter = CpuMeter(platform_pids(scratch.platform))

    def window(kind: str, seconds: float, label: str) -> LoadResult:
        return run_load(scratch, requests[kind], connections=args.connections, processes=args.client_procs,
                        duration=seconds, meter=meter, label=label, retries=args.retries)

    print(f"[bench] {pupils} pupils × {subjects} subjects, {in_json} grades; JSON {json_bytes:,} B, "
          f"page {len(page.content):,} B; warm-up, then {args.rounds} rounds of {args.seconds:g} s per view, "
          f"{args.connections} connections", flush=True)
    for kind in requests:
        window(kind, 2, f"warm-up {kind}")
    results: dict[str, list[LoadResult]] = {k: [] for k in requests}
    order = list(requests)
    for r in range(args.rounds):
        for kind in (order if r % 2 == 0 else order[::-1]):
            results[kind].append(window(kind, args.seconds, f"round {r + 1} {kind}"))
            time.sleep(0.5)

    def med(kind: str, attr: str) -> float:
        return median(getattr(x, attr) for x in results[kind])

    cost = med("json", "rps") / med("page", "rps")  # how many JSON views one page costs
    p50_ratio = med("page", "p50_ms") / med("json", "p50_ms")
    grid_cost = med("json", "rps") / med("grid", "rps")
    errors = {k: [x.errors for x in v if x.errors] for k, v in results.items()}
    rows_out = [
        Row("requests/s", med("json", "rps"), med("page", "rps"), "req/s",
            target="page ≥ 0.67 × JSON", met=cost <= 1.5),
        Row("latency p50", med("json", "p50_ms"), med("page", "p50_ms"), "ms", target="≤ 1.5×", met=p50_ratio <= 1.5),
        Row("latency p99", med("json", "p99_ms"), med("page", "p99_ms"), "ms"),
        Row("cost of one page in JSON views", 1.0, cost, "×", ratio=cost, target="≤ 1.5", met=cost <= 1.5),
        Row("one-subject grid: requests/s", med("json", "rps"), med("grid", "rps"), "req/s"),
        Row("one-subject grid: latency p50", med("json", "p50_ms"), med("grid", "p50_ms"), "ms"),
        Row("one-subject grid: cost in JSON views", 1.0, grid_cost, "×", ratio=grid_cost),
    ]
    notes = [f"medians over {args.rounds} alternating rounds of {args.seconds:g} s; {args.connections} keep-alive "
             f"HTTPS connections (one request in flight each) over {args.client_procs} load generator process(es)",
             f"{pupils} pupils × {subjects} subjects × {args.grades} grades = {in_json} grades; JSON {json_bytes:,} B, page {len(page.content):,} B",
             "every view answers from the same class_catalog RPC (the teacher's scope: the subjects they teach)",
             background_note([x.cpu for v in results.values() for x in v])]
    if any(errors.values()):
        notes.append(f"!!! ERRORS during the windows: {errors}")
    table = print_table("Web page vs JSON view", "GET /v1/classes/{class}/catalog JSON",
                        "GET /web/teacher/classes/{class}/catalog (HTML, same data)", rows_out, notes)
    cpu = {kind: median_cpu([x.cpu for x in v]) for kind, v in results.items()}
    cpu_text = "\n\n".join([print_cpu("JSON view", cpu["json"]), print_cpu("class catalog page", cpu["page"]),
                             print_cpu("one-subject grid page", cpu["grid"])])
    write_results(results_name(NAME, args), {
        "args": vars(args), "rows": rows_out, "rounds": results, "cpu_pct_of_one_core": cpu, "errors": errors,
        "table": table, "cpu_text": cpu_text})
    return 1 if any(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
