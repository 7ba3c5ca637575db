"""A restore drill's comparison with the audit log (services/backup/tenant/audit_check.py) on
SQLite and PostgreSQL scratch databases built by the services' migrations: restored rows against
the newest row image up to the set's time, and the restored trail's leaf hashes against the
live log's (the audit service's `tenant_audit_leaves`, here called in process)."""
from __future__ import annotations

import hashlib
import time
import uuid
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timezone

import orjson
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.audit import kit
from services.backup.tenant import audit_check
from services.backup.tenant.models import TenantChange
from services.backup.tenant.restoring import service_metadata
from services.kernel.db import make_engine
from services.kernel.migrations import upgrade_to_head
from tests.infra import temporary_pg_database

pytestmark = pytest.mark.integration
TENANT = "11111111-1111-1111-1111-111111111111"


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch(request, tmp_path):
    """service → connection to an empty, migrated scratch database (grades, audit; backup's own)."""
    with ExitStack() as stack:
        connections = {}
        for service in ("grades", "audit", "backup"):
            if request.param == "sqlite":
                url = f"sqlite:///{tmp_path / service}.db"
            else:
                url = stack.enter_context(temporary_pg_database(f"drill_{service}"))
            upgrade_to_head(service, url)
            engine = make_engine(url, pool_size=1)
            stack.callback(engine.dispose)
            connections[service] = stack.enter_context(engine.connect())
        yield connections


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


class Trail:
    """Writes audit entries (envelopes with after-images) into an audit database."""

    def __init__(self, conn):
        self.conn, self.leaf = conn, 0
        self.table = service_metadata("audit").tables["audit_entries"]

    def add(self, type_: str, entity_type: str, entity_id: str, after, at: float, tenant=TENANT) -> None:
        envelope = {"event_id": str(uuid.uuid4()), "type": type_, "occurred_at": _iso(at), "tenant_id": tenant,
                    "actor": {"id": "u", "role": "teacher"}, "entity": {"type": entity_type, "id": entity_id},
                    "data": {"before": None, "after": after}, "correlation_id": "c"}
        body = orjson.dumps(envelope).decode()
        self.conn.execute(self.table.insert(), [{
            "event_id": envelope["event_id"], "type": type_, "tenant_id": tenant, "actor_id": "u",
            "actor_role": "teacher", "entity_type": entity_type, "entity_id": entity_id, "occurred_at": envelope[
                "occurred_at"], "recorded_at": at, "correlation_id": "c", "envelope": body, "leaf_index": self.leaf,
            "leaf_hash": hashlib.sha256(b"\x00" + f"{self.leaf}\n".encode() + body.encode()).digest()}])
        self.leaf += 1


def _school(conn) -> tuple[str, str]:
    meta = service_metadata("grades")
    cid, sid, gid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    conn.execute(meta.tables["classes"].insert(), [{"id": cid, "tenant_id": TENANT, "name": "a IX-a A",
                                                   "school_year": "2026-2027", "created_at": time.time()}])
    conn.execute(meta.tables["subjects"].insert(), [{"id": sid, "tenant_id": TENANT, "name": "Matematică",
                                                    "weekly_hours": 4, "created_at": time.time()}])
    conn.execute(meta.tables["grades"].insert(), [{
        "id": gid, "tenant_id": TENANT, "class_id": cid, "subject_id": sid, "student_id": "s", "value": 8,
        "awarded_on": date(2026, 11, 3), "teacher_id": "t", "version": 2, "created_at": time.time()}])
    return cid, gid


def _counts(conn) -> dict:
    from services.kernel import tenant_data
    return {f"grades.{t}": d["rows"] for t, d in
            tenant_data.tenant_checksums(conn, service_metadata("grades"), TENANT).items()}


def test_rows_agree_with_the_newest_image_and_an_altered_row_is_named(scratch):
    as_of = time.time()
    cid, gid = _school(scratch["grades"])
    trail = Trail(scratch["audit"])
    image = {"id": gid, "class_id": cid, "value": 7, "awarded_on": "2026-11-03", "version": 1, "via": "catalog"}
    trail.add("grades.grade_recorded", "grade", gid, image, as_of - 100)
    trail.add("grades.grade_changed", "grade", gid, {**image, "value": 8, "version": 2}, as_of - 50)
    trail.add("grades.grade_changed", "grade", gid, {**image, "value": 10, "version": 3}, as_of + 50)  # after the set
    trail.add("auth.login_succeeded", "session", "x", {"ip": "127.0.0.1"}, as_of - 10)  # not a row image
    trail.add("grades.grade_recorded", "grade", "other", {"id": "other", "value": 2}, as_of - 10,
              tenant="22222222-2222-2222-2222-222222222222")  # another school's entry
    nothing_moving = lambda ids: set()  # noqa: E731

    good = audit_check.compare_rows(scratch, TENANT, as_of, _counts(scratch["grades"]), nothing_moving)
    # the class and the subject have no image: counted, not compared
    assert good == {"compared": 1, "agree": 1, "in_flight": 0, "disagree": 0, "not_compared": 2,
                    "disagreements": []}

    # the restored row altered after the fact (as a hook on the scratch restore would)
    grades = service_metadata("grades").tables["grades"]
    scratch["grades"].execute(update(grades).where(grades.c.id == gid).values(awarded_on=date(2026, 11, 4)))
    bad = audit_check.compare_rows(scratch, TENANT, as_of, _counts(scratch["grades"]), nothing_moving)
    assert bad["disagree"] == 1 and bad["agree"] == 0
    assert bad["disagreements"] == [{"table": "grades.grades", "id": gid, "column": "awarded_on"}]

    # a row the change log shows changing at the set's time is in flight, not a failure
    flight = audit_check.compare_rows(scratch, TENANT, as_of, _counts(scratch["grades"]), lambda images: set(images))
    assert flight["disagree"] == 0 and flight["in_flight"] == 1

    # after a live restore of the service, its older images no longer say what the rows hold
    trail.add("grades.tenant_data_restored", "tenant", TENANT, {"table": "grades", "inserted": 1}, as_of - 5)
    after_restore = audit_check.compare_rows(scratch, TENANT, as_of, _counts(scratch["grades"]), nothing_moving)
    assert after_restore["compared"] == 0 and after_restore["disagree"] == 0 and after_restore["not_compared"] == 3


