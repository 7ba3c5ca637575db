"""The HTTPS-witness client speaks C2SP tlog-witness `add-checkpoint` to a witness that checks
the signature and the consistency proof from the size it holds (a small stdlib witness here)."""
from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.audit import merkle, notes
from services.audit.log import Signer
from services.audit.witness import HttpWitness, WitnessError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

pytestmark = pytest.mark.integration
ORIGIN = "test.local/audit-log"


class Witness(BaseHTTPRequestHandler):
    state: dict = {}

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        head, _, note = body.partition("\n\n")
        lines = head.split("\n")
        old = int(lines[0].removeprefix("old "))
        proof = [base64.b64decode(x) for x in lines[1:] if x]
        cp = notes.verify_checkpoint(note, ORIGIN, self.state["key"], ORIGIN)
        held = self.state.get("held")
        if old != (held.size if held else 0):
            self.send_response(409)
            self.send_header("Content-Type", "text/x.tlog.size")
            self.end_headers()
            self.wfile.write(str(held.size if held else 0).encode())
            return
        if held is not None:
            try:
                merkle.verify_consistency(held.size, cp.size, held.root, cp.root, proof)
            except merkle.ProofError:
                self.send_response(422)
                self.end_headers()
                return
        self.state["held"] = cp
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"\xe2\x80\x94 witness AAAA\n")


def test_add_checkpoint_with_consistency_proofs_and_a_409_resync():
    key = Ed25519PrivateKey.generate()
    signer = Signer(ORIGIN, key)
    Witness.state = {"key": notes.raw_public_key(key.public_key())}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Witness)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(40)]
    nodes = merkle.nodes_from_leaves(leaves)

    def proof_for(a, b):
        return merkle.consistency_proof(a, b, nodes)

    def parse(note):
        return notes.verify_checkpoint(note, ORIGIN, Witness.state["key"], ORIGIN)
    try:
        witness = HttpWitness(f"http://127.0.0.1:{server.server_port}")
        for size in (5, 17, 40):
            witness.add(signer.sign(size, merkle.root_of(leaves[:size])), size, proof_for, parse)
            assert Witness.state["held"].size == size
        # a second client that does not know what the witness holds learns it from the 409
        fresh = HttpWitness(f"http://127.0.0.1:{server.server_port}")
        more = leaves + [merkle.leaf_hash(b"x%d" % i) for i in range(10)]
        nodes = merkle.nodes_from_leaves(more)
        fresh.add(signer.sign(50, merkle.root_of(more)), 50, proof_for, parse)
        assert Witness.state["held"].size == 50
        # a forked tree is refused by the witness
        forked = [merkle.leaf_hash(b"fork")] + more[1:] + [merkle.leaf_hash(b"y")]
        nodes = merkle.nodes_from_leaves(forked)
        with pytest.raises(WitnessError):
            fresh.add(signer.sign(51, merkle.root_of(forked)), 51, proof_for, parse)
    finally:
        server.shutdown()
