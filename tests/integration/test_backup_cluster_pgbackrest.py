"""CAT-7 at cluster level with pgBackRest on a scratch cluster: WAL archiving, the scheduled
monthly full (local repository + off-site S3 repository, encrypted) and daily incremental run
by the backup service's scheduler, an operator's on-demand run, each recorded with outcome,
size and duration; then a point-in-time restore of the whole cluster, and a restore from the
off-site repository. The S3 server is moto over HTTPS (tests/integration/s3_tls_server.py)."""
from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from services.backup.cluster import runs
from services.backup.cluster.models import ClusterBackupRun
from services.backup.cluster.retention import KEEP_ALL_DAYS
from services.backup.cluster.provider import ClusterBackups, ClusterBackupsProvider
from services.backup.cluster.settings import ClusterBackupSettings
from services.backup.models import Base
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.migrations import upgrade_to_head
from services.kernel.nameko_support import Store
from tests.integration.s3_tls_server import ACCESS_KEY, REGION, SECRET_KEY, s3_server
from tests.pg_local import LocalCluster, as_postgres, scratch_clusters

pytestmark = pytest.mark.integration
STANZA = "catalog"
CIPHER_PASS = "test-only-cipher-passphrase-0123456789"


def pgbackrest_conf(root, scratch: LocalCluster, s3: dict) -> str:
    return f"""[global]
repo1-path={root}/repo-local
repo2-type=s3
repo2-path=/pgbackrest
repo2-s3-bucket={s3['bucket']}
repo2-s3-endpoint=localhost
repo2-storage-port={s3['port']}
repo2-storage-ca-file={s3['ca_file']}
repo2-s3-uri-style=path
repo2-s3-region={REGION}
repo2-s3-key={ACCESS_KEY}
repo2-s3-key-secret={SECRET_KEY}
repo2-cipher-type=aes-256-cbc
repo2-cipher-pass={CIPHER_PASS}
start-fast=y
io-timeout=15
compress-type=lz4
process-max=2
log-path={root}/log
lock-path={root}/lock
spool-path={root}/spool
log-level-console=warn
log-level-file=off

[{STANZA}]
pg1-path={scratch.data}
pg1-port={scratch.port}
pg1-socket-path={root}
pg1-user=root
"""


def wait_archived(cluster: LocalCluster) -> None:
    segment = cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    deadline = time.monotonic() + 30
    while cluster.sql("SELECT last_archived_wal FROM pg_stat_archiver")[0][0] != segment:
        assert time.monotonic() < deadline, "WAL archiving (pgbackrest archive-push) did not keep up"
        time.sleep(0.2)


@pytest.fixture
def scratch(tmp_path):
    with scratch_clusters("pgbackrest") as (root, clusters, bindir):
        s3_dir = root / "s3"
        s3_dir.mkdir()
        with s3_server(s3_dir, "catalog-offsite") as s3:
            shutil.chown(s3["ca_file"], "postgres")
            cluster = LocalCluster(root, "scratch", bindir)
            clusters.append(cluster)
            conf = root / "pgbackrest.conf"
            conf.write_text(pgbackrest_conf(root, cluster, s3))
            shutil.chown(conf, "postgres")
            cluster.initdb(wal_level="replica", archive_mode="on",
                           archive_command=f"pgbackrest --config={conf} --stanza={STANZA} archive-push %p")
            cluster.start()
            cluster.sql("CREATE TABLE grades (id serial PRIMARY KEY, value int, note text)")
            url = f"sqlite:///{tmp_path / 'backup.db'}"
            upgrade_to_head("backup", url)
            settings = ClusterBackupSettings(stanza=STANZA, pgbackrest_config=conf, run_as="postgres",
                                             incremental_schedule="0 2 * * *", full_schedule="30 1 1 * *",
                                             offsite_min_retention_days=62)
            provider = ClusterBackupsProvider(settings)
            provider.setup()
            engine = make_engine(url, pool_size=2)
            provider.store = Store("backup", make_sessionmaker(engine), Base.metadata)
            provider.container = SimpleNamespace(spawn_managed_thread=lambda fn: fn())  # run at once
            yield SimpleNamespace(root=root, cluster=cluster, clusters=clusters, bindir=bindir, conf=conf,
                                  s3=s3, provider=provider)
            engine.dispose()


def operator_context():
    return SimpleNamespace(correlation_id="test", principal=SimpleNamespace(
        user_id="operator-1", role="operator", tenant_id=None))


