"""Throttling, locking and refresh rotation rules on a real (SQLite) auth schema."""
from __future__ import annotations

import time

import pytest

from services.auth import accounts, sessions
from services.auth.models import Base, User
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.errors import NotAuthenticated, RateLimited
from services.kernel.identity import PLATFORM_TENANT, Principal, TokenSigner, ensure_dev_keypair


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'auth.db'}")
    Base.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def events():
    return []


@pytest.fixture
def emit(events):
    def _emit(session, fact, **kw):
        events.append((fact, kw))
    return _emit


@pytest.fixture
def signer(tmp_path):
    ensure_dev_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    return TokenSigner((tmp_path / "k.pem").read_bytes(), 900)


@pytest.fixture
def student(db):
    with db.begin() as s:
        accounts.ensure_platform_operator(s, "op@example.ro", "x")  # creates the platform tenant
        user = User(email="elev@example.ro", full_name="Elev", password_hash="unused")
        s.add(user)
        s.flush()
        from services.auth.models import Membership
        s.add(Membership(user_id=user.id, tenant_id=PLATFORM_TENANT, role="student"))
        return user.id


def _fail(db, emit, signer, email, candidate):
    with db.begin() as s:
        return sessions.finish_login(s, emit, signer, candidate, False, None, email=email, tenant_id=None,
                                     client_ip="10.1.2.3", partial_ttl=300, refresh_ttl=3600)


def test_the_account_locks_at_100_consecutive_failures_not_before(db, emit, events, signer, student):
    candidate = {"id": student, "password_hash": "unused", "status": "active"}
    for _ in range(99):
        assert _fail(db, emit, signer, "elev@example.ro", candidate) == sessions.FAILED
    with db.begin() as s:
        assert s.get(User, student).status == "active"
    _fail(db, emit, signer, "elev@example.ro", candidate)
    with db.begin() as s:
        assert s.get(User, student).status == "locked"
        with pytest.raises(NotAuthenticated, match="locked"):
            sessions.check_throttle(s, sessions.throttle_keys("elev@example.ro", None), time.time() + 10_000)
    assert [f for f, _ in events].count("account_locked") == 1
    admin = Principal(user_id="a", tenant_id=PLATFORM_TENANT, roles=frozenset({"operator"}),
                      factors=frozenset({"pwd", "otp"}))
    with db.begin() as s:
        accounts.unlock_user(s, emit, admin, user_id=student)
    with db.begin() as s:
        assert s.get(User, student).status == "active"
        sessions.check_throttle(s, sessions.throttle_keys("elev@example.ro", None), time.time())


def test_delays_grow_after_three_failures_for_known_and_unknown_emails(db, emit, signer, student):
    for email, candidate in (("elev@example.ro", {"id": student, "password_hash": "", "status": "active"}),
                             ("nobody@example.ro", None)):
        for _ in range(3):
            _fail(db, emit, signer, email, candidate)
        with db.begin() as s:
            sessions.check_throttle(s, sessions.throttle_keys(email, None), time.time())
        _fail(db, emit, signer, email, candidate)
        with db.begin() as s, pytest.raises(RateLimited) as raised:
            sessions.check_throttle(s, sessions.throttle_keys(email, None), time.time())
        assert raised.value.args[1] >= 1


def test_many_failures_from_one_address_are_slowed_whatever_the_account(db, emit, signer):
    for i in range(20):
        _fail(db, emit, signer, f"user{i}@example.ro", None)
    with db.begin() as s:
        sessions.check_throttle(s, sessions.throttle_keys("fresh@example.ro", "10.9.9.9"), time.time())
    _fail(db, emit, signer, "user21@example.ro", None)
    with db.begin() as s, pytest.raises(RateLimited):
        sessions.check_throttle(s, sessions.throttle_keys("fresh@example.ro", "10.1.2.3"), time.time())


def test_a_successful_login_without_factors_gets_tokens_and_rotation_detects_reuse(db, emit, events, signer, student):
    candidate = {"id": student, "password_hash": "", "status": "active"}
    with db.begin() as s:
        first = sessions.finish_login(s, emit, signer, candidate, True, None, email="elev@example.ro", tenant_id=None,
                                      client_ip=None, partial_ttl=300, refresh_ttl=3600)
    assert first["status"] == "ok" and first["factors"] == ["pwd"]
    with db.begin() as s:
        second = sessions.refresh(s, emit, signer, refresh_token=first["refresh_token"], refresh_ttl=3600)
    assert second["status"] == "ok"
    with db.begin() as s:
        assert sessions.refresh(s, emit, signer, refresh_token=first["refresh_token"], refresh_ttl=3600) == sessions.FAILED
    with db.begin() as s:
        assert sessions.refresh(s, emit, signer, refresh_token=second["refresh_token"], refresh_ttl=3600) == sessions.FAILED
    assert {"refresh_token_reused", "session_revoked"} <= {f for f, _ in events}
