"""Per-tenant archives: readable only with the private key; any tampering is refused, by
decryption, by the manifest's hashes, or by its signature."""
from __future__ import annotations

import io
import tarfile

import orjson
import pyrage
import pytest
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyrage import x25519

from services.backup.tenant.archive import (ArchiveRefused, ArchiveWriter, canonical, parse_member, read_archive,
                                            sign_manifest)

ROWS = [{"id": f"g{i:03d}", "tenant_id": "t1", "value": i % 10 + 1, "elev": "Ștefan Țăranu"} for i in range(250)]


@pytest.fixture
def keys():
    identity, signing = x25519.Identity.generate(), Ed25519PrivateKey.generate()
    return identity, signing


def _write(path, keys) -> dict:
    identity, signing = keys
    writer = ArchiveWriter(str(path), identity.to_public(), signing, {"tenant_id": "t1", "kind": "full"})
    for start in range(0, len(ROWS), 100):
        writer.add_rows("grades", "grades", ROWS[start:start + 100])
    writer.declare_table("grades", "subjects")
    return writer.finish(audit_checkpoint={"root": "abc"})


def _members(path, identity) -> list[tuple[str, bytes]]:
    plain = io.BytesIO()
    with open(path, "rb") as fh:
        pyrage.decrypt_io(fh, plain, [identity])
    tar_bytes = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(plain.getvalue())).read()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]


def _rebuild(path, recipient, members) -> None:
    """What an attacker holding only the public key can do: write a new, valid age file."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(pyrage.encrypt(zstandard.ZstdCompressor().compress(raw.getvalue()), [recipient]))


def test_round_trip_with_manifest(tmp_path, keys):
    path = tmp_path / "set.age"
    manifest = _write(path, keys)
    assert manifest["tables"]["grades.grades"]["rows"] == 250
    assert manifest["tables"]["grades.subjects"]["rows"] == 0
    got = []
    read = read_archive(str(path), keys[0], keys[1].public_key(), lambda n, d: got.extend(parse_member(d)))
    assert read == manifest and got == ROWS
    assert b"\xc8\x98tefan" not in path.read_bytes()  # "Ș" is not in the clear


def test_unreadable_without_the_private_key(tmp_path, keys):
    path = tmp_path / "set.age"
    _write(path, keys)
    with pytest.raises(ArchiveRefused, match="does not decrypt"):
        read_archive(str(path), x25519.Identity.generate(), keys[1].public_key())


def test_flipped_byte_is_refused_by_decryption(tmp_path, keys):
    path = tmp_path / "set.age"
    _write(path, keys)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveRefused, match="does not decrypt"):
        read_archive(str(path), keys[0], keys[1].public_key())


def test_changed_row_is_refused_by_the_manifest(tmp_path, keys):
    path = tmp_path / "set.age"
    _write(path, keys)
    members = _members(path, keys[0])
    members = [(n, d.replace(b'"value":3', b'"value":10') if n.startswith("data/") else d) for n, d in members]
    _rebuild(path, keys[0].to_public(), members)
    with pytest.raises(ArchiveRefused, match="differ from the manifest"):
        read_archive(str(path), keys[0], keys[1].public_key())


def test_rewritten_manifest_is_refused_by_its_signature(tmp_path, keys):
    path = tmp_path / "set.age"
    _write(path, keys)
    members = dict(_members(path, keys[0]))
    manifest = orjson.loads(members["manifest.json"])
    manifest["tables"]["grades.grades"]["rows"] = 1
    members["manifest.json"] = canonical(manifest)
    _rebuild(path, keys[0].to_public(), list(members.items()))
    with pytest.raises(ArchiveRefused, match="signature"):
        read_archive(str(path), keys[0], keys[1].public_key())
    # signed with another key: refused as well
    members["manifest.sig"] = sign_manifest(manifest, Ed25519PrivateKey.generate())
    _rebuild(path, keys[0].to_public(), list(members.items()))
    with pytest.raises(ArchiveRefused, match="signature"):
        read_archive(str(path), keys[0], keys[1].public_key())
