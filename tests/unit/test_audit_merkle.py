"""services/audit/merkle.py against the published RFC 6962 vectors (transparency-dev/merkle
testdata) and against an independent recomputation (the recursive definition of RFC 9162)."""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from services.audit import merkle

VECTORS = Path(__file__).resolve().parents[1] / "data" / "merkle_vectors"
# The eight leaves of the RFC 6962 reference tree (certificate-transparency's test data).
RFC_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f")]
RFC_ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def _b64(v):
    return base64.b64decode(v) if v is not None else None


def _cases(kind: str):
    files = sorted((VECTORS / kind).rglob("*.json"))
    assert len(files) > 50, f"{kind} vectors are missing"
    return [pytest.param(json.loads(f.read_text()), id=str(f.relative_to(VECTORS))) for f in files]


@pytest.mark.parametrize("case", _cases("inclusion"))
def test_inclusion_vectors(case):
    proof = [_b64(p) for p in case["proof"] or []]
    leaf, root = _b64(case["leafHash"]) or b"", _b64(case["root"]) or b""
    try:
        merkle.verify_inclusion(case["leafIdx"], case["treeSize"], leaf, proof, root)
        failed = False
    except merkle.ProofError:
        failed = True
    assert failed == case["wantErr"], case["desc"]


@pytest.mark.parametrize("case", _cases("consistency"))
def test_consistency_vectors(case):
    proof = [_b64(p) for p in case["proof"] or []]
    try:
        merkle.verify_consistency(case["size1"], case["size2"], _b64(case["root1"]) or b"",
                                  _b64(case["root2"]) or b"", proof)
        failed = False
    except merkle.ProofError:
        failed = True
    assert failed == case["wantErr"], case["desc"]


def test_reference_tree_root_and_hash_prefixes():
    leaves = [merkle.leaf_hash(x) for x in RFC_LEAVES]
    assert merkle.root_of(leaves).hex() == RFC_ROOT_8
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert merkle.root_of([]) == hashlib.sha256(b"").digest()


def test_generated_proofs_match_the_vectors_happy_paths():
    """Proofs we generate over the reference tree equal the published ones, byte for byte."""
    leaves = [merkle.leaf_hash(x) for x in RFC_LEAVES]
    nodes = merkle.nodes_from_leaves(leaves)
    for f in sorted((VECTORS / "inclusion").glob("*/happy-path.json")):
        case = json.loads(f.read_text())
        if case["treeSize"] <= 8 and case["leafHash"] == base64.b64encode(leaves[case["leafIdx"]]).decode():
            got = merkle.inclusion_proof(case["leafIdx"], case["treeSize"], nodes)
            assert got == [_b64(p) for p in case["proof"] or []], f
    for f in sorted((VECTORS / "consistency").glob("*/happy-path.json")):
        case = json.loads(f.read_text())
        if case["size2"] <= 8 and _b64(case["root2"]) == merkle.root_of(leaves[:case["size2"]]):
            got = merkle.consistency_proof(case["size1"], case["size2"], nodes)
            assert got == [_b64(p) for p in case["proof"] or []], f


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 64, 100])
def test_every_proof_of_small_trees_verifies_against_independent_recomputation(size):
    leaves = [merkle.leaf_hash(f"intrare {i} — Ștefan".encode()) for i in range(size)]
    nodes = merkle.nodes_from_leaves(leaves)
    for m in range(size):
        root = merkle.reference_root(leaves[:size])
        proof = merkle.inclusion_proof(m, size, nodes)
        merkle.verify_inclusion(m, size, leaves[m], proof, root)
        with pytest.raises(merkle.ProofError):  # another leaf does not verify at m
            merkle.verify_inclusion(m, size, leaves[(m + 1) % size] if size > 1 else b"x" * 32, proof, root)
    for m in range(1, size + 1):
        proof = merkle.consistency_proof(m, size, nodes)
        merkle.verify_consistency(m, size, merkle.reference_root(leaves[:m]), merkle.reference_root(leaves), proof)
        if 0 < m < size:  # a forked older tree is not consistent
            forked = leaves[:m - 1] + [merkle.leaf_hash(b"altceva")]
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(m, size, merkle.reference_root(forked), merkle.reference_root(leaves), proof)


def test_compact_range_reports_each_perfect_node_once():
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(13)]
    cr, nodes = merkle.CompactRange(), []
    for i, h in enumerate(leaves):
        cr.append(h, nodes)
        assert cr.root() == merkle.reference_root(leaves[:i + 1])
    ids = [(lv, ix) for lv, ix, _ in nodes]
    assert len(ids) == len(set(ids)) == 13 + 6 + 3 + 1  # leaves, pairs, quads, one octet
    assert dict(((lv, ix), h) for lv, ix, h in nodes)[(3, 0)] == merkle.reference_root(leaves[:8])
    again = merkle.CompactRange(cr.size, cr.hashes)
    assert again.root() == cr.root()


@pytest.mark.parametrize("begin,end,expected", [
    (0, 8, [(3, 0)]), (0, 13, [(3, 0), (2, 2), (0, 12)]), (8, 13, [(2, 2), (0, 12)]), (12, 13, [(0, 12)]),
    (4, 6, [(1, 2)]),
])
def test_range_nodes(begin, end, expected):
    assert merkle.range_nodes(begin, end) == expected


def test_extend_equals_append():
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(37)]
    a, b = merkle.CompactRange(), merkle.CompactRange()
    for h in leaves:
        a.append(h)
    b.extend(leaves[:20])
    b.extend(leaves[20:])
    assert (a.size, a.hashes, a.root()) == (b.size, b.hashes, b.root()) and a.root() == merkle.reference_root(leaves)


def test_canonical_envelope_is_to_dict_with_sorted_keys():
    import orjson

    from services.audit.log import canonical_envelope
    from services.kernel.events import Actor, Entity, Envelope, change_data
    e = Envelope(type="grades.grade_changed", tenant_id="t", actor=Actor("u", "teacher"), entity=Entity("grade", "g"),
                 data=change_data({"z": 1, "a": "Ș"}, {"value": 2}), correlation_id="c", reason="motiv")
    assert canonical_envelope(e) == orjson.dumps(e.to_dict(), option=orjson.OPT_SORT_KEYS).decode()
