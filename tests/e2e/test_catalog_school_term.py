"""A school term end to end through the HTTPS gateway, on SQLite and PostgreSQL, as a teacher, a
homeroom teacher, a director, a parent and a pupil would run it: set up a year, record grades and
absences, motivate, close, amend, close the year, re-examine, and read the catalog views."""
from __future__ import annotations

import json
import time
import uuid

import pytest

pytestmark = pytest.mark.e2e

YEAR = "2025-2026"
SEMESTERS = [{"name": "Semestrul I", "starts_on": "2025-09-08", "ends_on": "2026-01-23"},
             {"name": "Semestrul al II-lea", "starts_on": "2026-02-02", "ends_on": "2026-06-19"}]


class Caller:
    def __init__(self, platform, role):
        self.client = platform.client(platform.token(role))

    def __call__(self, method, url, expect=200, **kw):
        r = self.client.request(method, url, **kw)
        if expect is not None:
            assert r.status_code == expect, f"{method} {url} → {r.status_code} {r.text[:600]}"
        return r.json()


@pytest.fixture(scope="module")
def term(platform):
    demo = platform.demo
    who = {role: Caller(platform, role) for role in ("admin", "director", "teacher", "homeroom", "parent", "student")}
    year = who["director"]("POST", "/v1/school-years", 201, json={
        "name": YEAR, "structure": "semesters", "periods": SEMESTERS,
        "settings": {"parent_motivation_days": 2}})
    s1, s2 = (p["id"] for p in year["periods"])
    adm = who["admin"]
    cls = adm("POST", "/v1/classes", 201, json={"name": f"a VIII-a {uuid.uuid4().hex[:4]}", "school_year": YEAR,
                                                  "level": 8})["id"]
    math = demo["subject"]["id"]
    adm("PUT", f"/v1/classes/{cls}/curriculum/{math}", json={"weekly_hours": 2, "thesis_periods": [s1]})
    adm("POST", f"/v1/classes/{cls}/teachers", 201, json={"subject_id": math, "teacher_id": demo["users"]["teacher"]["id"]})
    adm("PUT", f"/v1/classes/{cls}/homeroom", json={"teacher_id": demo["users"]["homeroom"]["id"]})
    pupils = demo["catalog"]["pupils"][:3]
    for p in pupils:
        adm("POST", f"/v1/classes/{cls}/students", 201, json={"student_id": p})
    return {"who": who, "year": year, "s1": s1, "s2": s2, "cls": cls, "math": math, "pupils": pupils,
            "demo": demo}


