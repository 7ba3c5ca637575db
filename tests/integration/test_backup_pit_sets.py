"""Per-tenant sets with captured row changes (archive format 2) on SQLite and PostgreSQL, with the
grades service's tenant-data calls answered in process by the kernel (the same functions its RPCs
run): a full set, changes to tables no event describes (grade versions), an incremental set, and
restores into fresh databases at a point in time inside the incremental's window and after it,
equal by checksums to the live data at those times. An incremental set of format 1 (the change
log only) still restores through its events' after-images."""
from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from datetime import date, datetime, timezone

import orjson
import pytest
from sqlalchemy.orm import Session

from services.backup.models import Base as BackupBase
from services.backup.tenant import restoring, sets
from services.backup.tenant.models import TenantChange
from services.grades.models import Base as GradesBase, Grade, GradeVersion, SchoolClass, Subject
from services.kernel import row_changes, tenant_data
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.migrations import upgrade_to_head
from services.kernel.nameko_support import Store
from tests.infra import temporary_pg_database

pytestmark = pytest.mark.integration
T = "tenant-a"
META = GradesBase.metadata


class InProcessGrades:
    """The backup's fleet, answering the grades service's tenant-data calls from its database."""

    def __init__(self, engine):
        self.engine = engine
        self.exports = tenant_data.ExportSessions(engine, META)

    def call(self, service, method, **kw):
        assert service == "grades"
        if method == "tenant_export_open":
            return self.exports.open(kw["tenant_id"])
        if method == "tenant_export_chunk":
            return self.exports.chunk(kw["session_id"], kw["snapshot"], kw["tenant_id"], kw["table"], kw["after"],
                                      kw["limit"])
        if method == "tenant_export_close":
            return {"closed": self.exports.close(kw["session_id"])}
        if method == "tenant_row_changes":
            with self.engine.connect() as conn:
                return row_changes.read_changes(conn, META, kw["tenant_id"], since=kw["since"], until=kw["until"],
                                                after_id=kw["after_id"], limit=kw["limit"])
        raise AssertionError(method)


@pytest.fixture
def world(tmp_path, platform_env, database_url):
    """A live grades database (capture installed), the backup's store, and fresh-database URLs."""
    upgrade_to_head("grades", database_url)
    live = make_engine(database_url)
    row_changes.RowCapture(META).install(live)
    backup_url = f"sqlite:///{tmp_path / 'backup.db'}"
    upgrade_to_head("backup", backup_url)
    backup = make_engine(backup_url)
    store = Store("backup", make_sessionmaker(backup), BackupBase.metadata)
    config = sets.Config(archive_dir=tmp_path / "archives", services=("grades",), chunk_rows=3)
    with ExitStack() as stack:
        counter = iter(range(100))

        def fresh_url() -> str:
            if database_url.startswith("sqlite"):
                return f"sqlite:///{tmp_path / f'fresh{next(counter)}.db'}"
            return stack.enter_context(temporary_pg_database("pit_fresh"))
        yield {"live": live, "store": store, "config": config, "fleet": InProcessGrades(live),
               "fresh_url": fresh_url}
    live.dispose()
    backup.dispose()


def _school(live) -> dict:
    with Session(live) as s, s.begin():
        cid, sid = str(uuid.uuid4()), str(uuid.uuid4())
        s.add(SchoolClass(id=cid, tenant_id=T, name="a IX-a A", school_year="2026-2027", level=9))
        s.add(Subject(id=sid, tenant_id=T, name="Matematică", weekly_hours=4))
        s.flush()
        grade = Grade(tenant_id=T, class_id=cid, subject_id=sid, student_id="s1", value=6,
                      awarded_on=date(2026, 11, 3), teacher_id="t", version=1)
        s.add(grade)
        s.flush()
        s.add(_version(grade.id, 1, 6, "recorded"))
        return {"class": cid, "subject": sid, "grade": grade.id}


def _version(grade_id: str, version: int, value: int, action: str) -> GradeVersion:
    return GradeVersion(tenant_id=T, grade_id=grade_id, version=version, action=action, value=value, kind="oral",
                        awarded_on=date(2026, 11, 3), status="active", actor_id="t", via="assignment")


