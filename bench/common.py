"""Shared plumbing for the benchmarks: scratch platform, CPU accounting, statistics, result tables.

Every benchmark measures a baseline and the real thing in the same process, in alternating
rounds, and reports the ratio: on a noisy 2-core machine absolute numbers wander, ratios much
less. Results go to `bench/results/<name>.json` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.local.demo import Api, operator_credentials, seed_demo
from deploy.local.platform import LocalPlatform
from tests.infra import free_port, temporary_vhost

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Keep the scratch data dir (databases, logs) after the run, for post-mortems.
KEEP_DATA = os.environ.get("BENCH_KEEP_DATA") == "1"


# --------------------------------------------------------------------------- statistics

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for an empty sample."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else math.nan


def sleep_until(epoch: float) -> None:
    delay = epoch - time.time()
    if delay > 0:
        time.sleep(delay)


# --------------------------------------------------------------------------- CPU accounting

MACHINE = "machine (all processes)"
BACKGROUND = "background (not ours, sum)"
STEAL = "steal (hypervisor)"


def _parse_stat(raw: str) -> tuple[str, float]:
    """(command name, utime + stime in seconds, all threads) from a /proc/<pid>/stat line."""
    # The command name may contain spaces and parentheses: split around the last ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    return raw[raw.index("(") + 1:raw.rindex(")")], (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used so far by one process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return _parse_stat(f.read())[1]
    except OSError:
        return None


def system_cpu() -> tuple[float, float, float]:
    """(busy, total, steal) jiffies of the whole machine, from the first line of /proc/stat.

    Steal is time the hypervisor gave our virtual CPUs to someone else: counted as busy (we
    could not use it), and shown on its own because it makes a window slower for no reason of ours.
    """
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    idle = parts[3] + parts[4]  # idle + iowait
    total = sum(parts[:8])  # guest time is already counted in user
    return total - idle, total, parts[7]


def rabbitmq_pid() -> int | None:
    """The RabbitMQ broker is the (single) beam.smp process on this machine."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    return int(entry.name)
            except OSError:
                continue
    return None


def all_processes_cpu() -> dict[int, tuple[str, float]]:
    """pid → (command name, CPU seconds) of every process on the machine."""
    out: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            out[int(entry.name)] = _parse_stat((entry / "stat").read_text())
        except OSError:
            continue  # exited meanwhile
    return out


@dataclass
class CpuSample:
    wall: float
    per_process: dict[str, float | None]
    system: tuple[float, float, float]
    everything: dict[int, tuple[str, float]]


