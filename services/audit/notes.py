"""C2SP signed notes and `tlog-checkpoint` bodies (https://c2sp.org/signed-note,
https://c2sp.org/tlog-checkpoint), Ed25519 only. No database, no framework.

A checkpoint body is three lines: the log's origin, the tree size in decimal, the root hash
in standard base64. The note is the body, an empty line, then one line per signature:
`— <key name> <base64(key hash[4] || signature[64])>`, where the key hash is the first four
bytes of SHA-256(key name || "\\n" || 0x01 || public key) and the signature covers the body.
A verifier key is written `<name>+<hex key hash>+<base64(0x01 || public key)>`.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash, space


class NoteError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    return f"{name}+{key_hash(name, public_key).hex()}+{base64.b64encode(ED25519 + public_key).decode()}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """`name+hash+key` → (name, raw Ed25519 public key); the hash is checked."""
    try:
        name, hash_hex, encoded = text.strip().split("+", 2)  # names and hex hold no "+"
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise NoteError(f"malformed verifier key: {exc}") from exc
    if raw[:1] != ED25519 or len(raw) != 33:
        raise NoteError("verifier key is not an Ed25519 key")
    if key_hash(name, raw[1:]).hex() != hash_hex:
        raise NoteError("verifier key hash does not match its name and key")
    return name, raw[1:]


def sign(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    if not body.endswith("\n") or "\n\n" in body:
        raise NoteError("a note body ends with one newline and has no empty line")
    signature = private_key.sign(body.encode("utf-8"))
    tag = key_hash(name, raw_public_key(private_key.public_key()))
    return f"{body}\n{SIGNATURE_PREFIX}{name} {base64.b64encode(tag + signature).decode()}\n"


def open_note(note: str, name: str, public_key: bytes) -> str:
    """The body of `note` if it carries a valid signature by (name, public key); else NoteError."""
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note")
    body += "\n"
    tag = key_hash(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed signature line")
        signer, _, encoded = line[len(SIGNATURE_PREFIX):].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise NoteError("malformed signature") from exc
        if signer != name or raw[:4] != tag:
            continue  # someone else's signature (a witness's cosignature, say)
        try:
            verifier.verify(raw[4:], body.encode("utf-8"))
        except InvalidSignature as exc:
            raise NoteError(f"the signature of {name} does not verify") from exc
        return body
    raise NoteError(f"no signature by {name}")


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint has an origin, a size and a root line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError("malformed checkpoint origin or size")
    try:
        raw = base64.b64decode(root, validate=True)
    except ValueError as exc:
        raise NoteError("malformed checkpoint root") from exc
    if len(raw) != 32:
        raise NoteError("checkpoint root is not a SHA-256 hash")
    return Checkpoint(origin, int(size), raw)


def verify_checkpoint(note: str, name: str, public_key: bytes, origin: str | None = None) -> Checkpoint:
    checkpoint = parse_checkpoint(open_note(note, name, public_key))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint of another log: {checkpoint.origin!r}")
    return checkpoint


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    return sign(checkpoint.body(), name, private_key)
