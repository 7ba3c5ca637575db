"""The demo school's catalog, so every capability can be tried by hand: the school year 2026-2027
in five modules, a homeroom teacher, more pupils in "a IX-a A" with grades and absences, a parent
following the demo pupil, and a primary class assessed by qualifiers.

The demo's modules follow each other without gaps (the vacations are listed as holidays), so a
grade dated today is accepted on any day of the school year: handy when trying it by hand."""
from __future__ import annotations

from services.registry.rules import cnp_check_digit

YEAR = "2026-2027"
MODULES = [
    {"name": "Modulul 1", "starts_on": "2026-09-01", "ends_on": "2026-10-25", "holidays": ["2026-10-25"]},
    {"name": "Modulul 2", "starts_on": "2026-10-26", "ends_on": "2026-12-21",
     "holidays": ["2026-10-26", "2026-11-30", "2026-12-01"]},
    {"name": "Modulul 3", "starts_on": "2026-12-22", "ends_on": "2027-02-21", "holidays": ["2026-12-25", "2027-01-01"]},
    {"name": "Modulul 4", "starts_on": "2027-02-22", "ends_on": "2027-04-18", "holidays": ["2027-04-09"]},
    {"name": "Modulul 5", "starts_on": "2027-04-19", "ends_on": "2027-08-31", "holidays": ["2027-06-01"]},
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
                "awarded_on": day, "kind": "written" if day.endswith("06") else "oral"})
        api.call("POST", "/v1/grades", homeroom_token, json={
            "class_id": klass["id"], "subject_id": romanian["id"], "student_id": pupil, "value": 9,
            "awarded_on": "2026-10-01"})
    for day, hour, absent in (("2026-10-13", 1, pupils[:2]), ("2026-11-17", 3, pupils[1:3]),
                              ("2026-11-18", 3, pupils[:1])):
        api.call("POST", "/v1/absences", teacher, json={"class_id": klass["id"], "subject_id": math["id"],
                                                        "occurred_on": day, "hour": hour, "student_ids": absent})
    api.call("POST", f"/v1/classes/{klass['id']}/absences/motivate", homeroom_token, json={
        "student_id": pupils[1], "reason": "medical", "document_ref": "adeverință medicală 41/2026",
        "from_date": "2026-10-13", "to_date": "2026-10-13"})
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
