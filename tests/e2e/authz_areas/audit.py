"""Matrix rows of the audit area: entity history, proofs, checkpoints, verification, kit.

Readers of the trail are the operator (everything), a school's director and administrators
(their institution only); the central authority (no column here) reads registry entries."""
from __future__ import annotations

import time

from tests.e2e.authz import (ADM, ADMT, DIR, MATRIX, NOT_FOUND, OK, OP, PREPARE, Call, Row, only, route)

READERS = {OP: OK, DIR: OK, ADM: OK, ADMT: OK}
OTHER_SCHOOL = {DIR: NOT_FOUND, ADM: NOT_FOUND, ADMT: NOT_FOUND}

MATRIX[("GET", "/v1/audit/history/{entity_type}/{entity_id}")] = Row(
    only(READERS), variants={"other-tenant": {}},  # B's class: an empty history, never B's entries
)
MATRIX[("GET", "/v1/audit/entries/{event_id}/proof")] = Row(only(READERS), variants={"other-tenant": OTHER_SCHOOL})
MATRIX[("GET", "/v1/audit/checkpoints")] = Row(only(READERS))
MATRIX[("GET", "/v1/audit/consistency")] = Row(only(READERS))
MATRIX[("GET", "/v1/audit/verification")] = Row(only({OP: OK}))
MATRIX[("GET", "/v1/audit/kit")] = Row(only(READERS), variants={"other-tenant": {}})  # a school gets its own


def _entry_of(w, tenant: str) -> str:
    """The event id of an entry of `tenant` already covered by a signed checkpoint."""
    deadline = time.monotonic() + 15
    while True:
        page = w.ok("GET", "/v1/audit/events", w.token(OP),
                    params={"tenant_id": w.ids[f"{tenant}.tenant"], "limit": 5, "with_proofs": "true"})
        covered = [item for item in page["items"] if item.get("proof")]
        if covered:
            return covered[0]["event_id"]
        assert time.monotonic() < deadline, f"no covered audit entry of tenant {tenant}"
        time.sleep(0.2)


def _prepare(w) -> None:
    w.ids["A.audit_event"] = _entry_of(w, "A")
    w.ids["B.audit_event"] = _entry_of(w, "B")
    sizes = [c["size"] for c in w.ok("GET", "/v1/audit/checkpoints", w.token(OP), params={"limit": 1})["items"]]
    w.ids["audit.first_checkpoint"] = str(sizes[0])


PREPARE.append(_prepare)


@route("GET", "/v1/audit/history/{entity_type}/{entity_id}")
def _history(w, c, v):
    klass = w.ids["B.class" if v == "other-tenant" else "A.class"]
    return Call(w.token(c), "GET", f"/v1/audit/history/class/{klass}")


@route("GET", "/v1/audit/entries/{event_id}/proof")
def _proof(w, c, v):
    event = w.ids["B.audit_event" if v == "other-tenant" else "A.audit_event"]
    return Call(w.token(c), "GET", f"/v1/audit/entries/{event}/proof")


@route("GET", "/v1/audit/checkpoints")
def _checkpoints(w, c, v):
    return Call(w.token(c), "GET", "/v1/audit/checkpoints", params={"limit": 5})


@route("GET", "/v1/audit/consistency")
def _consistency(w, c, v):
    return Call(w.token(c), "GET", "/v1/audit/consistency", params={"first": w.ids["audit.first_checkpoint"]})


@route("GET", "/v1/audit/verification")
def _verification(w, c, v):
    return Call(w.token(c), "GET", "/v1/audit/verification")


@route("GET", "/v1/audit/kit")
def _kit(w, c, v):
    tenant = w.ids["B.tenant" if v == "other-tenant" else "A.tenant"]
    return Call(w.token(c), "GET", "/v1/audit/kit", params={"tenant_id": tenant} if c == OP or v != "own" else None)
