"""Completeness of the audit trail, derived from the authorisation matrix and from introspection.

While the matrix runs, `observe` records the request id (`X-Request-ID`, which the gateway
passes on as the correlation id of every RPC and event) of each cell. Afterwards `check`:

* **gateway routes**: every non-GET route of the matrix has at least one successful cell, and
  every successful non-GET cell has an audit entry with its request id, unless the route is
  in `ROUTES_WITHOUT_ENTRY` (with the reason);
* **RPC methods**: every `@rpc` of every service class (found by introspection of
  `services/*/service.py`) was reached by a matrix cell (the services log `entrypoint.handled`
  with the method and the correlation id). A method reached by a successful non-GET cell must
  have left an entry of its own service (`<service>.*`) for that request; one reached by GET
  cells only is a read. A method not reached, or reached by a mutation cell without leaving an
  entry, must be in `RPCS_WITHOUT_ENTRY` with the reason.

So a new route or RPC that mutates without an event fails here, whoever adds it; the two
tables in `tests/e2e/audit_exemptions.py` are the only hand-written lists.
"""
from __future__ import annotations

import importlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.kernel.rpc_entrypoint import PlatformRpc
from tests.e2e.audit_exemptions import ROUTES_WITHOUT_ENTRY, RPCS_WITHOUT_ENTRY, is_web_form

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Observed:
    method: str
    path: str
    cell: str
    status: int
    request_id: str


OBSERVED: list[Observed] = []


def observe(cell, response) -> None:
    request_id = response.headers.get("x-request-id")
    if request_id:
        OBSERVED.append(Observed(cell.method, cell.path, cell.id, response.status_code, request_id))


def rpc_methods() -> dict[str, set[str]]:
    """service name → its RPC method names, by introspection of every service class."""
    out: dict[str, set[str]] = {}
    for module_file in sorted((REPO_ROOT / "services").glob("*/service.py")):
        module = importlib.import_module(f"services.{module_file.parent.name}.service")
        for value in vars(module).values():
            name = getattr(value, "name", None)
            if not isinstance(value, type) or not isinstance(name, str) or value.__module__ != module.__name__:
                continue
            for attr in dir(value):
                fn = getattr(value, attr, None)
                if any(isinstance(e, PlatformRpc) or type(e).__name__ == "Rpc"
                       for e in getattr(fn, ENTRYPOINT_EXTENSIONS_ATTR, ())):
                    out.setdefault(name, set()).add(attr)
    return out


def handled_calls(logs_dir: Path) -> dict[tuple[str, str], set[str]]:
    """(service, method) → correlation ids of the calls it answered successfully."""
    out: dict[tuple[str, str], set[str]] = {}
    for path in logs_dir.glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"entrypoint.handled"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("outcome") == "ok" and record.get("correlation_id"):
                out.setdefault((record.get("component"), record.get("method")), set()).add(record["correlation_id"])
    return out


def audit_types_by_request(audit_db: Path, request_ids: set[str], timeout: float = 30.0) -> dict[str, set[str]]:
    """correlation id → the event types the audit log holds for it, waiting for the log to catch up."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(f"file:{audit_db}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT correlation_id, type FROM audit_entries").fetchall()
        found: dict[str, set[str]] = {}
        for correlation_id, type_ in rows:
            if correlation_id in request_ids:
                found.setdefault(correlation_id, set()).add(type_)
        if set(found) >= request_ids or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def check(data_dir: Path, matrix_routes) -> list[str]:
    problems: list[str] = []
    by_request = {o.request_id: o for o in OBSERVED}
    mutations = [o for o in OBSERVED if o.method != "GET" and 200 <= o.status < 300]
    types = audit_types_by_request(data_dir / "audit.db", {o.request_id for o in mutations})

    for method, path in sorted(matrix_routes):
        if method == "GET" or (method, path) in ROUTES_WITHOUT_ENTRY or is_web_form(method, path):
            continue
        ok_cells = [o for o in mutations if (o.method, o.path) == (method, path)]
        if not ok_cells:
            problems.append(f"{method} {path}: no successful matrix cell, so its audit entry is unproven "
                            "(give it a successful cell, or list it in ROUTES_WITHOUT_ENTRY with a reason)")
        for o in ok_cells:
            if o.request_id not in types:
                problems.append(f"{o.cell}: answered {o.status} but the audit log has no entry for "
                                f"request {o.request_id}")

    calls = handled_calls(data_dir / "logs")
    for service, methods in sorted(rpc_methods().items()):
        for name in sorted(methods):
            if name in RPCS_WITHOUT_ENTRY.get(service, {}) or name in RPCS_WITHOUT_ENTRY.get("*", {}):
                continue
            ids = {i for i in calls.get((service, name), set()) if i in by_request}
            if not ids:
                problems.append(f"rpc {service}.{name}: reached by no matrix cell; give a route to it a cell, or "
                                "list it in RPCS_WITHOUT_ENTRY with a reason")
                continue
            mutating = {i for i in ids if by_request[i].method != "GET" and 200 <= by_request[i].status < 300}
            if not mutating:
                continue  # reached through GET routes only: a read
            if not any(t.startswith(f"{service}.") for i in mutating for t in types.get(i, ())):
                cell = by_request[sorted(mutating)[0]].cell
                problems.append(f"rpc {service}.{name}: handled a successful mutation ({cell}) but left no "
                                f"{service}.* audit entry; emit its event, or list it in RPCS_WITHOUT_ENTRY "
                                "with a reason")
    return problems
