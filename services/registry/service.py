"""Registry service entrypoints."""
from __future__ import annotations

from services.kernel.nameko_support import ServiceBase, Database, RequestContext, rpc

from . import persons
from .models import Base


class RegistryService(ServiceBase):
    name = "registry"
    db = Database("registry", Base.metadata)
    ctx = RequestContext("registry")

    @rpc
    def register_person(self, last_name, first_name, cnp, birth_date=None) -> dict:
        with self.db.transaction() as s:
            return persons.register_person(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                           last_name=last_name, first_name=first_name, cnp=cnp,
                                           birth_date=birth_date)

    @rpc
    def get_person(self, person_id) -> dict:
        with self.db.reading() as s:
            return persons.get_person(s, self.ctx.require_principal(), person_id)

    @rpc
    def find_own_person_by_cnp(self, cnp) -> dict:
        with self.db.reading() as s:
            return persons.find_own_person_by_cnp(s, self.ctx.require_principal(), cnp)
