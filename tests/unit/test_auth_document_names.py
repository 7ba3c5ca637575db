"""`auth.names_for_documents`: the names a printed document shows, from the caller's school only."""
from __future__ import annotations

import pytest

from services.auth import accounts
from services.auth.models import Base
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import Forbidden, InvalidInput
from services.kernel.identity import PLATFORM_TENANT, Principal


def _p(roles, tenant, user="caller") -> Principal:
    return Principal(user_id=user, tenant_id=tenant, roles=frozenset(roles), factors=frozenset({"pwd", "otp"}))


@pytest.fixture
def schools(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'auth.db'}")
    Base.metadata.create_all(engine)
    sessions = make_sessionmaker(engine)
    operator = _p({"operator"}, PLATFORM_TENANT)
    made = {}
    with sessions.begin() as s:
        for key, name in (("a", "Școala Gimnazială „Ion Creangă” Târgu Neamț"), ("b", "Liceul Teoretic Brașov")):
            t = accounts.create_tenant(s, lambda *a, **k: None, operator, name=name, kind="school",
                                       admin_email=f"admin@{key}.ro", admin_full_name="Admin", admin_password_hash="x")
            made[key] = t["tenant"]["id"]
            admin = _p({"school_admin"}, made[key])
            for role, full_name in (("teacher", f"Ioana Mureșan {key}"), ("director", f"Gheorghe Țurcanu {key}")):
                made[f"{key}.{role}"] = accounts.create_user(s, lambda *a, **k: None, admin, email=f"{role}@{key}.ro",
                                                             full_name=full_name, role=role, password_hash="x")["id"]
    yield sessions, made
    engine.dispose()


def test_names_come_from_the_callers_school_only(schools):
    sessions, ids = schools
    with sessions.begin() as s:
        answer = accounts.names_for_documents(s, _p({"parent"}, ids["a"]), [ids["a.teacher"], ids["b.teacher"]])
    assert answer["school"] == "Școala Gimnazială „Ion Creangă” Târgu Neamț"
    assert answer["members"] == {ids["a.teacher"]: "Ioana Mureșan a"}  # the other school's teacher is left out
    assert answer["directors"] == ["Gheorghe Țurcanu a"]
    assert set(answer) == {"school", "members", "directors"}  # names only: no e-mail, no status


def test_names_for_documents_refuses_integrators_and_oversized_requests(schools):
    sessions, ids = schools
    integrator = Principal(user_id="c", tenant_id=ids["a"], roles=frozenset({"integrator"}),
                           scopes=frozenset({"catalog:read"}))
    with sessions.begin() as s:
        with pytest.raises(Forbidden):
            accounts.names_for_documents(s, integrator, [ids["a.teacher"]])
        with pytest.raises(InvalidInput):
            accounts.names_for_documents(s, _p({"director"}, ids["a"]), ["x"] * 501)
        with pytest.raises(InvalidInput):
            accounts.names_for_documents(s, _p({"director"}, ids["a"]), "not a list")
