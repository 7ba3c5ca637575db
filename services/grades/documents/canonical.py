"""Canonical serialisation of a class's catalog data and its SHA-256 fingerprint.

The fingerprint printed on every page of a document is the SHA-256 of these bytes. It
depends on the record only: not on the order in which the catalog view lists things, nor
on when it was generated (`generated_at` is left out). Any grade, thesis, average,
qualifier, absence count, conduct grade, situation, amendment, name or enrolment status
changes it. Each pupil also gets a digest of their own part, so verification can say whose
record changed after a printout, and a report card's fingerprint covers one pupil.
"""
from __future__ import annotations

import hashlib

import orjson

VERSION = "catalog-fingerprint-v1"
_LEFT_OUT = ("generated_at",)


def _sorted(items: list, *keys: str) -> list:
    return sorted(items, key=lambda item: tuple(str(item.get(k) or "") for k in keys))


def _grade_key(grade: dict) -> tuple:
    return grade.get("awarded_on") or "", grade.get("id") or ""


def _pupil(pupil: dict) -> dict:
    subjects = {}
    for subject_id, subject in (pupil.get("subjects") or {}).items():
        periods = {}
        for period_id, cell in (subject.get("periods") or {}).items():
            grades = cell.get("grades")
            if grades:
                cell = {**cell, "grades": sorted(grades, key=_grade_key)}
            periods[period_id] = cell
        subjects[subject_id] = {**subject, "periods": periods}
    amendments = pupil.get("amendments") or []
    if len(amendments) > 1:
        amendments = _sorted(amendments, "approved_at", "subject_id", "period_id", "reason")
    return {**pupil, "subjects": subjects, "amendments": amendments}


def _header(data: dict) -> dict:
    year = dict(data.get("school_year") or {})
    year["periods"] = _sorted(year.get("periods") or [], "starts_on", "id")
    subjects = [{**s, "teacher_ids": sorted(s.get("teacher_ids") or []),
                 "thesis_periods": sorted(s.get("thesis_periods") or [])}
                for s in _sorted(data.get("subjects") or [], "id")]
    header = {k: v for k, v in data.items() if k not in _LEFT_OUT and k != "pupils"}
    return {**header, "school_year": year, "subjects": subjects}


def _dump(value) -> bytes:
    # UTF-8 JSON, no whitespace, keys sorted (so dict order is irrelevant); decimals are strings
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def canonical_bytes(data: dict) -> bytes:
    document = _header(data)
    document["pupils"] = [_pupil(p) for p in _sorted(data.get("pupils") or [], "student_id")]
    return _dump({"v": VERSION, "catalog": document})


def fingerprint(data: dict) -> str:
    """SHA-256 (hex) of the canonical serialisation of the whole class catalog."""
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


def pupil_digests(data: dict) -> dict[str, str]:
    """student_id → SHA-256 of the class header plus that pupil's part of the record."""
    header = hashlib.sha256(_dump(_header(data))).hexdigest()
    return {p["student_id"]: hashlib.sha256(_dump({"v": VERSION, "header": header, "pupil": _pupil(p)})).hexdigest()
            for p in data.get("pupils") or []}


def report_card_fingerprint(data: dict, student_id: str) -> str:
    """The fingerprint printed on one pupil's report card: their digest (class header included)."""
    digests = pupil_digests(data)
    if student_id not in digests:
        raise KeyError(student_id)
    return digests[student_id]


def changed_pupils(printed: dict[str, str], current: dict[str, str]) -> list[str]:
    """Pupils whose part differs between a printout's digests and today's (added or removed too)."""
    return sorted(sid for sid in printed.keys() | current.keys() if printed.get(sid) != current.get(sid))
