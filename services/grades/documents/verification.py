"""Does a printout still match the record? (pure)

A printout keeps its fingerprint and each pupil's digest. Today's catalog of the same class,
year and period is fingerprinted again: the same fingerprint means the paper is the record;
another one means the record changed after the printout, and the answer says whose part
changed and lists the amendments approved since it was printed.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from services.kernel.errors import InvalidInput

from . import canonical

_FINGERPRINT = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
MATCHES = "matches"
CHANGED = "changed"
MESSAGES = {MATCHES: "matches: this printout is the current record",
            CHANGED: "the record changed after this printout"}


def parse_fingerprint(value: str | None) -> str:
    """A fingerprint typed in, or the text of the QR code (the verification address with ?f=...)."""
    if not isinstance(value, str) or len(value) > 2000:
        raise InvalidInput("give the fingerprint (64 hexadecimal characters) or the QR code's text")
    found = _FINGERPRINT.findall(value.strip().lower())
    if len(found) != 1:
        raise InvalidInput("give the fingerprint (64 hexadecimal characters) or the QR code's text")
    return found[0]


def _timestamp(iso: str | None) -> float | None:
    if not iso:
        return None
    moment = datetime.fromisoformat(iso)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def compare(printout: dict, current: dict) -> dict:
    """`printout`: kind, student_id, fingerprint, pupil_digests, printed_at (epoch seconds);
    `current`: today's class catalog in the contract shape."""
    student = printout.get("student_id")
    digests = canonical.pupil_digests(current)
    if student:
        now = digests.get(student)
        changed_pupils = [] if now == printout["fingerprint"] else [student]
        fingerprint_now = now
    else:
        fingerprint_now = canonical.fingerprint(current)
        changed_pupils = canonical.changed_pupils(printout["pupil_digests"], digests)
    status = MATCHES if fingerprint_now == printout["fingerprint"] else CHANGED
    names = {p["student_id"]: f"{p['last_name']} {p['first_name']}".strip() for p in current.get("pupils") or []}
    subjects = {s["id"]: s["name"] for s in current.get("subjects") or []}
    since = []
    for pupil in current.get("pupils") or []:
        if student and pupil["student_id"] != student:
            continue
        for a in pupil.get("amendments") or []:
            approved = _timestamp(a.get("approved_at"))
            if approved is not None and approved > printout["printed_at"]:
                since.append({**a, "student_id": pupil["student_id"], "pupil": names.get(pupil["student_id"]),
                              "subject": subjects.get(a.get("subject_id"))})
    since.sort(key=lambda a: a.get("approved_at") or "")
    return {"status": status, "message": MESSAGES[status], "current_fingerprint": fingerprint_now,
            "changed_pupils": [{"student_id": s, "name": names.get(s)} for s in changed_pupils],
            "amendments_since": since}
