"""Helpers for the registry's end-to-end tests: universities with a registrar, the central authority."""
from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass

import httpx

from tests.infra import valid_cnp

_seq = itertools.count(random.randrange(0, 200_000))


def fresh_cnp(sex: str = "6") -> str:
    """A valid CNP not used before in this process (births 2000-2009, Bucharest)."""
    n = next(_seq)
    year, month, day = n // 336_000 % 10, (n // 28_000) % 12 + 1, (n // 1_000) % 28 + 1
    return valid_cnp(f"{sex}{year:02d}{month:02d}{day:02d}40{n % 1000:03d}")


def email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@universitate-test.ro"


@dataclass
class Actor:
    token: str
    tenant_id: str
    http: httpx.Client

    def call(self, method: str, path: str, **kw) -> httpx.Response:
        return self.http.request(method, path, headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def ok(self, method: str, path: str, status: int | tuple = (200, 201), **kw):
        r = self.call(method, path, **kw)
        allowed = status if isinstance(status, tuple) else (status,)
        assert r.status_code in allowed, f"{method} {path} → {r.status_code}: {r.text[:800]}"
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r


def university(platform, name: str | None = None) -> dict:
    """A university tenant, its administrator and a registrar (registry clerk), signed in."""
    op = platform.token("operator")
    http = platform.client()
    admin_email, clerk_email, pw = email("admin"), email("secretar"), f"parola-{uuid.uuid4().hex[:12]}"
    r = http.post("/v1/tenants", headers={"Authorization": f"Bearer {op}"}, json={
        "name": name or f"Universitatea „{uuid.uuid4().hex[:6]}”", "kind": "university", "admin_email": admin_email,
        "admin_full_name": "Radu Șerban", "admin_password": pw})
    assert r.status_code == 201, r.text
    tenant = r.json()["tenant"]["id"]
    admin = platform.sign_in(admin_email, pw)["access_token"]
    r = http.post("/v1/users", headers={"Authorization": f"Bearer {admin}"}, json={
        "email": clerk_email, "full_name": "Ioana Secretar", "role": "registry_clerk", "password": pw})
    assert r.status_code == 201, r.text
    clerk = platform.sign_in(clerk_email, pw)["access_token"]
    return {"tenant_id": tenant, "admin": Actor(admin, tenant, http), "clerk": Actor(clerk, tenant, http)}


def central_authority(platform) -> Actor:
    op = platform.token("operator")
    http = platform.client()
    address, pw = email("minister"), f"parola-{uuid.uuid4().hex[:12]}"
    r = http.post("/v1/users", headers={"Authorization": f"Bearer {op}"}, json={
        "email": address, "full_name": "Ministerul Educației", "role": "central_authority", "password": pw,
        "tenant_id": "platform"})
    assert r.status_code == 201, r.text
    return Actor(platform.sign_in(address, pw)["access_token"], "platform", http)


def person_body(cnp: str | None = None, **personal) -> dict:
    cnp = cnp or fresh_cnp()
    return {"last_name": "Popescu", "first_name": "Ioana", "cnp": cnp,
            "record": {"personal": {"last_name_at_birth": "Popescu", "birth_country": "RO", "birth_county": "B",
                                    "civil_status": "necasatorit", "domicile_country": "RO",
                                    "domicile_county": "CJ", **personal}}}
