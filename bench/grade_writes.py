"""Write path: teachers POST grades under load; writes/s, latency, and audit lag.

`python -m bench.grade_writes [--seconds 15] [--rounds 3] [--healthz-seconds 5] [--connections 50]`

Starts the whole platform on a scratch vhost and data dir, seeds the demo school, logs the
teacher and the director in once, then alternates windows of
  (a) GET /healthz (baseline: the same gateway process's ceiling on this machine), and
  (b) POST /v1/grades as the teacher, value random 1..10, `--connections` keep-alive HTTPS
      connections over `--client-procs` load generator processes.
After each write window it waits (bounded) until the audit trail holds every grade written in
it, reading GET /v1/audit/events?type=grades.grade_recorded as the director with the cursor, so
the backlog is drained before the next window starts. For each grade:
    audit lag = audit entry `recorded_at` − epoch at which the load generator got the 201.
A grade that never reaches the audit trail is reported loudly and fails the run.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from .common import (CpuMeter, LoadResult, Row, Scratch, add_platform_options, background_note, median, median_cpu,
                     percentile, platform_kwargs, platform_pids, print_cpu, print_table, results_name, run_load,
                     scratch_platform, write_results)

NAME = "grade_writes"
EVENT_TYPE = "grades.grade_recorded"


@dataclass
class AuditReader:
    """Follows the audit trail with the sequence cursor; remembers recorded_at per grade id."""
    scratch: Scratch
    token: str
    cursor: int = 0
    recorded_at: dict[str, float] = field(default_factory=dict)
    pages: int = 0

    def poll(self, *, from_start: bool = False) -> None:
        """Read every page after the cursor (or from the very beginning)."""
        cursor = 0 if from_start else self.cursor
        with self.scratch.client(self.token) as c:
            while True:
                r = c.get("/v1/audit/events", params={"type": EVENT_TYPE, "after_sequence": cursor, "limit": 200})
                r.raise_for_status()
                page = r.json()
                self.pages += 1
                for item in page["items"]:
                    self.recorded_at[item["entity"]["id"]] = item["recorded_at"]
                    cursor = max(cursor, item["sequence"])
                if page["next_after_sequence"] is None:
                    break
        self.cursor = max(self.cursor, cursor)

    def wait_for(self, grade_ids: set[str], timeout: float) -> tuple[set[str], float]:
        """(ids still missing, seconds waited): polls until all are in, or the time is up."""
        started = time.monotonic()
        while True:
            self.poll()
            missing = grade_ids - self.recorded_at.keys()
            if not missing or time.monotonic() - started > timeout:
                break
            time.sleep(0.25)
        if missing:
            # The cursor assumes entries become visible in sequence order; re-read everything
            # once before calling anything missing, so a commit-order gap cannot fake a loss.
            self.poll(from_start=True)
            missing = grade_ids - self.recorded_at.keys()
        return missing, time.monotonic() - started


def lag_by_second(result: LoadResult, recorded_at: dict[str, float]) -> list[float]:
    """Median audit lag of the grades answered in each full second of the window.

    A flat series means a fixed pipeline delay; one that climbs through the window means the
    pipeline is slower than the writes and a backlog is building up.
    """
    buckets: dict[int, list[float]] = {}
    for gid, received in result.writes:
        second = int(received - result.started_at)
        if gid in recorded_at and 0 <= second < int(result.duration):
            buckets.setdefault(second, []).append(recorded_at[gid] - received)
    return [round(median(buckets.get(i, [])), 3) for i in range(int(result.duration))]


def outbox_times(data_dir: Path) -> dict[str, tuple[float, float | None]]:
    """grade id → (outbox row written, row marked published) from the grades service's SQLite file.

    Read-only, to split the audit lag into "waiting in the grades outbox" and "broker + audit
    consumer". `published_at` is set when the relay's whole batch is confirmed, so it is an
    upper bound of the publish time. Empty if grades does not use the embedded SQLite file.
    """
    path = data_dir / "grades.db"
    if not path.exists():
        return {}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        rows = db.execute("SELECT payload, created_at, published_at FROM outbox WHERE type = ?",
                          (EVENT_TYPE,)).fetchall()
    return {json.loads(payload)["entity"]["id"]: (created, published) for payload, created, published in rows}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.grade_writes", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=15.0, help="length of each write window")
    p.add_argument("--healthz-seconds", type=float, default=5.0, help="length of each baseline window")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--client-procs", type=int, default=2)
    p.add_argument("--audit-timeout", type=float, default=120.0,
                   help="how long to wait, after a write window, for its grades to reach the audit trail")
    add_platform_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_platform("grade-writes", **platform_kwargs(args)) as scratch:
        return run(args, scratch)


def run(args: argparse.Namespace, scratch: Scratch) -> int:
    demo = scratch.demo
    teacher = scratch.login("teacher")
    audit = AuditReader(scratch, scratch.login("director"))
    requests = {
        "healthz": {"method": "GET", "path": "/healthz", "headers": {}, "expect_status": 200},
        "writes": {"method": "POST", "path": "/v1/grades", "headers": {"Authorization": f"Bearer {teacher}"},
                   "expect_status": 201, "collect_ids": True,
                   "grade": {"class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
                             "student_id": demo["student_person"]["id"]}},
    }
    meter = CpuMeter(platform_pids(scratch.platform))

    def window(kind: str, seconds: float, label: str) -> LoadResult:
        return run_load(scratch, requests[kind], connections=args.connections, processes=args.client_procs,
                        duration=seconds, meter=meter, label=label)

    print(f"[bench] warm-up, then {args.rounds} rounds: /healthz {args.healthz_seconds:g} s, grade writes "
          f"{args.seconds:g} s; {args.connections} connections over {args.client_procs} load generator processes",
          flush=True)
    window("healthz", 2, "warm-up /healthz")
    warm = run_load(scratch, requests["writes"], connections=args.connections, processes=args.client_procs,
                    duration=2, meter=meter, label="warm-up POST /v1/grades", retries=0)
    audit.wait_for({gid for gid, _ in warm.writes}, args.audit_timeout)

    results: dict[str, list[LoadResult]] = {"healthz": [], "writes": []}
    lags: list[float] = []
    lag_trend: list[list[float]] = []  # per round: median lag of the grades written in each second
    missing_total: list[str] = []
    drain: list[dict[str, float]] = []

    def audit_discarded(result: LoadResult) -> None:
        """A thrown-away write window still wrote grades: they too must reach the audit trail,
        and its backlog must be gone before the window is measured again."""
        missing, _ = audit.wait_for({gid for gid, _ in result.writes}, args.audit_timeout)
        missing_total.extend(sorted(missing))

    for r in range(args.rounds):
        results["healthz"].append(window("healthz", args.healthz_seconds, f"round {r + 1} /healthz"))
        time.sleep(0.5)
        result = run_load(scratch, requests["writes"], connections=args.connections, processes=args.client_procs,
                          duration=args.seconds, meter=meter, label=f"round {r + 1} POST /v1/grades",
                          on_discard=audit_discarded)
        results["writes"].append(result)
        # How long the audit pipeline needs to catch up after the window, and who burns CPU then.
        before = meter.sample()
        ids = {gid for gid, _ in result.writes}
        missing, waited = audit.wait_for(ids, args.audit_timeout)
        drain.append({"seconds": round(waited, 2), **meter.split(before, meter.sample())})
        round_lags = [audit.recorded_at[gid] - received for gid, received in result.writes if gid not in missing]
        lags.extend(round_lags)
        lag_trend.append(lag_by_second(result, audit.recorded_at))
        missing_total.extend(sorted(missing))
        print(f"[bench]   round {r + 1}: {len(ids)} grades written, audit caught up {waited:.1f} s after the "
              f"window; lag p50 {percentile(round_lags, 50):.3f} s p99 {percentile(round_lags, 99):.3f} s"
              + (f"; !!! {len(missing)} MISSING from the audit trail" if missing else ""), flush=True)

    def med(kind: str, attr: str) -> float:
        return median(getattr(x, attr) for x in results[kind])

    # Where the audit lag accrues: response → outbox row (≈ commit), outbox → published, → audited.
    outbox = outbox_times(scratch.platform.data_dir)
    segments: dict[str, list[float]] = {"commit": [], "relay": [], "audit": []}
    for result in results["writes"]:
        for gid, received in result.writes:
            created, published = outbox.get(gid, (None, None))
            if created is None or published is None or gid not in audit.recorded_at:
                continue
            segments["commit"].append(created - received)
            segments["relay"].append(published - created)
            segments["audit"].append(audit.recorded_at[gid] - published)

    writes_per_s = med("writes", "rps")
    lag_p99 = percentile(lags, 99)
    nan = float("nan")
    errors = {k: [x.errors for x in v if x.errors] for k, v in results.items()}
    written = sum(len(x.writes) for x in results["writes"])
    rows = [
        Row("throughput (healthz vs writes)", med("healthz", "rps"), writes_per_s, "req/s",
            target="writes ≥ 500/s", met=writes_per_s >= 500),
        Row("HTTP latency p50", med("healthz", "p50_ms"), med("writes", "p50_ms"), "ms"),
        Row("HTTP latency p99", med("healthz", "p99_ms"), med("writes", "p99_ms"), "ms"),
        Row("audit lag p50", nan, percentile(lags, 50), "s"),
        Row("audit lag p99", nan, lag_p99, "s", target="≤ 1 s", met=lag_p99 <= 1.0),
        Row("audit lag max", nan, max(lags) if lags else nan, "s"),
        Row("audit lag p50, grades of 1st second", nan, median(t[0] for t in lag_trend if t), "s"),
        Row("audit lag p50, grades of last second", nan, median(t[-1] for t in lag_trend if t), "s"),
        Row("  of which: in grades outbox p50", nan, percentile(segments["relay"], 50), "s"),
        Row("  of which: in grades outbox p99", nan, percentile(segments["relay"], 99), "s"),
        Row("  of which: broker+audit p50", nan, percentile(segments["audit"], 50), "s"),
        Row("  of which: broker+audit p99", nan, percentile(segments["audit"], 99), "s"),
        Row("audit catch-up after window", nan, median(d["seconds"] for d in drain), "s"),
        Row("grades missing from audit", nan, float(len(missing_total)), "count", target="0",
            met=not missing_total),
        Row("load generator CPU (max proc)", max(max(x.client_cpu_pct) for x in results["healthz"]),
            max(max(x.client_cpu_pct) for x in results["writes"]), "% core"),
    ]
    notes = [f"medians over {args.rounds} alternating rounds (/healthz {args.healthz_seconds:g} s, writes "
             f"{args.seconds:g} s); {written} grades written in the measured windows; audit lag over all of them",
             "audit lag = audit recorded_at − client receipt of the 201 (negative: audited before the client "
             "had its response)",
             "outbox = grades outbox row created → row marked published (relay batch confirmed); "
             "broker+audit = marked published → audit recorded_at",
             background_note([x.cpu for v in results.values() for x in v])]
    if missing_total:
        notes.append(f"!!! {len(missing_total)} GRADES NEVER REACHED THE AUDIT TRAIL within "
                     f"{args.audit_timeout:g} s, e.g. {missing_total[:5]}")
    if any(errors.values()):
        notes.append(f"!!! ERRORS during the windows: {errors}")
    table = print_table("Grade writes", "GET /healthz (same gateway, same run)",
                        "POST /v1/grades as the teacher (random value 1..10)", rows, notes)
    cpu = {"healthz": median_cpu([x.cpu for x in results["healthz"]]),
           "writes": median_cpu([x.cpu for x in results["writes"]]),
           "audit_catch_up": median_cpu([{k: v for k, v in d.items() if k != "seconds"} for d in drain])}
    cpu_text = "\n\n".join([print_cpu("GET /healthz", cpu["healthz"]),
                          print_cpu("POST /v1/grades window", cpu["writes"]),
                          print_cpu("after the write window, until the audit trail caught up",
                                    cpu["audit_catch_up"])])
    if missing_total:
        print(f"\n!!!!!!!! {len(missing_total)} GRADES ARE MISSING FROM THE AUDIT TRAIL !!!!!!!!\n", flush=True)
    audit_summary = {
        "lag_s": {"p50": percentile(lags, 50), "p90": percentile(lags, 90), "p99": lag_p99,
                  "max": max(lags) if lags else None, "min": min(lags) if lags else None},
        "segments_s": {k: {"p50": percentile(v, 50), "p99": percentile(v, 99)} for k, v in segments.items()},
        "lag_p50_by_second_per_round": lag_trend, "written": written, "missing": missing_total,
        "catch_up": drain, "pages_read": audit.pages}
    write_results(results_name(NAME, args), {
        "args": vars(args), "rows": rows, "rounds": results, "cpu_pct_of_one_core": cpu, "audit": audit_summary,
        "errors": errors, "table": table, "cpu_text": cpu_text})
    return 1 if missing_total or any(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
