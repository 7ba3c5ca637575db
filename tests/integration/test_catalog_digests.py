"""CAT alerts, daily digest (issue 6 §10): the lines of days already over go out as one e-mail per
person, once; today's lines wait for tomorrow; nobody inactive is written to (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.auth import catalog_notices
from services.auth.models import CatalogDigestItem, User
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.migrations import upgrade_to_head

pytestmark = pytest.mark.integration


@pytest.fixture
def sessions(database_url):
    upgrade_to_head("auth", database_url)
    engine = make_engine(database_url, pool_size=2)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_digest_sends_yesterdays_lines_once_per_person_and_keeps_todays(sessions):
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    yesterday, today = (noon - timedelta(days=1)).timestamp(), (noon - timedelta(hours=1)).timestamp()
    with sessions.begin() as s:
        parent = User(email="parinte.digest@example.ro", full_name="Maria Bălănescu", password_hash="x")
        gone = User(email="plecat.digest@example.ro", full_name="Ion Țurcanu", password_hash="x", status="disabled")
        s.add_all([parent, gone])
        s.flush()
        s.add_all([CatalogDigestItem(user_id=parent.id, line="Matematică: o notă nouă (Ștefan)", created_at=yesterday),
                   CatalogDigestItem(user_id=parent.id, line="Română: o absență nouă (Ștefan)", created_at=yesterday + 60),
                   CatalogDigestItem(user_id=parent.id, line="Fizică: o notă nouă (Ștefan)", created_at=today),
                   CatalogDigestItem(user_id=gone.id, line="Chimie: o notă nouă", created_at=yesterday)])
        parent_id = parent.id
    with sessions.begin() as s:
        mails = catalog_notices.due_digests(s, now=noon.timestamp())
    assert len(mails) == 1
    [(to, subject, body)] = mails
    assert to == "parinte.digest@example.ro"
    assert "Matematică: o notă nouă (Ștefan)" in body and "Română: o absență nouă (Ștefan)" in body
    assert "Fizică" not in body  # written today: tomorrow's digest
    assert not any(ch.isdigit() for ch in subject)  # no grade value in the subject line
    with sessions.begin() as s:
        assert catalog_notices.due_digests(s, now=noon.timestamp() + 600) == []  # sent once
    with sessions.begin() as s:
        [(to, _, body)] = catalog_notices.due_digests(s, now=(noon + timedelta(days=1)).timestamp())
        assert to == "parinte.digest@example.ro" and "Fizică: o notă nouă (Ștefan)" in body and "Matematică" not in body
        assert s.query(CatalogDigestItem).filter(CatalogDigestItem.user_id == parent_id,
                                                 CatalogDigestItem.sent_at.is_(None)).count() == 0
