"""The verifier wired to the running log (API) or to configuration (CLI)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from . import verifier


def witness_copies(keeper) -> list[tuple[str, str]]:
    copies = []
    for witness in keeper.witnesses:
        note = witness.latest()
        if note is not None:
            copies.append((witness.location, note))
    return copies


def run_verifier(session: Session, keeper, **options) -> dict:
    """`options`: `verifier.verify`'s (e.g. `url` and `workers` for worker processes)."""
    report = verifier.verify(session, origin=keeper.signer.origin, public_key=keeper.public_key,
                             witness_notes=witness_copies(keeper), **options)
    out = report.to_dict()
    out["halted"] = keeper.halted
    out["verifier_key"] = keeper.verifier_key
    return out
