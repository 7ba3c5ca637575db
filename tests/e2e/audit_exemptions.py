"""The only hand-written lists of the audit completeness test (`tests/e2e/audit_completeness.py`):
routes and RPC methods that leave no audit entry, each with the reason. A mutation belongs
here only if its change is recorded otherwise (say so); reads reached only through GET
routes need no line (the test sees they are reads)."""
from __future__ import annotations

ROUTES_WITHOUT_ENTRY: dict[tuple[str, str], str] = {
}

# "*": every service (entrypoints of the shared ServiceBase)
RPCS_WITHOUT_ENTRY: dict[str, dict[str, str]] = {
    "*": {
        "ping": "readiness probe (GET /readyz calls it outside any request's correlation id)",
    },
    "auth": {
        "recent_revocations": "a read: the gateway polls it in the background for ended sessions",
    },
}
