"""Identity over HTTPS on the running platform: 2FA enrolment and verification, sessions,
refresh rotation, revocation, password and e-mail self-service, invitations, integrators."""
from __future__ import annotations

import json
import statistics
import time
import uuid

import pyotp
import pytest

from deploy.local.demo import TotpDevice
from tests.infra import random_cnp

pytestmark = pytest.mark.e2e


def outbox(platform, kind: str) -> list[dict]:
    path = platform.data_dir / "outbox" / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def last_message_to(platform, kind: str, to: str) -> dict:
    for _ in range(50):
        found = [m for m in outbox(platform, kind) if m["to"] == to]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no {kind} to {to}")


def code_in(message: dict) -> str:
    text = message.get("body") or message["text"]
    return next(tok.strip(".") for tok in text.split() if len(tok.strip(".")) >= 6 and
                tok.strip(".").replace("-", "").replace("_", "").isalnum() and any(c.isdigit() for c in tok))


def post(platform, path, token=None, **kw):
    with platform.client(token) as c:
        return c.post(path, **kw)


def login(platform, email, password, **extra):
    r = post(platform, "/v1/auth/login", json={"email": email, "password": password, **extra})
    return r


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@demo-creanga.ro"


def new_member(platform, role: str, password: str = "parola-de-test-lunga-1") -> dict:
    email = unique_email(role)
    r = post(platform, "/v1/users", platform.token("admin"),
             json={"email": email, "full_name": "Test Ionescu", "role": role, "password": password})
    assert r.status_code == 201, r.text
    return {"email": email, "password": password, "id": r.json()["id"]}


def new_student(platform, password: str = "parola-elevului-1") -> dict:
    email = unique_email("elev")
    cnp = random_cnp()
    r = post(platform, "/v1/students", platform.token("admin"),
             json={"email": email, "password": password, "last_name": "Stănescu", "first_name": "Irina", "cnp": cnp})
    assert r.status_code == 201, r.text
    return {"email": email, "password": password, "person_id": r.json()["person"]["id"]}


@pytest.fixture(scope="module")
def platform(sqlite_platform):
    """Identity flows run once, on SQLite; the database layer is covered by the other modules."""
    return sqlite_platform


@pytest.mark.parametrize("role", ["school_admin", "director", "teacher", "statistics_viewer"])
def test_mandatory_roles_are_taken_to_enrolment_and_get_nothing_else_until_done(platform, role):
    user = new_member(platform, role)
    r = login(platform, user["email"], user["password"])
    assert r.status_code == 200 and r.json()["status"] == "enrolment_required"
    partial = r.json()["access_token"]
    assert "refresh_token" not in r.json()
    with platform.client(partial) as c:
        for method, path in (("GET", "/v1/grades"), ("GET", "/v1/users"), ("GET", "/v1/audit/events"),
                             ("POST", "/v1/auth/2fa/recovery-codes"), ("POST", "/v1/auth/logout-all")):
            resp = c.request(method, path)
            assert resp.status_code == 401 and resp.json()["error"] == "second_factor_required", (path, resp.text)
        enrol = c.post("/v1/auth/2fa/totp").json()
        assert enrol["qr_png_base64"] and enrol["otpauth_uri"].startswith("otpauth://totp/")
        assert c.post("/v1/auth/2fa/totp/confirm", json={"code": "000000"}).status_code == 422
        done = c.post("/v1/auth/2fa/totp/confirm", json={"code": pyotp.TOTP(enrol["secret"]).now()}).json()
    assert done["status"] == "ok" and sorted(done["factors"]) == ["otp", "pwd"]
    assert len(done["recovery_codes"]) == 10 and len(set(done["recovery_codes"])) == 10
    assert done["refresh_token"]


