"""Matrix rows of the cluster-level backup routes: the platform operator only.

The matrix platform runs in the embedded SQLite mode without pgBackRest, so the operator's
on-demand backup is refused by the backup service itself (409: not configured), and a run id
that does not exist is 404: both answers come from the service, past the gateway.
"""
from __future__ import annotations

import uuid

from tests.e2e.authz import MATRIX, OK, OP, Call, Row, World, only, plain, route

NOT_CONFIGURED = (409, "conflict", "pgBackRest is not configured")
NO_SUCH_RUN = (404, "not_found", "no cluster backup run has this id")

MATRIX[("GET", "/v1/backup/status")] = Row(only({OP: OK}))
MATRIX[("GET", "/v1/backup/cluster/runs")] = Row(only({OP: OK}))
MATRIX[("POST", "/v1/backup/cluster/runs")] = Row(only({OP: NOT_CONFIGURED}))
MATRIX[("GET", "/v1/backup/cluster/runs/{run_id}")] = Row(only({OP: NO_SUCH_RUN}))

plain("GET", "/v1/backup/status")
plain("GET", "/v1/backup/cluster/runs")
plain("POST", "/v1/backup/cluster/runs", lambda: {"kind": "incr", "reason": "înainte de actualizare"})


@route("GET", "/v1/backup/cluster/runs/{run_id}")
def _run(w: World, c: str, v: str) -> Call:
    return Call(w.token(c), "GET", f"/v1/backup/cluster/runs/{uuid.uuid4()}")
