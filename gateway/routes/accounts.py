"""Institutions and accounts (the registry's own routes are in `registry.py`)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.kernel.errors import Conflict

from ..deps import ServicesDep
from ..params import Limit, Offset
from ..rpc import RemoteError
from ..schemas import PersonIn, StudentIn, TenantIn, UserIn

router = APIRouter(prefix="/v1")


@router.post("/tenants", status_code=201, tags=["institutions"], summary="Create a school or university")
async def create_tenant(body: TenantIn, services: ServicesDep):
    return await services.call("auth", "create_tenant", **body.model_dump())


@router.post("/users", status_code=201, tags=["accounts"], summary="Create an account in your institution")
async def create_user(body: UserIn, services: ServicesDep):
    return await services.call("auth", "create_user", **body.model_dump())


@router.get("/users", tags=["accounts"], summary="Accounts of your institution, paginated")
async def list_users(services: ServicesDep, limit: Limit = 50, offset: Offset = 0,
                     role: Annotated[str | None, Query(max_length=40)] = None):
    return await services.call("auth", "list_members", limit=limit, offset=offset, role=role)


@router.post("/students", status_code=201, tags=["accounts"],
             summary="Register a pupil in the registry and give them a login")
async def create_student(body: StudentIn, services: ServicesDep):
    # The registry step is idempotent on the CNP, so a retry after a failed second step
    # finds the same person and code instead of creating a duplicate.
    person = await _register_or_reuse(services, body)
    account = await services.call("auth", "create_user", email=body.email,
                                  full_name=f"{body.first_name} {body.last_name}", role="student",
                                  password=body.password, person_id=person["id"])
    return {"person": person, "account": account}


def _person_args(body: PersonIn) -> dict:
    return {"last_name": body.last_name, "first_name": body.first_name, "cnp": body.cnp,
            "birth_date": body.birth_date.isoformat() if body.birth_date else None}


async def _register_or_reuse(services: ServicesDep, body: PersonIn) -> dict:
    try:
        person = await services.call("registry", "register_person", **_person_args(body))
    except RemoteError as exc:
        if exc.exc_type != "Conflict":
            raise
        return await services.call("registry", "find_own_person_by_cnp", cnp=body.cnp)
    if person.get("status") in ("match_candidate", "in_review"):
        # re-enrolment: the institution confirms the match first (nothing is linked before)
        raise Conflict("this CNP is already in the registry (registered by another institution): confirm the "
                       f"match with POST /v1/registry/matches/{person.get('candidate_id')}/confirm, then retry")
    return person
