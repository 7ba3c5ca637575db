#!/usr/bin/env python3
"""Check an audit verification kit offline: `python tools/verify_audit_kit.py kit.json
[--key 'name+hash+base64']`.

Needs only Python's standard library and `cryptography` (for Ed25519). It checks:
the checkpoint notes are signed by the log's key (C2SP signed-note, Ed25519), each
checkpoint is consistent with the one before it (RFC 9162 consistency proofs), and each entry
is included in the latest checkpoint (RFC 9162 inclusion proofs, leaf = SHA-256(0x00 ||
index || "\\n" || envelope)). Pass --key with the log's verifier key obtained independently
(not from the kit) to be sure whose signatures you check. Exit status 0 when all holds."""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def check_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    if size1 == size2:
        return root1 == root2 and not proof
    if size1 == 0 or size2 < size1 or not proof:
        return False
    path = ([root1] if size1 & (size1 - 1) == 0 else []) + proof
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root1 and sr == root2


def parse_key(text: str) -> tuple[str, bytes, bytes]:
    name, key_hash, encoded = text.strip().split("+", 2)
    raw = base64.b64decode(encoded)
    if raw[:1] != b"\x01" or len(raw) != 33:
        raise ValueError("not an Ed25519 verifier key")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_hash:
        raise ValueError("verifier key hash does not match")
    return name, bytes.fromhex(key_hash), raw[1:]


def open_checkpoint(note: str, key: tuple[str, bytes, bytes]) -> tuple[str, int, bytes]:
    name, key_hash, public = key
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    for line in signatures.strip("\n").split("\n"):
        signer, _, encoded = line.removeprefix("\u2014 ").rpartition(" ")
        raw = base64.b64decode(encoded)
        if signer == name and raw[:4] == key_hash:
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode())
            except InvalidSignature:
                raise ValueError("checkpoint signature does not verify") from None
            origin, size, root = body.split("\n")[:3]
            return origin, int(size), base64.b64decode(root)
    raise ValueError(f"checkpoint not signed by {name}")


def verify_kit(kit: dict, key_text: str | None = None) -> list[str]:
    problems: list[str] = []
    key = parse_key(key_text or kit["verifier_key"])
    try:
        origin, size, root = open_checkpoint(kit["checkpoint"], key)
    except ValueError as exc:
        return [f"latest checkpoint: {exc}"]
    if origin != kit["origin"] or size != kit["tree_size"]:
        problems.append("latest checkpoint does not match the kit's origin or size")
    previous = None
    if kit.get("first_checkpoint"):
        try:
            previous = open_checkpoint(kit["first_checkpoint"], key)
        except ValueError as exc:
            problems.append(f"first checkpoint: {exc}")
    for step in kit.get("consistency", []):
        try:
            current = open_checkpoint(step["note"], key)
        except ValueError as exc:
            problems.append(f"checkpoint of size {step['to']}: {exc}")
            continue
        if previous is not None and previous[1] and not check_consistency(
                previous[1], current[1], previous[2], current[2], [base64.b64decode(p) for p in step["proof"]]):
            problems.append(f"checkpoint of size {current[1]} is not consistent with the one of size {previous[1]}")
        previous = current
    if previous is not None and (previous[1], previous[2]) != (size, root):
        problems.append("the chain of checkpoints does not end at the latest checkpoint")
    for entry in kit["entries"]:
        index = entry["leaf_index"]
        leaf = leaf_hash(b"%d\n" % index + entry["envelope"].encode("utf-8"))
        try:
            got = root_from_inclusion(index, size, leaf, [base64.b64decode(p) for p in entry["inclusion_proof"]])
        except ValueError as exc:
            problems.append(f"entry {index}: {exc}")
            continue
        if got != root:
            event = json.loads(entry["envelope"]).get("event_id")
            problems.append(f"entry {index} (event {event}) is not in the signed log: changed or forged")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kit", help="the kit's JSON file")
    parser.add_argument("--key", help="the log's verifier key, obtained independently")
    args = parser.parse_args(argv)
    with open(args.kit, encoding="utf-8") as fh:
        kit = json.load(fh)
    problems = verify_kit(kit, args.key)
    for p in problems:
        print(f"FAIL {p}")
    print(f"{len(kit['entries'])} entries of {kit['tenant_id']} checked against the checkpoint of size "
          f"{kit['tree_size']}: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
