"""The Merkle log on a real database (SQLite and PostgreSQL): the sequencer, signed
checkpoints, witnesses, proofs, and the verifier catching each way of tampering with the
audit database directly, naming the entry or checkpoint."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from services.audit import merkle, notes, trail
from services.audit.config import AuditSettings
from services.audit.keeper import LogKeeper
from services.audit.models import AuditEntry
from services.audit.verification import run_verifier
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.identity import Principal
from services.kernel.migrations import upgrade_to_head

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
OPERATOR = Principal("op", "platform", frozenset({"operator"}), frozenset({"pwd", "otp"}))


def envelope(i: int, tenant: str = "t1", type_: str = "grades.grade_changed") -> Envelope:
    return Envelope(type=type_, tenant_id=tenant, actor=Actor(f"u{i % 3}", "teacher"),
                    entity=Entity("grade", f"g{i % 5}"), reason="corectură — elevul Ștefan",
                    data=change_data({"value": i % 10 + 1}, {"value": 5}), correlation_id=f"c{i}")


@pytest.fixture
def log_env(database_url, platform_env, tmp_path):
    upgrade_to_head("audit", database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    settings = AuditSettings(checkpoint_every_entries=10, checkpoint_every_seconds=60,
                             witness_dir=tmp_path / "witness")
    keeper = LogKeeper(sessions, settings)
    keeper.startup()
    yield keeper, engine, database_url
    engine.dispose()


def fill(keeper, n, start=0):
    for i in range(start, start + n, 10):
        keeper.ingest([envelope(j) for j in range(i, min(i + 10, start + n))])
    keeper.publish_to_witnesses()


def verify(keeper) -> dict:
    """The verifier in this process, and as the CLI runs it (worker processes, here on chunks of
    8 entries so that every tampering lands in some chunk, at its edges too): both must name the
    same problems."""
    url = keeper.sessions.engine.url.render_as_string(hide_password=False)
    with keeper.sessions.begin(readonly=True) as s:
        here = run_verifier(s, keeper)
    with keeper.sessions.begin(readonly=True) as s:
        parallel = run_verifier(s, keeper, url=url, workers=2, chunk=8)

    def named(report):
        return sorted((p["kind"], str(p.get("leaf_index")), str(p.get("event_id")), str(p.get("checkpoint")))
                      for p in report["problems"])

    assert named(parallel) == named(here), (here["problems"], parallel["problems"])
    assert parallel["size"] == here["size"] and parallel["ok"] == here["ok"]
    return here


def sql(engine, statement: str, **params) -> None:
    with engine.begin() as c:
        c.execute(text(statement), params)


def test_intact_log_verifies_and_duplicates_are_stored_once(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 40)
    with keeper.sessions.begin(readonly=True) as s:
        first = s.scalars(trail.select(AuditEntry).where(AuditEntry.leaf_index == 3)).one()
    dup = Envelope.from_dict(trail.orjson.loads(first.envelope))
    assert keeper.ingest([dup, dup]) == 0  # a redelivery: nothing new
    report = verify(keeper)
    assert report["ok"], report["problems"]
    assert report["size"] == 40 and report["checkpoints_checked"] == 4 and report["witnesses_checked"] == 1
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_entries WHERE event_id = :e"),
                         {"e": dup.event_id}).scalar() == 1
        indexes = [r[0] for r in c.execute(text("SELECT leaf_index FROM audit_entries ORDER BY id"))]
    assert indexes == list(range(40))


def test_checkpoints_are_c2sp_notes_and_proofs_verify_against_an_independent_recomputation(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 37)
    with keeper.sessions.begin(readonly=True) as s:
        cps = trail.checkpoints(s, OPERATOR)["items"]
        leaves = [bytes(r[0]) for r in s.execute(text("SELECT leaf_hash FROM audit_entries ORDER BY leaf_index"))]
        bodies = [r[0] for r in s.execute(text("SELECT envelope FROM audit_entries ORDER BY leaf_index"))]
        assert [merkle.leaf_hash(b"%d\n" % i + b.encode()) for i, b in enumerate(bodies)] == leaves
        note = cps[-1]["note"]
        name, key = notes.parse_verifier_key(keeper.verifier_key)
        cp = notes.verify_checkpoint(note, name, key)
        lines = note.split("\n")
        assert lines[0] == keeper.signer.origin and lines[1] == "30" and lines[3] == ""
        assert lines[4].startswith("\u2014 " + keeper.signer.origin + " ")
        assert cp.root == merkle.reference_root(leaves[:30])
        for event_row in s.execute(text("SELECT event_id, leaf_index FROM audit_entries WHERE leaf_index < 30")):
            proof = trail.inclusion_proof(s, OPERATOR, event_id=event_row[0])
            merkle.verify_inclusion(event_row[1], 30, leaves[event_row[1]],
                                    [trail.base64.b64decode(h) for h in proof["hashes"]], cp.root)
        c = trail.consistency_proof(s, OPERATOR, first=10, second=30)
        merkle.verify_consistency(10, 30, merkle.reference_root(leaves[:10]), cp.root,
                                  [trail.base64.b64decode(h) for h in c["hashes"]])
    with pytest.raises(notes.NoteError):  # a changed size breaks the signature
        notes.verify_checkpoint(note.replace("\n30\n", "\n31\n"), name, key)


def _row(engine, index):
    with engine.connect() as c:
        return c.execute(text("SELECT id, event_id, envelope FROM audit_entries WHERE leaf_index = :i"),
                         {"i": index}).one()


def _problems(keeper, kind):
    report = verify(keeper)
    assert not report["ok"]
    return [p for p in report["problems"] if p["kind"] == kind], report


def test_changed_entry_is_named(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 30)
    row = _row(engine, 12)
    sql(engine, "UPDATE audit_entries SET envelope = :e WHERE id = :id", id=row.id,
        e=row.envelope.replace("corectură", "altceva"))
    found, report = _problems(keeper, "changed")
    assert [p["leaf_index"] for p in found] == [12] and found[0]["event_id"] == row.event_id
    assert any(p["kind"] == "checkpoint_mismatch" and p["checkpoint"] == 20 for p in report["problems"])


def test_changed_query_column_is_named(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 20)
    sql(engine, "UPDATE audit_entries SET reason = 'nimic' WHERE leaf_index = 4")
    found, _ = _problems(keeper, "changed")
    assert [p["leaf_index"] for p in found] == [4] and "reason" in found[0]["detail"]


def test_envelope_that_is_no_longer_json_and_a_changed_column_beside_it_are_both_named(log_env):
    """SQLite compares the columns in the same pass as the hashes; an envelope that is not JSON
    makes that comparison fail for its whole chunk, which is then compared in Python: both the
    broken entry and the changed column two entries later are still named."""
    keeper, engine, _ = log_env
    fill(keeper, 20)
    sql(engine, "UPDATE audit_entries SET envelope = 'nu mai e JSON' WHERE leaf_index = 9")
    sql(engine, "UPDATE audit_entries SET actor_role = 'director' WHERE leaf_index = 11")
    found, _ = _problems(keeper, "changed")
    assert [p["leaf_index"] for p in found] == [9, 11]
    assert "does not hash" in found[0]["detail"] and "actor_role" in found[1]["detail"]


def test_deleted_entry_is_named(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 30)
    sql(engine, "DELETE FROM audit_entries WHERE leaf_index = 7")
    found, report = _problems(keeper, "deleted")
    assert [p["leaf_index"] for p in found] == [7]


def test_inserted_entry_is_named(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 20)
    row = _row(engine, 5)
    # an entry slipped in at position 5: the later ones moved up by one
    sql(engine, "UPDATE audit_entries SET leaf_index = -leaf_index - 1000 WHERE leaf_index >= 5")
    sql(engine, "UPDATE audit_entries SET leaf_index = -leaf_index - 999 WHERE leaf_index < 0")
    sql(engine, "INSERT INTO audit_entries (event_id, type, tenant_id, actor_id, actor_role, entity_type, entity_id,"
                " reason, occurred_at, recorded_at, correlation_id, envelope, leaf_index, leaf_hash)"
                " SELECT '00000000-0000-4000-8000-000000000001', type, tenant_id, actor_id, actor_role, entity_type,"
                " entity_id, reason, occurred_at, recorded_at, correlation_id, envelope, 5, leaf_hash"
                " FROM audit_entries WHERE id = :id", id=row.id)
    found, _ = _problems(keeper, "changed")
    assert found[0]["leaf_index"] == 5 and found[0]["event_id"] == "00000000-0000-4000-8000-000000000001"
    # and one never sequenced at all
    sql(engine, "INSERT INTO audit_entries (event_id, type, tenant_id, actor_id, actor_role, entity_type, entity_id,"
                " reason, occurred_at, recorded_at, correlation_id, envelope)"
                " SELECT '00000000-0000-4000-8000-000000000002', type, tenant_id, actor_id, actor_role, entity_type,"
                " entity_id, reason, occurred_at, recorded_at, correlation_id, envelope FROM audit_entries WHERE id = :id",
        id=row.id)
    found, _ = _problems(keeper, "inserted")
    assert any(p["event_id"] == "00000000-0000-4000-8000-000000000002" for p in found)


def test_reordered_entries_are_named(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 20)
    a, b = _row(engine, 3), _row(engine, 8)
    sql(engine, "UPDATE audit_entries SET leaf_index = -1 WHERE id = :id", id=a.id)
    sql(engine, "UPDATE audit_entries SET leaf_index = 3 WHERE id = :id", id=b.id)
    sql(engine, "UPDATE audit_entries SET leaf_index = 8 WHERE id = :id", id=a.id)
    found, _ = _problems(keeper, "changed")
    assert sorted((p["leaf_index"], p["event_id"]) for p in found) == [(3, b.event_id), (8, a.event_id)]


def test_truncated_log_is_named(log_env):
    keeper, engine, _ = log_env
    fill(keeper, 30)
    sql(engine, "DELETE FROM audit_entries WHERE leaf_index >= 25")
    sql(engine, "UPDATE log_state SET size = 25")
    found, _ = _problems(keeper, "truncated")
    assert any(p.get("checkpoint") == 30 and p["leaf_index"] == 25 for p in found)


def test_rollback_to_an_old_snapshot_is_detected_by_the_witness(log_env, tmp_path):
    keeper, engine, url = log_env
    fill(keeper, 20)
    tables = ("audit_entries", "merkle_nodes", "log_state", "checkpoints", "outbox")
    snapshot = {}
    with engine.connect() as c:
        for t in tables:
            snapshot[t] = [dict(r._mapping) for r in c.execute(text(f"SELECT * FROM {t}"))]
    fill(keeper, 20, start=20)
    assert verify(keeper)["ok"]
    with engine.begin() as c:  # the database restored from the old snapshot, consistently
        for t in tables:
            c.execute(text(f"DELETE FROM {t}"))
        from services.audit.models import Base
        for t in tables:
            if snapshot[t]:
                c.execute(Base.metadata.tables[t].insert(), snapshot[t])
    found, report = _problems(keeper, "rollback")
    assert found and found[0]["checkpoint"] == 40 and "witness" in found[0]
    assert not [p for p in report["problems"] if p["kind"] != "rollback"]
    # a restarted keeper refuses to sign a tree that forks from the witnessed one
    again = LogKeeper(keeper.sessions, keeper.settings)
    again.startup()
    assert again.halted and "40" in again.halted
    again.ingest([envelope(i) for i in range(100, 115)])
    with engine.connect() as c:
        assert c.execute(text("SELECT max(size) FROM checkpoints")).scalar() == 20


def test_cli_verifier_names_the_changed_entry(log_env, tmp_path):
    keeper, engine, url = log_env
    fill(keeper, 15)
    env = {"AUDIT_DATABASE_URL": url, "PLATFORM_DATA_DIR": str(keeper.settings.private_key_path().parents[1]),
           "AUDIT_WITNESS_DIR": str(keeper.settings.witness_directory()), "PYTHONPATH": str(REPO_ROOT),
           "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "services.audit.verify"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: the log is intact" in ok.stdout
    sql(engine, "UPDATE audit_entries SET envelope = replace(envelope, 'Ștefan', 'Stefan') WHERE leaf_index = 2")
    bad = subprocess.run([sys.executable, "-m", "services.audit.verify"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "entry 2 (event" in bad.stdout
    # a query column changed alone: named by the full check, outside what --no-columns looks at
    sql(engine, "UPDATE audit_entries SET envelope = replace(envelope, 'Stefan', 'Ștefan') WHERE leaf_index = 2")
    sql(engine, "UPDATE audit_entries SET entity_id = 'alt' WHERE leaf_index = 5")
    full = subprocess.run([sys.executable, "-m", "services.audit.verify"], env=env, capture_output=True, text=True)
    assert full.returncode == 1 and "entry 5 (event" in full.stdout and "entity_id" in full.stdout, full.stdout
    tree = subprocess.run([sys.executable, "-m", "services.audit.verify", "--no-columns"], env=env,
                          capture_output=True, text=True)
    assert tree.returncode == 0 and "OK: the log is intact" in tree.stdout, tree.stdout + tree.stderr


def test_legacy_entries_get_indexes_in_id_order(log_env):
    keeper, engine, _ = log_env
    sql(engine, "INSERT INTO audit_entries (event_id, type, tenant_id, actor_id, actor_role, entity_type, entity_id,"
                " occurred_at, recorded_at, correlation_id, envelope) VALUES"
                " ('00000000-0000-4000-8000-0000000000aa', 'grades.grade_recorded', 't1', 'u', 'teacher', 'grade',"
                " 'g', '2026-01-01T00:00:00+00:00', 0, 'c', :e)",
        e=trail.orjson.dumps(envelope(1).to_dict() | {"event_id": "00000000-0000-4000-8000-0000000000aa",
                                                       "type": "grades.grade_recorded", "reason": None,
                                                       "actor": {"id": "u", "role": "teacher"},
                                                       "entity": {"type": "grade", "id": "g"},
                                                       "occurred_at": "2026-01-01T00:00:00+00:00",
                                                       "correlation_id": "c"}).decode())
    again = LogKeeper(keeper.sessions, keeper.settings)
    again.startup()
    fill(again, 5)
    assert _row(engine, 0).event_id == "00000000-0000-4000-8000-0000000000aa"
    assert verify(again)["ok"]


def test_offline_kit_verifies_with_the_standalone_script_and_catches_a_forged_entry(log_env, tmp_path):
    import json
    from services.audit.kit import export_kit
    keeper, engine, _ = log_env
    for i in range(0, 45, 10):
        keeper.ingest([envelope(j, tenant="t1" if j % 3 else "t2") for j in range(i, min(i + 10, 45))])
    with keeper.sessions.begin(readonly=True) as s:
        kit = export_kit(s, OPERATOR, keeper, tenant_id="t1")
    assert kit["entries"] and all(json.loads(e["envelope"])["tenant_id"] == "t1" for e in kit["entries"])
    path = tmp_path / "kit.json"
    path.write_text(json.dumps(kit, ensure_ascii=False), encoding="utf-8")
    script = REPO_ROOT / "tools" / "verify_audit_kit.py"
    ok = subprocess.run([sys.executable, str(script), str(path), "--key", keeper.verifier_key],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    kit["entries"][2]["envelope"] = kit["entries"][2]["envelope"].replace("Ștefan", "Ion")
    path.write_text(json.dumps(kit, ensure_ascii=False), encoding="utf-8")
    bad = subprocess.run([sys.executable, str(script), str(path), "--key", keeper.verifier_key],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and f"entry {kit['entries'][2]['leaf_index']} (event" in bad.stdout


def test_queries_scope_paginate_and_carry_proofs(log_env):
    keeper, engine, _ = log_env
    batch = [envelope(i, tenant="t1") for i in range(12)] + [envelope(i, tenant="t2") for i in range(12, 20)]
    batch.append(Envelope(type="registry.person_viewed", tenant_id="t2", actor=Actor("clerk", "registry_clerk"),
                          entity=Entity("person", "p9"), data=change_data({"fields": ["cnp"]}), correlation_id="v1"))
    keeper.ingest(batch)
    director = Principal("d1", "t1", frozenset({"director"}), frozenset({"pwd", "otp"}))
    central = Principal("ca", "platform", frozenset({"central_authority"}), frozenset({"pwd", "otp"}))
    with keeper.sessions.begin(readonly=True) as s:
        seen, cursor = [], None
        while True:
            page = trail.query(s, director, limit=5, after_sequence=cursor, with_proofs=True)
            seen += page["items"]
            cursor = page["next_after_sequence"]
            if cursor is None:
                break
        assert len(seen) == 12 and {i["tenant_id"] for i in seen} == {"t1"}
        assert [i["leaf_index"] for i in seen] == list(range(12))
        covered = [i for i in seen if i["proof"]]
        assert covered, "entries covered by the checkpoint carry their proof"
        cp = notes.parse_checkpoint(notes.open_note(page["checkpoint"], *notes.parse_verifier_key(keeper.verifier_key)))
        for item in covered:
            p = item["proof"]
            merkle.verify_inclusion(p["leaf_index"], p["tree_size"], trail.base64.b64decode(p["leaf_hash"]),
                                    [trail.base64.b64decode(h) for h in p["hashes"]], cp.root)
        # the other school's entries are not there, even when asked for by tenant
        assert trail.query(s, director, tenant_id="t2")["items"][0]["tenant_id"] == "t1"
        assert {i["type"] for i in trail.query(s, central)["items"]} == {"registry.person_viewed"}
        assert len(trail.query(s, OPERATOR, limit=200)["items"]) == 21
        history = trail.entity_history(s, director, entity_type="grade", entity_id="g1")["items"]
        assert history and all(h["who"]["id"] and h["before"] == {"value": 5} and h["after"]["value"] for h in history)
        assert history[0]["why"] == "corectură — elevul Ștefan"
        by_actor = trail.query(s, OPERATOR, actor_id="u1", limit=200)["items"]
        assert by_actor and all(i["actor"]["id"] == "u1" for i in by_actor)
        later = trail.query(s, OPERATOR, since="2999-01-01T00:00:00")["items"]
        assert later == []
        with pytest.raises(trail.NotFound):  # another school's entry: not found
            t2_event = trail.query(s, OPERATOR, tenant_id="t2", limit=1)["items"][0]["event_id"]
            trail.inclusion_proof(s, director, event_id=t2_event)


def test_the_backups_change_log_records_each_new_entry_as_it_is_stored(database_url, tmp_path):
    """The audit log writes its entries at driver level and records them for the incremental
    backups itself (row_changes.after_driver_insert_rows; on SQLite with the ids it gives): each
    tenant's new entry once, its row key its id, its image the stored row as the export encodes
    it; an entry without a tenant (a platform event) in no tenant's change log."""
    from services.audit.models import Base
    from services.kernel import row_changes, tenant_data
    upgrade_to_head("audit", database_url)
    engine = make_engine(database_url)
    try:
        row_changes.RowCapture(Base.metadata).install(engine)
        keeper = LogKeeper(make_sessionmaker(engine), AuditSettings(checkpoint_every_entries=1000,
                                                                    witness_dir=tmp_path / "witness"))
        first = [envelope(i, tenant="t1" if i % 3 else "t2") for i in range(7)]
        keeper.ingest(first)
        keeper.ingest([envelope(7, tenant=None), envelope(8, tenant="t2"), first[2]])  # (first[2]: delivered twice)
        table = Base.metadata.tables["audit_entries"]
        with engine.connect() as c:
            stored = {row.id: tenant_data.encode_row(row, table) for row in c.execute(table.select())}
            changes = c.execute(text("SELECT tenant_id, table_name, row_key, image FROM row_changes "
                                     "WHERE table_name = 'audit_entries' ORDER BY id")).all()
        assert len(stored) == 9
        assert len(changes) == 8  # the platform event is no tenant's
        for tenant, _name, row_key, image in changes:
            (key,) = orjson.loads(row_key)
            assert orjson.loads(image) == stored[key] and stored[key]["tenant_id"] == tenant
        assert sorted(orjson.loads(k)[0] for _t, _n, k, _i in changes) == \
            sorted(i for i, r in stored.items() if r["tenant_id"])
    finally:
        engine.dispose()
