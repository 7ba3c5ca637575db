"""Encrypted archives go off-site: a directory, SFTP (a real OpenSSH server started here) and
S3 (a local S3-compatible server); what comes back is byte-identical."""
from __future__ import annotations

import hashlib
import os

import boto3
import pytest

from services.backup.tenant.targets import SftpTarget, configured_targets, target
from tests.integration.backup_tenant_servers import s3_server, sshd_available, sshd_server

pytestmark = pytest.mark.integration


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "set.age"
    path.write_bytes(os.urandom(300_000))
    return path


def _round_trip(t, archive, tmp_path) -> None:
    receipt = t.put(str(archive), "tenant-1/2026-12-01-full.age")
    assert receipt["bytes"] == archive.stat().st_size
    back = tmp_path / "back.age"
    t.get("tenant-1/2026-12-01-full.age", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(archive.read_bytes()).digest()
    t.delete("tenant-1/2026-12-01-full.age")
    with pytest.raises(Exception):
        t.get("tenant-1/2026-12-01-full.age", str(tmp_path / "gone.age"))


def test_directory_target(archive, tmp_path):
    t = target(f"file://{tmp_path / 'offsite'}")
    _round_trip(t, archive, tmp_path)


@pytest.mark.skipif(not sshd_available(), reason="needs root and Debian openssh-server (make system-packages)")
def test_sftp_target_against_openssh(archive, tmp_path):
    with sshd_server(tmp_path / "sshd") as srv:
        url = (f"sftp://root@127.0.0.1:{srv['port']}{srv['root']}/archives"
               f"?key={srv['key']}&known_hosts={srv['known_hosts']}")
        t = target(url)
        assert isinstance(t, SftpTarget)
        _round_trip(t, archive, tmp_path)
        # a server whose host key is not the known one is refused (no trust on first use)
        (tmp_path / "other_known_hosts").write_text("")
        stranger = target(f"sftp://root@127.0.0.1:{srv['port']}/tmp?key={srv['key']}"
                          f"&known_hosts={tmp_path / 'other_known_hosts'}")
        with pytest.raises(Exception, match="not found in known_hosts"):
            stranger.put(str(archive), "x.age")


def test_s3_target_against_a_local_s3_server(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with s3_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="catalog-backups")
        [t] = configured_targets(f"s3://catalog-backups/schools?endpoint={endpoint}")
        _round_trip(t, archive, tmp_path)
