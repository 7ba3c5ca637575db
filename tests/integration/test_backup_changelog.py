"""The change log: every tenant event stored once with its lag; the newest audit checkpoint kept."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from services.backup.tenant import changelog
from services.backup.tenant.models import TenantChange
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.migrations import upgrade_to_head
from tests.infra import temporary_pg_database

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'backup.db'}"
        upgrade_to_head("backup", url)
        yield make_sessionmaker(make_engine(url))
    else:
        with temporary_pg_database("changelog") as url:
            upgrade_to_head("backup", url)
            s = make_sessionmaker(make_engine(url))
            yield s
            s.engine.dispose()


def _event(tenant, type_="grades.grade_recorded", ago=0.25, after=None):
    when = (datetime.now(timezone.utc) - timedelta(seconds=ago)).isoformat()
    return Envelope(type=type_, tenant_id=tenant, actor=Actor("u", "teacher"), entity=Entity("grade", "g1"),
                    data=change_data(after or {"id": "g1", "value": 9, "elev": "Ștefan"}), correlation_id="c",
                    occurred_at=when)


def test_each_event_once_with_lag_and_tenant(sessions):
    events = [_event("A"), _event("B"), _event(None, "auth.login_failed")]
    with sessions.begin() as s:
        assert changelog.record(s, events) == 2  # a platform-wide event belongs to no school
    with sessions.begin() as s:
        assert changelog.record(s, events[:2]) == 0  # redelivered: stored once
    with sessions.begin() as s:
        rows = s.scalars(select(TenantChange).order_by(TenantChange.tenant_id)).all()
        assert [r.tenant_id for r in rows] == ["A", "B"]
        assert all(200 <= r.lag_ms < 60_000 for r in rows)
        assert '"Ștefan"' in rows[0].envelope or "\\u0218tefan" in rows[0].envelope
        assert changelog.summary(s, "A")["events"] == 1 and changelog.summary(s, "A")["unsealed"] == 1


def test_newest_audit_checkpoint_per_tenant_and_global(sessions):
    older = _event("A", changelog.CHECKPOINT_EVENT, ago=60, after={"root": "old"})
    newer = _event("A", changelog.CHECKPOINT_EVENT, ago=1, after={"root": "new"})
    glob = _event(None, changelog.CHECKPOINT_EVENT, ago=5, after={"root": "all"})
    with sessions.begin() as s:
        changelog.record(s, [newer, glob])
    with sessions.begin() as s:
        changelog.record(s, [older])  # arrives late: does not replace the newer one
    with sessions.begin() as s:
        assert changelog.latest_checkpoint(s, "A")["checkpoint"] == {"root": "new"}
        assert changelog.latest_checkpoint(s, "B")["checkpoint"] == {"root": "all"}
        assert s.scalar(select(func.count()).select_from(TenantChange)) == 2
