"""Input normalisation shared by services (the gateway validates shapes; services re-check meaning)."""
from __future__ import annotations

import re
import unicodedata

from .errors import InvalidInput

# Romanian orthography uses comma-below ș/ț; legacy keyboards and old data produce the
# cedilla forms ş/ţ. Store one form so searches and uniqueness behave.
_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def clean_text(value: str, *, field: str, max_len: int = 200, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text")
    cleaned = unicodedata.normalize("NFC", value).translate(_CEDILLA_TO_COMMA).strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    if required and not cleaned:
        raise InvalidInput(f"{field} is required")
    if len(cleaned) > max_len:
        raise InvalidInput(f"{field} is longer than {max_len} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise InvalidInput(f"{field} contains control characters")
    return cleaned


def clean_email(value: str) -> str:
    email = clean_text(value, field="email", max_len=254).lower()
    if not _EMAIL_RE.match(email):
        raise InvalidInput("email is not a valid address")
    return email


def page_args(limit: int | None, offset: int | None, *, max_limit: int = 200) -> tuple[int, int]:
    limit = 50 if limit is None else int(limit)
    offset = 0 if offset is None else int(offset)
    if not 1 <= limit <= max_limit:
        raise InvalidInput(f"limit must be between 1 and {max_limit}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    return limit, offset
