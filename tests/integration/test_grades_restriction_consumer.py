"""The catalog's side of the data-subject rights with the grades service running as a process on the
real broker, SQLite and PostgreSQL:

* it learns of a restriction of processing from the registry's event: the test publishes
  `registry.processing_restricted` / `..._lifted` to the events exchange, as the registry's relay
  does, and sees the pupil leave the statistics and come back;
* `subject_export_part` answers auth's service credential (scope `subject_export`) over RPC, and
  refuses anyone else's."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import kombu
import pytest
from sqlalchemy import select

from gateway.rpc import RemoteError, RpcClient
from services.grades import stats
from services.grades.models import Base, ClassStudent, Grade, RestrictedPerson, SchoolClass, Subject
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.event_queues import spec
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.identity import Principal, Role
from services.kernel import service_credentials
from services.kernel.outbox import events_exchange

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
T = "school-r"
DIRECTOR = Principal(user_id="dir", tenant_id=T, roles=frozenset({Role.DIRECTOR}), factors=frozenset({"pwd", "otp"}))


@contextmanager
def grades_process(amqp_uri: str, database_url: str, tmp_path: Path):
    env = dict(os.environ, AMQP_URI=amqp_uri, PLATFORM_DATA_DIR=str(tmp_path / "var"), METRICS_PORT="0",
               PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore::DeprecationWarning", GRADES_DATABASE_URL=database_url,
               PYTHONPATH=str(REPO_ROOT), SERVICE_KEYS_DIR=str(tmp_path / "service-keys"))
    log_path = tmp_path / "grades.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.grades"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        queue = spec("grades.rights_events").queue_name
        deadline = time.monotonic() + 60
        with kombu.Connection(amqp_uri) as conn:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"grades exited: {log_path.read_text()[-2000:]}")
                try:
                    if conn.default_channel.queue_declare(queue, passive=True).consumer_count:
                        break
                except conn.channel_errors:
                    conn.close()
                    conn.connect()
                assert time.monotonic() < deadline, f"the consumer never started: {log_path.read_text()[-2000:]}"
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def publish(amqp_uri: str, envelope: Envelope) -> None:
    with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(json.dumps(envelope.to_dict(), ensure_ascii=False), exchange=events_exchange(),
                                routing_key=envelope.type, content_type="application/json",
                                content_encoding="utf-8", delivery_mode=2, retry=True)


def restriction_event(person: str, restricted: bool) -> Envelope:
    kind = "processing_restricted" if restricted else "processing_restriction_lifted"
    return Envelope(type=f"registry.{kind}", tenant_id=T, actor=Actor("adm", "school_admin"),
                    entity=Entity("person", person), correlation_id="c-restrict",
                    data=change_data({"person_id": person, "restricted": restricted,
                                      "reason": "cererea mamei, în așteptarea unei hotărâri"}))


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_registry_event_takes_the_pupil_out_of_the_statistics_and_back(database_url, amqp_uri, tmp_path):
    with grades_process(amqp_uri, database_url, tmp_path):  # its start ran the migrations
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
        try:
            now = time.time()
            with sessions.begin() as s:
                s.add(SchoolClass(id="k", tenant_id=T, name="a VI-a B", school_year="2026-2027", level=6))
                s.add(Subject(id="ist", tenant_id=T, name="Istorie", weekly_hours=1))
                s.flush()
                for i in range(1, 6):
                    s.add(ClassStudent(tenant_id=T, class_id="k", student_id=f"elev-{i}"))
                    s.add(Grade(tenant_id=T, class_id="k", subject_id="ist", student_id=f"elev-{i}", value=6 + i % 4,
                                awarded_on=date(2026, 10, 1), teacher_id="t", version=1, created_at=now))

            def figures():
                with sessions.begin(readonly=True) as s:
                    subject = stats.grade_statistics(s, DIRECTOR)["subjects"][0]
                    return subject["pupils"], subject["grades"]

            def state(person):
                with sessions.begin(readonly=True) as s:
                    return s.scalar(select(RestrictedPerson.restricted).where(RestrictedPerson.person_id == person))

            assert figures() == (5, 5)
            publish(amqp_uri, restriction_event("elev-3", True))
            wait_for(lambda: state("elev-3") is True, "the restriction to reach the catalog")
            assert figures() == (None, None)  # four pupils left: suppressed, elev-3 counted nowhere
            with sessions.begin(readonly=True) as s:  # the grades themselves stay (legal record)
                assert s.scalar(select(Grade.id).where(Grade.student_id == "elev-3")) is not None
            publish(amqp_uri, restriction_event("elev-3", False))
            wait_for(lambda: state("elev-3") is False, "the lift to reach the catalog")
            assert figures() == (5, 5)
            outbox = Base.metadata.tables["outbox"]
            with sessions.begin(readonly=True) as s:  # each change of state is an event of the catalog
                types = s.scalars(select(outbox.c.type).where(outbox.c.type.like("grades.processing_%"))).all()
            assert types == ["grades.processing_restriction_recorded"] * 2
        finally:
            engine.dispose()


def test_subject_export_part_answers_auths_credential_only(database_url, amqp_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_KEYS_DIR", str(tmp_path / "service-keys"))
    service_credentials._public_keys.clear()
    with grades_process(amqp_uri, database_url, tmp_path):
        engine = make_engine(database_url)
        try:
            with make_sessionmaker(engine).begin() as s:
                s.add(SchoolClass(id="k", tenant_id=T, name="a VI-a B", school_year="2026-2027", level=6))
                s.add(Subject(id="ist", tenant_id=T, name="Istorie", weekly_hours=1))
                s.flush()
                s.add(Grade(id="g-1", tenant_id=T, class_id="k", subject_id="ist", student_id="elev-1", value=9,
                            awarded_on=date(2026, 10, 1), teacher_id="t", version=1, created_at=time.time()))
        finally:
            engine.dispose()
        subject = {"tenant_id": T, "person_id": "elev-1", "account_id": "acc-elev-1"}

        async def ask(credential):
            client = RpcClient(amqp_uri, default_timeout=30)
            await client.start()
            try:
                return await client.call("grades", "subject_export_part", kwargs={
                    "credential": credential, "subject": subject, "cursor": None, "limit": 500},
                    context={"correlation_id": "c-export"})
            finally:
                await client.close()

        page = asyncio.run(ask(service_credentials.issue("auth", "grades", "subject_export")))
        assert [(i["section"], i["record"]["id"]) for i in page["items"]] == [("grades", "g-1")]
        assert page["next_cursor"] is None
        for credential in (service_credentials.issue("backup", "grades", "subject_export"),  # not trusted for it
                           service_credentials.issue("auth", "grades", "tenant_data"),  # another scope
                           service_credentials.issue("auth", "registry", "subject_export"),  # another callee
                           None):
            try:
                asyncio.run(ask(credential))
            except RemoteError as exc:
                assert exc.exc_type == "Forbidden", exc
            else:
                raise AssertionError(f"accepted {credential!r}")