def test_totp_code_cannot_be_replayed_and_wrong_codes_fail(platform):
    user = new_member(platform, "teacher")
    signed = platform.sign_in(user["email"], user["password"])
    secret = signed["totp_secret"]
    used_step = int(time.time() // 30)
    # the enrolment spent a code; a fresh login with the very same code must be refused
    partial = login(platform, user["email"], user["password"]).json()["access_token"]
    same = pyotp.TOTP(secret).at(used_step * 30)
    r = post(platform, "/v1/auth/2fa/verify", partial, json={"method": "totp", "code": same})
    if int(time.time() // 30) == used_step:  # still the same step: a pure replay
        assert r.status_code == 401 and r.json()["message"] == "that code is not valid"
    r = post(platform, "/v1/auth/2fa/verify", partial, json={"method": "totp", "code": "123456"})
    assert r.status_code in (401, 429)


def test_optional_2fa_for_students_can_be_enabled_and_disabled(platform):
    student = new_student(platform)
    first = login(platform, student["email"], student["password"]).json()
    assert first["status"] == "ok" and first["factors"] == ["pwd"]
    token = first["access_token"]
    with platform.client(token) as c:
        assert c.get("/v1/auth/2fa").json() == {"methods": [], "required": False, "recovery_codes_left": 0}
        secret = c.post("/v1/auth/2fa/totp").json()["secret"]
        device = TotpDevice(secret)
        enabled = c.post("/v1/auth/2fa/totp/confirm", json={"code": device.code()}).json()
    recovery = enabled["recovery_codes"]
    second = login(platform, student["email"], student["password"]).json()
    assert second["status"] == "second_factor_required" and "totp" in second["methods"]
    with platform.client(second["access_token"]) as c:
        assert c.get("/v1/me/grades").status_code == 401, "a partial token reads nothing"
        full = c.post("/v1/auth/2fa/verify", json={"method": "recovery", "code": recovery[0].upper()}).json()
    assert full["status"] == "ok" and "recovery" in full["factors"]
    third = login(platform, student["email"], student["password"]).json()
    r = post(platform, "/v1/auth/2fa/verify", third["access_token"], json={"method": "recovery", "code": recovery[0]})
    assert r.status_code == 401, "a recovery code works once"
    with platform.client(full["access_token"]) as c:
        assert c.post("/v1/auth/2fa/totp/disable", json={"code": "000000"}).status_code == 422
        off = c.post("/v1/auth/2fa/totp/disable", json={"code": device.code()}).json()
    assert off["methods"] == []
    assert login(platform, student["email"], student["password"]).json()["status"] == "ok"


def test_a_mandatory_role_cannot_switch_its_only_factor_off(platform):
    user = new_member(platform, "teacher")
    signed = platform.sign_in(user["email"], user["password"])
    device = platform.api.device(signed["totp_secret"])
    r = post(platform, "/v1/auth/2fa/totp/disable", signed["access_token"], json={"code": device.code()})
    assert r.status_code == 403


def test_sms_second_factor_through_the_development_outbox(platform):
    student = new_student(platform)
    token = login(platform, student["email"], student["password"]).json()["access_token"]
    assert post(platform, "/v1/auth/2fa/sms", token, json={"phone": "not a phone"}).status_code == 422
    assert post(platform, "/v1/auth/2fa/sms", token, json={"phone": "0712 345 678"}).status_code == 200
    code = code_in(last_message_to(platform, "sms", "+40712345678"))
    assert len(code) == 6 and code.isdigit()
    enabled = post(platform, "/v1/auth/2fa/sms/confirm", token, json={"code": code}).json()
    assert enabled["status"] == "ok" and len(enabled["recovery_codes"]) == 10
    partial = login(platform, student["email"], student["password"]).json()
    assert partial["status"] == "second_factor_required" and "sms" in partial["methods"]
    before = len(outbox(platform, "sms"))
    assert post(platform, "/v1/auth/2fa/sms/send", partial["access_token"]).status_code == 200
    login_code = code_in(outbox(platform, "sms")[before])
    r = post(platform, "/v1/auth/2fa/verify", partial["access_token"], json={"method": "sms", "code": login_code})
    assert r.status_code == 200 and "sms" in r.json()["factors"]
    again = post(platform, "/v1/auth/2fa/verify", partial["access_token"], json={"method": "sms", "code": login_code})
    assert again.status_code == 401, "an SMS code is single use"


def wait_refused(platform, token, path="/v1/me", timeout=5.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        with platform.client(token) as c:
            status = c.get(path).status_code
        if status == 401 or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(platform):
    student = new_student(platform)
    first = login(platform, student["email"], student["password"]).json()
    rotated = post(platform, "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert rotated["status"] == "ok" and rotated["refresh_token"] != first["refresh_token"]
    with platform.client(rotated["access_token"]) as c:
        assert c.get("/v1/me/grades").status_code == 200
    stolen = post(platform, "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401
    assert post(platform, "/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    assert wait_refused(platform, rotated["access_token"]) == 401, "the gateway learnt of the revocation"


def test_refresh_keeps_the_second_factor_and_partial_logins_get_no_refresh_token(platform):
    user = new_member(platform, "director")
    signed = platform.sign_in(user["email"], user["password"])
    rotated = post(platform, "/v1/auth/refresh", json={"refresh_token": signed["refresh_token"]}).json()
    assert sorted(rotated["factors"]) == ["otp", "pwd"]
    partial = login(platform, user["email"], user["password"]).json()
    assert partial["status"] == "second_factor_required" and "refresh_token" not in partial


def test_logout_and_logout_everywhere_end_sessions_at_the_gateway(platform):
    student = new_student(platform)
    one = login(platform, student["email"], student["password"]).json()
    two = login(platform, student["email"], student["password"]).json()
    assert post(platform, "/v1/auth/logout", one["access_token"]).status_code == 200
    assert wait_refused(platform, one["access_token"]) == 401
    with platform.client(two["access_token"]) as c:
        assert c.get("/v1/me").status_code == 200
    three = login(platform, student["email"], student["password"]).json()
    assert post(platform, "/v1/auth/logout-all", three["access_token"]).json()["sessions_ended"] == 2
    assert wait_refused(platform, two["access_token"]) == 401
    assert wait_refused(platform, three["access_token"]) == 401


def test_password_change_needs_the_current_one_and_ends_other_sessions(platform):
    student = new_student(platform)
    keep = login(platform, student["email"], student["password"]).json()["access_token"]
    other = login(platform, student["email"], student["password"]).json()["access_token"]
    bad = post(platform, "/v1/me/password", keep, json={"current_password": "wrong-password-1",
                                                        "new_password": "o-parola-noua-buna"})
    assert bad.status_code == 422
    weak = post(platform, "/v1/me/password", keep, json={"current_password": student["password"],
                                                         "new_password": "password1"})
    assert weak.status_code == 422
    ok = post(platform, "/v1/me/password", keep, json={"current_password": student["password"],
                                                       "new_password": "o-parola-noua-buna"})
    assert ok.status_code == 200
    assert wait_refused(platform, other) == 401
    with platform.client(keep) as c:
        assert c.get("/v1/me").status_code == 200
    assert login(platform, student["email"], "o-parola-noua-buna").json()["status"] == "ok"


def test_password_reset_by_email_never_bypasses_the_second_factor(platform):
    user = new_member(platform, "teacher")
    signed = platform.sign_in(user["email"], user["password"])
    for email in (user["email"], "nimeni@nicaieri.ro"):
        r = post(platform, "/v1/auth/password/forgot", json={"email": email})
        assert r.status_code == 202 and r.json() == {"status": "accepted"}
    token = code_in(last_message_to(platform, "email", user["email"]))
    assert not [m for m in outbox(platform, "email") if m["to"] == "nimeni@nicaieri.ro"]
    r = post(platform, "/v1/auth/password/reset", json={"token": token, "new_password": "resetata-cu-succes-9"})
    assert r.status_code == 200 and "access_token" not in r.json()
    again = post(platform, "/v1/auth/password/reset", json={"token": token, "new_password": "alta-parola-buna-7"})
    assert again.status_code == 422, "a reset code works once"
    assert wait_refused(platform, signed["access_token"]) == 401, "sessions end on reset"
    after = login(platform, user["email"], "resetata-cu-succes-9").json()
    assert after["status"] == "second_factor_required"


def test_invitation_creates_the_account_but_signs_nobody_in(platform):
    email = unique_email("invitat")
    r = post(platform, "/v1/invitations", platform.token("admin"), json={"email": email, "role": "teacher"})
    assert r.status_code == 201
    token = code_in(last_message_to(platform, "email", email))
    accepted = post(platform, "/v1/invitations/accept",
                    json={"token": token, "full_name": "Invitat Popa", "password": "parola-invitatului-1"})
    assert accepted.status_code == 201 and "access_token" not in accepted.json()
    assert accepted.json()["user"]["roles"] == ["teacher"]
    assert post(platform, "/v1/invitations/accept", json={
        "token": token, "full_name": "X", "password": "parola-invitatului-1"}).status_code == 422
    assert login(platform, email, "parola-invitatului-1").json()["status"] == "enrolment_required"


def test_students_change_their_email_after_confirming_the_new_address(platform):
    student = new_student(platform)
    token = login(platform, student["email"], student["password"]).json()["access_token"]
    new_email = unique_email("nou")
    r = post(platform, "/v1/me/email", token, json={"current_password": student["password"], "new_email": new_email})
    assert r.status_code == 202
    assert login(platform, new_email, student["password"]).status_code == 401, "not before confirmation"
    confirm = code_in(last_message_to(platform, "email", new_email))
    assert post(platform, "/v1/me/email/confirm", json={"token": confirm}).json()["email"] == new_email
    assert login(platform, new_email, student["password"]).json()["status"] == "ok"
    assert login(platform, student["email"], student["password"]).status_code == 401


def test_failed_logins_are_throttled_alike_for_known_and_unknown_accounts(platform):
    student = new_student(platform)
    for email in (student["email"], unique_email("fantoma")):
        statuses = [login(platform, email, "definitely-wrong-1").status_code for _ in range(5)]
        assert statuses[:3] == [401, 401, 401], statuses
        assert 429 in statuses[3:], statuses
        r = login(platform, email, "definitely-wrong-1")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_integrator_client_credentials_scopes_and_revocation(platform):
    demo = platform.demo
    recorded = post(platform, "/v1/grades", platform.token("teacher"), json={
        "class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
        "student_id": demo["student_person"]["id"], "value": 6})
    assert recorded.status_code == 201
    admin = platform.token("admin")
    r = post(platform, "/v1/integrations/clients", admin, json={"name": "Transport județean",
                                                                "scopes": ["catalog:read"]})
    assert r.status_code == 201
    client = r.json()
    with platform.client(admin) as c:
        listed = c.get("/v1/integrations/clients").json()["items"]
    assert all("client_secret" not in item for item in listed), "the secret is shown once"
    form = {"grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"]}
    assert post(platform, "/v1/oauth/token", data={**form, "client_secret": "nope"}).status_code == 401
    assert post(platform, "/v1/oauth/token", data={**form, "scope": "registry:write"}).status_code == 422
    token = post(platform, "/v1/oauth/token", data=form).json()["access_token"]
    with platform.client(token) as c:
        grades = c.get("/v1/grades")
        assert grades.status_code == 200 and grades.json()["total"] >= 1, "tenant-wide catalog read"
        assert c.post("/v1/grades", json={}).status_code == 403
        assert c.get("/v1/me/grades").status_code == 403
        assert c.get("/v1/users").status_code == 403
    with platform.client(admin) as c:
        assert c.delete(f"/v1/integrations/clients/{client['client_id']}").json()["revoked"] is True
    assert post(platform, "/v1/oauth/token", data=form).status_code == 401
    assert wait_refused(platform, token, path="/v1/grades") == 401


def test_the_audit_trail_records_identity_events_without_secrets(platform):
    student = new_student(platform, password="un-secret-de-test-42")
    login(platform, student["email"], "gresit-de-tot-42")
    login(platform, student["email"], "un-secret-de-test-42")
    with platform.client(platform.token("director")) as c:
        deadline = time.monotonic() + 10
        while True:
            events = c.get("/v1/audit/events", params={"limit": 200, "type": "auth.login_succeeded"}).json()["items"]
            if any(e["entity"]["id"] for e in events) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    with platform.client(platform.token("operator")) as c:
        failed = c.get("/v1/audit/events", params={"limit": 200, "type": "auth.login_failed"}).json()["items"]
        everything = json.dumps(c.get("/v1/audit/events", params={"limit": 200}).json(), ensure_ascii=False)
    assert failed, "failures are audited"
    for secret in ("un-secret-de-test-42", "gresit-de-tot-42", student["password"]):
        assert secret not in everything


def test_unknown_and_known_users_take_the_same_time_to_refuse(platform):
    """Medians over many tries differ by less than 20% (argon2 on a dummy hash for unknown users)."""
    student = new_student(platform)
    known, unknown = [], []
    for i in range(24):
        for bucket, email in ((known, student["email"]), (unknown, unique_email("nimeni"))):
            with platform.client() as c:
                started = time.perf_counter()
                r = c.post("/v1/auth/login", json={"email": email, "password": f"wrong-password-{i}"})
                bucket.append(time.perf_counter() - started)
            assert r.status_code == 401, r.text
        # a success clears the known account's failure count, so throttling never kicks in
        assert login(platform, student["email"], student["password"]).status_code == 200
    k, u = statistics.median(known), statistics.median(unknown)
    assert abs(k - u) / max(k, u) < 0.20, f"known {k * 1000:.1f} ms vs unknown {u * 1000:.1f} ms"


def test_parents_follow_only_the_pupils_the_school_linked_them_to(platform):
    demo = platform.demo
    child, other = new_student(platform), new_student(platform)
    admin = platform.token("admin")
    for pupil in (child, other):
        assert post(platform, f"/v1/classes/{demo['class']['id']}/students", admin,
                    json={"student_id": pupil["person_id"]}).status_code == 201
    teacher = platform.token("teacher")
    for pupil, value in ((child, 8), (other, 4)):
        assert post(platform, "/v1/grades", teacher, json={
            "class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
            "student_id": pupil["person_id"], "value": value}).status_code == 201
    parent = new_member(platform, "parent")
    r = post(platform, f"/v1/users/{parent['id']}/children", admin, json={"student_id": child["person_id"]})
    assert r.status_code == 201
    assert post(platform, f"/v1/users/{parent['id']}/children", admin,
                json={"student_id": child["person_id"]}).status_code == 409
    signed = login(platform, parent["email"], parent["password"]).json()
    assert signed["status"] == "ok", "2FA is optional for parents"
    with platform.client(signed["access_token"]) as c:
        assert c.get("/v1/me").json()["children"] == [child["person_id"]]
        seen = c.get("/v1/grades").json()["items"]
        assert {g["student_id"] for g in seen} == {child["person_id"]} and [g["value"] for g in seen] == [8]
        assert c.get("/v1/grades", params={"student_id": other["person_id"]}).status_code == 403
        assert c.post("/v1/grades", json={}).status_code == 403


def test_the_homeroom_teacher_sees_every_subject_of_the_class(platform):
    demo = platform.demo
    diriginte = new_member(platform, "teacher")
    signed = platform.sign_in(diriginte["email"], diriginte["password"])
    with platform.client(signed["access_token"]) as c:
        assert c.get("/v1/grades").json()["total"] == 0, "teaches nothing yet"
    with platform.client(platform.token("director")) as c:
        r = c.put(f"/v1/classes/{demo['class']['id']}/homeroom", json={"teacher_id": diriginte["id"]})
    assert r.status_code == 200 and r.json()["homeroom_teacher_id"] == diriginte["id"]
    with platform.client(signed["access_token"]) as c:
        seen = c.get("/v1/grades").json()
        assert seen["total"] >= 1 and {g["class_id"] for g in seen["items"]} == {demo["class"]["id"]}
        r = c.post("/v1/grades", json={"class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
                                       "student_id": demo["student_person"]["id"], "value": 5})
        assert r.status_code == 403, "seeing the class does not mean grading other teachers' subjects"


def test_the_operator_creates_a_central_authority_that_reads_the_registry_across_institutions(platform):
    operator = platform.token("operator")
    email = unique_email("autoritate")
    r = post(platform, "/v1/users", operator, json={"email": email, "full_name": "Ministerul Educației",
                                                    "role": "central_authority", "password": "autoritate-centrala-1",
                                                    "tenant_id": "platform"})
    assert r.status_code == 201, r.text
    assert post(platform, "/v1/users", platform.token("admin"), json={
        "email": unique_email("x"), "full_name": "X", "role": "central_authority", "password": "parola-lunga-de-tot",
        "tenant_id": "platform"}).status_code == 403
    assert login(platform, email, "autoritate-centrala-1").json()["status"] == "enrolment_required"
    token = platform.sign_in(email, "autoritate-centrala-1")["access_token"]
    with platform.client(token) as c:
        person = c.get(f"/v1/registry/persons/{platform.demo['student_person']['id']}")
        assert person.status_code == 200 and person.json()["matriculation_code"].startswith("RM")
        assert c.get("/v1/grades").status_code == 403
        assert c.post("/v1/registry/persons", json={}).status_code == 403
