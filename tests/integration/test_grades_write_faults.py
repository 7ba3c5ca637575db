"""Issue 6 §11: a failure in the middle of a catalog write leaves nothing half-written. The grades
service's process dies between the grade's rows and the commit (os._exit: no clean-up runs, as
under SIGKILL), or its database connection is cut in that window: neither the grade, nor its
version, nor its event exists afterwards, and the next write works (SQLite and PostgreSQL)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services.kernel.db import make_engine
from tests.infra import temporary_pg_database
from tests.unit.test_grades_catalog import _seeded, _who

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]

_WRITER = textwrap.dedent("""
    import os, sys
    from services.grades import grades as catalog
    from services.grades.models import Base
    from services.kernel.db import make_engine, make_sessionmaker
    from services.kernel.identity import Principal
    from services.kernel.nameko_support import Store
    engine = make_engine(sys.argv[1])
    store = Store("grades", make_sessionmaker(engine), Base.metadata, wake_relay=lambda: None)
    teacher = Principal(user_id="t", tenant_id="tenant-a", roles=frozenset({"teacher"}), factors=frozenset({"pwd", "otp"}))
    ctx = type("Ctx", (), {"principal": teacher, "correlation_id": "fault-1"})()
    with store.writing() as db:
        catalog.record_grade(db, store.emitter(ctx), teacher, class_id="9A", subject_id="mate", student_id="p1", value=3)
        print("written, not committed", flush=True)
        if sys.argv[2] == "connection":
            db.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
        os._exit(9)
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'grades.db'}"
        engine = make_engine(url)
        yield url, _seeded(engine)
        engine.dispose()
        return
    with temporary_pg_database("grades_faults") as url:
        engine = make_engine(url)
        yield url, _seeded(engine)
        engine.dispose()


def _counts(sessions) -> tuple:
    with sessions.read_connection() as db:
        return tuple(db.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                     for t in ("grades", "grade_versions", "outbox"))


@pytest.mark.parametrize("fault", ["process", "connection"])
def test_a_write_cut_before_its_commit_leaves_nothing_behind(database, fault):
    url, sessions = database
    if fault == "connection" and not url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection to cut; the process fault covers it")
    before = _counts(sessions)
    done = subprocess.run([sys.executable, "-c", _WRITER, url, fault], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin",
                                           "PYTHONWARNINGS": "ignore"})
    assert "written, not committed" in done.stdout, done.stderr[-2000:]
    assert done.returncode != 0
    assert _counts(sessions) == before
    # the catalog is not left locked or inconsistent: the next write goes through, with its event
    from services.grades import grades as catalog
    from services.grades.models import Base
    from services.kernel.nameko_support import Store
    store = Store("grades", sessions, Base.metadata, wake_relay=lambda: None)
    teacher = _who("teacher", user="t")
    ctx = type("Ctx", (), {"principal": teacher, "correlation_id": "after-fault"})()
    with store.writing() as db:
        catalog.record_grade(db, store.emitter(ctx), teacher, class_id="9A", subject_id="mate", student_id="p1", value=8)
    assert _counts(sessions) == (before[0] + 1, before[1] + 1, before[2] + 1)