def _grade(term, pupil, value, day, expect=201, kind="oral", key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return term["who"]["teacher"]("POST", "/v1/grades", expect, headers=headers, json={
        "class_id": term["cls"], "subject_id": term["math"], "student_id": pupil, "value": value,
        "awarded_on": day, "kind": kind})


def test_a_term_from_grades_to_the_year_end_situation(platform, term):
    who, cls, pupils = term["who"], term["cls"], term["pupils"]
    andrei, ioana, mihai = pupils
    # grades: an idempotent retry gives the first answer and creates nothing new
    first = _grade(term, andrei, 9, "2025-10-01", key="retea-slaba-1")
    again = _grade(term, andrei, 9, "2025-10-01", key="retea-slaba-1")
    assert again["id"] == first["id"]
    for pupil, values, thesis in ((andrei, [10], 8), (ioana, [4, 4], 4), (mihai, [8, 8], 9)):
        for i, v in enumerate(values):
            _grade(term, pupil, v, f"2025-10-0{i + 2}")
        _grade(term, pupil, thesis, "2025-12-10", kind="thesis")
        for i, v in enumerate([*values, 10] if pupil == andrei else values):
            _grade(term, pupil, v, f"2026-03-0{i + 2}")
    refused = _grade(term, andrei, 9, "2026-01-27", expect=422)
    assert "outside the periods" in refused["message"]
    listed = who["director"]("GET", "/v1/grades", params={"class_id": cls, "student_id": andrei, "limit": 200})
    assert listed["total"] == 5
    # a change names the version it changes; a stale one gets 409 with the current version
    changed = who["teacher"]("PATCH", f"/v1/grades/{first['id']}", json={
        "expected_version": 1, "value": 10, "reason": "recorectare lucrare"})
    assert changed["version"] == 2
    stale = who["teacher"]("PATCH", f"/v1/grades/{first['id']}", 409, json={
        "expected_version": 1, "value": 7, "reason": "altă corectare"})
    assert stale["error"] == "stale_version" and stale["current"]["version"] == 2
    history = who["director"]("GET", f"/v1/grades/{first['id']}/history")
    assert [v["action"] for v in history["versions"]] == ["recorded", "changed"]
    # absences for a whole lesson in one call; the homeroom teacher motivates; the parent asks
    absent = who["teacher"]("POST", "/v1/absences", 201, json={
        "class_id": cls, "subject_id": term["math"], "occurred_on": "2025-11-04", "hour": 2,
        "student_ids": [andrei, ioana]})
    assert len(absent["items"]) == 2
    who["teacher"]("POST", "/v1/absences", 201, json={
        "class_id": cls, "subject_id": term["math"], "occurred_on": "2025-11-05", "hour": 1, "student_ids": [andrei]})
    who["teacher"]("POST", f"/v1/classes/{cls}/absences/motivate", 403, json={
        "student_id": ioana, "reason": "other", "from_date": "2025-11-04", "to_date": "2025-11-04"})
    who["homeroom"]("POST", f"/v1/classes/{cls}/absences/motivate", json={
        "student_id": ioana, "reason": "medical", "document_ref": "adeverință 7/2025",
        "from_date": "2025-11-01", "to_date": "2025-11-30"})
    over = who["parent"]("POST", "/v1/motivation-requests", 422, json={
        "student_id": andrei, "from_date": "2025-11-03", "to_date": "2025-11-05", "reason": "răceală"})
    assert "at most 2 school days" in over["message"]
    request = who["parent"]("POST", "/v1/motivation-requests", 201, json={
        "student_id": andrei, "from_date": "2025-11-04", "to_date": "2025-11-05", "reason": "răceală"})
    who["parent"]("POST", "/v1/motivation-requests", 403, json={
        "student_id": ioana, "from_date": "2025-11-04", "to_date": "2025-11-04", "reason": "x"})
    who["homeroom"]("POST", f"/v1/motivation-requests/{request['id']}/decision", 403, json={"approve": True})
    decided = who["director"]("POST", f"/v1/motivation-requests/{request['id']}/decision", json={"approve": True})
    assert decided["motivated"] == 2
    # conduct grades from the homeroom teacher, then the director closes the first semester
    for period in (term["s1"], term["s2"]):
        for pupil in pupils:
            who["homeroom"]("PUT", f"/v1/classes/{cls}/conduct", json={"student_id": pupil, "period_id": period,
                                                                        "value": 10})
    check = who["director"]("GET", f"/v1/periods/{term['s1']}/closing-check")
    assert any(w["kind"] == "too_few_grades" and w["student_id"] == ioana for w in check["warnings"])
    unconfirmed = who["director"]("POST", f"/v1/periods/{term['s1']}/close", 409, json={})
    assert unconfirmed["warning_count"] == check["warning_count"] and unconfirmed["warnings"]
    who["director"]("POST", f"/v1/periods/{term['s1']}/close", json={"confirm": True})
    closed = _grade(term, mihai, 10, "2025-10-20", expect=409)
    assert closed["error"] == "period_closed"
    who["director"]("POST", f"/v1/periods/{term['s1']}/amendments", 201, json={
        "class_id": cls, "student_id": mihai, "subject_id": term["math"], "reason": "notă trecută în carnet"})
    assert _grade(term, mihai, 10, "2025-10-20")["via"] == "amendment"
    # the year closes in one action: averages and situations frozen
    year = who["director"]("POST", f"/v1/school-years/{term['year']['id']}/close", json={"confirm": True})
    assert year["situations"] == {"promoted": 2, "corigent": 1}
    catalog = who["director"]("GET", f"/v1/classes/{cls}/catalog")
    by = {p["student_id"]: p for p in catalog["pupils"]}
    s1_andrei = by[andrei]["subjects"][term["math"]]["periods"][term["s1"]]
    # andrei S1: grades 10, 10 (the changed one) → M = 10.00; thesis 8 → (30 + 8) / 4 = 9.50 → 10
    assert s1_andrei["average"] == "10" and s1_andrei["thesis"]["value"] == 8
    assert s1_andrei["absences"] == {"total": 2, "motivated": 2, "unmotivated": 0}
    assert by[ioana]["situation"] == "corigent" and by[ioana]["subjects"][term["math"]]["annual_average"] == "4.00"
    # mihai S1: 8, 8, 10 (amendment) → M = 8.66; thesis 9 → (25.98 + 9) / 4 = 8.745 → 9; S2: 8 → annual 8.50
    assert by[mihai]["subjects"][term["math"]]["annual_average"] == "8.50"
    assert by[mihai]["general_average"] == "9.25"  # (8.50 + 10) / 2
    assert by[mihai]["amendments"][0]["reason"] == "notă trecută în carnet"
    assert _grade(term, andrei, 9, "2026-05-05", expect=409)["error"] == "period_closed"
    # re-examination: ioana passes, the situation is recomputed
    reexam = who["teacher"]("POST", f"/v1/classes/{cls}/reexaminations", 201, json={
        "student_id": ioana, "subject_id": term["math"], "kind": "corigenta", "average": "7"})
    assert reexam["situation"] == "promoted"
    # the parent and the pupil read the report card
    card = who["parent"]("GET", f"/v1/classes/{cls}/students/{andrei}/report-card")
    assert card["pupil"]["situation"] == "promoted" and card["pupil"]["general_average"] is not None
    who["parent"]("GET", f"/v1/classes/{cls}/students/{ioana}/report-card", 403)
    own = who["student"]("GET", f"/v1/classes/{cls}/students/{andrei}/report-card")
    assert own["pupil"]["student_id"] == andrei
    who["student"]("GET", f"/v1/classes/{cls}/students/{ioana}/report-card", 403)
    children = who["parent"]("GET", "/v1/me/children")
    assert any(c["class_id"] == cls for c in children["items"][0]["classes"])
    classes = who["teacher"]("GET", "/v1/me/classes")
    mine = next(c for c in classes["items"] if c["class_id"] == cls)
    assert mine["subjects"][0]["may_write_grades_today"] is False  # the year is closed
    alerts = who["director"]("GET", "/v1/alerts")
    assert {"grade_changed", "grade_recorded_by_amendment"} <= {a["kind"] for a in alerts["items"]}


def test_alert_emails_reach_the_teacher_and_the_director_without_the_grade(platform, term):
    demo, who = term["demo"], term["who"]
    grade = _grade(term, term["pupils"][2], 6, "2026-02-10", expect=409)  # the year is closed by now
    assert grade["error"] == "period_closed"
    outbox = platform.data_dir / "outbox" / "email.jsonl"
    wanted = {demo["users"]["teacher"]["email"], demo["users"]["director"]["email"]}

    def alert_mails():
        lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
        return [m for m in map(json.loads, lines) if m["to"] in wanted and "catalog" in m["subject"].lower()]

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and {m["to"] for m in alert_mails()} != wanted:
        time.sleep(0.3)
    mails = alert_mails()
    assert {m["to"] for m in mails} == wanted
    for m in mails:
        assert not any(ch.isdigit() for ch in m["subject"]), m["subject"]  # no grade value in the subject
    kinds = [m for m in mails if "changed" in m["body"] or "schimbat" in m["body"]]
    assert kinds, [m["body"] for m in mails]
    # once per event: the change of the first test mailed each of them exactly once
    per_recipient = {to: sum(1 for m in mails if m["to"] == to and ("changed" in m["body"] or "schimbat" in m["body"]))
                     for to in wanted}
    assert per_recipient == {to: 1 for to in wanted}
    who["director"]("GET", "/v1/alerts")


def test_parents_opt_in_to_new_grade_messages(platform, term):
    demo, who = term["demo"], term["who"]
    assert who["parent"]("GET", "/v1/me/catalog-notices") == {"grades": "off", "absences": "off"}
    who["parent"]("PUT", "/v1/me/catalog-notices", json={"grades": "immediate", "absences": "digest"})
    who["student"]("PUT", "/v1/me/catalog-notices", json={"grades": "digest", "absences": "off"})
    who["teacher"]("POST", "/v1/grades", 201, json={
        "class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
        "student_id": demo["student_person"]["id"], "value": 7})
    outbox = platform.data_dir / "outbox" / "email.jsonl"
    parent = demo["users"]["parent"]["email"]

    def grade_mails(to):
        lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
        return [m for m in map(json.loads, lines) if m["to"] == to and "new grade" in m["subject"]]

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not grade_mails(parent):
        time.sleep(0.3)
    mails = grade_mails(parent)
    assert len(mails) == 1 and "7" not in mails[0]["subject"] and "7" in mails[0]["body"]
    # the pupil chose the daily digest: nothing now
    assert grade_mails(demo["users"]["student"]["email"]) == []