class CpuMeter:
    """CPU used per named process over a window, in % of one core (so 2 cores = 200 %).

    Processes that are not named are summed per command name ("other: <comm>") when they
    used at least 1 %, and whatever the machine spent that no process accounts for (interrupt
    and softirq time, e.g. loopback TCP) is shown as "unattributed": the split adds up.
    """

    def __init__(self, pids: dict[str, int]):
        self.pids = dict(pids)

    def add(self, name: str, pid: int) -> None:
        self.pids[name] = pid

    def sample(self) -> CpuSample:
        return CpuSample(time.monotonic(), {n: proc_cpu_seconds(p) for n, p in self.pids.items()},
                         system_cpu(), all_processes_cpu())

    def _others(self, before: CpuSample, after: CpuSample) -> dict[str, float]:
        """% of a core used by every process that is not named, summed per command name."""
        wall = after.wall - before.wall
        named = set(self.pids.values())
        others: dict[str, float] = {}
        for pid, (comm, end_cpu) in after.everything.items():
            if pid not in named:
                start_cpu = before.everything.get(pid, (comm, 0.0))[1]
                others[comm] = others.get(comm, 0.0) + 100 * (end_cpu - start_cpu) / wall
        return others

    def background(self, before: CpuSample, after: CpuSample) -> float:
        return sum(self._others(before, after).values()) if after.wall > before.wall else 0.0

    def split(self, before: CpuSample, after: CpuSample) -> dict[str, float]:
        wall = after.wall - before.wall
        if wall <= 0:
            return {}
        out: dict[str, float] = {}
        for name, start in before.per_process.items():
            end = after.per_process.get(name)
            if start is not None and end is not None:
                out[name] = round(100 * (end - start) / wall, 1)
        others = self._others(before, after)
        out.update({f"other: {comm}": round(pct, 1) for comm, pct in others.items() if pct >= 1.0})
        busy = after.system[0] - before.system[0]
        total = after.system[1] - before.system[1]
        if total > 0:
            machine = 100 * (os.cpu_count() or 1) * busy / total
            accounted = sum(out.values()) + sum(v for v in others.values() if v < 1.0)
            steal = 100 * (os.cpu_count() or 1) * (after.system[2] - before.system[2]) / total
            if steal >= 0.5:
                out[STEAL] = round(steal, 1)
            out["unattributed (irq/softirq)"] = round(max(0.0, machine - accounted - steal), 1)
            out[MACHINE] = round(machine, 1)
        out[BACKGROUND] = round(sum(others.values()), 1)
        return out

    def wait_for_quiet(self, *, threshold: float = 15.0, max_wait: float = 60.0) -> float:
        """Wait (bounded) until processes outside the benchmark use < `threshold` % of a core.

        The machine is shared (others run test suites on it); on 2 cores a busy neighbour
        skews a window badly. Returns the last background figure; the windows report theirs.
        """
        deadline = time.monotonic() + max_wait
        while True:
            before = self.sample()
            time.sleep(1.0)
            load = self.background(before, self.sample())
            if load < threshold:
                return load
            if time.monotonic() > deadline:
                print(f"[bench] ! background load still {load:.0f} % of a core after {max_wait:g} s; "
                      f"measuring anyway (see 'background' in the CPU split)", flush=True)
                return load


def platform_pids(platform: LocalPlatform) -> dict[str, int]:
    """Every platform process, the broker, and this driver (it polls the audit trail, for one)."""
    pids = {p.name: p.popen.pid for p in platform.procs if p.popen is not None}
    pids["bench driver"] = os.getpid()
    broker = rabbitmq_pid()
    if broker is not None:
        pids["rabbitmq (beam)"] = broker
    return pids


def background_note(splits: Sequence[dict[str, float]]) -> str:
    """One line on how much other users of the machine took during the measured windows."""
    loads = [s.get(BACKGROUND, 0.0) for s in splits]
    worst = max(loads, default=0.0)
    flag = "  !!! figures disturbed, rerun on a quiet machine" if worst >= 25 else ""
    return (f"background CPU of other users during the windows: median {median(loads):.0f} %, "
            f"max {worst:.0f} % of a core{flag}")


