"""The web pages' pure parts: sealed session cookies, CSRF tokens, safe return paths, the
Romanian and English catalogs, error translation, Romanian dates."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from gateway.web.i18n import LOCALE_DIR, date_text, pick_language, translations
from gateway.web.messages import KNOWN, translate_error
from gateway.web.render import local_path
from gateway.web.session import SessionKeys, WebSession, cookie_header, load_keys

KEYS = SessionKeys(b"k" * 32)


def test_a_sealed_session_opens_only_with_its_key_and_unchanged():
    sealed = KEYS.seal(WebSession("access.token", "refresh"))
    assert KEYS.unseal(sealed) == WebSession("access.token", "refresh")
    assert "access" not in sealed, "the token is encrypted, not merely encoded"
    assert SessionKeys(b"x" * 32).unseal(sealed) is None
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert KEYS.unseal(flipped) is None
    for junk in (None, "", "not base64 !", "A" * 5000):
        assert KEYS.unseal(junk) is None
    assert KEYS.seal(WebSession("a")) != KEYS.seal(WebSession("a")), "a fresh nonce each time"


def test_csrf_tokens_are_bound_to_the_browsers_nonce():
    nonce = KEYS.new_nonce()
    token = KEYS.csrf_token(nonce)
    assert KEYS.csrf_ok(nonce, token)
    assert not KEYS.csrf_ok(KEYS.new_nonce(), token)
    assert not KEYS.csrf_ok(nonce, None) and not KEYS.csrf_ok(None, token) and not KEYS.csrf_ok(nonce, "0" * 64)
    assert not SessionKeys(b"y" * 32).csrf_ok(nonce, token)


def test_cookies_are_host_prefixed_httponly_secure_lax():
    header = cookie_header("__Host-session", "v", max_age=60)
    assert header.startswith("__Host-session=v; Path=/; Secure; HttpOnly; SameSite=Lax")
    assert "Domain" not in header


def test_the_key_file_is_made_once_and_shared(tmp_path: Path):
    path = tmp_path / "keys" / "web_session.key"
    a, b = load_keys(path), load_keys(path)
    assert b.unseal(a.seal(WebSession("t"))) == WebSession("t")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        SessionKeys(b"short")


@pytest.mark.parametrize("value, expected", [
    ("/web/teacher/classes", "/web/teacher/classes"), ("/web/grades?x=1", "/web/grades?x=1"),
    ("//evil.example/", "/web/"), ("https://evil.example/", "/web/"), ("javascript:alert(1)", "/web/"),
    ("/\\evil.example", "/web/"), ("", "/web/"), (None, "/web/"),
])
def test_only_paths_of_this_site_are_returned_to(value, expected):
    assert local_path(value) == expected


def test_romanian_is_the_default_whatever_the_browser_asks():
    assert pick_language(None, "en-US,en;q=0.9") == "ro"
    assert pick_language("en", "ro") == "en"
    assert pick_language("fr", None) == "ro"


def _catalog(lang: str):
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_every_message_has_a_romanian_translation_with_comma_below_diacritics():
    cedilla = re.compile("[şţŞŢ]")
    missing, wrong = [], []
    for m in _catalog("ro"):
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings):
            missing.append(m.id)
        if any(cedilla.search(s) for s in strings):
            wrong.append(m.id)
    assert not missing, f"untranslated: {missing}"
    assert not wrong, f"ş/ţ with cedilla (Romanian wants ș/ț, comma below): {wrong}"


def test_the_catalogs_cover_every_known_service_message():
    ids = {m.id for m in _catalog("ro") if m.id}
    assert KNOWN <= ids, f"run the extraction (gateway/web/babel.cfg): {sorted(KNOWN - ids)[:5]}"


def test_service_errors_reach_the_user_in_their_language():
    ro, en = translations("ro").gettext, translations("en").gettext
    assert translate_error(ro, "forbidden", "administrators may not record grades") == \
        "administratorii nu pot trece note"
    assert translate_error(en, "forbidden", "administrators may not record grades") == \
        "administrators may not record grades"
    # a message the catalogs do not know: its code's message, never English on a Romanian page
    assert translate_error(ro, "conflict", "some new service message") == \
        "Acest lucru există deja sau intră în conflict cu o înregistrare existentă."
    assert translate_error(ro, "weird", "x") == "Ceva nu a funcționat; încercați din nou."
    assert translate_error(ro, "rate_limited", "too many failed attempts; try again in 30 seconds") == \
        "prea multe încercări greșite; încercați din nou peste 30 secunde"


def test_romanian_plurals():
    ro = translations("ro")
    # a plural the pages use (the motivation form): Romanian has three forms, "de" from 20 on
    assert [ro.ngettext("%(num)d school day", "%(num)d school days", n) % {"num": n} for n in (1, 2, 19, 20, 101)] == \
        ["1 zi de școală", "2 zile de școală", "19 zile de școală", "20 de zile de școală", "101 zile de școală"]


def test_dates_follow_romanian_conventions():
    assert date_text("2027-03-12", "ro") == "12.03.2027"
    assert date_text(date(2027, 3, 12), "ro", "long") == "12 martie 2027"
    assert date_text("2027-03-12", "en") != "12.03.2027"
    assert date_text(None, "ro") == ""
