"""The school year's remaining pages and the operator's backup page in a browser (Debian's
Chromium via Playwright), against the platform started as `make up` starts it: a teacher asks
for a delegation, the director approves it and the teacher revokes it; the homeroom teacher
proposes conduct grades (without JavaScript too); the director reads the alerts about a changed
grade, its audit history and a pupil's, downloads a year-end catalog (PDF, XLSX) and a whole
year-end set, and closes a school year after its warnings; a teacher reads their own warnings
before the period closes; the operator records a contract end and a legal hold and reads the
backup status with its "CAT-6 not met" statement in the embedded SQLite mode. Screenshots at
phone and desktop sizes and axe-core on every new main page, one page in English.

Closing a school year changes what other tests may write: it closes a year of its own (2041-2042),
which nothing else here uses, and runs last."""
from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from gateway.web.session import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE, SessionKeys, WebSession
from tests.e2e.web_browser import api_call as _api
from tests.e2e.web_browser import check_main_page, new_member, new_page, sign_in, wait_until

pytestmark = pytest.mark.e2e
PASSWORD = "parola-web-de-test-2"


@pytest.fixture(scope="module")
def platform(sqlite_platform):
    return sqlite_platform


def _signed_in(platform, browser, role: str, **kw):
    u = platform.user(role)
    page = new_page(browser, **kw)
    sign_in(page, platform.url, u["email"], u["password"], device=platform.api.device(u["totp_secret"]))
    return page


def _cookie_client(platform, token: str, lang: str = "ro"):
    keys = SessionKeys((platform.data_dir / "keys" / "web_session.key").read_bytes())
    nonce = keys.new_nonce()
    client = httpx.Client(base_url=platform.url, verify=str(platform.ca_file), timeout=60, cookies={
        SESSION_COOKIE: keys.seal(WebSession(token)), CSRF_COOKIE: nonce, LANG_COOKIE: lang})
    return client, keys.csrf_token(nonce)