def median_cpu(splits: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per process, the median over windows; a process absent from a window (an "other:" one
    below 1 %, a steal figure below 0.5 %) counts as 0 there, so the medians stay comparable."""
    names = {n for s in splits for n in s}
    return {n: round(median(s.get(n, 0.0) for s in splits), 1) for n in sorted(names)}


# --------------------------------------------------------------------------- scratch platform

@dataclass
class Scratch:
    platform: LocalPlatform
    demo: dict
    amqp_uri: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.platform.url, verify=str(self.platform.ca_file), headers=headers,
                            timeout=30)

    def login(self, role: str) -> str:
        """A full access token: password, plus the TOTP second factor the seed enrolled (if any)."""
        user = self.demo["operator"] if role == "operator" else self.demo["users"][role]
        api = Api(self.platform.url, self.platform.ca_file)
        try:
            return api.login(user["email"], user["password"], user.get("totp_secret"))
        finally:
            api.http.close()


@contextmanager
def scratch_vhost_and_dir(name: str) -> Iterator[tuple[str, Path]]:
    """A fresh RabbitMQ vhost and data dir; both removed afterwards, whatever happens."""
    with temporary_vhost(f"bench-{name}") as amqp_uri:
        data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        try:
            yield amqp_uri, data_dir
        finally:
            if KEEP_DATA:
                print(f"[bench] data kept in {data_dir}", flush=True)
            else:
                shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def scratch_platform(name: str, *, extra_env: dict[str, str] | None = None,
                     replicas: dict[str, int] | None = None, profile: Sequence[str] = ()) -> Iterator[Scratch]:
    """The whole platform as local processes on a scratch vhost, with the demo school seeded.

    `profile` names processes (e.g. "gateway", "grades") to run under cProfile; their top
    functions are printed after the platform stops and the stats kept in bench/results/.
    """
    with scratch_vhost_and_dir(name) as (amqp_uri, data_dir):
        operator = operator_credentials(data_dir)
        env = {"PLATFORM_OPERATOR_EMAIL": operator["email"], "PLATFORM_OPERATOR_PASSWORD": operator["password"]}
        env.update(extra_env or {})
        platform = LocalPlatform(data_dir=data_dir, gateway_port=free_port(), amqp_uri=amqp_uri,
                                 replicas=dict(replicas or {}), extra_env=env)
        profiles: dict[str, Path] = {}
        ok = False
        try:
            print(f"[bench] starting the platform on {platform.url} (vhost {amqp_uri.rsplit('/', 1)[-1]})…",
                  flush=True)
            platform.start()
            platform.wait_ready(timeout=120)
            if profile:
                profiles = restart_profiled(platform, profile, name)
            demo = seed_demo(platform.url, platform.ca_file, data_dir)
            yield Scratch(platform, demo, amqp_uri)
            ok = True
        finally:
            crashed = [p.name for p in platform.procs if p.popen is not None and p.popen.poll() is not None]
            platform.stop()
            if crashed or not ok:
                for proc in platform.procs:
                    if proc.name in crashed or not ok:
                        print_log_tail(proc.log_path, proc.name)
            if crashed:
                print(f"[bench] !!! platform processes died during the run: {crashed}", flush=True)
            for label, path in profiles.items():
                print_profile(label, path)


def add_platform_options(parser: argparse.ArgumentParser) -> None:
    """Options to explore variants of the platform set-up; the default run uses none of them."""
    parser.add_argument("--profile", default="", metavar="PROCS",
                        help="comma-separated platform processes to run under cProfile, e.g. gateway,grades "
                             "(slows them down: for finding hot spots, not for the reported figures)")
    parser.add_argument("--replicas", action="append", default=[], metavar="SERVICE=N",
                        help="run N processes of a service, e.g. grades=2 (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for every platform process, e.g. LOG_LEVEL=WARNING (repeatable)")


def platform_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """`scratch_platform` keyword arguments from the options of `add_platform_options`."""
    def pairs(items: list[str]) -> dict[str, str]:
        bad = [i for i in items if "=" not in i]
        if bad:
            raise SystemExit(f"expected NAME=VALUE, got {bad}")
        return dict(i.split("=", 1) for i in items)

    return {"profile": [x for x in args.profile.split(",") if x],
            "replicas": {k: int(v) for k, v in pairs(args.replicas).items()},
            "extra_env": pairs(args.env)}


def results_name(name: str, args: argparse.Namespace) -> str:
    """A variant run (profiled, replicas, extra env) must not overwrite the standard results."""
    return f"{name}.variant" if (args.profile or args.replicas or args.env) else name


def restart_profiled(platform: LocalPlatform, names: Sequence[str], bench: str) -> dict[str, Path]:
    """Restart the named platform processes under cProfile (same module, same environment).

    Profiling slows a process down (roughly 1.5-2x for this code), so a profiled run shows
    where the time goes, not the throughput to report.
    """
    RESULTS_DIR.mkdir(exist_ok=True)
    outputs: dict[str, Path] = {}
    for label in names:
        proc = next((p for p in platform.procs if p.name == label), None)
        if proc is None:
            raise ValueError(f"no platform process named {label!r}: {[p.name for p in platform.procs]}")
        module = "gateway" if label == "gateway" else f"services.{label.split('-')[0]}"
        out = RESULTS_DIR / f"{bench}.{label}.prof"
        out.unlink(missing_ok=True)
        platform.kill(label, signal.SIGTERM)  # a clean stop, so the old process releases its port/queues
        proc.args = [sys.executable, "-m", "bench.profiled", str(out), module]
        platform.restart(label)
        outputs[label] = out
    platform.wait_ready(timeout=120)
    print(f"[bench] profiling {', '.join(names)} (cProfile; figures of this run are slowed down)", flush=True)
    return outputs


def print_profile(label: str, path: Path, top: int = 30) -> None:
    if not path.exists():
        print(f"[bench] no profile written for {label} (did it stop cleanly?)", flush=True)
        return
    print(f"\n[bench] ===== cProfile of {label}: top {top} by own time ({path}) =====", flush=True)
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)
    print(f"[bench] ===== cProfile of {label}: top {top} by cumulative time =====", flush=True)
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(top)


def print_log_tail(path: Path, label: str, lines: int = 8) -> None:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    print(f"[bench] --- last lines of {label} ({path}) ---", flush=True)
    for line in tail:
        print(f"    {line[:240]}", flush=True)


# --------------------------------------------------------------------------- HTTP load (bench.loadgen)

@dataclass
class LoadResult:
    """Merged outcome of the load generator processes for one measurement window."""
    started_at: float  # epoch at which the window opened
    duration: float
    ok: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    client_cpu_pct: list[float]
    writes: list[tuple[str, float]] = field(default_factory=list, repr=False)
    cpu: dict[str, float] = field(default_factory=dict)
    repeated: int = 0  # earlier attempts at this window thrown away because others disturbed them


# Other users of the machine took at least this much (% of one core) during a window: on two
# cores that distorts every figure, so the window is thrown away and measured again.
DISTURBED = 25.0


def run_load(scratch: Scratch, request: dict[str, Any], *, connections: int, processes: int,
             duration: float, meter: CpuMeter, label: str = "", retries: int = 2,
             on_discard: Callable[[LoadResult], None] | None = None) -> LoadResult:
    """One measurement window (see `_load_window`), repeated up to `retries` times if disturbed.

    `on_discard` gets each thrown-away attempt (its writes happened, e.g. must be audited).
    """
    repeated = 0
    while True:
        meter.wait_for_quiet()
        result = _load_window(scratch, request, connections=connections, processes=processes,
                              duration=duration, meter=meter, label=label)
        if result.cpu.get(BACKGROUND, 0.0) < DISTURBED or repeated >= retries:
            result.repeated = repeated
            return result
        repeated += 1
        print(f"[bench]   ^ disturbed by other users of the machine: measuring this window again "
              f"({repeated}/{retries})", flush=True)
        if on_discard is not None:
            on_discard(result)


def _load_window(scratch: Scratch, request: dict[str, Any], *, connections: int, processes: int,
                 duration: float, meter: CpuMeter, label: str) -> LoadResult:
    """Run `processes` load generator processes sharing `connections` keep-alive HTTPS connections.

    They all start at the same wall-clock instant (after their TLS handshakes), so the
    window is the same for every connection, and the CPU meter samples exactly that window.
    """
    platform = scratch.platform
    start_at = time.time() + 2.5  # interpreter start-up + TLS handshakes happen before this
    shares = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    procs: list[subprocess.Popen] = []
    try:
        for share in shares:
            spec = {"host": "127.0.0.1", "port": platform.gateway_port, "ca_file": str(platform.ca_file),
                    "connections": share, "start_at": start_at, "duration": duration, **request}
            procs.append(subprocess.Popen([sys.executable, "-m", "bench.loadgen", json.dumps(spec)],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE))
        window_meter = CpuMeter(dict(meter.pids))
        for i, p in enumerate(procs):
            window_meter.add(f"load generator {i + 1}", p.pid)
        sleep_until(start_at)
        before = window_meter.sample()
        sleep_until(start_at + duration)
        after = window_meter.sample()
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=duration + 60)
            if p.returncode != 0:
                raise RuntimeError(f"load generator failed ({p.returncode}): {err.decode(errors='replace')[-2000:]}")
            for line in err.decode(errors="replace").splitlines()[:5]:  # e.g. the first unexpected answers
                print(f"[bench]   {line[:300]}", flush=True)
            outputs.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
    latencies = [x for o in outputs for x in o["latencies_ms"]]
    errors: dict[str, int] = {}
    for o in outputs:
        for k, v in o["errors"].items():
            errors[k] = errors.get(k, 0) + v
    ok = sum(o["ok"] for o in outputs)
    result = LoadResult(started_at=start_at, duration=duration, ok=ok, rps=ok / duration,
                        p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99), errors=errors,
                        client_cpu_pct=[round(100 * o["cpu_seconds"] / duration, 1) for o in outputs],
                        writes=[(w[0], w[1]) for o in outputs for w in o["writes"]],
                        cpu=window_meter.split(before, after))
    err_text = f", ERRORS {errors}" if errors else ""
    print(f"[bench]   {label:<28} {result.rps:9.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
          f"p99 {result.p99_ms:7.2f} ms  client CPU {result.client_cpu_pct} %  "
          f"background {result.cpu.get(BACKGROUND, 0):.0f} %{err_text}", flush=True)
    return result


# --------------------------------------------------------------------------- reporting

@dataclass
class Row:
    metric: str
    baseline: float
    measured: float
    unit: str
    ratio: float | None = None  # measured / baseline unless given
    target: str = ""
    met: bool | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline and not math.isnan(self.baseline):
            self.ratio = self.measured / self.baseline


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


_LEFT_ALIGNED = {0, 1, 5, 6}  # text columns; the numeric ones are right-aligned


def _table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) if i in _LEFT_ALIGNED else c.rjust(w)
                     for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()


def print_table(title: str, baseline_label: str, measured_label: str, rows: Sequence[Row],
                notes: Sequence[str] = ()) -> str:
    header = ("metric", "unit", "baseline", "measured", "ratio", "target", "")
    body = [(r.metric, r.unit, _fmt(r.baseline), _fmt(r.measured), _fmt(r.ratio), r.target,
             "" if r.met is None else ("OK" if r.met else "MISSED")) for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [f"=== {title} ===", f"baseline: {baseline_label}", f"measured: {measured_label}",
             _table_line(header, widths), _table_line(["-" * w for w in widths], widths)]
    lines += [_table_line(line, widths) for line in body]
    lines += [f"note: {n}" for n in notes]
    text = "\n".join(lines)
    print("\n" + text + "\n", flush=True)
    return text


def print_cpu(title: str, cpu: dict[str, float]) -> str:
    lines = [f"CPU split ({title}; % of one core, machine has {os.cpu_count()} cores):"]
    for name, pct in sorted(((n, v) for n, v in cpu.items() if n not in (MACHINE, BACKGROUND)),
                            key=lambda kv: -kv[1]):
        lines.append(f"  {name:<28} {pct:6.1f} %")
    if BACKGROUND in cpu:
        lines.append(f"  {BACKGROUND:<28} {cpu[BACKGROUND]:6.1f} %   (other users of this machine)")
    if MACHINE in cpu:
        lines.append(f"  {MACHINE:<28} {cpu[MACHINE]:6.1f} % of {100 * (os.cpu_count() or 1)} %")
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **payload}
    path.write_text(json.dumps(_jsonable(payload), indent=2, allow_nan=False))
    print(f"[bench] results written to {path}", flush=True)
    return path


def _jsonable(obj: Any) -> Any:
    """Dataclasses to dicts, NaN to null (strict JSON has no NaN)."""
    if isinstance(obj, LoadResult):
        obj = {k: v for k, v in asdict(obj).items() if k != "writes"}  # per-write data stays out
    elif hasattr(obj, "__dataclass_fields__"):
        obj = asdict(obj)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj
