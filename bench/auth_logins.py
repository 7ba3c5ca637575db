"""Logins per core, and what the gateway's token check costs.

`python -m bench.auth_logins [--seconds 8] [--rounds 3] [--teachers 48]`

1. Password step: a student (no second factor) logs in over HTTPS again and again from
   `--connections` keep-alive connections (a success clears the failure count, so no
   throttling). Baseline: raw argon2id verifications per second on one core, in this process,
   with the same OWASP parameters. Reported: logins/s and logins per CPU-second of the auth
   service and the gateway (the "per core" figure), and its ratio to the raw argon2 rate.
2. Password + TOTP: `--teachers` teachers with TOTP each sign in once (password step, then
   the code); a code cannot be reused, so each sign-in needs its own user or time step.
   Reported the same way, per CPU-second of auth + gateway.
3. Token check overhead: GET /v1/me (bearer token checked against the policy table,
   signature verified, revocation list consulted, no RPC) vs GET /healthz (public) in the same
   gateway process, 50 connections. Ratio target ≥ 0.8.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time

import httpx
import pyotp

from deploy.local.demo import TotpDevice
from services.auth.security.passwords import hash_password, verify_password

from .common import (CpuMeter, LoadResult, Row, Scratch, add_platform_options, background_note, median, median_cpu,
                     platform_kwargs, platform_pids, print_cpu, print_table, proc_cpu_seconds, results_name,
                     run_load, scratch_platform, write_results)

NAME = "auth_logins"


def raw_argon2_per_second(seconds: float = 3.0) -> float:
    stored = hash_password("o-parola-de-test-lunga")
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        verify_password(stored, "o-parola-de-test-lunga")
        done += 1
    return done / (time.perf_counter() - started)


def make_teachers(scratch: Scratch, count: int) -> list[dict]:
    """Teachers with TOTP enrolled (the enrolment itself spends each one's first code)."""
    admin = scratch.login("admin")
    teachers = []
    with scratch.client(admin) as c:
        for i in range(count):
            user = {"email": f"bench-prof-{i}@demo-creanga.ro", "password": f"parola-profesor-bench-{i}"}
            r = c.post("/v1/users", json={**user, "full_name": f"Profesor {i}", "role": "teacher"})
            if r.status_code != 201:
                raise RuntimeError(f"creating a teacher failed: {r.status_code} {r.text}")
            teachers.append(user)
    with scratch.client() as c:
        for user in teachers:
            partial = c.post("/v1/auth/login", json=user).json()["access_token"]
            headers = {"Authorization": f"Bearer {partial}"}
            secret = c.post("/v1/auth/2fa/totp", headers=headers).json()["secret"]
            user["device"] = TotpDevice(secret)
            r = c.post("/v1/auth/2fa/totp/confirm", headers=headers, json={"code": user["device"].code()})
            if r.status_code != 200:
                raise RuntimeError(f"enrolling TOTP failed: {r.status_code} {r.text}")
    return teachers


async def totp_sign_ins(scratch: Scratch, teachers: list[dict], concurrency: int) -> tuple[int, float]:
    """Each teacher signs in once (password, then a TOTP code of a step not used yet)."""
    platform = scratch.platform
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    ok = 0
    async with httpx.AsyncClient(base_url=platform.url, verify=str(platform.ca_file), limits=limits,
                                 timeout=30) as c:
        async def one(user: dict) -> None:
            nonlocal ok
            async with sem:
                first = (await c.post("/v1/auth/login", json={"email": user["email"],
                                                              "password": user["password"]})).json()
                code = pyotp.TOTP(user["device"].secret).at((user["device"].last_step + 1) * 30)
                r = await c.post("/v1/auth/2fa/verify", headers={"Authorization": f"Bearer {first['access_token']}"},
                                 json={"method": "totp", "code": code})
                if r.status_code == 200 and r.json()["status"] == "ok":
                    ok += 1
                    user["device"].last_step += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(u) for u in teachers))
        return ok, time.perf_counter() - started


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.auth_logins", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=8, help="concurrent logins (password step)")
    p.add_argument("--teachers", type=int, default=48, help="teachers signing in with TOTP, once each")
    add_platform_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_platform("auth-logins", **platform_kwargs(args)) as scratch:
        return run(args, scratch)


