"""All benchmarks, one after the other: `python -m bench.run_all` (what `make bench` runs).

Each benchmark runs in its own interpreter, exactly as `python -m bench.<name>` would, so that
one's event loop, threads or a crash cannot disturb the next, and each starts and cleans up its
own vhost, data dir and processes. Extra arguments are not forwarded; run a module alone to
change its parameters. Afterwards the tables are printed again together, from the JSON results.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

from .common import RESULTS_DIR

BENCHMARKS = (
    "rpc_roundtrip",
    "http_read",
    "grade_writes",
    "auth_logins",
    "class_catalog",
    "documents",
    "audit_log",
    "web_catalog",
    "registry_import",
    "outbox_age",
    "backup_export",
)


def main() -> int:
    outcomes: dict[str, str] = {}
    for name in BENCHMARKS:
        print(f"\n##### bench.{name} #####", flush=True)
        stale = RESULTS_DIR / f"{name}.json"
        stale.unlink(missing_ok=True)  # so the summary cannot show a previous run's figures
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"])
        took = time.monotonic() - started
        outcomes[name] = f"exit {code} after {took:.0f} s" + ("" if code == 0 else "  <-- FAILED")
    print("\n##### summary #####", flush=True)
    for name in BENCHMARKS:
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            result = json.loads(path.read_text())
            print(f"\n{result['table']}\n\n{result['cpu_text']}", flush=True)
        print(f"[bench.{name}] {outcomes[name]}", flush=True)
    return 0 if all(o.startswith("exit 0") for o in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
