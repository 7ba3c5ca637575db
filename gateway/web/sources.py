"""Where the pages get their data: one adapter per question, over today's RPCs.

Each question is answered by the owning service's own read RPC (never by reading the audit
trail); when a service's answer changes shape, only the function here changes.
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


async def all_items(services: Services, service: str, method: str, *, pages: int = 5, **kw) -> list[dict]:
    """Every item of a paginated list RPC (at most `pages` pages of 200)."""
    items: list[dict] = []
    for n in range(pages):
        page = await services.call(service, method, limit=200, offset=n * 200, **kw)
        items.extend(page.get("items", []))
        if len(items) >= page.get("total", 0) or not page.get("items"):
            break
    return items


async def teacher_classes(services: Services) -> list[dict]:
    """The caller's classes with their subjects (assigned, delegated, homeroom) and what they may
    write today: the grades service's own `teacher_classes`."""
    return await all_items(services, "grades", "teacher_classes")


async def school_directory(services: Services) -> dict:
    """Classes and subjects of the school (admin, director): the grades service's lists."""
    classes = await all_items(services, "grades", "list_classes")
    subjects = await all_items(services, "grades", "list_subjects")
    return {"classes": sorted(classes, key=lambda c: (c.get("school_year", ""), c.get("name", ""))),
            "subjects": subjects}


async def tenants(services: Services) -> list[dict]:
    """Institutions, for the operator: the auth service's list (newest first)."""
    return await all_items(services, "auth", "list_tenants")
