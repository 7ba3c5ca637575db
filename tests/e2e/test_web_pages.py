"""The web application in a browser (Debian's Chromium via Playwright) against the platform
started as `make up` starts it: one journey per role that has pages today, keyboard-only grade
and absence entry, a grade changed and cancelled with its history, bulk motivation by the
homeroom teacher, the director's approvals queue and a period closed after its warnings, a
parent's report card and motivation request, pages without JavaScript, Romanian and English, cookies, CSRF, CSP, second factor,
screenshots (var/artifacts/screenshots/) and axe-core on every role's main page."""
from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from gateway.web.session import SESSION_COOKIE, SessionKeys, WebSession
from deploy.local.demo_catalog import seeded
from tests.e2e.web_browser import api_call as _api
from tests.e2e.web_browser import (check_main_page, enrol_totp, new_member, new_page, sign_in, unique_email,
                                   wait_until)

pytestmark = pytest.mark.e2e
PASSWORD = "parola-web-de-test-1"


@pytest.fixture(scope="module")
def platform(sqlite_platform):
    return sqlite_platform


@pytest.fixture(scope="module")
def school(platform):
    """A teacher of a new subject in the demo class (already signed in once through the API, so
    a recovery code opens the browser session without waiting for the next TOTP step), one grade
    of theirs, a parent of the demo pupil, and fresh accounts that enrol in the browser."""
    demo, admin = platform.demo, platform.token("admin")
    subject = _api(platform, "POST", "/v1/subjects", admin, json={"name": "Istorie", "weekly_hours": 2})
    teacher = new_member(platform, "teacher", PASSWORD)
    _api(platform, "POST", f"/v1/classes/{demo['class']['id']}/teachers", admin,
         json={"subject_id": subject["id"], "teacher_id": teacher["id"]})
    signed = platform.sign_in(teacher["email"], teacher["password"])
    teacher.update(token=signed["access_token"], codes=list(signed["recovery_codes"]), secret=signed["totp_secret"])
    pupil = demo["student_person"]["id"]
    _api(platform, "POST", "/v1/grades", teacher["token"], json={
        "class_id": demo["class"]["id"], "subject_id": subject["id"], "student_id": pupil, "value": 8})
    parent = new_member(platform, "parent", PASSWORD)
    _api(platform, "POST", f"/v1/users/{parent['id']}/children", admin, json={"student_id": pupil})
    return {"subject": subject, "teacher": teacher, "parent": parent, "pupil": pupil,
            "grid": f"/web/teacher/classes/{demo['class']['id']}/subjects/{subject['id']}"}


def _tab_to(page, predicate_js: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({predicate_js}); }})()"):
            return
    raise AssertionError(f"the keyboard never reached: {predicate_js}")


def _grade_values(platform, token, subject_id) -> list[int]:
    page = _api(platform, "GET", "/v1/grades", token, params={"subject_id": subject_id})
    return sorted(g["value"] for g in page["items"])


