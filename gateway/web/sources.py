"""Where the pages get their data: one adapter per question, over today's RPCs.

Some questions have no API of their own yet (the catalog area adds "a teacher's classes and
subjects" and "the class catalog grid"; a tenant list has none): until then each is answered
from what exists, and the page does not know how. When the real RPC lands, only the function
here changes.
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from ..deps import Services

_NAME_TTL = 600.0
_names: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
_asking: dict[tuple[str, str], asyncio.Future] = {}


async def pupil_names(services: Services, tenant_id: str, person_ids) -> dict[str, str]:
    """"Last First" per registry person, asked at most once per 10 minutes and once at a time
    (twenty teachers opening the class together ask the registry once per pupil, not twenty
    times). Read by staff of the same tenant, who may read every person of it: the registry
    says so, with the caller's token; a name the caller may not read is left out."""
    now, found, waits = time.monotonic(), {}, []
    for pid in dict.fromkeys(person_ids):
        key = (tenant_id, pid)
        hit = _names.get(key)
        if hit and now - hit[0] < _NAME_TTL:
            found[pid] = hit[1]
        elif key in _asking:
            waits.append((pid, _asking[key]))
        else:
            future = _asking[key] = asyncio.get_running_loop().create_future()
            waits.append((pid, future))
            asyncio.ensure_future(_ask(services, key, future))
    for pid, future in waits:
        name = await asyncio.shield(future)
        if name is not None:
            found[pid] = name
    return found


async def _ask(services: Services, key: tuple[str, str], future: asyncio.Future) -> None:
    name = None
    try:
        p = await services.call("registry", "get_person", person_id=key[1])
        name = f"{p.get('last_name', '')} {p.get('first_name', '')}".strip()
        _names[key] = (time.monotonic(), name)
        while len(_names) > 20_000:
            _names.popitem(last=False)
    except Exception:  # noqa: BLE001 - a name we may not read (or could not read now) stays out
        pass
    finally:
        _asking.pop(key, None)
        future.set_result(name)


async def grades(services: Services, **filters) -> dict:
    return await services.call("grades", "list_grades", limit=filters.pop("limit", 200), **filters)


async def teacher_pairs(services: Services) -> list[dict]:
    """The class × subject pairs a teacher works in. Today: those their visible grades show
    (to be re-pointed at the catalog's "teacher's classes and subjects" RPC)."""
    page = await grades(services, limit=200)
    pairs: dict[tuple[str, str], dict] = {}
    for g in page["items"]:
        key = (g["class_id"], g["subject_id"])
        pair = pairs.setdefault(key, {"class_id": g["class_id"], "subject_id": g["subject_id"],
                                      "subject_name": g.get("subject_name", ""), "grades": 0, "pupils": set()})
        pair["grades"] += 1
        pair["pupils"].add(g["student_id"])
    out = sorted(pairs.values(), key=lambda p: (p["subject_name"], p["class_id"]))
    for p in out:
        p["pupils"] = len(p["pupils"])
    return out


async def school_directory(services: Services) -> dict:
    """Classes and subjects of the school (admin, director). Today: their creation events in the
    audit trail of the tenant (no list RPC yet)."""
    found: dict[str, dict] = {"class": {}, "subject": {}}
    for kind, event in (("class", "grades.class_created"), ("subject", "grades.subject_created")):
        after = None
        for _ in range(5):  # at most 1000 of each
            page = await services.call("audit", "list_events", type=event, after_sequence=after, limit=200)
            for e in page.get("items", []):
                item = _after(e)
                if item.get("id"):
                    found[kind][item["id"]] = item
            after = page.get("next_after_sequence")
            if not after:
                break
    return {"classes": sorted(found["class"].values(), key=lambda c: (c.get("school_year", ""), c.get("name", ""))),
            "subjects": sorted(found["subject"].values(), key=lambda s: s.get("name", ""))}


async def tenants(services: Services) -> list[dict]:
    """Institutions, for the operator. Today: their creation events (no list RPC yet)."""
    page = await services.call("audit", "list_events", type="auth.tenant_created", limit=200)
    return [_after(e) for e in page.get("items", [])]


def _after(event: dict) -> dict:
    return (event.get("data") or {}).get("after") or {}
