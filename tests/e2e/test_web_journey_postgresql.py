"""The main web journey on PostgreSQL (the hosted configuration): a teacher enters a grade and a
lesson's absences with the keyboard alone, the pupil and a parent read them. The other browser journeys run on SQLite
(tests/e2e/test_web_pages.py): the pages do not depend on the database."""
from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import _running_platform
from tests.e2e.test_web_pages import PASSWORD, _api, _grade_values, _tab_to
from tests.e2e.web_browser import launch, new_member, new_page, sign_in, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    yield from _running_platform("postgresql", tmp_path_factory)


def test_teacher_enters_a_grade_by_keyboard_and_the_pupil_reads_it_on_postgresql(platform):
    demo, admin = platform.demo, platform.token("admin")
    subject = _api(platform, "POST", "/v1/subjects", admin, json={"name": "Geografie", "weekly_hours": 1})
    teacher = new_member(platform, "teacher", PASSWORD)
    _api(platform, "POST", f"/v1/classes/{demo['class']['id']}/teachers", admin,
         json={"subject_id": subject["id"], "teacher_id": teacher["id"]})
    signed = platform.sign_in(teacher["email"], teacher["password"])
    pupil = demo["student_person"]["id"]
    _api(platform, "POST", "/v1/grades", signed["access_token"], json={
        "class_id": demo["class"]["id"], "subject_id": subject["id"], "student_id": pupil, "value": 6})
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = new_page(browser)
            sign_in(page, platform.url, teacher["email"], teacher["password"],
                    recovery_code=signed["recovery_codes"][0])
            assert page.url.endswith("/web/teacher/classes")
            _tab_to(page, "el.href && el.href.includes('/subjects/')")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            _tab_to(page, "el.classList.contains('grade-input')")
            page.keyboard.type("10")
            page.keyboard.press("Enter")
            page.locator(f"#p-{pupil} .mark.new").wait_for()
            assert wait_until(lambda: _grade_values(platform, signed["access_token"], subject["id"]) == [6, 10])
            # the lesson's absences, keyboard only: the link, the hour, the pupil's box, the button
            _tab_to(page, "el.id === 'absences-link'")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            _tab_to(page, "el.id === 'f-hour'")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
            _tab_to(page, f"el.id === 'a-{pupil}'")
            page.keyboard.press("Space")
            _tab_to(page, "el.type === 'submit' && !!el.closest('#absence-entry')")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "Absențele orei au fost salvate." in page.inner_text("main")
            absences = _api(platform, "GET", f"/v1/classes/{demo['class']['id']}/absences", signed["access_token"],
                            params={"student_id": pupil})["items"]
            assert [a["hour"] for a in absences if a["subject_id"] == subject["id"]] == [3]
            student = demo["users"]["student"]
            page = new_page(browser)
            sign_in(page, platform.url, student["email"], student["password"], acknowledge=False)
            assert "/web/privacy-notice?next=" in page.url, "the notice comes first at the first sign-in"
            with page.expect_navigation():
                page.click("#acknowledge button")
            row = page.locator("tr", has_text="Geografie")
            assert row.locator(".mark").all_inner_texts()[-1].startswith("10")
            # the pupil's export, on PostgreSQL too: asked, followed, downloaded once
            page.goto(platform.url + "/web/my-data")
            with page.expect_navigation():
                page.click("form[action='/web/my-data/exports'] button")

            def finished():
                page.reload()
                return page.get_attribute("#export-status", "data-status") in ("done", "failed")
            assert wait_until(finished, timeout=60) and page.get_attribute("#export-status", "data-status") == "done"
            link = page.locator("a.download[data-format=json]").get_attribute("href")
            assert page.request.get(platform.url + link).json()["subject"]["person_id"] == pupil
            assert page.request.get(platform.url + link).status == 409
            # a parent of the pupil reads the grade and the absence on the child's report card
            parent = new_member(platform, "parent", PASSWORD)
            _api(platform, "POST", f"/v1/users/{parent['id']}/children", admin, json={"student_id": pupil})
            page = new_page(browser)
            sign_in(page, platform.url, parent["email"], parent["password"])
            row = page.locator("table.report-card tr", has_text="Geografie")
            assert row.locator(".mark").all_inner_texts()[-1].startswith("10")
            assert row.locator("td.num").nth(2).inner_text().startswith("1")
        finally:
            browser.close()
