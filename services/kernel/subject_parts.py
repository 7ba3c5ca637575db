"""What every service's `subject_export_part` RPC shares (RIGHTS_CONTRACT §2): the caller check
(a service credential of scope `subject_export`, from auth's export job), the subject's shape
and the page size. The sections and the cursor are each service's own."""
from __future__ import annotations

from . import service_credentials
from .errors import InvalidInput

SCOPE = "subject_export"
MAX_LIMIT = 1000


def verify_caller(credential: str | None, callee: str) -> str:
    """The calling service's name; Forbidden for anything but a valid credential of the scope."""
    return service_credentials.verify(credential or "", callee, SCOPE)


def clean_subject(subject) -> dict:
    """`{"tenant_id": str, "person_id": str | None, "account_id": str | None}`, checked."""
    if not isinstance(subject, dict) or not isinstance(subject.get("tenant_id"), str) or not subject["tenant_id"]:
        raise InvalidInput("subject.tenant_id is required")
    out = {"tenant_id": subject["tenant_id"]}
    for key in ("person_id", "account_id"):
        value = subject.get(key)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 64):
            raise InvalidInput(f"subject.{key} must be an id")
        out[key] = value or None
    return out


def clean_limit(limit) -> int:
    try:
        value = int(500 if limit is None else limit)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("limit must be a whole number") from exc
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    return value
