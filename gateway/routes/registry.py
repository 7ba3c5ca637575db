"""Routes of the registry area: persons (chapter V), matches, history, status, corrections,
nomenclatures (see docs/architecture.md). Imports and reports: `registry_imports.py`."""
from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.kernel.errors import Forbidden

from ..deps import ServicesDep
from ..registry_schemas import (AccountCreationIn, AccountRequestIn, CorrectionIn, NomenclatureValueIn, PersonChangeIn, RegistryPersonIn, RetireIn,
                                StatusIn)
from . import registry_enrolments, registry_imports

# Each part of the area has its own router with the /v1 prefix in its routes' paths (the policy
# table is keyed on those); `router` only gathers them for the app.
router = APIRouter()
persons = APIRouter(prefix="/v1", tags=["registry"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]
YearQ = Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$")]
LEGAL_NO_DELETE = ("nothing is ever deleted from the matriculation registry: OMEN 3666/2016, annex, art. 7 k) and "
                   "art. 8 j) forbid erasing any information about a student, even at their written request; "
                   "correct a mistake with a new version (PATCH, or a correction approved by the central "
                   "authority once the record is archived)")


def person_args(body) -> dict:
    record = body.record.model_dump() if getattr(body, "record", None) else None
    return {"last_name": body.last_name, "first_name": body.first_name, "cnp": body.cnp,
            "birth_date": body.birth_date.isoformat() if body.birth_date else None, "record": record,
            "external_id": getattr(body, "external_id", None)}


@persons.post("/registry/persons", status_code=201,
             summary="Register a person; an already known CNP keeps its matriculation code",
             description="A new person gets a random matriculation code (201). A CNP (or, for a foreign "
                         "student, identifier + citizenship + birth date) already registered by another "
                         "institution gives a match candidate with the common data (202): confirm it with "
                         "`POST /v1/registry/matches/{id}/confirm`; nothing is linked before. Doubtful "
                         "foreign matches go to the central authority's review list (202, `in_review`).",
             responses={202: {"description": "a match candidate, or a case in review"}})
async def register_person(body: RegistryPersonIn, services: ServicesDep):
    answer = await services.call("registry", "register_person", **person_args(body))
    if answer.get("status") in ("match_candidate", "in_review"):
        return JSONResponse(answer, status_code=202)
    return answer


@persons.get("/registry/persons", summary="Persons of your institution (the central authority: all), paginated")
async def list_persons(services: ServicesDep, q: Annotated[str | None, Query(max_length=100)] = None,
                       status: Annotated[str | None, Query(max_length=20)] = None, limit: Limit = 50,
                       offset: Offset = 0):
    return await services.call("registry", "list_persons", q=q, status=status, limit=limit, offset=offset)


@persons.get("/registry/persons/{person_id}", summary="A person's record (every view is an audit event)",
            description="`include_sensitive=true` adds ethnicity, medical and social situation: for the "
                        "institution's registrar only, and recorded as `registry.sensitive_data_viewed`.")
async def get_person(person_id: UUID, services: ServicesDep, include_sensitive: bool = False):
    return await services.call("registry", "get_person", person_id=str(person_id),
                               include_sensitive=include_sensitive)


@persons.patch("/registry/persons/{person_id}", summary="Change a person's record: a new version",
              description="Only the sections and fields given change; a reason is required and the "
                          "administrative document is recorded. An archived record is refused (409): "
                          "request a correction instead.")
async def update_person(person_id: UUID, body: PersonChangeIn, services: ServicesDep):
    return await services.call("registry", "update_person", person_id=str(person_id), changes=body.changes,
                               reason=body.reason, document_ref=body.document_ref,
                               document_date=body.document_date.isoformat() if body.document_date else None)


@persons.delete("/registry/persons/{person_id}", summary="Refused: nothing is deleted from the registry (REG-8)",
               responses={403: {"description": "always: the legal reason"}})
async def delete_person(person_id: UUID):
    raise Forbidden(LEGAL_NO_DELETE)


@persons.get("/registry/persons/{person_id}/history", summary="Every version of a person's records")
async def person_history(person_id: UUID, services: ServicesDep, limit: Limit = 50, offset: Offset = 0):
    return await services.call("registry", "person_history", person_id=str(person_id), limit=limit, offset=offset)


@persons.post("/registry/persons/{person_id}/status", summary="Record a status change and its document (REG-3)",
             description="graduated, withdrawn, expelled or deceased end the student status: the records "
                         "become a read-only archive.")
async def change_status(person_id: UUID, body: StatusIn, services: ServicesDep):
    return await services.call("registry", "change_status", person_id=str(person_id), status=body.status,
                               reason=body.reason, document_ref=body.document_ref,
                               document_date=body.document_date.isoformat())


@persons.post("/registry/persons/{person_id}/corrections", status_code=201,
             summary="Request a correction (applied once the central authority approves it)")
async def request_correction(person_id: UUID, body: CorrectionIn, services: ServicesDep):
    return await services.call("registry", "request_correction", person_id=str(person_id), changes=body.changes,
                               reason=body.reason, document_ref=body.document_ref,
                               document_date=body.document_date.isoformat())


@persons.get("/registry/corrections", summary="Corrections: your institution's, or all for the central authority")
async def list_corrections(services: ServicesDep, status: Annotated[str | None, Query(max_length=20)] = None,
                           limit: Limit = 50, offset: Offset = 0):
    return await services.call("registry", "list_corrections", status=status, limit=limit, offset=offset)


@persons.post("/registry/corrections/{correction_id}/approve", summary="Approve a correction (central authority)")
async def approve_correction(correction_id: UUID, services: ServicesDep):
    return await services.call("registry", "decide_correction", correction_id=str(correction_id), approve=True)


@persons.post("/registry/corrections/{correction_id}/reject", summary="Reject a correction (central authority)")
async def reject_correction(correction_id: UUID, services: ServicesDep):
    return await services.call("registry", "decide_correction", correction_id=str(correction_id), approve=False)


@persons.get("/registry/matches", summary="Match candidates of your institution; the central authority: the "
                                         "review list of doubtful foreign matches")
async def list_matches(services: ServicesDep, status: Annotated[str | None, Query(max_length=20)] = None,
                       limit: Limit = 50, offset: Offset = 0):
    return await services.call("registry", "list_matches", status=status, limit=limit, offset=offset)


@persons.post("/registry/matches/{candidate_id}/confirm",
             summary="Confirm a match: the person (and their code) is linked to your institution")
async def confirm_match(candidate_id: UUID, services: ServicesDep):
    return await services.call("registry", "decide_match", candidate_id=str(candidate_id), confirm=True)


@persons.post("/registry/matches/{candidate_id}/reject", summary="Reject a match candidate")
async def reject_match(candidate_id: UUID, services: ServicesDep):
    return await services.call("registry", "decide_match", candidate_id=str(candidate_id), confirm=False)


# --- nomenclatures (public reference data) ---------------------------------------------------

@persons.get("/registry/nomenclatures", summary="The nomenclatures, optionally of one academic year",
            description="Public: what every input is validated against (REG-5).")
async def list_nomenclatures(services: ServicesDep, academic_year: YearQ = None,
                             name: Annotated[str | None, Query(max_length=40)] = None):
    return await services.call("registry", "list_nomenclatures", nomenclature=name, academic_year=academic_year)


@persons.get("/registry/nomenclatures/export.json", summary="Machine-readable export of every nomenclature")
async def export_nomenclatures(services: ServicesDep, academic_year: YearQ = None):
    data = await services.call("registry", "list_nomenclatures", academic_year=academic_year)
    return JSONResponse(data, headers={"Content-Disposition": 'attachment; filename="nomenclatoare.json"'})


@persons.post("/registry/nomenclatures/{name}/values", status_code=201,
             summary="Add a value from an academic year on (central authority)")
async def add_nomenclature_value(name: str, body: NomenclatureValueIn, services: ServicesDep):
    return await services.call("registry", "add_nomenclature_value", nomenclature=name[:40], code=body.code,
                               label=body.label, valid_from=body.valid_from)


@persons.post("/registry/nomenclatures/{name}/values/{code}/retire",
             summary="Retire a value after an academic year (it stays valid for its years)")
async def retire_nomenclature_value(name: str, code: str, body: RetireIn, services: ServicesDep):
    return await services.call("registry", "retire_nomenclature_value", nomenclature=name[:40], code=code[:60],
                               last_valid_year=body.last_valid_year, reason=body.reason)


# --- account requests (REG-9) ---------------------------------------------------------------------

@persons.post("/registry/account-requests", status_code=201,
              summary="Request a registry account for your institution (approved by the central authority)")
async def request_account(body: AccountRequestIn, services: ServicesDep):
    return await services.call("registry", "request_account", email=body.email, full_name=body.full_name,
                               role=body.role, reason=body.reason)


@persons.get("/registry/account-requests", summary="Account requests: your institution's, or all")
async def list_account_requests(services: ServicesDep, status: Annotated[str | None, Query(max_length=20)] = None,
                                limit: Limit = 50, offset: Offset = 0):
    return await services.call("registry", "list_account_requests", status=status, limit=limit, offset=offset)


@persons.post("/registry/account-requests/{request_id}/approve", summary="Approve an account request (central "
                                                                         "authority)")
async def approve_account_request(request_id: UUID, services: ServicesDep):
    return await services.call("registry", "decide_account_request", request_id=str(request_id), approve=True)


@persons.post("/registry/account-requests/{request_id}/reject", summary="Reject an account request")
async def reject_account_request(request_id: UUID, services: ServicesDep):
    return await services.call("registry", "decide_account_request", request_id=str(request_id), approve=False)


@persons.post("/registry/account-requests/{request_id}/create-account", status_code=201,
              summary="Create the approved account (the platform's administrator)",
              description="The account is created in auth with the operator's own token, in the requesting "
                          "institution, then recorded on the request.")
async def create_requested_account(request_id: UUID, body: AccountCreationIn, services: ServicesDep):
    request = await services.call("registry", "approved_account_request", request_id=str(request_id))
    user = await services.call("auth", "create_user", email=request["email"], full_name=request["full_name"],
                               role=request["role"], password=body.password, tenant_id=request["tenant_id"])
    done = await services.call("registry", "account_request_fulfilled", request_id=str(request_id),
                               user_id=user["id"])
    return {"request": done, "account": user}


router.include_router(persons)
router.include_router(registry_enrolments.router)
router.include_router(registry_imports.router)