# -- the teacher ----------------------------------------------------------------------------------
def test_teacher_enters_grades_with_the_keyboard_alone(platform, browser, school):
    t = school["teacher"]
    page = new_page(browser)
    sign_in(page, platform.url, t["email"], t["password"], recovery_code=t["codes"].pop())
    assert page.url.endswith("/web/teacher/classes")
    assert "Clasele și disciplinele mele" in page.inner_text("h1")
    check_main_page(page, "teacher")
    page.set_viewport_size({"width": 1280, "height": 800})
    # keyboard only: Tab to the class, Enter, Tab to the pupil's box, type, Enter
    _tab_to(page, "el.href && el.href.includes('/subjects/')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(school["grid"])
    _tab_to(page, "el.classList.contains('grade-input')")
    page.keyboard.type("9")
    page.keyboard.press("Enter")
    row = page.locator(f"#p-{school['pupil']}")
    row.locator(".mark.new").wait_for()
    assert row.locator(".mark.new").inner_text().startswith("9")
    assert date.today().strftime("%d.%m.%Y") in row.inner_text(), "Romanian date format"
    assert wait_until(lambda: 9 in _grade_values(platform, t["token"], school["subject"]["id"]))
    # the focus moved to the next pupil's box; a refused grade there: the message, in Romanian,
    # beside the box; nothing is written
    following = page.evaluate("document.activeElement.closest('tr').id")
    assert following.startswith("p-") and following != f"p-{school['pupil']}"
    page.keyboard.type("11")
    page.keyboard.press("Enter")
    status = page.locator(f"#{following} .status.error")
    status.wait_for()
    assert "nota trebuie să fie un număr întreg de la 1 la 10" in status.inner_text()
    assert _grade_values(platform, t["token"], school["subject"]["id"]) == [8, 9]
    check_main_page(page, "teacher-grid")


def test_grade_entry_works_without_javascript(platform, browser, school):
    t = school["teacher"]
    page = new_page(browser, js=False)
    sign_in(page, platform.url, t["email"], t["password"], recovery_code=t["codes"].pop())
    page.goto(platform.url + school["grid"])
    box = page.locator(f"#g-{school['pupil']}")
    box.fill("7")
    box.press("Enter")
    page.wait_for_load_state()
    assert "Nota a fost salvată." in page.inner_text("main")
    assert 7 in _grade_values(platform, t["token"], school["subject"]["id"])


def test_teacher_records_a_lessons_absences_with_the_keyboard_alone(platform, browser, school):
    t, demo = school["teacher"], platform.demo
    page = new_page(browser)
    sign_in(page, platform.url, t["email"], t["password"], recovery_code=t["codes"].pop())
    page.goto(platform.url + school["grid"])
    _tab_to(page, "el.id === 'absences-link'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Absențele unei ore" in page.inner_text("h1")
    check_main_page(page, "teacher-absences")
    _tab_to(page, "el.id === 'f-hour'")
    page.keyboard.press("ArrowDown")  # the 2nd hour: the demo's absences of today are elsewhere
    _tab_to(page, f"el.id === 'a-{school['pupil']}'")
    page.keyboard.press("Space")
    _tab_to(page, "el.type === 'submit' && el.closest('#absence-entry')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Absențele orei au fost salvate." in page.inner_text("main")
    row = page.locator(f"#p-{school['pupil']}")
    assert row.locator("td.num").nth(2).inner_text().startswith("1")
    listed = _api(platform, "GET", f"/v1/classes/{demo['class']['id']}/absences", t["token"],
                  params={"student_id": school["pupil"]})
    mine = [a for a in listed["items"] if a["subject_id"] == school["subject"]["id"]]
    assert [(a["occurred_on"], a["hour"]) for a in mine] == [(date.today().isoformat(), 2)]
    # the same lesson again: the service's refusal, on the form, in Romanian; nothing new is written
    page.goto(platform.url + school["grid"] + "/absences")
    page.select_option("#f-hour", "2")
    page.check(f"#a-{school['pupil']}")
    with page.expect_navigation():
        page.click("#absence-entry button[type=submit]")
    assert page.locator("[data-error=conflict]").count() == 1
    assert "există deja o absență" in page.inner_text("[data-error=conflict]")


def test_teacher_changes_and_cancels_a_grade_and_reads_its_history(platform, browser, school):
    t = school["teacher"]
    grade = _api(platform, "POST", "/v1/grades", t["token"], json={
        "class_id": platform.demo["class"]["id"], "subject_id": school["subject"]["id"],
        "student_id": school["pupil"], "value": 4})
    page = new_page(browser)
    sign_in(page, platform.url, t["email"], t["password"], recovery_code=t["codes"].pop())
    page.goto(platform.url + school["grid"])
    with page.expect_navigation():
        page.click(f"a.mark[href='/web/grades/{grade['id']}']")
    assert "Istoricul notei" in page.inner_text("h1")
    page.fill("#f-value", "5")
    page.fill("#f-reason", "greșeală de transcriere")
    with page.expect_navigation():
        page.press("#f-reason", "Enter")
    assert "Nota a fost schimbată." in page.inner_text("main")
    versions = page.inner_text("#versions")
    assert "greșeală de transcriere" in versions and "schimbată" in versions
    check_main_page(page, "teacher-grade")
    # a change without a reason is refused on the page
    page.fill("#f-value", "6")
    with page.expect_navigation():
        page.press("#f-value", "Enter")
    assert page.locator("[data-error=invalid_input]").count() == 1
    page.fill("#f-cancel-reason", "notă pusă din greșeală")
    with page.expect_navigation():
        page.press("#f-cancel-reason", "Enter")
    assert "Nota a fost anulată." in page.inner_text("main")
    history = _api(platform, "GET", f"/v1/grades/{grade['id']}/history", t["token"])
    assert [(v["action"], v["value"]) for v in history["versions"]] == [
        ("recorded", 4), ("changed", 5), ("cancelled", 5)]
    assert history["versions"][1]["reason"] == "greșeală de transcriere"


def test_the_class_catalog_shows_every_subject_with_averages(platform, browser, school):
    h = platform.demo["users"]["homeroom"]
    page = new_page(browser)
    sign_in(page, platform.url, h["email"], h["password"], device=platform.api.device(h["totp_secret"]))
    page.goto(platform.url + f"/web/teacher/classes/{platform.demo['class']['id']}/catalog")
    table = page.inner_text("table.catalog")
    assert "Matematică" in table and "Limba și literatura română" in table and "Istorie" in table
    assert "Ștefănescu Mihai" in table and "medie" in table
    check_main_page(page, "homeroom-catalog")


def test_the_homeroom_teacher_motivates_absences_in_bulk(platform, browser, school):
    h, demo = platform.demo["users"]["homeroom"], platform.demo
    klass = demo["class"]["id"]
    token = platform.sign_in(h["email"], h["password"], h["totp_secret"])["access_token"]
    before = _api(platform, "GET", f"/v1/classes/{klass}/absences", token, params={"limit": 200})
    open_ones = [a for a in before["items"] if a["status"] == "unmotivated"]
    assert len(open_ones) >= 2
    page = new_page(browser)
    sign_in(page, platform.url, h["email"], h["password"], device=platform.api.device(h["totp_secret"]))
    assert "Absențe și motivări" in page.inner_text("main")
    with page.expect_navigation():
        page.click(f"a[href='/web/homeroom/classes/{klass}/absences']")
    check_main_page(page, "homeroom-absences")
    for a in open_ones[:2]:
        page.check(f"#m-{a['id']}")
    page.select_option("#f-reason", "school_activity")
    with page.expect_navigation():
        page.click("#motivate button[type=submit]")
    assert "2 absențe au fost motivate." in page.inner_text("main")
    after = {a["id"]: a for a in _api(platform, "GET", f"/v1/classes/{klass}/absences", token,
                                      params={"limit": 200})["items"]}
    assert all(after[a["id"]]["status"] == "motivated" for a in open_ones[:2])
    assert after[open_ones[0]["id"]]["motivation_reason"] == "school_activity"


# -- pupils and parents ---------------------------------------------------------------------------
def test_the_pupil_reads_their_grades_in_romanian_and_in_english(platform, browser, school):
    u = platform.demo["users"]["student"]
    page = new_page(browser)
    sign_in(page, platform.url, u["email"], u["password"])
    assert page.url.endswith("/web/student/grades")
    main = page.inner_text("main")
    assert "Notele mele" in main and "Istorie" in main and "8" in main
    assert page.get_attribute("html", "lang") == "ro"
    check_main_page(page, "student")
    with page.expect_navigation():
        page.click("a[hreflang=en]")
    assert page.url.endswith("/web/student/grades") and page.get_attribute("html", "lang") == "en"
    assert "My grades" in page.inner_text("h1") and "History" not in page.inner_text("main")
    assert "Istorie" in page.inner_text("main"), "the data stays as the school wrote it"
    with page.expect_navigation():
        page.click("a[hreflang=ro]")
    assert "Notele mele" in page.inner_text("h1")


def test_the_parent_reads_the_report_card_and_asks_for_a_motivation(platform, browser, school):
    p = school["parent"]
    page = new_page(browser)
    sign_in(page, platform.url, p["email"], p["password"])
    assert page.url.endswith("/web/parent/grades")
    main = page.inner_text("main")
    assert "Notele copiilor mei" in main and "Istorie" in main and "8" in main
    # what the teacher entered in the browser (grade 9, the lesson's absence) reaches the parent
    row = page.locator("table.report-card tr", has_text="Istorie")
    assert "9" in row.locator(".marks").inner_text()
    assert row.locator("td.num").nth(2).inner_text().startswith("1")
    assert "Matematică" in main and "Absențe" in main
    assert "Media, Modulul" in page.inner_text("table.report-card thead"), "today's period's average"
    check_main_page(page, "parent")
    page.click("details summary")
    page.fill("input[name=from_date]", seeded("2026-11-18"))
    page.fill("input[name=to_date]", seeded("2026-11-18"))
    page.fill("input[name=reason]", "programare la medic")
    with page.expect_navigation():
        page.press("input[name=reason]", "Enter")
    assert "Cererea a fost trimisă" in page.inner_text("main")
    assert "în așteptare" in page.inner_text("main")
    school["motivation_asked"] = True


# -- the director and the statistics viewer ----------------------------------------------------------
def test_a_new_director_enrols_a_second_factor_and_sees_the_overview_with_its_chart(platform, browser, school):
    d = new_member(platform, "director", PASSWORD)
    page = new_page(browser)
    sign_in(page, platform.url, d["email"], d["password"])
    enrol_totp(page)
    assert page.url.endswith("/web/director/overview")
    table = page.inner_text("#grade-stats")
    assert "Istorie" in table
    assert page.evaluate("typeof window.Chart") == "function", "Chart.js served from static/vendor/"
    assert page.locator("figure.chart-box").is_visible()
    assert page.evaluate("!!window.Chart.getChart(document.getElementById('grade-chart'))"), "the chart was drawn"
    check_main_page(page, "director")


def test_the_director_decides_the_queue_and_closes_a_period_after_its_warnings(platform, browser, school):
    demo, admin = platform.demo, platform.token("admin")
    d = demo["users"]["director"]
    director = platform.sign_in(d["email"], d["password"], d["totp_secret"])["access_token"]
    # a school year of its own (closing the demo's periods would refuse the other tests' writes)
    year = _api(platform, "POST", "/v1/school-years", director, json={
        "name": "2040-2041", "structure": "semesters", "periods": [
            {"name": "Semestrul I", "starts_on": "2040-09-01", "ends_on": "2041-01-31"},
            {"name": "Semestrul al II-lea", "starts_on": "2041-02-01", "ends_on": "2041-06-30"}]})
    klass = _api(platform, "POST", "/v1/classes", admin, json={"name": "a IX-a Z", "school_year": "2040-2041",
                                                              "level": 9})
    _api(platform, "POST", f"/v1/classes/{klass['id']}/teachers", admin,
         json={"subject_id": school["subject"]["id"], "teacher_id": school["teacher"]["id"]})
    _api(platform, "POST", f"/v1/classes/{klass['id']}/students", admin, json={"student_id": school["pupil"]})
    asked = _api(platform, "GET", "/v1/motivation-requests", director, params={"status": "pending"})["items"]
    assert school.get("motivation_asked") and asked, "the parent's request of the previous test"
    page = new_page(browser)
    sign_in(page, platform.url, d["email"], d["password"], device=platform.api.device(d["totp_secret"]))
    page.goto(platform.url + "/web/director/approvals")
    assert "programare la medic" in page.inner_text("main")
    check_main_page(page, "director-approvals")
    card = page.locator(f"#m-{asked[0]['id']}")
    card.locator("input[name=reason]").fill("adeverință prezentată")
    with page.expect_navigation():
        card.locator("button[value=yes]").click()
    assert "Cererea de motivare a fost hotărâtă." in page.inner_text("main")
    decided = _api(platform, "GET", "/v1/motivation-requests", director, params={"status": "approved"})["items"]
    assert asked[0]["id"] in {r["id"] for r in decided}
    # closing: the service's warnings first, then an explicit confirmation
    period = year["periods"][0]
    page.goto(platform.url + "/web/director/periods")
    with page.expect_navigation():
        page.click(f"a[href='/web/director/periods/{period['id']}/close']")
    assert "prea puține note" in page.inner_text("#warnings") and "a IX-a Z" in page.inner_text("#warnings")
    check_main_page(page, "director-close")
    with page.expect_navigation():
        page.click("form[action$='/close'] button[type=submit]")
    assert page.locator("[data-error=conflict]").count() == 1, "not closed without the confirmation"
    page.check("#f-confirm")
    with page.expect_navigation():
        page.click("form[action$='/close'] button[type=submit]")
    assert "Perioada a fost închisă." in page.inner_text("main")
    # the director reads any class's catalog from the same page
    with page.expect_navigation():
        page.click(f"a[href='/web/teacher/classes/{demo['class']['id']}/catalog']")
    assert "Matematică" in page.inner_text("table.catalog") and "Bălănescu Andrei" in page.inner_text("table.catalog")
    years = _api(platform, "GET", "/v1/school-years", director)["items"]
    closed = next(y for y in years if y["id"] == year["id"])["periods"][0]
    assert closed["closed"] is True


def test_the_statistics_page_works_without_the_chart_library(platform, browser, school):
    v = new_member(platform, "statistics_viewer", PASSWORD)
    page = new_page(browser)
    page.route("**/vendor/chart.umd.min.js", lambda route: route.abort())
    sign_in(page, platform.url, v["email"], v["password"])
    enrol_totp(page)
    assert page.url.endswith("/web/statistics")
    assert "Istorie" in page.inner_text("#grade-stats")
    assert not page.locator("figure.chart-box").is_visible(), "no library: the table alone"
    assert "Andrei" not in page.inner_text("main") and "Bălănescu" not in page.inner_text("main")
    check_main_page(page, "statistics")


# -- the school's administrator and the operator -----------------------------------------------------
def test_the_school_admin_manages_accounts_classes_and_clients(platform, browser, school):
    a = new_member(platform, "school_admin", PASSWORD)
    page = new_page(browser)
    sign_in(page, platform.url, a["email"], a["password"])
    enrol_totp(page)
    page.goto(platform.url + "/web/admin/users")
    assert school["teacher"]["email"] in page.inner_text("main")
    check_main_page(page, "school_admin")
    email = unique_email("nou")
    page.fill("#f-full_name", "Irina Țepeș")
    page.fill("#f-email", email)
    page.select_option("#f-role", "teacher")
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():
        page.press("#f-password", "Enter")
    assert "Contul a fost creat." in page.inner_text("main")
    # a refusal from the service comes back on the form, in Romanian
    page.fill("#f-full_name", "Irina Țepeș")
    page.fill("#f-email", email)
    page.select_option("#f-role", "teacher")
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():
        page.press("#f-password", "Enter")
    assert page.locator("[data-error=conflict]").count() == 1
    assert "contul are deja acest rol în instituție" in page.inner_text("[data-error=conflict]")
    page.goto(platform.url + "/web/admin/school")
    page.fill("#f-c-name", "a X-a Ș")
    with page.expect_navigation():
        page.press("#f-c-name", "Enter")
    assert "Salvat." in page.inner_text("main")

    def listed():
        page.goto(platform.url + "/web/admin/school")
        return "a X-a Ș" in page.inner_text("main")
    assert wait_until(listed), "the new class is listed (grades' list_classes)"
    check_main_page(page, "school_admin-school")
    page.goto(platform.url + "/web/admin/clients")
    page.fill("#f-name", "Platforma județeană")
    page.check("input[value='catalog:read']")
    with page.expect_navigation():
        page.click("form[action='/web/admin/clients'] button[type=submit]")
    assert len(page.inner_text("code.secret").strip()) > 20
    # the demo school's trail is long: filter it by type, as an administrator would
    page.goto(platform.url + "/web/audit?type=grades.grade_recorded")
    assert "grades.grade_recorded" in page.inner_text("main")
    check_main_page(page, "audit")


def test_the_operator_creates_an_institution(platform, browser):
    op = platform.demo["operator"]
    page = new_page(browser)
    sign_in(page, platform.url, op["email"], op["password"], device=platform.api.device(op["totp_secret"]))
    assert page.url.endswith("/web/operator/tenants")
    check_main_page(page, "operator")
    name = f"Colegiul Național „Mihai Eminescu” {unique_email('x')[:12]}"
    page.fill("#f-name", name)
    page.fill("#f-admin_full_name", "Ana Popescu")
    page.fill("#f-admin_email", unique_email("admin"))
    page.fill("#f-admin_password", PASSWORD)
    with page.expect_navigation():
        page.press("#f-admin_password", "Enter")
    assert "Instituția a fost creată." in page.inner_text("main")

    def listed():
        page.goto(platform.url + "/web/operator/tenants")
        return name in page.inner_text("main")
    assert wait_until(listed)


# -- security of the pages ----------------------------------------------------------------------------
def test_cookies_csp_and_frames(platform, browser, school):
    u = platform.demo["users"]["student"]
    page = new_page(browser)
    response = page.goto(platform.url + "/web/sign-in")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "style-src 'self'" in csp and response.headers["x-frame-options"] == "DENY"
    sign_in(page, platform.url, u["email"], u["password"])
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies[SESSION_COOKIE]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax" and session["path"] == "/"
    assert cookies["__Host-csrf"]["httpOnly"]
    assert "session" not in page.evaluate("document.cookie"), "no token reaches JavaScript"
    assert "eyJ" not in page.content(), "no token in the page"


def _browser_cookies(page) -> dict:
    return {c["name"]: c["value"] for c in page.context.cookies()}


def test_a_post_without_the_csrf_token_is_refused(platform, browser, school):
    t = school["teacher"]
    page = new_page(browser)
    sign_in(page, platform.url, t["email"], t["password"], recovery_code=t["codes"].pop())
    cookies = _browser_cookies(page)
    form = {"class_id": platform.demo["class"]["id"], "subject_id": school["subject"]["id"],
            "student_id": school["pupil"], "value": "5"}
    before = _grade_values(platform, t["token"], school["subject"]["id"])
    with httpx.Client(base_url=platform.url, verify=str(platform.ca_file)) as c:
        header = "; ".join(f"{k}={v}" for k, v in cookies.items())
        for extra in ({}, {"csrf": "0" * 64}):
            r = c.post("/web/teacher/grades", data={**form, **extra}, headers={"Cookie": header})
            assert r.status_code == 403 and 'data-error="forbidden"' in r.text
            assert "formularul a expirat" in r.text
        # every other form of the pages too: refused before any service is asked
        klass, grade = platform.demo["class"]["id"], "00000000-0000-4000-8000-000000000000"
        for path in ("/web/teacher/absences", f"/web/grades/{grade}/change", f"/web/grades/{grade}/cancel",
                     f"/web/homeroom/classes/{klass}/motivate", f"/web/director/delegations/{grade}/decision",
                     f"/web/director/motivation-requests/{grade}/decision", "/web/director/amendments",
                     f"/web/director/periods/{grade}/close", "/web/parent/motivation-requests"):
            r = c.post(path, data={"reason": "x"}, headers={"Cookie": header})
            assert r.status_code == 403 and "formularul a expirat" in r.text, path
        # the same form with the page's token goes through
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.content()).group(1)
        r = c.post("/web/teacher/grades", data={**form, "csrf": token}, headers={"Cookie": header})
        assert r.status_code == 303
    assert _grade_values(platform, t["token"], school["subject"]["id"]) == sorted(before + [5])


def test_pages_need_the_second_factor_of_mandatory_roles(platform, browser, school):
    t = school["teacher"]
    page = new_page(browser)
    page.goto(platform.url + "/web/sign-in")
    page.fill("#f-email", t["email"])
    page.fill("#f-password", t["password"])
    with page.expect_navigation():
        page.press("#f-password", "Enter")
    assert page.url.endswith("/web/sign-in/code")
    for path in ("/web/teacher/classes", school["grid"], "/web/home", "/web/profile"):
        page.goto(platform.url + path)
        assert page.url.endswith("/web/sign-in/code"), path
    fresh = new_member(platform, "teacher", PASSWORD)
    page = new_page(browser)
    sign_in(page, platform.url, fresh["email"], fresh["password"])
    assert page.url.endswith("/web/enrol")
    page.goto(platform.url + "/web/teacher/classes")
    assert page.url.endswith("/web/enrol")


def test_an_expired_access_token_is_refreshed_transparently_and_sign_out_ends_it(platform, browser, school):
    u = platform.demo["users"]["student"]
    answer = _api(platform, "POST", "/v1/auth/login", json={"email": u["email"], "password": u["password"]})
    keys = SessionKeys((platform.data_dir / "keys" / "web_session.key").read_bytes())
    # a session whose access token no longer verifies (as when it expired) but whose refresh token is good
    sealed = keys.seal(WebSession("not-a-valid-token", answer["refresh_token"]))
    page = new_page(browser)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": sealed, "url": platform.url + "/",
                               "secure": True, "httpOnly": True, "sameSite": "Lax"}])
    page.goto(platform.url + "/web/student/grades")
    assert page.url.endswith("/web/student/grades") and "Notele mele" in page.inner_text("h1")
    renewed = keys.unseal(_browser_cookies(page)[SESSION_COOKIE])
    assert renewed.access_token != "not-a-valid-token" and renewed.refresh_token != answer["refresh_token"]
    with page.expect_navigation():
        page.click("form[action='/web/sign-out'] button")
    assert page.url.endswith("/web/sign-in")
    page.goto(platform.url + "/web/student/grades")
    assert "/web/sign-in" in page.url


