"""The cluster backup runs table on SQLite and PostgreSQL: a scheduled fire time is claimed
once across replicas, runs are paged newest first, an interrupted run is closed as failed,
and the schools' contract end dates are read from the tenant-level table when it exists."""
from __future__ import annotations

from datetime import date

import pytest

from services.backup.cluster import jobs, runs
from services.backup.cluster.retention import ContractTerm
from services.backup.tenant.models import TenantContract
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.migrations import upgrade_to_head

pytestmark = pytest.mark.integration


@pytest.fixture
def sessions(database_url):
    upgrade_to_head("backup", database_url)
    engine = make_engine(database_url, pool_size=2)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_runs_are_claimed_once_recorded_and_paged(sessions):
    with sessions.begin() as s:
        first = runs.claim(s, "incr", "schedule", "schedule", 1796090400.0)
        assert runs.claim(s, "incr", "schedule", "schedule", 1796090400.0) is None  # another replica
        operator = runs.claim(s, "full", "operator", "operator-1", None)
        second_operator = runs.claim(s, "full", "operator", "operator-1", None)
    assert first and operator and second_operator  # on-demand runs have no fire time: never collide
    with sessions.begin() as s:
        runs.set_step(s, first, "incr backup into repository 1 (1 of 1)", 0.5)
        done = runs.finish(s, first, ok=True, backups=[{"label": "x", "repo": 1}], size=10, stored=3, error=None)
        runs.finish(s, operator, ok=False, backups=[], size=None, stored=None, error="pgbackrest backup exited 1")
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["duration_seconds"] >= 0
    with sessions.begin() as s:
        assert runs.abandon_interrupted(s, older_than=9e12) == 1  # the one left running
        assert runs.last_fired(s) == {"full": None, "incr": 1796090400.0}
        assert runs.last_by_kind(s, "succeeded")["incr"]["backups"] == [{"label": "x", "repo": 1}]
        assert runs.last_by_kind(s, "failed")["full"]["error"] in ("pgbackrest backup exited 1",
                                                                   "the backup service stopped while this "
                                                                   "backup was running")
        page = runs.page(s, kind="full", limit=1, offset=0)
        assert page["total"] == 2 and len(page["items"]) == 1
        assert runs.page(s, kind=None, limit=50, offset=0)["total"] == 3


def test_contract_end_dates_come_from_the_tenant_level_table(sessions):
    with sessions.begin() as s:
        assert jobs.tenant_contracts(s) is None  # none recorded yet: contracts unknown, keep everything
    with sessions.begin() as s:
        s.add_all([TenantContract(tenant_id="a", contract_end=date(2025, 3, 31), legal_hold=False),
                   TenantContract(tenant_id="b", contract_end=None, legal_hold=True)])
    with sessions.begin() as s:
        assert sorted(jobs.tenant_contracts(s), key=str) == sorted(
            [ContractTerm(date(2025, 3, 31), False), ContractTerm(None, True)], key=str)