def run(args: argparse.Namespace, scratch: Scratch) -> int:
    pids = platform_pids(scratch.platform)
    meter = CpuMeter(pids)
    student = scratch.demo["users"]["student"]
    login_request = {"method": "POST", "path": "/v1/auth/login", "headers": {}, "expect_status": 200,
                     "body": {"email": student["email"], "password": student["password"]}}
    token = scratch.login("student")
    me = {"method": "GET", "path": "/v1/me", "headers": {"Authorization": f"Bearer {token}"}, "expect_status": 200}
    healthz = {"method": "GET", "path": "/healthz", "headers": {}, "expect_status": 200}

    def core_seconds(result: LoadResult) -> float:
        return (result.cpu.get("auth", 0.0) + result.cpu.get("gateway", 0.0)) / 100 * result.duration

    raw, logins, per_core, me_runs, health_runs, splits = [], [], [], [], [], []
    run_load(scratch, login_request, connections=args.connections, processes=1, duration=2, meter=meter,
             label="warm-up login")
    for r in range(args.rounds):
        raw.append(raw_argon2_per_second())
        res = run_load(scratch, login_request, connections=args.connections, processes=1,
                       duration=args.seconds, meter=meter, label=f"login round {r + 1}")
        logins.append(res.rps)
        per_core.append(res.ok / max(core_seconds(res), 1e-9))
        splits.append(res.cpu)
        order = (healthz, me) if r % 2 == 0 else (me, healthz)
        for req in order:
            out = run_load(scratch, req, connections=50, processes=2, duration=args.seconds, meter=meter,
                           label=f"{req['path']} round {r + 1}")
            (me_runs if req is me else health_runs).append(out)

    teachers = make_teachers(scratch, args.teachers)
    auth_pid, gw_pid = pids["auth"], pids["gateway"]
    before = (proc_cpu_seconds(auth_pid) or 0) + (proc_cpu_seconds(gw_pid) or 0)
    ok, wall = asyncio.run(totp_sign_ins(scratch, teachers, args.connections))
    used = (proc_cpu_seconds(auth_pid) or 0) + (proc_cpu_seconds(gw_pid) or 0) - before
    if ok != len(teachers):
        print(f"[bench] !!! only {ok} of {len(teachers)} TOTP sign-ins succeeded", flush=True)

    raw_rate = median(raw)
    me_rps, hz_rps = median(r.rps for r in me_runs), median(r.rps for r in health_runs)
    rows = [
        Row("password logins/s (wall)", raw_rate, median(logins), "/s"),
        Row("password logins per core-second", raw_rate, median(per_core), "/core·s"),
        Row("password+TOTP sign-ins per core-second", raw_rate, ok / max(used, 1e-9), "/core·s"),
        Row("password+TOTP sign-ins/s (wall)", raw_rate, ok / wall, "/s"),
        Row("token-checked GET /v1/me vs /healthz", hz_rps, me_rps, "req/s", target="ratio ≥ 0.8",
            met=me_rps / hz_rps >= 0.8 if hz_rps else None),
        Row("  p50 latency", median(r.p50_ms for r in health_runs), median(r.p50_ms for r in me_runs), "ms"),
        Row("  p99 latency", median(r.p99_ms for r in health_runs), median(r.p99_ms for r in me_runs), "ms"),
    ]
    table = print_table("Logins and token checks",
                        "raw argon2id verifications/s on one core (logins); GET /healthz (token check)",
                        "the platform over HTTPS", rows,
                        notes=[f"per core-second = successful logins / CPU seconds of auth + gateway; "
                               f"{ok} TOTP sign-ins by {len(teachers)} teachers in {wall:.1f} s",
                               background_note(splits)])
    cpu = median_cpu(splits)
    cpu_text = print_cpu("CPU during password logins (% of one core)", cpu)
    write_results(results_name(NAME, args), {"benchmark": NAME, "table": table, "cpu_text": cpu_text,
                                             "rows": rows, "raw_argon2_per_s": raw, "login_rps": logins,
                                             "logins_per_core_s": per_core, "totp": {"ok": ok, "wall": wall,
                                                                                     "cpu_s": used},
                                             "me": me_runs, "healthz": health_runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