def test_scheduled_full_and_incremental_then_point_in_time_restore(scratch):
    cluster, provider = scratch.cluster, scratch.provider
    cluster.sql("INSERT INTO grades (value, note) SELECT g % 10 + 1, 'înainte de full' FROM generate_series(1, 5000) g",
                )
    # scheduling began three days ago: the 1st of the month's full and today's incremental are due
    provider.started_at = time.time() - 3 * 86400
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    done = provider.run_due(now)
    scheduled_seconds = time.perf_counter() - started
    assert [(r["kind"], r["trigger"], r["status"]) for r in done] == [("full", "schedule", "succeeded"),
                                                                    ("incr", "schedule", "succeeded")], [r["error"] for r in done]
    full, incr = done
    assert [(b["repo"], b["type"]) for b in full["backups"]] == [(1, "full"), (2, "full")]
    assert [(b["repo"], b["type"]) for b in incr["backups"]] == [(1, "incr")]
    assert full["size_bytes"] > 1_000_000 and full["duration_seconds"] > 0
    assert 0 < incr["stored_bytes"] < full["stored_bytes"]
    assert provider.run_due(now + timedelta(minutes=5)) == []  # a fire time runs once

    # the off-site repository is encrypted: its files are not readable without the passphrase
    s3 = scratch.s3
    offsite_info = s3["client"].get_object(Bucket=s3["bucket"], Key=f"pgbackrest/backup/{STANZA}/backup.info")
    assert b"[backrest]" not in offsite_info["Body"].read()
    assert "[backrest]" in (scratch.root / "repo-local" / "backup" / STANZA / "backup.info").read_text()

    # an operator's on-demand incremental, after more grades; then a point in time between two batches
    cluster.sql("INSERT INTO grades (value, note) SELECT 9, 'după full' FROM generate_series(1, 1000) g")
    handle = ClusterBackups(provider)
    asked = handle.trigger(operator_context(), "incr", "înainte de actualizare")
    after = handle.run(asked["id"])
    assert (after["trigger"], after["requested_by"], after["status"]) == ("operator", "operator-1", "succeeded")
    target = cluster.sql("SELECT clock_timestamp()")[0][0]
    time.sleep(1.1)
    cluster.sql("INSERT INTO grades (value, note) VALUES (1, 'greșeală după țintă')")
    wait_archived(cluster)

    status = handle.status()
    assert set(status["last_success"]) == {"full", "incr"} and status["running"] == []
    assert [b["type"] for b in status["backups"]].count("full") == 2
    # no tenant contracts are recorded in this database: the off-site repository expires nothing
    assert status["pgbackrest"]["offsite_retention_days"] == KEEP_ALL_DAYS
    with provider.store.reading() as s:
        events = [json.loads(p)["type"] for p in s.scalars(select(Base.metadata.tables["outbox"].c.payload))]
        assert events.count("backup.cluster_backup_finished") == 3
        assert events.count("backup.cluster_backup_requested") == 1
        assert s.scalar(select(ClusterBackupRun).where(ClusterBackupRun.status != "succeeded")) is None

    # point-in-time restore of the whole cluster into a scratch directory
    restored = LocalCluster(scratch.root, "restored", scratch.bindir)
    scratch.clusters.append(restored)
    started = time.perf_counter()
    as_postgres("pgbackrest", f"--config={scratch.conf}", f"--stanza={STANZA}", "--repo=1",
                f"--pg1-path={restored.data}", "--type=time", f"--target={target.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S.%f}+00",
                "--target-action=promote", "--archive-mode=off", "restore", timeout=300)
    restored.configure(port=restored.port, unix_socket_directories=str(scratch.root))
    restored.start()
    deadline = time.monotonic() + 60
    while restored.sql("SELECT pg_is_in_recovery()")[0][0]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    pitr_seconds = time.perf_counter() - started
    notes = dict(restored.sql("SELECT note, count(*) FROM grades GROUP BY note"))
    assert notes == {"înainte de full": 5000, "după full": 1000}, notes
    restored.stop()

    # the off-site full alone restores too (decrypted with the passphrase of the configuration)
    offsite = LocalCluster(scratch.root, "from-offsite", scratch.bindir)
    scratch.clusters.append(offsite)
    started = time.perf_counter()
    as_postgres("pgbackrest", f"--config={scratch.conf}", f"--stanza={STANZA}", "--repo=2",
                f"--pg1-path={offsite.data}", "--type=immediate", "--target-action=promote", "--archive-mode=off",
                "--set=" + full["backups"][1]["label"], "restore", timeout=300)
    offsite.configure(port=offsite.port, unix_socket_directories=str(scratch.root))
    offsite.start()
    offsite_seconds = time.perf_counter() - started
    assert offsite.sql("SELECT count(*) FROM grades") == [(5000,)]
    print(f"\npgbackrest: scheduled full (2 repos) + incr {scheduled_seconds:.1f}s "
          f"(full {full['duration_seconds']:.1f}s, incr {incr['duration_seconds']:.1f}s, "
          f"db {full['size_bytes'] / 1e6:.1f} MB); PITR restore {pitr_seconds:.1f}s; "
          f"off-site restore {offsite_seconds:.1f}s")


def test_a_failing_backup_is_recorded_as_failed(tmp_path):
    url = f"sqlite:///{tmp_path / 'backup.db'}"
    upgrade_to_head("backup", url)
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text(f"[global]\nrepo1-path={tmp_path}/repo\nlog-path={tmp_path}\nlock-path={tmp_path}\n"
                    f"log-level-file=off\n")
    provider = ClusterBackupsProvider(ClusterBackupSettings(stanza="no-such-stanza", pgbackrest_config=conf))
    provider.setup()
    engine = make_engine(url, pool_size=2)
    provider.store = Store("backup", make_sessionmaker(engine), Base.metadata)
    with provider.store.transaction() as s:
        run_id = runs.claim(s, "incr", "schedule", "schedule", 1.0)
    record = provider._execute(run_id, "incr")
    assert record["status"] == "failed" and record["duration_seconds"] >= 0
    assert "pgbackrest" in record["error"] and "ERROR" in record["error"]
    assert ClusterBackups(provider).status()["last_failure"]["incr"]["id"] == run_id
