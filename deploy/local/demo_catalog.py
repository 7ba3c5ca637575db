"""The demo school's catalog, so every capability can be tried by hand: the current school year
in five modules, a homeroom teacher, more pupils in "a IX-a A" with grades and absences, a parent
following the demo pupil, and a primary class assessed by qualifiers.

The demo's modules follow each other without gaps (the vacations are listed as holidays), so a
grade dated today is accepted on any day of the school year: handy when trying it by hand.

The calendar below is written for 2026-2027 and moved by whole years into the school year that
contains today (`on`), so the demo, the tests and the benchmarks that use it never age out; a seeded
grade or absence whose moved date is still ahead (early in September) is dated today (`seeded`)."""
from __future__ import annotations

from datetime import date

from services.registry.rules import cnp_check_digit

TEMPLATE_START = 2026


def school_year_start(day: date) -> int:
    """The calendar year a school year begins in: it runs from 1 September to 31 August."""
    return day.year if day.month >= 9 else day.year - 1


START = school_year_start(date.today())
YEAR = f"{START}-{START + 1}"


def on(template_day: str) -> str:
    """A day of the 2026-2027 template, in the current school year (no template day is 29 February)."""
    d = date.fromisoformat(template_day)
    return d.replace(year=d.year + START - TEMPLATE_START).isoformat()


def seeded(template_day: str) -> str:
    """The day a seeded record is dated: the template day moved, never after today."""
    return min(on(template_day), date.today().isoformat())


MODULES = [
    {"name": "Modulul 1", "starts_on": on("2026-09-01"), "ends_on": on("2026-10-25"), "holidays": [on("2026-10-25")]},
    {"name": "Modulul 2", "starts_on": on("2026-10-26"), "ends_on": on("2026-12-21"),
     "holidays": [on("2026-10-26"), on("2026-11-30"), on("2026-12-01")]},
    {"name": "Modulul 3", "starts_on": on("2026-12-22"), "ends_on": on("2027-02-21"), "holidays": [on("2026-12-25"), on("2027-01-01")]},
    {"name": "Modulul 4", "starts_on": on("2027-02-22"), "ends_on": on("2027-04-18"), "holidays": [on("2027-04-09")]},
    {"name": "Modulul 5", "starts_on": on("2027-04-19"), "ends_on": on("2027-08-31"), "holidays": [on("2027-06-01")]},
]
PUPILS = [("Popa", "Ioana", "609051240001"), ("Ștefănescu", "Mihai", "509082240002"),
          ("Țăranu", "Elena", "609110340003")]  # CNPs without their check digit


def seed(api, demo: dict, tokens: dict) -> None:
    admin, director, teacher = tokens["admin"], tokens["director"], tokens["teacher"]
    klass, math = demo["class"], demo["subject"]
    year = api.call("POST", "/v1/school-years", director, json={
        "name": YEAR, "structure": "modules", "periods": MODULES,
        "settings": {"parent_motivation_days": 5, "parent_motivation_scope": "year"}})
    m1, m2 = year["periods"][0]["id"], year["periods"][1]["id"]
    api.call("PUT", f"/v1/classes/{klass['id']}/curriculum/{math['id']}", admin,
             json={"weekly_hours": 4, "thesis_periods": [m2]})
    romanian = api.call("POST", "/v1/subjects", admin, json={"name": "Limba și literatura română", "weekly_hours": 4})
    api.call("PUT", f"/v1/classes/{klass['id']}/curriculum/{romanian['id']}", admin, json={"weekly_hours": 4})
    homeroom = {"email": "diriginte@demo-creanga.ro", "full_name": "Dana Răducanu",
                "password": _passphrase()}
    homeroom["id"] = api.call("POST", "/v1/users", admin, json={**_user(homeroom), "role": "teacher"})["id"]
    signed = api.sign_in(homeroom["email"], homeroom["password"])
    homeroom["totp_secret"] = signed["totp_secret"]
    homeroom_token = signed["access_token"]
    api.call("PUT", f"/v1/classes/{klass['id']}/homeroom", admin, json={"teacher_id": homeroom["id"]})
    api.call("POST", f"/v1/classes/{klass['id']}/teachers", admin,
             json={"subject_id": romanian["id"], "teacher_id": homeroom["id"]})
    pupils = [demo["student_person"]["id"]]
    for last, first, cnp in PUPILS:
        person = api.call("POST", "/v1/registry/persons", admin, json={"last_name": last, "first_name": first,
                                                                        "cnp": cnp + str(cnp_check_digit(cnp))})
        api.call("POST", f"/v1/classes/{klass['id']}/students", admin, json={"student_id": person["id"]})
        pupils.append(person["id"])
    for i, pupil in enumerate(pupils):
        for day, value in (("2026-09-15", 7 + i % 3), ("2026-10-06", 8 + i % 2), ("2026-11-10", 9 - i % 2),
                           ("2026-11-24", 10 - i)):
            api.call("POST", "/v1/grades", teacher, json={
                "class_id": klass["id"], "subject_id": math["id"], "student_id": pupil, "value": value,
                "awarded_on": seeded(day), "kind": "written" if day.endswith("06") else "oral"})
        api.call("POST", "/v1/grades", homeroom_token, json={
            "class_id": klass["id"], "subject_id": romanian["id"], "student_id": pupil, "value": 9,
            "awarded_on": seeded("2026-10-01")})
    for day, hour, absent in (("2026-10-13", 1, pupils[:2]), ("2026-11-17", 3, pupils[1:3]),
                              ("2026-11-18", 3, pupils[:1])):
        api.call("POST", "/v1/absences", teacher, json={"class_id": klass["id"], "subject_id": math["id"],
                                                        "occurred_on": seeded(day), "hour": hour,
                                                        "student_ids": absent})
    api.call("POST", f"/v1/classes/{klass['id']}/absences/motivate", homeroom_token, json={
        "student_id": pupils[1], "reason": "medical", "document_ref": f"adeverință medicală 41/{START}",
        "from_date": seeded("2026-10-13"), "to_date": seeded("2026-10-13")})
    parent = {"email": "parinte@demo-creanga.ro", "full_name": "Maria Bălănescu", "password": _passphrase()}
    parent["id"] = api.call("POST", "/v1/users", admin, json={**_user(parent), "role": "parent"})["id"]
    api.call("POST", f"/v1/users/{parent['id']}/children", admin, json={"student_id": pupils[0]})
    primary = api.call("POST", "/v1/classes", admin, json={"name": "a II-a A", "school_year": YEAR, "level": 2})
    demo["catalog"] = {"school_year": year, "modules": [m1, m2], "romanian": romanian, "pupils": pupils,
                       "primary_class": primary}
    demo["users"]["homeroom"] = homeroom
    demo["users"]["parent"] = parent


def _user(u: dict) -> dict:
    return {"email": u["email"], "full_name": u["full_name"], "password": u["password"]}


def _passphrase() -> str:
    from deploy.local.demo import passphrase
    return passphrase()
