"""The registry's web pages in a browser (Debian's Chromium via Playwright) against the platform
started as `make up` starts it: the registrar of a university finds a person (by name,
matriculation code and CNP), reads their page, confirms a re-enrolment match, imports a file
with a bad row and follows its progress to the end, downloads the error report and reads the
late-changes report; the central authority adds and retires a nomenclature value, approves a
correction and reads the counts and double-financing reports. Screenshots at
phone and desktop sizes and axe-core on each role's main page; Romanian and English."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

import pytest

from services.registry.workdays import deadline
from tests.e2e.registry_helpers import fresh_cnp, person_body, university
from tests.e2e.web_browser import check_main_page, new_page, sign_in, wait_until

pytestmark = pytest.mark.e2e
YEAR = "2025-2026"
ENROLMENT = {"academic_year": YEAR, "cycle": "master", "programme": "Informatică", "study_year": 1, "form": "IF",
             "financing": "buget", "faculty": "Matematică", "fundamental_domain": "Științe exacte",
             "domain": "Informatică", "programme_duration_years": 2, "programme_credits": 120}
IMPORT_COLUMNS = ["external_id", "cnp", "last_name_at_birth", "last_name", "first_name", "citizenship",
                  "birth_country", "birth_county", "civil_status", "academic_year", "cycle", "programme",
                  "study_year", "form", "financing"]


@pytest.fixture(scope="module")
def platform(sqlite_platform):
    return sqlite_platform


def _ok(platform, method, path, token, status=(200, 201, 202), **kw):
    with platform.client(token) as c:
        r = c.request(method, path, **kw)
    assert r.status_code in status, f"{method} {path} → {r.status_code} {r.text[:500]}"
    return r.json()


def _signed_in_once(platform, email: str, password: str) -> dict:
    """Signed in through the API once (enrolling TOTP): a recovery code opens the browser session."""
    signed = platform.sign_in(email, password)
    return {"email": email, "password": password, "token": signed["access_token"],
            "codes": list(signed["recovery_codes"])}


@pytest.fixture(scope="module")
def world(platform):
    """University 1 (through the API only), university 2 whose registrar uses the browser, and
    the central authority. University 1 registered a person whom university 2 registers again:
    a match candidate for the registrar to confirm."""
    op = platform.token("operator")
    u1 = university(platform)
    admin_email, clerk_email = f"admin-{uuid.uuid4().hex[:8]}@u2.ro", f"secretar-{uuid.uuid4().hex[:8]}@u2.ro"
    password = f"parola-{uuid.uuid4().hex[:12]}"
    tenant = _ok(platform, "POST", "/v1/tenants", op, json={
        "name": "Universitatea „Ștefan cel Mare” din Suceava (test)", "kind": "university",
        "admin_email": admin_email, "admin_full_name": "Radu Șerban", "admin_password": password})["tenant"]
    admin = platform.sign_in(admin_email, password)["access_token"]
    _ok(platform, "POST", "/v1/users", admin, json={"email": clerk_email, "full_name": "Ioana Țăranu",
                                                    "role": "registry_clerk", "password": password})
    clerk = _signed_in_once(platform, clerk_email, password)
    central_email = f"minister-{uuid.uuid4().hex[:8]}@edu.ro"
    _ok(platform, "POST", "/v1/users", op, json={"email": central_email, "full_name": "Ministerul Educației",
                                                 "role": "central_authority", "password": password,
                                                 "tenant_id": "platform"})
    central = _signed_in_once(platform, central_email, password)
    # the registrar's own person, with an enrolment and a late status change
    own_cnp = fresh_cnp("5")
    own = _ok(platform, "POST", "/v1/registry/persons", clerk["token"], json={
        **person_body(own_cnp), "last_name": "Mureșan", "first_name": "Ștefan"})
    _ok(platform, "POST", f"/v1/registry/persons/{own['id']}/enrolments", clerk["token"],
        json={**ENROLMENT, "financing": "taxa_cpl"})
    today = date.today()
    late_doc = next(d for d in (today - timedelta(days=n) for n in range(15, 60)) if deadline(d) < today)
    _ok(platform, "POST", f"/v1/registry/persons/{own['id']}/status", clerk["token"], json={
        "status": "interrupted", "reason": "cerere de întrerupere", "document_ref": "Decizia nr. 12",
        "document_date": late_doc.isoformat()})
    # re-enrolment: university 1 registered (and budget-funds) the person first
    body = {**person_body(), "last_name": "Dobre", "first_name": "Alexandra"}
    first = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=body)
    u1["clerk"].ok("POST", f"/v1/registry/persons/{first['id']}/enrolments", 201, json=ENROLMENT)
    candidate = _ok(platform, "POST", "/v1/registry/persons", clerk["token"], status=(202,), json=body)
    return {"u1": u1, "tenant": tenant, "clerk": clerk, "central": central, "own": own, "own_cnp": own_cnp,
            "matched": first, "candidate": candidate["candidate_id"]}


def _search(page, text: str) -> str:
    page.fill("#f-q", text)
    with page.expect_navigation():
        page.press("#f-q", "Enter")
    return page.inner_text("#persons")


def _import_file(good: int) -> bytes:
    tag = uuid.uuid4().hex[:6]
    rows = [{"external_id": f"{tag}-{i}", "cnp": fresh_cnp(), "last_name_at_birth": "Moldovan",
             "last_name": "Moldovan", "first_name": f"Ilinca{i}", "citizenship": "RO", "birth_country": "RO",
             "birth_county": "SV", "civil_status": "necasatorit", "academic_year": YEAR, "cycle": "licenta",
             "programme": "Informatică", "study_year": "1", "form": "IF", "financing": "buget"}
            for i in range(good + 1)]
    rows[-1]["financing"] = "gratuit"  # not a value of the financing nomenclature: one bad row
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=IMPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


# -- the registrar --------------------------------------------------------------------------------
def test_the_registrar_finds_a_person_confirms_a_match_and_imports_a_file(platform, browser, world):
    clerk, own = world["clerk"], world["own"]
    page = new_page(browser)
    sign_in(page, platform.url, clerk["email"], clerk["password"], recovery_code=clerk["codes"].pop())
    page.goto(f"{platform.url}/web/home")
    assert page.locator("a[href='/web/registry/persons']").count() >= 1, "the registry pages are linked"
    page.click("main a[href='/web/registry/persons']")
    assert "Persoanele din registru" in page.inner_text("h1")
    check_main_page(page, "registry-clerk-persons")
    # by name (with diacritics), by matriculation code, by CNP; the other university's person is not found
    assert own["matriculation_code"] in _search(page, "Mureșan")
    assert "Mureșan Ștefan" in _search(page, own["matriculation_code"])
    assert "Mureșan Ștefan" in _search(page, world["own_cnp"])
    assert "Nicio persoană nu corespunde căutării." in _search(page, world["matched"]["matriculation_code"])
    # the person's page: identification, enrolment, versions with the status change
    _search(page, own["matriculation_code"])
    with page.expect_navigation():
        page.click(f"#persons a[href='/web/registry/persons/{own['id']}']")
    assert page.inner_text("#matriculation-code") == own["matriculation_code"]
    assert "taxa_cpl" in page.inner_text("#enrolments") and YEAR in page.inner_text("#enrolments")
    history = page.inner_text("#history")
    assert "înregistrare" in history and "schimbare de statut" in history and "Decizia nr. 12" in history
    assert "întrerupt" in page.inner_text("main")
    check_main_page(page, "registry-clerk-person")
    # the match on re-enrolment: the common data, then confirmed
    page.click("nav a[href='/web/registry/matches']")
    card = page.locator(f"#match-{world['candidate']}")
    assert world["matched"]["matriculation_code"] in card.inner_text() and "Dobre" in card.inner_text()
    check_main_page(page, "registry-clerk-matches")
    with page.expect_navigation():
        card.locator("button[value='confirm']").click()
    assert "Potrivirea a fost confirmată." in page.inner_text("main")
    assert page.locator(f"#match-{world['candidate']}").count() == 0
    found = _ok(platform, "GET", "/v1/registry/persons", clerk["token"],
                params={"q": world["matched"]["matriculation_code"]})
    assert [p["id"] for p in found["items"]] == [world["matched"]["id"]], "the person is linked, with their code"
    # an import with a bad row: the progress reaches 100 %, then the error report
    page.click("nav a[href='/web/registry/imports']")
    page.set_input_files("#f-file", files=[{"name": "inmatriculari.csv", "mimeType": "text/csv",
                                            "buffer": _import_file(good=4)}])
    page.check("#m-accept_valid")
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    assert "/web/registry/imports/" in page.url
    assert wait_until(lambda: page.get_attribute("#import-status", "data-status") == "done", timeout=60), \
        page.inner_text("main")
    assert page.evaluate("(() => { const p = document.getElementById('import-progress');"
                         " return p.value === p.max && p.max === 5; })()"), page.inner_text("main")
    assert page.inner_text("#rows-written") == "4" and page.inner_text("#rows-errors") == "1"
    check_main_page(page, "registry-clerk-import")
    with page.expect_download() as download:
        page.click("#problems")
    with open(download.value.path(), encoding="utf-8-sig") as fh:
        report = list(csv.DictReader(fh))
    assert len(report) == 1 and report[0]["row"] == "6" and "financing" in report[0]["field"], report
    # the late-changes report names the late status change
    page.click("nav a[href='/web/registry/reports/counts']")
    page.click("a[href='/web/registry/reports/late-changes']")
    assert f"/web/registry/persons/{own['id']}" in page.inner_html("#report")
    assert page.locator("a[href='/web/registry/reports/double-financing']").count() == 0, "central authority only"


def test_the_import_page_follows_its_job_without_javascript(platform, browser, world):
    clerk = world["clerk"]
    page = new_page(browser, js=False)
    sign_in(page, platform.url, clerk["email"], clerk["password"], recovery_code=clerk["codes"].pop())
    page.goto(f"{platform.url}/web/registry/imports")
    page.set_input_files("#f-file", files=[{"name": "mic.csv", "mimeType": "text/csv",
                                            "buffer": _import_file(good=1)}])
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    # the page reloads itself (<noscript><meta refresh>) until the job is finished
    assert wait_until(lambda: page.locator("#problems").is_visible(), timeout=60), page.inner_text("main")
    assert page.get_attribute("#import-status", "data-status") == "done"


def test_the_registry_pages_speak_romanian_then_english(platform, browser, world):
    clerk = world["clerk"]
    page = new_page(browser)
    sign_in(page, platform.url, clerk["email"], clerk["password"], recovery_code=clerk["codes"].pop())
    page.goto(f"{platform.url}/web/registry/matches")
    assert page.inner_text("h1") == "Potriviri de confirmat"
    assert page.get_attribute("html", "lang") == "ro"
    with page.expect_navigation():
        page.click("a[hreflang='en']")
    assert page.url.endswith("/web/registry/matches")
    assert page.inner_text("h1") == "Match candidates" and page.get_attribute("html", "lang") == "en"
    assert "No match awaits a decision." in page.inner_text("main")
    with page.expect_navigation():
        page.click("a[hreflang='ro']")
    assert page.inner_text("h1") == "Potriviri de confirmat"


# -- the central authority ------------------------------------------------------------------------
def test_the_central_authority_manages_a_nomenclature_decides_a_correction_and_reads_reports(
        platform, browser, world):
    central, u1 = world["central"], world["u1"]
    page = new_page(browser)
    sign_in(page, platform.url, central["email"], central["password"], recovery_code=central["codes"].pop())
    page.goto(f"{platform.url}/web/home")
    page.click("main a[href='/web/registry/nomenclatures']")
    page.select_option("#f-name", "financing")
    with page.expect_navigation():
        page.click("form[action='/web/registry/nomenclatures'] button")
    assert page.locator("#values").count() == 1, page.url + page.inner_text("main")
    assert "buget" in page.inner_text("#values")
    check_main_page(page, "registry-central-nomenclatures")
    # an empty form: refused on the form, in Romanian, the fields marked
    with page.expect_navigation():
        page.click("#add-value button")
    assert page.locator("#form-error").get_attribute("data-error") == "invalid_input"
    assert "verificați câmpurile marcate" in page.inner_text("#form-error")
    assert page.get_attribute("#f-code", "aria-invalid") == "true"
    # a value added from 2026-2027 on, then retired after 2027-2028
    code = f"test_{uuid.uuid4().hex[:6]}"
    page.fill("#f-code", code)
    page.fill("#f-label", "Finanțare de încercare")
    page.fill("#f-valid_from", "2026-2027")
    with page.expect_navigation():
        page.click("#add-value button")
    assert "Valoarea a fost adăugată." in page.inner_text("main")
    row = page.locator(f"#values tr:has(code:text-is('{code}'))")
    assert "Finanțare de încercare" in row.inner_text() and "2026-2027" in row.inner_text()
    row.locator("input[name=last_valid_year]").fill("2027-2028")
    row.locator("input[name=reason]").fill("nu se mai acordă")
    with page.expect_navigation():
        row.locator("button").click()
    assert "Valoarea a fost retrasă." in page.inner_text("main")
    assert "2027-2028" in page.locator(f"#values tr:has(code:text-is('{code}'))").inner_text()

    def codes(year):
        answer = _ok(platform, "GET", "/v1/registry/nomenclatures", None, params={"name": "financing",
                                                                                  "academic_year": year})
        return {v["code"] for v in answer["nomenclatures"].get("financing", [])}
    assert code in codes("2027-2028") and code not in codes("2028-2029") and code not in codes("2025-2026")
    # a correction asked by university 1, approved here
    person = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=person_body())
    correction = u1["clerk"].ok("POST", f"/v1/registry/persons/{person['id']}/corrections", 201, json={
        "changes": {"personal": {"first_name": "Ana-Maria"}}, "reason": "eroare de transcriere",
        "document_ref": "Cererea nr. 7", "document_date": date.today().isoformat()})
    page.click("nav a[href='/web/registry/corrections']")
    card = page.locator(f"#corr-{correction['id']}")
    assert "personal.first_name" in card.inner_text() and "Cererea nr. 7" in card.inner_text()
    with page.expect_navigation():
        card.locator("button[value='yes']").click()
    assert "Corectarea a fost aprobată și aplicată." in page.inner_text("main")
    assert u1["clerk"].ok("GET", f"/v1/registry/persons/{person['id']}")["first_name"] == "Ana-Maria"
    # double financing: a person of university 1 re-enrolled by university 2, budget-funded by both
    body = person_body()
    twice = u1["clerk"].ok("POST", "/v1/registry/persons", 201, json=body)
    u1["clerk"].ok("POST", f"/v1/registry/persons/{twice['id']}/enrolments", 201, json=ENROLMENT)
    token = world["clerk"]["token"]
    candidate = _ok(platform, "POST", "/v1/registry/persons", token, status=(202,), json=body)["candidate_id"]
    _ok(platform, "POST", f"/v1/registry/matches/{candidate}/confirm", token)
    _ok(platform, "POST", f"/v1/registry/persons/{twice['id']}/enrolments", token,
        json={**ENROLMENT, "programme": "Inteligență artificială"})
    page.click("nav a[href='/web/registry/reports/counts']")
    page.fill("#f-year", YEAR)
    with page.expect_navigation():
        page.press("#f-year", "Enter")
    assert "Informatică" in page.inner_text("#report")
    page.click("a[href='/web/registry/reports/double-financing']")
    page.fill("#f-year", YEAR)
    with page.expect_navigation():
        page.press("#f-year", "Enter")
    report = page.inner_text("#report")
    assert twice["matriculation_code"] in report and "Inteligență artificială" in report
    check_main_page(page, "registry-central-double-financing")
    page.click("a[href='/web/registry/reports/statistics']")
    assert page.locator("#report").count() == 1
