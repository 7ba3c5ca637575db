"""Registry routes: schooling per academic year (enrolments) and diplomas."""
from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from ..deps import ServicesDep
from ..registry_schemas import DiplomaIn, EnrolmentChangeIn, EnrolmentIn

router = APIRouter(prefix="/v1", tags=["registry"])


def _iso(value):
    return value.isoformat() if value else None


@router.post("/registry/persons/{person_id}/enrolments", status_code=201,
             summary="Record a university enrolment for an academic year (chapter V, section I.2)",
             description="Every coded field is checked against the nomenclature of its academic year. "
                         "`external_id` (your system's id) makes a re-send change nothing.")
async def add_enrolment(person_id: UUID, body: EnrolmentIn, services: ServicesDep):
    fields = body.model_dump(exclude={"document_ref", "document_date"}, exclude_none=True)
    return await services.call("registry", "add_enrolment", person_id=str(person_id), fields=fields,
                               document_ref=body.document_ref, document_date=_iso(body.document_date))


@router.get("/registry/persons/{person_id}/enrolments", summary="A person's schooling, year by year")
async def list_enrolments(person_id: UUID, services: ServicesDep):
    return await services.call("registry", "list_enrolments", person_id=str(person_id))


@router.patch("/registry/enrolments/{enrolment_id}", summary="Change an enrolment: a new version",
              description="A change of the enrolment or end-of-year situation needs the date of its "
                          "administrative document (REG-3 counts the working days from it).")
async def update_enrolment(enrolment_id: UUID, body: EnrolmentChangeIn, services: ServicesDep):
    return await services.call("registry", "update_enrolment", enrolment_id=str(enrolment_id), changes=body.changes,
                               reason=body.reason, document_ref=body.document_ref,
                               document_date=_iso(body.document_date))


@router.post("/registry/persons/{person_id}/diplomas", status_code=201,
             summary="Record a diploma: series and number unique per issuer (REG-4)")
async def add_diploma(person_id: UUID, body: DiplomaIn, services: ServicesDep):
    fields = body.model_dump(exclude_none=True, mode="json")
    return await services.call("registry", "add_diploma", person_id=str(person_id), fields=fields)


@router.get("/registry/persons/{person_id}/diplomas", summary="A person's diplomas")
async def list_diplomas(person_id: UUID, services: ServicesDep):
    return await services.call("registry", "list_diplomas", person_id=str(person_id))
