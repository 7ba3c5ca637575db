"""Verify the audit log from its database: `python -m services.audit.verify [--db URL]
[--witness-dir DIR] [--public-key PEM] [--origin NAME] [--workers N] [--no-columns] [--json]`.

Recomputes the Merkle tree from the stored entries, checks every checkpoint's signature and
root, and compares with the witness copy. The entries are read and hashed by `--workers`
processes (default: one per core, at most 4) while this one folds the tree; they also compare
each entry's query columns with its signed envelope (`--no-columns`: the tree, signatures and
witness only, about twice as fast). Exit status 0 when the log is intact, 1 otherwise; each
problem names the entry (leaf index, event id) or the checkpoint (size)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.settings import database_url

from . import verifier
from .config import audit_settings, load_public_key
from .witness import DirectoryWitness


def main(argv: list[str] | None = None) -> int:
    settings = audit_settings()
    parser = argparse.ArgumentParser(prog="python -m services.audit.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="the audit database URL (default: AUDIT_DATABASE_URL)")
    parser.add_argument("--witness-dir", type=Path, default=None, help="a witness directory to compare with")
    parser.add_argument("--public-key", type=Path, default=None, help="the log's public key (PEM)")
    parser.add_argument("--origin", default=settings.origin)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes that read and hash the entries (0: all in this process)")
    parser.add_argument("--no-columns", action="store_true",
                        help="skip comparing the query columns with the envelopes (tree, signatures, witness only)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    public_key = load_public_key(args.public_key or settings.public_key_path())
    witness_dir = args.witness_dir or settings.witness_directory()
    copies = []
    note = DirectoryWitness(witness_dir).latest()
    if note is not None:
        copies.append((str(witness_dir / "checkpoint"), note))
    url = args.db or database_url("audit")
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin(readonly=True) as session:
            report = verifier.verify(session, origin=args.origin, public_key=public_key, witness_notes=copies,
                                     url=url, workers=max(0, args.workers), check_columns=not args.no_columns)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"entries: {report.size}  checkpoints: {report.checkpoints}  witness copies: {report.witnesses}")
        for p in report.problems:
            print(f"FAIL {p['kind']}: {p['detail']}")
        print("OK: the log is intact" if report.ok else f"{len(report.problems)} problem(s) found")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
