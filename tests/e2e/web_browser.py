"""Browser plumbing for the web pages' tests: Debian's Chromium driven by Playwright (which never
downloads a browser here), sign-in as a person does it, screenshots, and the axe-core check."""
from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pyotp
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "var" / "artifacts" / "screenshots"
AXE = REPO_ROOT / "build" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
PHONE, DESKTOP = {"width": 360, "height": 740}, {"width": 1280, "height": 800}


def launch(playwright):
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is missing: `make test` installs it when run as root, "
                    "or run `sudo apt-get install chromium`")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def new_page(browser, *, viewport=DESKTOP, js: bool = True):
    # en-US on purpose: the pages are Romanian first whatever the browser asks for
    context = browser.new_context(ignore_https_errors=True, viewport=viewport, java_script_enabled=js,
                                  locale="en-US")
    return context.new_page()


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@demo-creanga.ro"


def sign_in(page, base: str, email: str, password: str, *, device=None, recovery_code: str | None = None,
            acknowledge: bool = True) -> None:
    """Password, then (when asked) the second step, typed with the keyboard; then, when the
    privacy notice awaits its acknowledgement, "I have read it" (unless `acknowledge=False`)."""
    page.goto(f"{base}/web/sign-in")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    with page.expect_navigation():
        page.press("#f-password", "Enter")
    if page.url.endswith("/web/sign-in/code"):
        _second_step(page, device, recovery_code)
    if acknowledge and "/web/privacy-notice" in page.url:
        with page.expect_navigation():
            page.click("#acknowledge button")


def _second_step(page, device, recovery_code) -> None:
    for _ in range(3):
        if recovery_code:
            page.check("#m-recovery")
            page.fill("#f-code", recovery_code)
        else:
            page.check("#m-totp")
            page.fill("#f-code", device.code())
        with page.expect_navigation():
            page.press("#f-code", "Enter")
        if not page.url.endswith("/web/sign-in/code"):
            return
        # the code of this time step was spent by another client: the device moves on
    raise AssertionError(f"second step refused: {page.inner_text('main')[:300]}")


def enrol_totp(page) -> tuple[str, list[str]]:
    """First sign-in of a role that needs a second factor: the enrolment page, the QR code, the
    key typed into an "app", then the recovery codes. Returns (secret, codes)."""
    assert page.url.endswith("/web/enrol"), page.url
    with page.expect_navigation():
        page.click("form[action='/web/enrol/totp'] button")
    assert page.locator("img.qr").get_attribute("src").startswith("data:image/svg+xml")
    secret = page.inner_text("code.secret").strip()
    page.fill("#f-code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.press("#f-code", "Enter")
    codes = [c.strip() for c in page.locator("ul.codes code").all_inner_texts()]
    assert len(codes) == 10, page.inner_text("main")[:300]
    with page.expect_navigation():
        page.click("a.button")
    return secret, codes


def screenshots(page, name: str) -> list[Path]:
    """The page at phone and desktop sizes, kept as test artefacts (var/ is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for label, size in (("360x740", PHONE), ("1280x800", DESKTOP)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} at {label}: the page is {overflow}px wider than the screen"
    return saved


def axe_violations(page) -> list[dict]:
    """axe-core (from the npm registry, installed by the Makefile) on the page as it is."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make web-assets`")
    # evaluated through the DevTools protocol, which the pages' CSP does not govern: the pages
    # keep their strict policy during the check
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def wait_until(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


ROMANIAN_CEDILLA = re.compile("[şţŞŢ]")  # s/t with cedilla: wrong in Romanian (ș ț have a comma below)


def check_main_page(page, name: str) -> None:
    """A role's main page: phone and desktop screenshots, axe-core (no serious or critical
    violation), and no ş/ţ with a cedilla."""
    screenshots(page, name)
    bad = serious(axe_violations(page))
    assert not bad, f"{name}: serious accessibility violations: {bad}"
    assert not ROMANIAN_CEDILLA.search(page.inner_text("body")), f"{name}: ş/ţ with cedilla on the page"


def api_call(platform, method, path, token=None, **kw):
    """An API call that must succeed: its JSON (or the response, when it is not JSON)."""
    with platform.client(token) as c:
        r = c.request(method, path, **kw)
    assert r.status_code < 300, f"{method} {path} → {r.status_code} {r.text}"
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r


def new_member(platform, role: str, password: str) -> dict:
    """A fresh account of the demo school in `role` (made by its school admin)."""
    email = unique_email(role)
    out = api_call(platform, "POST", "/v1/users", platform.token("admin"),
                   json={"email": email, "full_name": "Ștefan Țăranu", "role": role, "password": password})
    return {"email": email, "password": password, "id": out["id"]}