class InProcessAudit:
    """The drill's fleet, answering `tenant_audit_leaves` from the given (live) audit database."""

    def __init__(self, conn):
        self.conn = conn

    def call(self, service, method, **kwargs):
        assert (service, method) == ("audit", "tenant_audit_leaves")
        with Session(bind=self.conn) as s:
            return kit.tenant_leaves(s, **kwargs)


def test_restored_leaves_are_the_live_logs_and_a_difference_names_the_leaf(scratch, monkeypatch):
    trail = Trail(scratch["audit"])
    for i in range(7):
        trail.add("grades.grade_recorded", "grade", f"g{i}", {"id": f"g{i}", "value": 5}, time.time(),
                  tenant=TENANT if i != 3 else "22222222-2222-2222-2222-222222222222")
    monkeypatch.setattr(audit_check, "PAGE", 2)  # several pages of the live log
    live = InProcessAudit(scratch["audit"])
    assert audit_check.compare_leaves(scratch["audit"], live, TENANT) == {
        "leaves": 6, "unsequenced": 0, "differs_at": None}
    page = kit.tenant_leaves(Session(bind=scratch["audit"]), TENANT, up_to=4, limit=2)
    assert [i for i, _h in page["items"]] == [0, 1] and page["next_after"] == 1
    table = service_metadata("audit").tables["audit_entries"]

    class Altered(InProcessAudit):
        def call(self, service, method, **kwargs):
            answer = super().call(service, method, **kwargs)
            return {**answer, "items": [[i, "00" * 32 if i == 4 else h] for i, h in answer["items"]]}
    assert audit_check.compare_leaves(scratch["audit"], Altered(scratch["audit"]), TENANT)["differs_at"] == 4
    # an entry of the live log that the restored trail lacks

    class Extra(InProcessAudit):
        def call(self, service, method, **kwargs):
            answer = super().call(service, method, **kwargs)
            if kwargs.get("after") is None:
                answer = {**answer, "items": [*answer["items"], [3, "11" * 32]]}
            return answer
    assert audit_check.compare_leaves(scratch["audit"], Extra(scratch["audit"]), TENANT)["differs_at"] == 3
    # an entry not yet sequenced when the set was taken is counted, not compared
    scratch["audit"].execute(table.update().where(table.c.leaf_index == 6).values(leaf_index=None, leaf_hash=None))
    assert audit_check.compare_leaves(scratch["audit"], live, TENANT) == {
        "leaves": 5, "unsequenced": 1, "differs_at": None}


class Store:
    """The backup's store, reading its change log from the scratch backup database."""

    def __init__(self, conn):
        self.conn = conn

    @contextmanager
    def reading(self):
        with Session(bind=self.conn) as s:
            yield s


def test_in_flight_means_the_change_log_has_a_newer_event_than_the_image(scratch):
    as_of, image_at = time.time(), time.time() - 30
    moving = audit_check.in_flight_rows(Store(scratch["backup"]), TENANT, as_of)

    def change(entity_id: str, at: float, tenant=TENANT) -> None:
        scratch["backup"].execute(TenantChange.__table__.insert(), [{
            "event_id": str(uuid.uuid4()), "tenant_id": tenant, "type": "grades.grade_changed",
            "entity_type": "grade", "entity_id": entity_id, "occurred_at": at, "received_at": at, "lag_ms": 1.0,
            "envelope": "{}"}])
    change("same", image_at)  # the image's own event: the row was changed behind the log's back
    change("newer", image_at + 10)  # a newer change the restored audit trail did not have yet
    change("later", as_of + 60)  # long after the set: no excuse
    change("elsewhere", image_at + 10, tenant="22222222-2222-2222-2222-222222222222")
    assert moving({"same": image_at, "newer": image_at, "later": image_at, "elsewhere": image_at}) == {"newer"}