# -- 1. delegations ---------------------------------------------------------------------------------
def test_a_teacher_asks_a_delegation_the_director_approves_it_and_the_teacher_revokes_it(platform, browser):
    demo = platform.demo
    colleague = new_member(platform, "teacher", PASSWORD)
    page = _signed_in(platform, browser, "teacher")
    with page.expect_navigation():
        page.click("nav a[href='/web/teacher/delegations']")
    assert "Delegări" in page.inner_text("h1")
    check_main_page(page, "teacher-delegations")
    page.select_option("#f-class_subject", f"{demo['class']['id']}:{demo['subject']['id']}")
    page.fill("#f-delegate_id", colleague["id"])
    ends = (date.today() + timedelta(days=30)).isoformat()
    page.fill("#f-starts_on", date.today().isoformat())
    page.fill("#f-ends_on", ends)
    page.fill("#f-reason", "concediu medical")
    with page.expect_navigation():
        page.click("#ask button[type=submit]")
    assert "Delegarea a fost cerută" in page.inner_text("main")
    director = platform.token("director")
    asked = [d for d in _api(platform, "GET", "/v1/delegations", director, params={"status": "requested"})["items"]
             if d["delegate_id"] == colleague["id"]]
    assert len(asked) == 1 and asked[0]["ends_on"] == ends and asked[0]["reason"] == "concediu medical"
    row = page.locator(f"#d-{asked[0]['id']}")
    assert row.get_attribute("data-state") == "requested" and "așteaptă directorul" in row.inner_text()
    assert date.fromisoformat(ends).strftime("%d.%m.%Y") in row.inner_text(), "Romanian date format"
    # a delegation to oneself: refused with the service's reason, in Romanian, the form kept
    page.fill("#f-delegate_id", demo["users"]["teacher"]["id"])
    page.fill("#f-ends_on", ends)
    page.fill("#f-reason", "test")
    with page.expect_navigation():
        page.click("#ask button[type=submit]")
    assert "o delegare este pentru alt profesor" in page.inner_text("#form-error")
    # the director decides it from the approvals queue (the existing page)
    dpage = _signed_in(platform, browser, "director")
    dpage.goto(platform.url + "/web/director/approvals")
    card = dpage.locator(f"#d-{asked[0]['id']}")
    assert "concediu medical" in card.inner_text()
    with dpage.expect_navigation():
        card.locator("button[value=yes]").click()
    assert "Delegarea a fost hotărâtă." in dpage.inner_text("main")
    page.goto(platform.url + "/web/teacher/delegations")
    row = page.locator(f"#d-{asked[0]['id']}")
    assert row.get_attribute("data-state") == "active" and "în vigoare" in row.inner_text()
    # the colleague now has the class's subject, by delegation
    signed = platform.sign_in(colleague["email"], colleague["password"])
    mine = _api(platform, "GET", "/v1/me/classes", signed["access_token"])["items"]
    assert any(s["right"] == "delegation" for c in mine for s in c["subjects"])
    # the teacher who asked ends it early, with a reason
    row.locator("input[name=reason]").fill("s-a întors titularul")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    assert "Delegarea a fost revocată." in page.inner_text("main")
    assert page.locator(f"#d-{asked[0]['id']}").get_attribute("data-state") == "revoked"
    # the page in English
    with page.expect_navigation():
        page.click("a[hreflang=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert "Delegations" in page.inner_text("h1") and "Ask for a delegation" in page.inner_text("main")
    assert "revoked" in page.locator(f"#d-{asked[0]['id']}").inner_text()
    with page.expect_navigation():
        page.click("a[hreflang=ro]")


# -- 2. conduct grades --------------------------------------------------------------------------------
def test_the_homeroom_teacher_proposes_conduct_grades_without_javascript(platform, browser):
    demo = platform.demo
    klass, pupils = demo["class"]["id"], demo["catalog"]["pupils"]
    page = _signed_in(platform, browser, "homeroom")
    page.goto(platform.url + f"/web/homeroom/classes/{klass}/absences")
    with page.expect_navigation():
        page.click(f"main a[href='/web/homeroom/classes/{klass}/conduct']")
    assert "Note la purtare" in page.inner_text("h1")
    check_main_page(page, "homeroom-conduct")
    # the form itself needs no script: the rest is done with JavaScript off
    page = _signed_in(platform, browser, "homeroom", js=False)
    page.goto(platform.url + f"/web/homeroom/classes/{klass}/conduct")
    # a grade out of range: refused by the API's own rule, the pupil's box highlighted, nothing saved
    page.fill(f"#c-{pupils[1]}", "11")
    with page.expect_navigation():
        page.click("#conduct button[type=submit]")
    assert "nota la purtare trebuie să fie un număr întreg de la 1 la 10" in page.inner_text("#form-error")
    assert page.get_attribute(f"#c-{pupils[1]}", "aria-invalid") == "true"
    page.fill(f"#c-{pupils[0]}", "10")
    page.fill(f"#c-{pupils[1]}", "9")
    page.fill(f"#r-{pupils[1]}", "absențe nemotivate repetate")
    with page.expect_navigation():
        page.click("#conduct button[type=submit]")
    assert "2 note la purtare au fost salvate." in page.inner_text("main")
    catalog = _api(platform, "GET", f"/v1/classes/{klass}/catalog", platform.token("director"))
    period = page.get_attribute("input[name=period_id]", "value")
    conduct = {p["student_id"]: p["conduct"]["periods"].get(period) for p in catalog["pupils"]}
    assert conduct[pupils[0]] == "10" and conduct[pupils[1]] == "9"
    assert page.input_value(f"#c-{pupils[1]}") == "9", "the page shows what was saved"
    # a subject teacher who is not the diriginte: the page refuses, so does the service
    teacher, csrf = _cookie_client(platform, platform.token("teacher"))
    with teacher:
        r = teacher.get(f"/web/homeroom/classes/{klass}/conduct")
        assert r.status_code == 403 and "doar dirigintele clasei propune notele la purtare" in r.text


# -- 3. alerts and audit history -----------------------------------------------------------------------
def test_the_director_reads_the_alerts_and_a_grades_and_a_pupils_audit_history(platform, browser):
    demo = platform.demo
    teacher = platform.token("teacher")
    grade = _api(platform, "POST", "/v1/grades", teacher, json={
        "class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
        "student_id": demo["student_person"]["id"], "value": 6})
    _api(platform, "PATCH", f"/v1/grades/{grade['id']}", teacher,
         json={"expected_version": grade["version"], "value": 7, "reason": "greșeală de transcriere"})
    page = _signed_in(platform, browser, "director")
    with page.expect_navigation():
        page.click("nav a[href='/web/alerts']")
    assert wait_until(lambda: page.reload() or f"/web/grades/{grade['id']}" in page.content())
    assert "o notă a fost schimbată" in page.inner_text("#alerts")
    check_main_page(page, "director-alerts")
    with page.expect_navigation():
        page.click(f"#alerts a[href='/web/grades/{grade['id']}']")
    with page.expect_navigation():
        page.click(f"a[href='/web/audit/history/grade/{grade['id']}']")
    history = page.inner_text("#history")
    assert "grades.grade_recorded" in history and "grades.grade_changed" in history
    assert "greșeală de transcriere" in history and "6 → 7" in history.replace("\u2192", "→")
    check_main_page(page, "director-audit-history")
    # a pupil's history, from the class catalog
    page.goto(platform.url + f"/web/teacher/classes/{demo['class']['id']}/catalog")
    with page.expect_navigation():
        page.click(f"a[href='/web/audit/history/person/{demo['student_person']['id']}']")
    assert "fișa elevului din registru" in page.inner_text("h1")
    assert "registry." in page.inner_text("#history")


# -- 4. a teacher's warnings before the period closes ------------------------------------------------------
def test_a_teacher_sees_the_pupils_of_their_subjects_with_too_few_grades(platform, browser):
    demo = platform.demo
    subject = _api(platform, "POST", "/v1/subjects", platform.token("admin"), json={"name": "Geografie",
                                                                                   "weekly_hours": 3})
    _api(platform, "POST", f"/v1/classes/{demo['class']['id']}/teachers", platform.token("admin"),
         json={"subject_id": subject["id"], "teacher_id": demo["users"]["teacher"]["id"]})
    page = _signed_in(platform, browser, "teacher")
    with page.expect_navigation():
        page.click("nav a[href='/web/teacher/closing-warnings']")
    table = page.inner_text("#warnings")
    # Geografie has no grade yet: every pupil of the class lacks 3; Matematică of the seeded pupils is not listed
    assert table.count("Geografie") == len(demo["catalog"]["pupils"]) and "0 din cel puțin 3 note" in table
    assert "Ștefănescu Mihai" in table
    check_main_page(page, "teacher-closing-warnings")


# -- 5. the operator ------------------------------------------------------------------------------------------
def test_the_operator_records_a_contract_end_and_a_legal_hold_and_reads_the_backup_status(platform, browser):
    tenant = platform.demo["tenant"]["id"]
    page = _signed_in(platform, browser, "operator")
    page.goto(platform.url + "/web/operator/tenants")
    with page.expect_navigation():
        page.click("main a[href='/web/operator/backup']")
    cat6 = page.locator("#cat6")
    assert cat6.get_attribute("data-met") == "no" and "modul SQLite încorporat" in cat6.inner_text()

    def known():
        page.goto(platform.url + "/web/operator/backup")
        return page.locator(f"#t-{tenant}").count() == 1
    assert wait_until(known, 30), "the backup service knows the demo school"
    check_main_page(page, "operator-backup")
    card = page.locator(f"#t-{tenant}")
    card.locator("input[name=contract_end]").fill("2027-08-31")
    with page.expect_navigation():
        card.locator("form[action$='/contract'] button").click()
    assert "Sfârșitul contractului a fost salvat." in page.inner_text("main")
    card = page.locator(f"#t-{tenant}")
    assert card.locator(".contract-end").inner_text() == "31.08.2027"
    assert "31.08.2029" in card.inner_text(), "kept 24 months after the contract ends"
    card.locator("input[name=reason]").fill("Cererea inspectoratului școlar nr. 12/2027")
    with page.expect_navigation():
        card.locator("button[value=yes]").click()
    assert "Blocarea legală a fost salvată." in page.inner_text("main")
    state = _api(platform, "GET", f"/v1/backup/tenants/{tenant}", platform.token("operator"))
    assert state["contract_end"] == "2027-08-31" and state["legal_hold"] is True
    assert state["hold_reason"] == "Cererea inspectoratului școlar nr. 12/2027"
    # a malformed age key: the API's own pattern refuses it, the field highlighted
    card = page.locator(f"#t-{tenant}")
    card.locator("input[name=handover_recipient]").fill("not-an-age-key")
    with page.expect_navigation():
        card.locator("form[action$='/contract'] button").click()
    assert page.locator("[data-error=invalid_input]").count() == 1
    assert page.locator(f"#t-{tenant} .field.bad input[name=handover_recipient]").count() == 1
    # lifted again (the hold would stop the retention of the demo school)
    page.goto(platform.url + "/web/operator/backup")
    with page.expect_navigation():
        page.locator(f"#t-{tenant} button[value=no]").click()
    assert _api(platform, "GET", f"/v1/backup/tenants/{tenant}", platform.token("operator"))["legal_hold"] is False


def test_the_new_forms_refuse_a_post_without_the_csrf_token(platform):
    any_id = "00000000-0000-4000-8000-000000000000"
    for role, paths in (("teacher", ("/web/teacher/delegations", f"/web/teacher/delegations/{any_id}/revoke",
                                     f"/web/homeroom/classes/{any_id}/conduct")),
                        ("director", (f"/web/director/school-years/{any_id}/close", "/web/director/year-end-sets")),
                        ("operator", (f"/web/operator/tenants/{any_id}/contract",
                                      f"/web/operator/tenants/{any_id}/legal-hold"))):
        client, csrf = _cookie_client(platform, platform.token(role))
        with client:
            for path in paths:
                r = client.post(path, data={"reason": "x", "hold": "yes", "contract_end": "", "confirm": "yes"})
                assert r.status_code == 403 and "formularul a expirat" in r.text, path
                # the same form with the token reaches the page (refused there, or by the service)
                r = client.post(path, data={"csrf": csrf})
                assert r.status_code != 403 or "formularul a expirat" not in r.text, path


# -- 6. documents, then closing a school year (last: it closes a year) -------------------------------------
def test_the_director_downloads_the_year_end_documents(platform, browser):
    demo = platform.demo
    klass = demo["class"]["id"]
    page = _signed_in(platform, browser, "director")
    page.goto(platform.url + "/web/director/periods")
    with page.expect_download() as pdf:
        page.click(f"a[href='/web/classes/{klass}/documents/year-end-catalog.pdf']")
    assert open(pdf.value.path(), "rb").read(5) == b"%PDF-"
    assert pdf.value.suggested_filename.endswith(".pdf")
    with page.expect_download() as xlsx:
        page.click(f"a[href='/web/classes/{klass}/documents/catalog.xlsx']")
    assert open(xlsx.value.path(), "rb").read(2) == b"PK"
    # the whole school's set: a job page with its progress, then the archive
    with page.expect_navigation():
        page.click(f"form[action='/web/director/year-end-sets']:has(input[value='{demo['catalog']['school_year']['name']}']) button")
    assert "/web/director/year-end-sets/" in page.url
    job_url = page.url

    def finished():
        page.goto(job_url)
        return page.get_attribute("#job-status", "data-status") != "running"
    assert wait_until(finished, 120)
    assert page.get_attribute("#job-status", "data-status") == "done"
    check_main_page(page, "director-year-end-set")
    with page.expect_download() as archive:
        page.click("a[href$='/archive.zip']")
    assert open(archive.value.path(), "rb").read(2) == b"PK"


def test_the_director_closes_a_school_year_after_its_warnings(platform, browser):
    admin, director = platform.token("admin"), platform.token("director")
    year = _api(platform, "POST", "/v1/school-years", director, json={
        "name": "2041-2042", "structure": "semesters", "periods": [
            {"name": "Semestrul I", "starts_on": "2041-09-01", "ends_on": "2042-01-31"},
            {"name": "Semestrul al II-lea", "starts_on": "2042-02-01", "ends_on": "2042-06-30"}]})
    klass = _api(platform, "POST", "/v1/classes", admin, json={"name": "a X-a Y", "school_year": "2041-2042",
                                                              "level": 10})
    _api(platform, "POST", f"/v1/classes/{klass['id']}/teachers", admin,
         json={"subject_id": platform.demo["subject"]["id"], "teacher_id": platform.demo["users"]["teacher"]["id"]})
    _api(platform, "POST", f"/v1/classes/{klass['id']}/students", admin,
         json={"student_id": platform.demo["student_person"]["id"]})
    page = _signed_in(platform, browser, "director")
    page.goto(platform.url + "/web/director/periods")
    with page.expect_navigation():
        page.click(f"a[href='/web/director/school-years/{year['id']}/close']")
    warnings = page.inner_text("#warnings")
    assert "prea puține note" in warnings and "a X-a Y" in warnings and "Semestrul al II-lea" in warnings
    assert "lipsește nota la purtare" in warnings
    check_main_page(page, "director-close-year")
    with page.expect_navigation():
        page.click("#close-year button[type=submit]")
    assert page.locator("[data-error=conflict]").count() == 1, "not closed without the confirmation"
    assert "confirmați pentru a încheia totuși anul școlar" in page.inner_text("#form-error")
    years = {y["id"]: y for y in _api(platform, "GET", "/v1/school-years", director)["items"]}
    assert years[year["id"]]["closed"] is False
    page.check("#f-confirm")
    with page.expect_navigation():
        page.click("#close-year button[type=submit]")
    assert "Anul școlar a fost încheiat" in page.inner_text("main")
    years = {y["id"]: y for y in _api(platform, "GET", "/v1/school-years", director)["items"]}
    assert years[year["id"]]["closed"] is True and all(p["closed"] for p in years[year["id"]]["periods"])
    page.goto(platform.url + f"/web/director/school-years/{year['id']}/close")
    assert "Acest an școlar este încheiat" in page.inner_text("main")
