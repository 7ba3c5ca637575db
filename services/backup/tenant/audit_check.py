"""A restore drill's comparison of the restored set with the audit log (see `drills.py`).

1. Row images: every restored row that some audit entry of the restored trail describes as a
   row image (`tenant_data.row_image`, the rule the change-log replay uses) must agree, on the
   image's columns, with the newest such image up to the set's time. Images older than the
   service's last live restore of the tenant (`<service>.tenant_data_restored`) are left out:
   that restore rewrote the rows without row images of its own. A disagreement on a row for
   which the backup's change log holds an event newer than that image, up to the replay margin
   after the set's time, is "in flight", not a failure: the services' snapshots and the audit's
   are not one instant, and the audit's consumer may not have had that event yet.
2. Leaves: the restored trail's (leaf_index, leaf_hash) pairs must be the live log's, leaf by
   leaf, up to the restored trail's newest leaf (the audit service's `tenant_audit_leaves`).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from services.kernel import tenant_data

from .models import TenantChange
from .restoring import REPLAY_MARGIN_SECONDS, service_metadata

EXAMPLES = 5
PAGE = 1000


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _same(restored, image) -> bool:
    if restored == image:
        return True
    if isinstance(restored, dt.datetime) and isinstance(image, dt.datetime):
        utc = dt.timezone.utc
        a = restored.replace(tzinfo=utc) if restored.tzinfo is None else restored
        b = image.replace(tzinfo=utc) if image.tzinfo is None else image
        return a == b
    return tenant_data.encode_value(restored) == tenant_data.encode_value(image)


def _restored_entries(audit: Connection, tenant_id: str):
    """The restored trail's entries of the tenant, in pages by id: (leaf_index, leaf_hash, envelope)."""
    table = service_metadata("audit").tables["audit_entries"]
    after = None
    while True:
        q = (select(table.c.id, table.c.leaf_index, table.c.leaf_hash, table.c.envelope)
             .where(table.c.tenant_id == tenant_id).order_by(table.c.id).limit(PAGE))
        if after is not None:
            q = q.where(table.c.id > after)
        rows = audit.execute(q).all()
        yield from ((r.leaf_index, r.leaf_hash, r.envelope) for r in rows)
        if len(rows) < PAGE:
            return
        after = rows[-1].id


def compare_rows(connections: dict[str, Connection], tenant_id: str, as_of: float,
                 restored_rows: dict[str, int], in_flight: Callable[[dict[str, float]], set[str]]) -> dict:
    """Check 1 (module docstring). `connections`: service → connection to its restored scratch
    database (audit included); `restored_rows`: "service.table" → rows restored."""
    newest: dict[tuple[str, str, str], tuple[tuple[float, int], dict]] = {}
    restored_at: dict[str, float] = {}
    metadata = {s: service_metadata(s) for s in connections}
    for leaf, _hash, body in _restored_entries(connections["audit"], tenant_id):
        envelope = orjson.loads(body)
        t = _epoch(envelope["occurred_at"])
        if t > as_of:
            continue
        service, _, fact = str(envelope.get("type", "")).partition(".")
        if fact == "tenant_data_restored":
            restored_at[service] = max(restored_at.get(service, t), t)
            continue
        if service not in connections or service == "audit":
            continue
        described = tenant_data.row_image(metadata[service], tenant_id, envelope)
        if described is None:
            continue
        table, image = described
        key = (service, table.name, str(envelope["entity"]["id"]))
        order = (t, leaf if leaf is not None else -1)
        if key not in newest or newest[key][0] < order:
            newest[key] = (order, image)
    by_table: dict[tuple[str, str], dict[str, dict]] = {}
    image_time: dict[str, float] = {}
    for (service, table, row_id), (order, image) in newest.items():
        if order[0] <= restored_at.get(service, float("-inf")):
            continue  # a live restore rewrote this service's rows after the image
        by_table.setdefault((service, table), {})[row_id] = image
        image_time[row_id] = max(image_time.get(row_id, order[0]), order[0])
    compared = agree = 0
    suspects: list[tuple[str, str, str]] = []
    for (service, name), images in sorted(by_table.items()):
        table = metadata[service].tables[name]
        pk = [c for c in table.primary_key.columns][0]
        ids = sorted(images)
        for i in range(0, len(ids), PAGE):
            chunk = ids[i:i + PAGE]
            for row in connections[service].execute(
                    select(table).where(table.c.tenant_id == tenant_id, pk.in_(chunk))):
                mapping = row._mapping
                image = images[str(mapping[pk.name])]
                compared += 1
                column = next((c for c in sorted(image) if c != "tenant_id" and not _same(mapping[c], image[c])),
                              None)
                if column is None:
                    agree += 1
                else:
                    suspects.append((f"{service}.{name}", str(mapping[pk.name]), column))
    moving = in_flight({row_id: image_time[row_id] for _t, row_id, _c in suspects}) if suspects else set()
    disagreements = [s for s in suspects if s[1] not in moving]
    total = sum(n for key, n in restored_rows.items() if not key.startswith("audit."))
    return {"compared": compared, "agree": agree, "in_flight": len(suspects) - len(disagreements),
            "disagree": len(disagreements), "not_compared": max(0, total - compared),
            "disagreements": [{"table": t, "id": i, "column": c} for t, i, c in disagreements[:EXAMPLES]]}


def in_flight_rows(store, tenant_id: str, as_of: float) -> Callable[[dict[str, float]], set[str]]:
    """Of the given rows (id → time of the image compared), those for which the change log holds
    a newer event, up to the replay margin after the set's time."""
    def moving(images: dict[str, float]) -> set[str]:
        ids, out = sorted(images), set()
        with store.reading() as s:
            for i in range(0, len(ids), PAGE):
                for entity_id, occurred in s.execute(select(TenantChange.entity_id, TenantChange.occurred_at).where(
                        TenantChange.tenant_id == tenant_id, TenantChange.entity_id.in_(ids[i:i + PAGE]),
                        TenantChange.occurred_at <= as_of + REPLAY_MARGIN_SECONDS)):
                    if occurred > images[entity_id] + 0.000_5:
                        out.add(entity_id)
        return out
    return moving


def compare_leaves(audit: Connection, fleet, tenant_id: str) -> dict:
    """Check 2 (module docstring): the first leaf where the restored trail and the live log differ."""
    table = service_metadata("audit").tables["audit_entries"]
    restored = {i: bytes(h).hex() if h is not None else None for i, h in audit.execute(
        select(table.c.leaf_index, table.c.leaf_hash).where(
            table.c.tenant_id == tenant_id, table.c.leaf_index.is_not(None)))}
    unsequenced = audit.execute(select(table.c.id).where(
        table.c.tenant_id == tenant_id, table.c.leaf_index.is_(None)).limit(PAGE)).all()
    report = {"leaves": len(restored), "unsequenced": len(unsequenced), "differs_at": None}
    if not restored:
        return report
    up_to, after, live = max(restored), None, {}
    while True:
        page = fleet.call("audit", "tenant_audit_leaves", tenant_id=tenant_id, up_to=up_to, after=after,
                          limit=PAGE)
        live.update({int(i): h for i, h in page["items"]})
        after = page.get("next_after")
        if after is None:
            break
    differing = [i for i in set(restored) | set(live) if restored.get(i) != live.get(i)]
    report["differs_at"] = min(differing) if differing else None
    return report