def _change(live, grade_id: str, version: int, value: int) -> None:
    """A grade change as the catalog makes it: the grade's new state and a new version row."""
    with Session(live) as s, s.begin():
        grade = s.get(Grade, grade_id)
        grade.value, grade.version = value, version
        s.add(_version(grade_id, version, value, "changed"))


def _live(live) -> dict:
    with live.connect() as conn:
        return tenant_data.tenant_checksums(conn, META, T)


def _restore(world, at: float) -> dict:
    with world["store"].reading() as s:
        full, incrementals = restoring.choose_sets(s, T, at)
        s.expunge_all()
    url = world["fresh_url"]()
    report = restoring.restore_fresh(world["config"], full, incrementals, at, lambda service: url)
    return {k.split(".", 1)[1]: v for k, v in report["tables"].items()}


def test_a_point_in_time_inside_and_after_the_incremental_gives_the_live_rows_of_every_table(world):
    live, fleet = world["live"], world["fleet"]
    school = _school(live)
    full = sets.export_full(fleet, world["store"], world["config"], T)
    full_at = datetime.fromisoformat(full["as_of"]).timestamp()
    at_full = _live(live)
    time.sleep(0.05)
    _change(live, school["grade"], 2, 8)
    middle, at_middle = _live(live), time.time()
    time.sleep(0.05)
    _change(live, school["grade"], 3, 9)
    with Session(live) as s, s.begin():  # a subject added, then removed, a class renamed (Core)
        extra = str(uuid.uuid4())
        s.add(Subject(id=extra, tenant_id=T, name="Fizică", weekly_hours=2))
        s.flush()
        s.execute(META.tables["subjects"].delete().where(META.tables["subjects"].c.id == extra))
        s.execute(META.tables["classes"].update().where(META.tables["classes"].c.tenant_id == T)
                  .values(name="a IX-a B"))
    after = _live(live)
    incremental = sets.seal_incremental(world["store"], world["config"], T, fleet=fleet)
    assert incremental["row_changes"]["grades"] >= 5 and incremental["rows_window"][0] < full_at
    assert after["grade_versions"] != at_full["grade_versions"] != middle["grade_versions"]

    assert _restore(world, full_at) == at_full  # at the full set's time: none of the changes after it
    assert _restore(world, at_middle) == middle  # inside the incremental: the first change only
    assert _restore(world, time.time()) == after


def test_an_incremental_of_format_1_still_restores_through_its_events(world):
    live, fleet, store = world["live"], world["fleet"], world["store"]
    school = _school(live)
    full = sets.export_full(fleet, store, world["config"], T)
    _change(live, school["grade"], 2, 10)
    now = time.time()
    envelope = {"event_id": str(uuid.uuid4()), "type": "grades.grade_changed", "tenant_id": T,
                "occurred_at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
                "actor": {"id": "t", "role": "teacher"}, "entity": {"type": "grade", "id": school["grade"]},
                "data": {"before": None, "after": {"id": school["grade"], "value": 10, "version": 2}},
                "correlation_id": "c"}
    with store.transaction() as s:
        s.execute(TenantChange.__table__.insert(), [{
            "event_id": envelope["event_id"], "tenant_id": T, "type": envelope["type"], "entity_type": "grade",
            "entity_id": school["grade"], "occurred_at": now, "received_at": now, "lag_ms": 1.0,
            "envelope": orjson.dumps(envelope).decode()}])
    old_style = sets.seal_incremental(store, world["config"], T)  # no fleet: the change log only
    assert old_style["row_changes"] is None and old_style["events"] == 1
    restored = _restore(world, time.time())
    live_now = _live(live)
    assert restored["grades"] == live_now["grades"]  # the grade's new state came from the event
    # the table no event describes comes back as of the full set only: what format 2 fixes
    assert restored["grade_versions"] != live_now["grade_versions"]
    assert full["tables"]["grades.grade_versions"]["rows"] == restored["grade_versions"]["rows"]
