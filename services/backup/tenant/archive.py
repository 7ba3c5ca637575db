"""Archive format of a per-tenant set: tar, compressed with zstd, encrypted with age.

Inside the tar, in this order:
- `data/<service>/<table>/<n>.jsonl`: one member per exported chunk (canonical JSON lines),
  so a set is written while it is exported, never whole in memory;
- `changes/<n>.jsonl` (incremental sets): the change log's envelopes;
- `rows/<service>/<n>.jsonl` (incremental sets, format 2): the row changes each service
  captured in the set's window (`services/kernel/row_changes.py`), in the service's order;
- `manifest.json`: tenant, kind, time, SHA-256 and size of every member, row count and
  checksum per table, the newest audit checkpoint;
- `manifest.sig`: Ed25519 signature of `manifest.json` (base64).

Encryption streams: the tar + zstd stream goes through an OS pipe into `pyrage.encrypt_io`
running on a real OS thread, so plaintext never touches the disk. Reading is the reverse.
An archive is refused (`ArchiveRefused`) if it does not decrypt (age authenticates every
64 KiB chunk), if the manifest's signature is wrong, or if a member's hash or a table's
checksum differs from the manifest.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import orjson
import pyrage
import zstandard
from cryptography.exceptions import InvalidSignature

from services.kernel.errors import InvalidInput
from services.kernel.tenant_data import TableDigest, row_bytes

# 1: data and changes; 2: incremental sets also carry `rows/` (the manifest's `row_changes`
# counts them per service, `rows_window` is the (from, through] of their capture times)
FORMAT = 2
READ_BLOCK = 1 << 16


class ArchiveRefused(InvalidInput):
    """Kept an InvalidInput on the wire: nameko carries the base class name."""


def _real_thread(target: Callable[[], None]):
    """A real OS thread even under eventlet's monkey-patching (pyrage blocks in Rust)."""
    try:
        from eventlet import patcher
        threading = patcher.original("threading")
    except ImportError:  # pragma: no cover
        import threading
    result: dict = {}

    def run():
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the joining side
            result["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _green() -> bool:
    try:
        from eventlet import patcher
    except ImportError:  # pragma: no cover
        return False
    return patcher.is_monkey_patched("thread")


def _pipe_end(fd: int, mode: str):
    """Our end of the pipe to the crypto thread: cooperative under eventlet (a blocking read
    would freeze the whole service while it waits), a plain file otherwise."""
    if _green():
        from eventlet.greenio import GreenPipe
        return GreenPipe(fd, mode, buffering=READ_BLOCK)
    return os.fdopen(fd, mode, buffering=READ_BLOCK)


def _join(thread) -> None:
    if _green():
        import eventlet
        while thread.is_alive():
            eventlet.sleep(0.005)
    thread.join()


_last_yield = [0.0]


def _yield() -> None:
    """Let the service's other greenthreads (RPC replies, progress reads) run between members,
    at most every 50 ms (more often costs throughput)."""
    now = time.monotonic()
    if now - _last_yield[0] > 0.05 and _green():
        import eventlet
        eventlet.sleep(0)
        _last_yield[0] = time.monotonic()


def canonical(obj) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def sign_manifest(manifest: dict, private_key) -> bytes:
    return base64.b64encode(private_key.sign(canonical(manifest)))


def verify_manifest(manifest_bytes: bytes, signature: bytes, public_key) -> dict:
    try:
        public_key.verify(base64.b64decode(signature), manifest_bytes)
    except (InvalidSignature, ValueError) as exc:
        raise ArchiveRefused("archive refused: the manifest's signature is not valid") from exc
    return orjson.loads(manifest_bytes)


class ArchiveWriter:
    """Write one set: `add_rows(...)` per chunk, `add_changes(...)`, then `finish(...)`."""

    def __init__(self, path: str, recipient, signing_key, header: dict):
        self.path = path
        self.header = header
        self._signing_key = signing_key
        self.files: dict[str, dict] = {}
        self.tables: dict[str, TableDigest] = {}
        self._counts: dict[str, int] = {}
        recipients = list(recipient) if isinstance(recipient, (list, tuple)) else [recipient]
        read_fd, write_fd = os.pipe()
        self._pipe_out = _pipe_end(write_fd, "wb")
        self._out = open(path, "wb")
        reader = os.fdopen(read_fd, "rb", buffering=READ_BLOCK)

        def encrypt():
            try:
                pyrage.encrypt_io(reader, self._out, recipients)
            finally:
                reader.close()
        self._thread, self._thread_result = _real_thread(encrypt)
        self._zstd = zstandard.ZstdCompressor(level=3).stream_writer(self._pipe_out, closefd=False)
        self._tar = tarfile.open(fileobj=self._zstd, mode="w|", format=tarfile.PAX_FORMAT)
        self._closed = False

    def _member(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
        self._tar.addfile(info, io.BytesIO(data))
        self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        _yield()

    def add_rows(self, service: str, table: str, rows: list[dict]) -> None:
        key = f"{service}.{table}"
        self.tables.setdefault(key, TableDigest())
        if not rows:
            return
        self.tables[key].add(rows)
        n = self._counts[key] = self._counts.get(key, 0) + 1
        self._member(f"data/{service}/{table}/{n:06d}.jsonl", b"".join(row_bytes(r) for r in rows))

    def declare_table(self, service: str, table: str) -> None:
        """A table with no rows still appears in the manifest (restore knows it is empty)."""
        self.tables.setdefault(f"{service}.{table}", TableDigest())

    def add_changes(self, envelopes: list[dict]) -> None:
        if envelopes:
            n = self._counts["changes"] = self._counts.get("changes", 0) + 1
            self._member(f"changes/{n:06d}.jsonl", b"".join(row_bytes(e) for e in envelopes))

    def add_row_changes(self, service: str, changes: list[dict]) -> None:
        if changes:
            key = f"rows.{service}"
            n = self._counts[key] = self._counts.get(key, 0) + 1
            self._member(f"rows/{service}/{n:06d}.jsonl", b"".join(row_bytes(c) for c in changes))

    def finish(self, **extra) -> dict:
        manifest = {"format": FORMAT, **self.header, **extra, "files": dict(self.files),
                    "tables": {k: d.as_dict() for k, d in sorted(self.tables.items())}}
        body = canonical(manifest)
        self._member("manifest.json", body)
        info = tarfile.TarInfo("manifest.sig")
        signature = base64.b64encode(self._signing_key.sign(body))
        info.size, info.mtime, info.mode = len(signature), int(time.time()), 0o600
        self._tar.addfile(info, io.BytesIO(signature))
        self._close()
        return manifest

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._tar.close()
            self._zstd.close()
            self._pipe_out.close()
        finally:
            _join(self._thread)
            self._out.close()
        if "error" in self._thread_result:
            raise self._thread_result["error"]

    def abort(self) -> None:
        try:
            self._close()
        except Exception:  # noqa: BLE001 - the archive is being thrown away
            pass
        if os.path.exists(self.path):
            os.unlink(self.path)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(READ_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _decrypted_tar(path: str, identity) -> Iterator[tarfile.TarFile]:
    read_fd, write_fd = os.pipe()
    reader = _pipe_end(read_fd, "rb")
    source = open(path, "rb")

    def decrypt():
        sink = os.fdopen(write_fd, "wb", buffering=READ_BLOCK)
        try:
            pyrage.decrypt_io(source, sink, [identity])
        finally:
            try:
                sink.close()
            except OSError:
                pass
    thread, result = _real_thread(decrypt)
    try:
        try:
            stream = zstandard.ZstdDecompressor().stream_reader(reader, closefd=False)
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                yield tar
        except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
            reader.close()
            _join(thread)
            if "error" in result:
                raise ArchiveRefused("archive refused: it does not decrypt with this key "
                                     "(wrong key or altered bytes)") from result["error"]
            raise ArchiveRefused("archive refused: it is not a readable archive") from exc
    finally:
        reader.close()
        _join(thread)
        source.close()
    if "error" in result:
        raise ArchiveRefused("archive refused: it does not decrypt with this key (wrong key or altered bytes)") \
            from result["error"]


def read_archive(path: str, identity, public_key, on_member: Callable[[str, bytes], None] | None = None) -> dict:
    """Decrypt, check every member against the signed manifest; return the manifest.

    `on_member(name, data)` sees each data/changes member as it streams by; the caller must
    treat what it did as provisional until this returns (the manifest comes last)."""
    seen: dict[str, str] = {}
    manifest_bytes = signature = None
    with _decrypted_tar(path, identity) as tar:
        for member in tar:
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()
            if member.name == "manifest.json":
                manifest_bytes = data
            elif member.name == "manifest.sig":
                signature = data
            else:
                seen[member.name] = hashlib.sha256(data).hexdigest()
                if on_member is not None:
                    on_member(member.name, data)
            _yield()
    if manifest_bytes is None or signature is None:
        raise ArchiveRefused("archive refused: it has no signed manifest")
    manifest = verify_manifest(manifest_bytes, signature, public_key)
    expected = {name: f["sha256"] for name, f in manifest["files"].items()}
    if expected != seen:
        differing = sorted(set(expected) ^ set(seen) | {n for n in expected if seen.get(n) != expected[n]})
        raise ArchiveRefused(f"archive refused: {len(differing)} member(s) differ from the manifest")
    return manifest


def parse_member(data: bytes) -> list[dict]:
    return [orjson.loads(line) for line in data.splitlines() if line]


def member_rows_service(name: str) -> str | None:
    """`rows/<service>/<n>.jsonl` → service."""
    parts = name.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "rows" else None


def member_table(name: str) -> tuple[str, str] | None:
    """`data/<service>/<table>/<n>.jsonl` → (service, table)."""
    parts = name.split("/")
    return (parts[1], parts[2]) if len(parts) == 4 and parts[0] == "data" else None
