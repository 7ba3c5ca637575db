"""Romanian first, English as a toggle: gettext catalogs (Babel), compiled when the gateway starts.

The catalogs are `gateway/web/locale/<lang>/LC_MESSAGES/messages.po` (the source of truth,
committed); no `.mo` file is kept in the repository: each `.po` is compiled in memory at start
(`babel.messages.mofile.write_mo`), so there is no build step to forget.
"""
from __future__ import annotations

import functools
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("ro", "en")
DEFAULT = "ro"


@functools.lru_cache(maxsize=None)
def translations(lang: str) -> Translations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def pick_language(cookie: str | None, accept_language: str | None = None) -> str:
    """Romanian first, whatever the browser's settings; English only when the toggle chose it
    (`accept_language` is deliberately not followed: a Romanian school's shared PC is often
    set up in English)."""
    return cookie if cookie in LANGUAGES else DEFAULT


def date_text(value, lang: str, style: str = "short") -> str:
    """Dates as text in the page's language; ISO date strings are cached (a page repeats few
    dates many times, and Babel takes a quarter of a millisecond for each)."""
    if isinstance(value, str):
        return _iso_date_text(value, lang, style)
    return _date_text(value, lang, style)


@functools.lru_cache(maxsize=8192)
def _iso_date_text(value: str, lang: str, style: str) -> str:
    return _date_text(value, lang, style)


def _date_text(value, lang: str, style: str) -> str:
    """`12.03.2027` in Romanian (Babel's CLDR data; `long`: `12 martie 2027`), `3/12/27` in English."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, (int, float)):
        return format_datetime(datetime.fromtimestamp(value), "short", locale=lang)
    if isinstance(value, datetime):
        return format_datetime(value, "short", locale=lang)
    return format_date(value, style, locale=lang)