def test_forgotten_password_reset_and_invitation_pages(platform, browser):
    page = new_page(browser)
    page.goto(platform.url + "/web/sign-in")
    page.click("a[href='/web/password/forgot']")
    page.fill("#f-email", "nimeni@demo-creanga.ro")
    with page.expect_navigation():
        page.press("#f-email", "Enter")
    assert "Dacă există un cont cu această adresă" in page.inner_text("main")
    page.goto(platform.url + "/web/password/reset")
    page.fill("#f-token", "x" * 40)
    page.fill("#f-new_password", PASSWORD)
    page.fill("#f-confirm_password", PASSWORD)
    with page.expect_navigation():
        page.press("#f-confirm_password", "Enter")
    assert "codul nu este valid sau a expirat" in page.inner_text("main")
    check_main_page(page, "reset")
    page.goto(platform.url + "/web/invitation")
    assert page.locator("#f-token").is_visible()
    check_main_page(page, "sign-in-invitation")


def test_pages_take_the_cookie_only_and_the_api_the_bearer_only(platform, browser, school):
    u = platform.demo["users"]["student"]
    page = new_page(browser)
    sign_in(page, platform.url, u["email"], u["password"])
    cookie = "; ".join(f"{k}={v}" for k, v in _browser_cookies(page).items())
    token = _api(platform, "POST", "/v1/auth/login", json={"email": u["email"], "password": u["password"]})
    with httpx.Client(base_url=platform.url, verify=str(platform.ca_file)) as c:
        r = c.get("/v1/me/grades", headers={"Cookie": cookie})
        assert r.status_code == 401 and r.json()["message"] == "missing bearer access token"
        r = c.get("/web/student/grades", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert r.status_code == 303 and r.headers["location"].startswith("/web/sign-in")
        r = c.get("/web/student/grades", headers={"Cookie": cookie})
        assert r.status_code == 200 and "Notele mele" in r.text


# -- data-subject rights (pages_rights.py) ---------------------------------------------------------
NOTICE_RO = ("Notă de informare privind prelucrarea datelor. Operator: școala; împuternicit: platforma. "
             "Scopuri: ținerea catalogului și a registrului matricol. Temei legal: obligația legală. Păstrare: "
             "registrul matricol nu se șterge niciodată (REG-8). Destinatari: sistemele ministerului. ")
NOTICE_EN = ("Privacy notice about the processing of personal data. Controller: the school; processor: the "
             "platform. Purposes: keeping the catalog and the registry. Legal basis: legal obligation. Retention: "
             "registry data are never deleted (REG-8). Recipients: the ministry's systems. ")


def _cookie_client(platform, token: str, lang: str = "ro"):
    """A browser-less client with the sealed session cookie and a CSRF nonce, as the pages set them."""
    from gateway.web.session import CSRF_COOKIE, LANG_COOKIE
    keys = SessionKeys((platform.data_dir / "keys" / "web_session.key").read_bytes())
    nonce = keys.new_nonce()
    client = httpx.Client(base_url=platform.url, verify=str(platform.ca_file), timeout=30, cookies={
        SESSION_COOKIE: keys.seal(WebSession(token)), CSRF_COOKIE: nonce, LANG_COOKIE: lang})
    return client, keys.csrf_token(nonce)


def test_the_school_admin_publishes_a_privacy_notice_from_its_page(platform, school):
    before = _api(platform, "GET", "/v1/privacy-notice", platform.token("admin"))["version"]
    client, csrf = _cookie_client(platform, platform.token("admin"))
    with client:
        r = client.get("/web/admin/privacy-notice")
        assert r.status_code == 200 and "Publică notificarea de confidențialitate" in r.text
        assert 'name="text_ro"' in r.text and 'name="text_en"' in r.text
        r = client.post("/web/admin/privacy-notice", data={"text_ro": "prea scurt", "text_en": NOTICE_EN,
                                                           "csrf": csrf})
        assert r.status_code == 422 and 'aria-invalid="true"' in r.text and "prea scurt" in r.text
        r = client.post("/web/admin/privacy-notice", data={"text_ro": NOTICE_RO, "text_en": NOTICE_EN})
        assert r.status_code == 403 and "formularul a expirat" in r.text  # no CSRF token
        r = client.post("/web/admin/privacy-notice", data={"text_ro": NOTICE_RO, "text_en": NOTICE_EN,
                                                           "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/web/admin/privacy-notice?done=1"
    notice = _api(platform, "GET", "/v1/privacy-notice", platform.token("admin"), params={"lang": "ro"})
    assert notice["version"] == before + 1 and notice["text"] == NOTICE_RO.strip()
    # a pupil may not publish
    client, csrf = _cookie_client(platform, platform.token("student"))
    with client:
        r = client.post("/web/admin/privacy-notice", data={"text_ro": NOTICE_RO, "text_en": NOTICE_EN,
                                                           "csrf": csrf})
        assert r.status_code == 403 and 'data-error="forbidden"' in r.text


def test_my_data_forms_refuse_a_post_without_the_csrf_token_and_answer_an_erasure_with_the_law(platform, school):
    client, csrf = _cookie_client(platform, platform.token("student"))
    with client:
        for path in ("/web/privacy-notice", "/web/my-data/exports", "/web/my-data/erasure"):
            r = client.post(path, data={"version": "1"})
            assert r.status_code == 403 and "formularul a expirat" in r.text, path
        r = client.get("/web/my-data")
        assert r.status_code == 200 and "Datele mele" in r.text and 'action="/web/my-data/exports"' in r.text
        r = client.post("/web/my-data/erasure", data={"reason": "am terminat școala", "csrf": csrf})
        assert r.status_code == 200 and 'id="erasure-answer"' in r.text
        assert "Registrul matricol păstrează datele pe toată durata vieții persoanei (REG-8)" in r.text
        r = client.post("/web/my-data/erasure", data={"person_id": "nu-e-un-id", "csrf": csrf})
        assert r.status_code == 422 and 'data-error="invalid_input"' in r.text
    # a teacher has no export of their own in the API (auth's exporters): neither form nor route
    client, csrf = _cookie_client(platform, school["teacher"]["token"])
    with client:
        r = client.get("/web/my-data")
        assert r.status_code == 200 and 'action="/web/my-data/exports"' not in r.text
        assert 'action="/web/my-data/erasure"' in r.text
        r = client.post("/web/my-data/exports", data={"csrf": csrf})
        assert r.status_code == 403


def test_a_parent_exports_a_childs_data_and_not_another_pupils(platform, school):
    p = school["parent"]
    token = platform.sign_in(p["email"], p["password"])["access_token"]
    client, csrf = _cookie_client(platform, token)
    with client:
        r = client.get("/web/parent/grades")  # a child's grade can be disputed from the report card
        link = re.search(r'href="(/web/grade-disputes/new\?grade_id=[0-9a-f-]{36})"', r.text)
        assert r.status_code == 200 and link and client.get(link.group(1)).status_code == 200
        r = client.get("/web/my-data")
        assert r.status_code == 200 and f'<option value="{school["pupil"]}">' in r.text
        r = client.post("/web/my-data/exports", data={"person_id": school["pupil"], "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"].startswith("/web/my-data/exports/")
        r = client.get(r.headers["location"])
        assert r.status_code == 200 and 'id="export-status"' in r.text
        stranger = "00000000-0000-4000-8000-000000000001"
        r = client.post("/web/my-data/exports", data={"person_id": stranger, "csrf": csrf})
        assert r.status_code == 403 and 'data-error="forbidden"' in r.text


def test_a_pupil_acknowledges_the_notice_at_first_sign_in_and_downloads_their_export(platform, browser, school):
    # a new version: every user is asked again, so this pupil's sign-in meets the notice
    _api(platform, "PUT", "/v1/admin/privacy-notice", platform.token("admin"),
         json={"text_ro": NOTICE_RO + "Versiune nouă.", "text_en": NOTICE_EN + "New version."})
    u = platform.demo["users"]["student"]
    page = new_page(browser)
    sign_in(page, platform.url, u["email"], u["password"], acknowledge=False)
    assert "/web/privacy-notice?next=" in page.url
    assert "registrul matricol nu se șterge niciodată" in page.inner_text("main")
    assert "Versiune nouă." in page.inner_text("main") and "New version" not in page.inner_text("main")
    check_main_page(page, "privacy-notice")
    with page.expect_navigation():
        page.click("#acknowledge button")
    assert page.url.endswith("/web/student/grades")
    assert _api(platform, "GET", "/v1/privacy-notice", platform.token("student"))["acknowledged"] is True
    page.goto(platform.url + "/web/privacy-notice")  # from the footer at any time: now acknowledged
    assert page.locator("#acknowledged").count() == 1 and page.locator("#acknowledge").count() == 0
    with page.expect_navigation():
        page.click("footer a[href='/web/privacy-notice']")
    with page.expect_navigation():
        page.click("nav a[href='/web/my-data']")
    check_main_page(page, "my-data")
    with page.expect_navigation():
        page.click("form[action='/web/my-data/exports'] button")
    assert "/web/my-data/exports/" in page.url

    def done():
        page.reload()
        return page.get_attribute("#export-status", "data-status") in ("done", "failed")
    assert wait_until(done, timeout=60), page.inner_text("main")
    assert page.get_attribute("#export-status", "data-status") == "done", page.inner_text("main")
    check_main_page(page, "my-data-export")
    links = {a.get_attribute("data-format"): a.get_attribute("href") for a in page.locator("a.download").all()}
    assert set(links) == {"json", "pdf"}
    r = page.request.get(platform.url + links["json"])
    assert r.status == 200 and r.json()["subject"]["person_id"] == school["pupil"]
    assert page.request.get(platform.url + links["json"]).status == 409, "a link works once"
    r = page.request.get(platform.url + links["pdf"])
    assert r.status == 200 and r.body()[:5] == b"%PDF-"
    page.reload()
    assert page.locator("a.download").count() == 0 and "deja descărcat" in page.inner_text("main")
    page.context.close()


def test_a_grade_dispute_goes_from_the_pupil_to_the_teacher_and_the_director(platform, school):
    t, pupil = school["teacher"], school["pupil"]
    grade = _api(platform, "POST", "/v1/grades", t["token"], json={
        "class_id": platform.demo["class"]["id"], "subject_id": school["subject"]["id"], "student_id": pupil,
        "value": 4})
    student, csrf = _cookie_client(platform, platform.token("student"))
    with student:
        r = student.get("/web/student/grades")
        assert r.status_code == 200 and f"/web/grade-disputes/new?grade_id={grade['id']}" in r.text
        r = student.get(f"/web/grade-disputes/new?grade_id={grade['id']}")
        assert r.status_code == 200 and "Contestă o notă" in r.text
        form = {"grade_id": grade["id"], "reason": "Am rezolvat corect exercițiul al doilea.", "proposed_value": "9"}
        assert student.post("/web/grade-disputes", data=form).status_code == 403  # no CSRF token
        r = student.post("/web/grade-disputes", data={**form, "proposed_value": "zece", "csrf": csrf})
        assert r.status_code == 422 and 'aria-invalid="true"' in r.text
        r = student.post("/web/grade-disputes", data={**form, "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/web/my-data/requests?done=dispute"
        r = student.get("/web/my-data/requests")
        assert r.status_code == 200 and "așteaptă profesorul" in r.text
        dispute = re.search(r'id="dispute-([0-9a-f-]{36})" data-status="open"', r.text).group(1)
    teacher, tcsrf = _cookie_client(platform, t["token"])
    with teacher:
        r = teacher.get("/web/teacher/grade-disputes")
        assert r.status_code == 200 and f'id="dispute-{dispute}"' in r.text
        decision = f"/web/grade-disputes/{dispute}/decision"
        assert teacher.post(decision, data={"approve": "no", "reason": "x"}).status_code == 403
        r = teacher.post(decision, data={"approve": "no", "reason": "Baremul a fost aplicat corect.", "csrf": tcsrf})
        assert r.status_code == 303 and r.headers["location"] == "/web/teacher/grade-disputes?done=dispute"
    student, csrf = _cookie_client(platform, platform.token("student"))
    with student:
        r = student.get("/web/my-data/requests")
        assert "respinsă de profesor" in r.text and "Baremul a fost aplicat corect." in r.text
        assert f'action="/web/grade-disputes/{dispute}/escalation"' in r.text
        escalation = f"/web/grade-disputes/{dispute}/escalation"
        assert student.post(escalation, data={}).status_code == 403
        r = student.post(escalation, data={"reason": "Cer reanalizarea lucrării.", "csrf": csrf})
        assert r.status_code == 303
        r = student.post(escalation, data={"csrf": csrf})  # only once: the service's refusal, in Romanian
        assert r.status_code == 409 and "doar o contestație respinsă de profesor" in r.text
    director, dcsrf = _cookie_client(platform, platform.token("director"))
    with director:
        r = director.get("/web/director/approvals")
        assert r.status_code == 200 and f'id="dispute-{dispute}"' in r.text
        r = director.post(f"/web/grade-disputes/{dispute}/decision",
                          data={"approve": "yes", "value": "9", "reason": "Punctajul a fost adunat greșit.",
                                "csrf": dcsrf})
        assert r.status_code == 303 and r.headers["location"] == "/web/director/approvals?done=dispute"
    values = {g["id"]: g["value"] for g in _api(platform, "GET", "/v1/grades", t["token"],
                                                params={"subject_id": school["subject"]["id"]})["items"]}
    assert values[grade["id"]] == 9


def test_a_pupil_asks_a_registry_rectification_and_the_school_admin_decides_it(platform, school):
    student, csrf = _cookie_client(platform, platform.token("student"))
    form = {"field": "personal.domicile_locality", "proposed_value": "Cluj-Napoca",
            "reason": "m-am mutat la Cluj-Napoca"}
    with student:
        assert student.post("/web/my-data/rectifications", data=form).status_code == 403
        r = student.post("/web/my-data/rectifications", data={**form, "field": "nu_exista", "csrf": csrf})
        assert r.status_code == 422 and "nu_exista nu este un câmp al înregistrării persoanei" in r.text
        r = student.post("/web/my-data/rectifications", data={**form, "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/web/my-data/requests?done=rectification"
        r = student.get("/web/my-data/requests")
        rect = re.search(r'id="rect-([0-9a-f-]{36})" data-status="pending"', r.text).group(1)
    admin, acsrf = _cookie_client(platform, platform.token("admin"))
    with admin:
        r = admin.get("/web/registry/rectifications")
        assert r.status_code == 200 and f'id="rect-{rect}"' in r.text and "Cluj-Napoca" in r.text
        decision = f"/web/registry/rectifications/{rect}/decision"
        assert admin.post(decision, data={"approve": "no", "reason": "x"}).status_code == 403
        r = admin.post(decision, data={"approve": "no", "reason": "nu reiese din acte", "csrf": acsrf})
        assert r.status_code == 303
        assert f'id="rect-{rect}"' not in admin.get("/web/registry/rectifications").text
    with _cookie_client(platform, platform.token("student"))[0] as student:
        r = student.get("/web/my-data/requests")
        assert f'id="rect-{rect}" data-status="rejected"' in r.text and "nu reiese din acte" in r.text


def test_the_rectification_pages_in_the_browser(platform, browser, school):
    """axe-core and screenshots: the pupil's requests and dispute form, the teacher's disputes."""
    u, t = platform.demo["users"]["student"], school["teacher"]
    grade = _api(platform, "POST", "/v1/grades", t["token"], json={
        "class_id": platform.demo["class"]["id"], "subject_id": school["subject"]["id"],
        "student_id": school["pupil"], "value": 6})
    page = new_page(browser)
    sign_in(page, platform.url, u["email"], u["password"])
    page.goto(platform.url + "/web/student/grades")
    page.click("#dispute-links summary")
    with page.expect_navigation():
        page.click(f"a[href='/web/grade-disputes/new?grade_id={grade['id']}']")
    check_main_page(page, "grade-dispute-new")
    page.fill("#f-reason", "Răspunsul de la exercițiul trei este corect.")
    page.fill("#f-proposed_value", "8")
    with page.expect_navigation():
        page.click("form[action='/web/grade-disputes'] button")
    assert page.url.endswith("/web/my-data/requests?done=dispute")
    assert "Contestația a fost trimisă profesorului disciplinei." in page.inner_text("main")
    check_main_page(page, "my-requests")
    page.context.close()
    page = new_page(browser)
    sign_in(page, platform.url, t["email"], t["password"], recovery_code=t["codes"].pop())
    page.goto(platform.url + "/web/teacher/grade-disputes")
    assert "Răspunsul de la exercițiul trei este corect." in page.inner_text("main")
    check_main_page(page, "teacher-disputes")
    page.context.close()


def test_the_director_restricts_and_lifts_the_processing_of_a_pupils_data(platform, school):
    from tests.e2e.authz import new_cnp
    pupil = _api(platform, "POST", "/v1/students", platform.token("admin"), json={
        "email": unique_email("restrictie"), "password": PASSWORD, "last_name": "Rusu", "first_name": "Ilinca",
        "cnp": new_cnp()})["person"]["id"]
    director, csrf = _cookie_client(platform, platform.token("director"))
    page = f"/web/persons/{pupil}/restriction"
    with director:
        r = director.get(f"/web/teacher/classes/{platform.demo['class']['id']}/catalog")
        assert f'/web/persons/{school["pupil"]}/restriction' in r.text, "reached from the class's catalog"
        r = director.get(page)
        assert r.status_code == 200 and 'data-restricted="no"' in r.text
        assert director.post(page, data={"restrict": "yes", "reason": "cererea elevei"}).status_code == 403
        r = director.post(page, data={"restrict": "yes", "reason": "", "csrf": csrf})
        assert r.status_code == 422 and 'aria-invalid="true"' in r.text
        r = director.post(page, data={"restrict": "yes", "reason": "cererea scrisă a elevei", "csrf": csrf})
        assert r.status_code == 303
        r = director.get(page)
        assert 'data-restricted="yes"' in r.text and "cererea scrisă a elevei" in r.text
        assert _api(platform, "GET", f"/v1/persons/{pupil}/processing-restriction",
                    platform.token("admin"))["restricted"] is True
        r = director.post(page, data={"restrict": "no", "reason": "contestația a fost soluționată", "csrf": csrf})
        assert r.status_code == 303 and 'data-restricted="no"' in director.get(page).text
    state = _api(platform, "GET", f"/v1/persons/{pupil}/processing-restriction", platform.token("admin"))
    assert state["restricted"] is False and state["history"][0]["lift_reason"] == "contestația a fost soluționată"
