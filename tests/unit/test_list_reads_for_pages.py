"""The read-only lists the web pages ask for (grades `list_subjects`, auth `list_tenants`): the
caller's school only, paginated, refused to roles that may not read them; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from services.auth import accounts
from services.auth.models import Base as AuthBase
from services.auth.models import Tenant
from services.grades import structure, views
from services.grades.models import Base as GradesBase
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Forbidden, InvalidInput
from services.kernel.identity import PLATFORM_TENANT, Principal, Role
from tests.infra import temporary_pg_database


def _p(roles, tenant, user="caller") -> Principal:
    return Principal(user_id=user, tenant_id=tenant, roles=frozenset(roles), factors=frozenset({"pwd", "otp"}))


def _quiet(*_a, **_k):
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_for(request, tmp_path):
    made = []

    def make(base, name):
        if request.param == "sqlite":
            engine = make_engine(f"sqlite:///{tmp_path / (name + '.db')}")
        else:
            ctx = temporary_pg_database(name)
            engine = make_engine(ctx.__enter__())
            made.append(ctx)
        base.metadata.create_all(engine)
        made.append(engine)
        return make_sessionmaker(engine)
    yield make
    for thing in reversed(made):
        if hasattr(thing, "dispose"):
            thing.dispose()
        else:
            thing.__exit__(None, None, None)


def test_subjects_are_the_callers_schools_by_name_and_paginated(engine_for):
    sessions = engine_for(GradesBase, "grades_lists")
    a_admin, b_admin = _p({Role.SCHOOL_ADMIN}, "school-a"), _p({Role.SCHOOL_ADMIN}, "school-b")
    with sessions.begin() as s:
        for name in ("Matematică", "Fizică", "Limba și literatura română"):
            structure.create_subject(s, _quiet, a_admin, name=name, weekly_hours=2)
        structure.create_subject(s, _quiet, b_admin, name="Chimie", weekly_hours=2)
    with sessions.begin() as s:
        for role in (Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.TEACHER):
            page = views.list_subjects(s, _p({role}, "school-a"))
            assert [x["name"] for x in page["items"]] == ["Fizică", "Limba și literatura română", "Matematică"]
            assert page["total"] == 3
        second = views.list_subjects(s, a_admin, limit=2, offset=2)
        assert [x["name"] for x in second["items"]] == ["Matematică"] and second["total"] == 3
        assert [x["name"] for x in views.list_subjects(s, b_admin)["items"]] == ["Chimie"]
        for role in (Role.PARENT, Role.STUDENT, Role.STATISTICS_VIEWER):
            with pytest.raises(Forbidden):
                views.list_subjects(s, _p({role}, "school-a"))
        with pytest.raises(InvalidInput):
            views.list_subjects(s, a_admin, limit=201)


def test_institutions_are_listed_for_the_operator_only_without_the_platform(engine_for):
    sessions = engine_for(AuthBase, "auth_lists")
    operator = _p({Role.OPERATOR}, PLATFORM_TENANT)
    with sessions.begin() as s:
        s.add(Tenant(id=PLATFORM_TENANT, name="Platforma", kind="platform"))
        made = [accounts.create_tenant(s, _quiet, operator, name=name, kind=kind, admin_email=f"a{i}@x.ro",
                                       admin_full_name="Admin", admin_password_hash="x")["tenant"]
                for i, (name, kind) in enumerate((("Școala Gimnazială Nr. 1 Iași", "school"),
                                                  ("Universitatea din București", "university")))]
    with sessions.begin() as s:
        page = accounts.list_tenants(s, operator, limit=None, offset=None)
        assert {t["id"] for t in page["items"]} == {t["id"] for t in made} and page["total"] == 2
        assert {t["name"] for t in page["items"]} == {"Școala Gimnazială Nr. 1 Iași", "Universitatea din București"}
        assert len(accounts.list_tenants(s, operator, limit=1, offset=1)["items"]) == 1
        for role in (Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.TEACHER):
            with pytest.raises(Forbidden):
                accounts.list_tenants(s, _p({role}, made[0]["id"]), limit=None, offset=None)
