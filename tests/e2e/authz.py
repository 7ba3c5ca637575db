"""Authorisation matrix, core rows and vocabulary: every gateway route × every kind of caller × own / other tenant / other record.

The answer expected in each cell is written out below as a literal table (`MATRIX`), on
purpose NOT derived from `gateway.policy.POLICY`: removing or loosening a rule, in the
gateway or in a service's own check, changes some cell and fails the test named after it,
e.g. `POST /v1/grades|admin+teacher|own`.

Answers are pinned to the layer that gives them: a gateway refusal carries the gateway's
message ("your role may not use this endpoint"), a service refusal the service's message
("administrators may not record grades"). So a gateway rule loosened behind a service that
still refuses is caught too, and so is a service check removed behind a gateway that lets
the caller through (defence in depth is tested layer by layer).

Every 2xx answer is also searched for records of other tenants (their ids, e-mails): a
tenant filter removed from a list query fails even though the status stays 200.

Callers (tenant A is the demo school):
  operator, school_admin, director, teacher (teaches Matematică in the demo class),
  teacher-unassigned (teaches nothing), admin+teacher (one account holding school_admin
  and teacher, teaching Fizică in the demo class: the only way to reach the CAT-18 check
  in the grades service past the gateway), student (demo, enrolled), student-2 (enrolled),
  parent, statistics_viewer, registry_clerk (of a university tenant U), integrator (an API
  client of A with scopes catalog:read + registry:read); anonymous, forged-token (a token
  whose payload was edited to claim "operator"), revoked-session (a logged-out session),
  partial-2fa (a teacher's token after the password step only).
  central_authority is left out: no API creates one yet.
Tenant B (a second school: admin, teacher with class/subject/assignment, enrolled student,
a grade) and U provide the "other tenant" records.

Variants: "own" (the caller's own tenant / own record), "other-tenant" (an id of another
tenant in the path or the query; "other-tenant-body" when it is in the body),
"other-record" (a record of the caller's own tenant that is not theirs: the other
student's person, a class/subject the teacher does not teach).

"other-tenant-account": POST /v1/users and POST /v1/students given the e-mail of an account
that belongs only to another institution must refuse (409). Found by this matrix and fixed:
they used to answer 201, annexing the account (and showing its name and registry person id)
without its holder's consent; invitations, accepted by the holder, are the consented way to
join a second institution.

Public routes are called anonymously only: the gateway ignores tokens there.
Cells that change the caller's account (logout, logout-all, password change, 2FA disable,
recovery codes) use a throwaway account of the caller's role made for that cell; the
operator, who cannot be created through the API, uses a fresh session signed in with a
recovery code and is signed in again afterwards.
"""
from __future__ import annotations

import base64
import html
import itertools
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from deploy.local.demo_catalog import YEAR
from tests.infra import valid_cnp

# --- callers -------------------------------------------------------------------------------

OP, ADM, DIR, TCH, TCH2, ADMT = "operator", "school_admin", "director", "teacher", "teacher-unassigned", "admin+teacher"
STU, STU2, PAR, STAT, CLERK = "student", "student-2", "parent", "statistics_viewer", "registry_clerk"
INT = "integrator"
ANON, FORGED, REVOKED, PARTIAL = "anonymous", "forged-token", "revoked-session", "partial-2fa"
# central_authority has no column: the operator creates it in the platform tenant, and
# tests/e2e/test_identity_flows.py covers what it may and may not do.
HUMANS = (OP, ADM, DIR, TCH, TCH2, ADMT, STU, STU2, PAR, STAT, CLERK)
CALLERS = HUMANS + (INT, ANON, FORGED, REVOKED, PARTIAL)
SECOND_FACTOR_OPTIONAL = (STU, STU2, PAR)

# --- answers: a status, or (status, error code[, a phrase the message contains]) -------------

OK, CREATED, ACCEPTED = 200, 201, 202
NO_TOKEN = (401, "not_authenticated", "missing bearer access token")
BAD_TOKEN = (401, "not_authenticated", "invalid access token")
ENDED = (401, "not_authenticated", "session has ended")
SECOND_FACTOR_OWED = (401, "second_factor_required", "complete two-factor authentication first")
ROLE_DENIED = (403, "forbidden", "your role may not use this endpoint")                # gateway
SCOPE_DENIED = (403, "forbidden", "this API client's scopes do not allow this endpoint")  # gateway
NOT_FOUND = (404, "not_found")
# refusals by the services themselves
SVC_ROLE_DENIED = (403, "forbidden", "your role may not do this")
OWN_INSTITUTION_ONLY = (403, "forbidden", "you may only manage your own institution")
NOT_TEACHING = (403, "forbidden", "you do not teach this subject in this class")
ADMINS_NEVER_GRADE = (403, "forbidden", "administrators may not record grades")
PARENTS_OWN_CHILDREN = (403, "forbidden", "parents see only their own children's grades")
ROLE_NEEDS_FACTOR = (403, "forbidden", "your role requires a second factor")
PROVE_FACTOR_FIRST = (403, "forbidden", "verify your existing second factor first")
NO_INSTITUTION = (404, "not_found", "institution not found")
# An account of another institution must not be attached to yours by a plain create: that
# discloses it (name, registry person id, lock status) and changes it without its holder's
# consent; invitations (accepted by the holder) exist for that.
FOREIGN_ACCOUNT = (409, "conflict")
WRONG_CODE = (401, "not_authenticated", "that code is not valid")
WRONG_CODE_422 = (422, "invalid_input", "that code is not valid")
NOTHING_PENDING = (422, "invalid_input", "no second factor is pending")
NO_PHONE = (422, "invalid_input", "no phone number is enrolled")
NO_FACTOR_YET = (422, "invalid_input", "enrol a second factor first")
INVALID = (422, "invalid_input")


def signed_in_only(partial=SECOND_FACTOR_OWED) -> dict:
    return {ANON: NO_TOKEN, FORGED: BAD_TOKEN, REVOKED: ENDED, PARTIAL: partial}


def only(allowed: dict, partial=SECOND_FACTOR_OWED) -> dict:
    """The callers in `allowed` get their answer; every other person is refused by the
    gateway's role check, the integrator by its scope check."""
    return {**{c: ROLE_DENIED for c in HUMANS}, INT: SCOPE_DENIED, **allowed, **signed_in_only(partial)}


def every_person(answer, partial=SECOND_FACTOR_OWED) -> dict:
    """Every signed-in person gets `answer` (override some after); integrators are refused."""
    return {**{c: answer for c in HUMANS}, INT: SCOPE_DENIED, **signed_in_only(partial)}


@dataclass(frozen=True)
class Row:
    own: dict
    # variant → overrides of `own` (a caller not named keeps its `own` answer)
    variants: dict = field(default_factory=dict)
    # caller → names of records (World.ids) their 2xx answer must not contain
    hidden: dict = field(default_factory=dict)


PUBLIC_ROW = {ANON: OK}

MATRIX: dict[tuple[str, str], Row] = {
    # --- public -----------------------------------------------------------------------------
    ("GET", "/healthz"): Row(PUBLIC_ROW),
    ("GET", "/readyz"): Row(PUBLIC_ROW),
    ("GET", "/metrics"): Row(PUBLIC_ROW),
    ("POST", "/v1/auth/login"): Row({ANON: OK}),
    ("POST", "/v1/auth/refresh"): Row({ANON: OK}),
    ("POST", "/v1/auth/password/forgot"): Row({ANON: ACCEPTED}),
    ("POST", "/v1/auth/password/reset"): Row({ANON: OK}),
    ("POST", "/v1/me/email/confirm"): Row({ANON: OK}),
    ("POST", "/v1/invitations/accept"): Row({ANON: CREATED}),
    ("POST", "/v1/oauth/token"): Row({ANON: OK}),
    # --- the sign-in steps: reachable with a token still owing the second factor ------------
    # a full token has no pending step: the service answers 422, which proves it was reached
    ("POST", "/v1/auth/2fa/verify"): Row(every_person(NOTHING_PENDING, partial=OK)),
    ("POST", "/v1/auth/2fa/sms/send"): Row(every_person(NOTHING_PENDING, partial=NO_PHONE)),
    ("GET", "/v1/auth/2fa"): Row(every_person(OK, partial=OK)),
    # a token that owes its existing factor may not add another one (auth service)
    ("POST", "/v1/auth/2fa/totp"): Row(every_person(OK, partial=PROVE_FACTOR_FIRST)),
    ("POST", "/v1/auth/2fa/totp/confirm"): Row(every_person(INVALID, partial=PROVE_FACTOR_FIRST)),
    ("POST", "/v1/auth/2fa/sms"): Row(every_person(OK, partial=PROVE_FACTOR_FIRST)),
    # an SMS enrolment is started first; the wrong code then reaches the service and fails there
    ("POST", "/v1/auth/2fa/sms/confirm"): Row(every_person(WRONG_CODE, partial=PROVE_FACTOR_FIRST)),
    ("POST", "/v1/auth/logout"): Row(every_person(OK, partial=OK)),
    ("GET", "/v1/me"): Row(every_person(OK, partial=OK)),
    # --- any signed-in person ---------------------------------------------------------------
    # with a valid code: roles that must keep a second factor are refused by the auth service;
    # the operator sends a wrong code (its authenticator is shared with the rest of the module)
    ("POST", "/v1/auth/2fa/totp/disable"): Row({
        **every_person(ROLE_NEEDS_FACTOR), STU: OK, STU2: OK, PAR: OK, OP: WRONG_CODE_422}),
    ("POST", "/v1/auth/2fa/recovery-codes"): Row({
        **every_person(OK), STU: NO_FACTOR_YET, STU2: NO_FACTOR_YET, PAR: NO_FACTOR_YET}),
    ("POST", "/v1/auth/logout-all"): Row(every_person(OK)),
    ("POST", "/v1/me/password"): Row(every_person(OK)),
    ("POST", "/v1/me/email"): Row(every_person(ACCEPTED)),
    # --- institutions and accounts ----------------------------------------------------------
    ("POST", "/v1/tenants"): Row(only({OP: CREATED})),
    ("POST", "/v1/users"): Row(
        only({OP: CREATED, ADM: CREATED, ADMT: CREATED}),
        variants={"other-tenant-body": {ADM: OWN_INSTITUTION_ONLY, ADMT: OWN_INSTITUTION_ONLY},
                  # the e-mail of an account that belongs to tenant B only: joining another
                  # institution needs the person's consent (an invitation), even for the operator
                  "other-tenant-account": {OP: FOREIGN_ACCOUNT, ADM: FOREIGN_ACCOUNT, ADMT: FOREIGN_ACCOUNT}}),
    ("GET", "/v1/users"): Row(only({OP: OK, ADM: OK, DIR: OK, ADMT: OK})),
    # the operator belongs to no institution, so there is none to invite into
    ("POST", "/v1/invitations"): Row(only({ADM: CREATED, ADMT: CREATED, OP: NO_INSTITUTION})),
    # the operator spans institutions; a school's administrators do not
    ("POST", "/v1/users/{user_id}/unlock"): Row(
        only({OP: OK, ADM: OK, ADMT: OK}),
        variants={"other-tenant": {ADM: NOT_FOUND, ADMT: NOT_FOUND}}),
    # a school's administrator links a parent account of their school to a pupil of their school
    ("POST", "/v1/users/{user_id}/children"): Row(
        only({ADM: CREATED, ADMT: CREATED}),
        variants={"other-tenant": {ADM: NOT_FOUND, ADMT: NOT_FOUND},
                  "other-tenant-body": {ADM: NOT_FOUND, ADMT: NOT_FOUND}}),
    ("POST", "/v1/integrations/clients"): Row(
        only({OP: CREATED, ADM: CREATED, ADMT: CREATED}),
        variants={"other-tenant-body": {ADM: OWN_INSTITUTION_ONLY, ADMT: OWN_INSTITUTION_ONLY}}),
    ("GET", "/v1/integrations/clients"): Row(only({OP: OK, ADM: OK, ADMT: OK})),
    ("DELETE", "/v1/integrations/clients/{client_id}"): Row(
        only({OP: OK, ADM: OK, ADMT: OK}),
        variants={"other-tenant": {ADM: NOT_FOUND, ADMT: NOT_FOUND}}),
    ("POST", "/v1/students"): Row(
        only({ADM: CREATED, ADMT: CREATED}),
        # ... nor linked to a new registry person of yours
        variants={"other-tenant-account": {ADM: FOREIGN_ACCOUNT, ADMT: FOREIGN_ACCOUNT}}),
    # --- registry ---------------------------------------------------------------------------
    ("POST", "/v1/registry/persons"): Row(only({ADM: CREATED, ADMT: CREATED, CLERK: CREATED})),
    ("GET", "/v1/registry/persons/{person_id}"): Row(
        only({ADM: OK, DIR: OK, TCH: OK, TCH2: OK, ADMT: OK, STU: OK, STU2: OK, CLERK: OK, INT: OK}),
        variants={
            "other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, TCH: NOT_FOUND, TCH2: NOT_FOUND, ADMT: NOT_FOUND,
                             CLERK: NOT_FOUND, INT: NOT_FOUND, STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED},
            # a student reads their own record only; staff read any person of their institution
            "other-record": {STU: SVC_ROLE_DENIED, STU2: SVC_ROLE_DENIED},
        }),
    # --- catalog ----------------------------------------------------------------------------
    ("POST", "/v1/classes"): Row(only({ADM: CREATED, DIR: CREATED, ADMT: CREATED})),
    ("POST", "/v1/subjects"): Row(only({ADM: CREATED, DIR: CREATED, ADMT: CREATED})),
    ("POST", "/v1/classes/{class_id}/students"): Row(
        only({ADM: CREATED, DIR: CREATED, ADMT: CREATED}),
        variants={"other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND},
                  "other-tenant-body": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND}}),
    ("POST", "/v1/classes/{class_id}/teachers"): Row(
        only({ADM: CREATED, DIR: CREATED, ADMT: CREATED}),
        variants={"other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND},
                  "other-tenant-body": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND}}),
    # CAT-13/CAT-18: the subject's own teacher only; an administrator never, even one who teaches
    ("POST", "/v1/grades"): Row(
        only({TCH: CREATED, TCH2: NOT_TEACHING, ADMT: ADMINS_NEVER_GRADE}),
        variants={"other-tenant-body": {TCH: NOT_FOUND, TCH2: NOT_FOUND},
                  "other-record": {TCH: NOT_TEACHING}}),
    ("GET", "/v1/grades"): Row(
        only({DIR: OK, TCH: OK, TCH2: OK, ADMT: OK, INT: OK, PAR: OK}),
        # ?student_id= the demo student: a parent who does not follow that pupil is refused
        variants={"other-tenant": {}, "other-record": {PAR: PARENTS_OWN_CHILDREN}},
        # teachers see the grades of what they teach, parents their children's, nothing else
        hidden={TCH2: ("A.grade",), ADMT: ("A.grade",), PAR: ("A.grade",)}),
    ("PUT", "/v1/classes/{class_id}/homeroom"): Row(
        only({ADM: OK, DIR: OK, ADMT: OK}),
        variants={"other-tenant": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND},
                  "other-tenant-body": {ADM: NOT_FOUND, DIR: NOT_FOUND, ADMT: NOT_FOUND}}),
    # aggregates only: no pupil's registry id may appear in them
    ("GET", "/v1/stats/grades"): Row(
        only({DIR: OK, STAT: OK}),
        hidden={DIR: ("A.student_person",), STAT: ("A.student_person", "A.grade")}),
    ("GET", "/v1/me/grades"): Row(
        only({STU: OK, STU2: OK}),
        hidden={STU2: ("A.grade", "A.student_person"), STU: ("A.student2_person",)}),
    # --- operations -------------------------------------------------------------------------
    ("GET", "/v1/audit/events"): Row(
        only({OP: OK, DIR: OK, ADM: OK, ADMT: OK}),
        variants={"other-tenant": {}}),  # ?tenant_id=B: only the operator may look across
    ("GET", "/v1/backup/stats"): Row(only({OP: OK})),
}


@dataclass(frozen=True)
class Cell:
    method: str
    path: str
    caller: str
    variant: str
    expected: Any

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}|{self.caller}|{self.variant}"


def all_cells() -> list[Cell]:
    cells = []
    for (method, path), row in MATRIX.items():
        for variant in ("own", *row.variants):
            overrides = row.variants.get(variant, {})
            for caller, expected in row.own.items():
                cells.append(Cell(method, path, caller, variant, overrides.get(caller, expected)))
    return cells



def _normalised(expected) -> tuple[int, str | None, str | None]:
    if isinstance(expected, int):
        return expected, None, None
    status, code, *phrase = expected
    return status, code, (phrase[0] if phrase else None)


def describe(expected) -> str:
    status, code, phrase = _normalised(expected)
    return " ".join(str(p) for p in (status, code, repr(phrase) if phrase else None) if p)


_PAGE_ERROR = re.compile(r'data-error="([a-z_]+)"[^>]*>([^<]*)<')


def answer_body(response: httpx.Response) -> dict:
    """The `{"error", "message"}` of an answer: the JSON body; for a web page (asked for in
    English) the error it shows (`data-error` and its text); for a redirect, where it leads."""
    if 300 <= response.status_code < 400:
        return {"error": "redirect", "message": response.headers.get("location", "")}
    if response.headers.get("content-type", "").startswith("text/html"):
        found = _PAGE_ERROR.search(response.text)
        return {"error": found.group(1), "message": html.unescape(found.group(2))} if found else {}
    try:
        return response.json()
    except ValueError:
        return {}


def mismatch(response: httpx.Response, expected) -> str | None:
    status, code, phrase = _normalised(expected)
    problem = response.status_code != status
    if not problem and (code or phrase):
        body = answer_body(response)
        problem = (code and body.get("error") != code) or (phrase and phrase not in str(body.get("message")))
    if problem:
        return f"expected {describe(expected)}, got {response.status_code} {response.text[:300]}"
    return None


# --- unique test data ---------------------------------------------------------------------------

_seq = itertools.count(1)
_cnp_seq = itertools.count(random.randrange(0, 300_000))


def unique(prefix: str = "m") -> str:
    return f"{prefix}{next(_seq)}{uuid.uuid4().hex[:6]}"


def new_email(prefix: str = "cont") -> str:
    return f"{unique(prefix)}@matrice-test.ro"


def new_password() -> str:
    return f"matrice-{uuid.uuid4().hex[:14]}"


def new_cnp() -> str:
    n = next(_cnp_seq)
    year, month, day = 10 + (n // 336_000) % 10, (n // 28_000) % 12 + 1, (n // 1000) % 28 + 1
    return valid_cnp(f"6{year:02d}{month:02d}{day:02d}40{n % 1000:03d}")


def new_phone() -> str:
    return f"+4072{random.randrange(10**7):07d}"


def person_body() -> dict:
    return {"last_name": "Ionescu", "first_name": "Ana", "cnp": new_cnp()}


# --- the world the cells run in ---------------------------------------------------------------

@dataclass
class Identity:
    email: str
    password: str
    token: str = ""
    totp_secret: str | None = None
    recovery_codes: list = field(default_factory=list)
    user_id: str | None = None
    person_id: str | None = None


@dataclass
class Call:
    token: str | None
    method: str
    url: str
    json: Any = None
    data: dict | None = None
    params: dict | None = None
    after: Callable[[httpx.Response], None] | None = None
    # web pages (tests/e2e/authz_areas/web.py): the session travels in cookies, not a header
    cookies: dict | None = None


_ROLE_OF = {ADM: "school_admin", DIR: "director", TCH: "teacher", TCH2: "teacher", ADMT: "teacher",
            PAR: "parent", STAT: "statistics_viewer", CLERK: "registry_clerk"}


class World:
    """Tenants A (demo), B and U with one identity per caller; tokens made once and cached."""

    def __init__(self, platform):
        self.p = platform
        self.http = platform.client()
        self.people: dict[str, Identity] = {}
        self.ids: dict[str, str] = {}
        self.admins: dict[str, Identity] = {}
        self._partial: tuple[float, str] | None = None

    # plumbing
    def call(self, method: str, url: str, token: str | None = None, cookies: dict | None = None,
             **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return self.http.request(method, url, headers=headers, **kw)

    def ok(self, method: str, url: str, token: str | None = None, **kw) -> dict:
        r = self.call(method, url, token, **kw)
        assert r.status_code < 300, f"set-up step {method} {url} → {r.status_code}: {r.text}"
        return r.json()

    def totp(self, secret: str) -> str:
        return self.p.api.device(secret).code()

    def mail_token(self, to: str) -> str:
        outbox = self.p.data_dir / "outbox" / "email.jsonl"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
            for line in reversed(lines):
                mail = json.loads(line)
                if mail["to"] == to.lower():
                    return re.search(r"\n\n([A-Za-z0-9_-]{40,})\n\n", mail["body"]).group(1)
            time.sleep(0.1)
        raise AssertionError(f"no e-mail reached {to}")

    # identities
    def sign_in(self, ident: Identity) -> Identity:
        answer = self.p.sign_in(ident.email, ident.password, ident.totp_secret)
        ident.token, ident.totp_secret = answer["access_token"], answer.get("totp_secret")
        ident.recovery_codes = list(answer.get("recovery_codes") or ident.recovery_codes)
        return ident

    def fresh_session(self, ident: Identity) -> str:
        """Another session of an existing account, its second factor proven with a recovery code."""
        answer = self.ok("POST", "/v1/auth/login", json={"email": ident.email, "password": ident.password})
        if answer["status"] == "ok":
            return answer["access_token"]
        assert answer["status"] == "second_factor_required", answer
        assert ident.recovery_codes, f"no recovery code left for {ident.email}"
        return self.ok("POST", "/v1/auth/2fa/verify", answer["access_token"],
                       json={"method": "recovery", "code": ident.recovery_codes.pop()})["access_token"]

    def admin(self, tenant: str) -> str:
        return self.admins[tenant].token

    def new_account(self, kind: str, tenant: str = "A") -> Identity:
        pw = new_password()
        if kind in (STU, STU2):
            email = new_email("elev")
            out = self.ok("POST", "/v1/students", self.admin(tenant), json={
                "email": email, "password": pw, **person_body()})
            return Identity(email, pw, user_id=out["account"]["id"], person_id=out["person"]["id"])
        if kind == CLERK:
            tenant = "U"
        email = new_email(_ROLE_OF[kind].replace("_", ""))
        out = self.ok("POST", "/v1/users", self.admin(tenant), json={
            "email": email, "full_name": "Maria Ionescu", "role": _ROLE_OF[kind], "password": pw})
        if kind == ADMT:  # the same account also administers the school: invited, and accepted
            self.ok("POST", "/v1/invitations", self.admin(tenant), json={"email": email, "role": "school_admin"})
            self.ok("POST", "/v1/invitations/accept", json={
                "token": self.mail_token(email), "full_name": "Maria Ionescu", "password": new_password()})
        return Identity(email, pw, user_id=out["id"])

    def throwaway(self, kind: str) -> Identity:
        """A signed-in account of `kind`'s role made for one cell that changes the account."""
        return self.sign_in(self.new_account(kind))

    def token(self, caller: str) -> str | None:
        if caller == ANON:
            return None
        if caller == PARTIAL:
            if self._partial is None or time.monotonic() - self._partial[0] > 200:  # partial tokens live 5 min
                self._partial = (time.monotonic(), self.partial_login())
            return self._partial[1]
        if caller in (FORGED, REVOKED, INT):
            return self.ids[f"token.{caller}"]
        ident = self.people[caller]
        if not ident.token:  # the operator after ending all of its sessions
            ident.token = self.fresh_session(ident)
        return ident.token

    def partial_login(self) -> str:
        ident = self.people[PARTIAL]
        answer = self.ok("POST", "/v1/auth/login", json={"email": ident.email, "password": ident.password})
        assert answer["status"] == "second_factor_required", answer
        return answer["access_token"]

    def home(self, caller: str) -> str:
        return "U" if caller == CLERK else "A"

    def foreign_markers(self, caller: str) -> dict[str, str]:
        """Records of the tenants the caller does not belong to (the operator spans them all)."""
        if caller == OP:
            return {}
        home = self.home(caller)
        return {k: v for k, v in self.ids.items() if k[:2] in ("A.", "B.", "U.") and k[0] != home}

    # set-up
    def build(self) -> None:
        p, demo = self.p, self.p.demo
        op = Identity(demo["operator"]["email"], demo["operator"]["password"], p.token("operator"),
                      demo["operator"].get("totp_secret"))
        op.recovery_codes = self.ok("POST", "/v1/auth/2fa/recovery-codes", op.token)["recovery_codes"]
        self.people[OP] = op
        for caller, role in ((ADM, "admin"), (DIR, "director"), (TCH, "teacher"), (STU, "student")):
            u = demo["users"][role]
            self.people[caller] = Identity(u["email"], u["password"], p.token(role), u.get("totp_secret"),
                                           user_id=u.get("id"))
        self.admins["A"] = self.people[ADM]
        self.people[STU].person_id = demo["student_person"]["id"]
        ids = self.ids
        ids.update({"A.tenant": demo["tenant"]["id"], "A.class": demo["class"]["id"],
                    "A.math": demo["subject"]["id"], "A.student_person": demo["student_person"]["id"]})
        adm = self.admin("A")
        ids["A.physics"] = self.ok("POST", "/v1/subjects", adm, json={"name": "Fizică", "weekly_hours": 2})["id"]
        for caller in (TCH2, STAT, ADMT, STU2):
            self.people[caller] = self.sign_in(self.new_account(caller))
        ids["A.student2_person"] = self.people[STU2].person_id
        # the parent follows student-2 (who has no grades): it must never see the demo student's
        parent = self.new_account(PAR)
        self.ok("POST", f"/v1/users/{parent.user_id}/children", adm, json={"student_id": ids["A.student2_person"]})
        self.people[PAR] = self.sign_in(parent)
        self.ok("POST", f"/v1/classes/{ids['A.class']}/students", adm, json={"student_id": ids["A.student2_person"]})
        self.ok("POST", f"/v1/classes/{ids['A.class']}/teachers", adm,
                json={"subject_id": ids["A.physics"], "teacher_id": self.people[ADMT].user_id})
        ids["A.assignable_teacher"] = self.new_account(TCH).user_id
        ids["A.unlock_target"] = self.new_account(PAR).user_id
        self.people[PARTIAL] = self.throwaway(TCH)  # has TOTP; only its password step is used
        ids["A.grade"] = self.ok("POST", "/v1/grades", self.people[TCH].token, json={
            "class_id": ids["A.class"], "subject_id": ids["A.math"], "student_id": ids["A.student_person"],
            "value": 10})["id"]
        client = self.ok("POST", "/v1/integrations/clients", adm,
                         json={"name": "Integrator", "scopes": ["catalog:read", "registry:read"]})
        ids["A.client_id"], ids["client_secret"] = client["client_id"], client["client_secret"]
        ids[f"token.{INT}"] = self.ok("POST", "/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client["client_id"],
            "client_secret": client["client_secret"]})["access_token"]
        self._build_other_school()
        self._build_university()
        self._build_broken_tokens()
        for prepare in PREPARE:  # each area's own records (tests/e2e/authz_areas/)
            prepare(self)

    def _new_tenant(self, kind: str) -> tuple[str, Identity]:
        admin = Identity(new_email("admin"), new_password())
        out = self.ok("POST", "/v1/tenants", self.token(OP), json={
            "name": f"Instituția {unique()}", "kind": kind, "admin_email": admin.email,
            "admin_full_name": "Radu Șerban", "admin_password": admin.password})
        return out["tenant"]["id"], self.sign_in(admin)

    def _build_other_school(self) -> None:
        ids = self.ids
        ids["B.tenant"], b_admin = self._new_tenant("school")
        self.admins["B"] = b_admin
        ids["B.admin_email"] = b_admin.email
        adm = b_admin.token
        teacher = self.sign_in(self.new_account(TCH, tenant="B"))
        ids["B.teacher"] = teacher.user_id
        ids["token.B.teacher"] = teacher.token  # for the areas' records in B (not a marker: "token.")
        ids["B.class"] = self.ok("POST", "/v1/classes", adm, json={"name": "a V-a B", "school_year": YEAR})["id"]
        ids["B.subject"] = self.ok("POST", "/v1/subjects", adm, json={"name": "Istorie", "weekly_hours": 1})["id"]
        self.ok("POST", f"/v1/classes/{ids['B.class']}/teachers", adm,
                json={"subject_id": ids["B.subject"], "teacher_id": teacher.user_id})
        ids["B.student_person"] = self.new_account(STU, tenant="B").person_id
        self.ok("POST", f"/v1/classes/{ids['B.class']}/students", adm, json={"student_id": ids["B.student_person"]})
        ids["B.grade"] = self.ok("POST", "/v1/grades", teacher.token, json={
            "class_id": ids["B.class"], "subject_id": ids["B.subject"], "student_id": ids["B.student_person"],
            "value": 7})["id"]
        ids["B.unlock_target"] = self.new_account(PAR, tenant="B").user_id
        ids["B.client"] = self.ok("POST", "/v1/integrations/clients", adm,
                                  json={"name": "B reader", "scopes": ["catalog:read"]})["client_id"]

    def _build_university(self) -> None:
        self.ids["U.tenant"], self.admins["U"] = self._new_tenant("university")
        clerk = self.people[CLERK] = self.sign_in(self.new_account(CLERK))
        self.ids["U.person"] = self.ok("POST", "/v1/registry/persons", clerk.token, json=person_body())["id"]

    def _build_broken_tokens(self) -> None:
        # a token whose payload was edited to claim "operator": the signature no longer matches
        header, payload, signature = self.people[STU].token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["roles"] = ["operator"]
        edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        self.ids[f"token.{FORGED}"] = f"{header}.{edited}.{signature}"
        # a session that has ended: the gateway refuses it once the revocation event reaches it
        stu2 = self.people[STU2]
        token = self.ok("POST", "/v1/auth/login", json={"email": stu2.email, "password": stu2.password})["access_token"]
        self.ok("POST", "/v1/auth/logout", token)
        deadline = time.monotonic() + 15
        while self.call("GET", "/v1/me", token).status_code != 401:
            assert time.monotonic() < deadline, "the gateway never learnt that the session ended"
            time.sleep(0.1)
        self.ids[f"token.{REVOKED}"] = token


# --- how each route is called: (world, caller, variant) → Call ------------------------------------

Builder = Callable[[World, str, str], Call]
BUILDERS: dict[tuple[str, str], Builder] = {}
# Areas (tests/e2e/authz_areas/*.py) add rows to MATRIX, builders with `route`, and functions
# here that make the records their builders need, run at the end of `World.build`.
PREPARE: list[Callable[[World], None]] = []


def route(method: str, path: str):
    def register(fn: Builder) -> Builder:
        BUILDERS[(method, path)] = fn
        return fn
    return register


def plain(method: str, path: str, body: Callable[[], Any] | None = None) -> None:
    BUILDERS[(method, path)] = lambda w, c, v: Call(w.token(c), method, path, json=body() if body else None)


for _path in ("/healthz", "/readyz", "/metrics", "/v1/auth/2fa", "/v1/me", "/v1/users",
              "/v1/integrations/clients", "/v1/me/grades", "/v1/backup/stats"):
    plain("GET", _path)
plain("POST", "/v1/auth/2fa/sms/send")
plain("POST", "/v1/auth/2fa/totp")
plain("POST", "/v1/auth/2fa/totp/confirm", lambda: {"code": "000000"})
plain("POST", "/v1/auth/2fa/sms", lambda: {"phone": new_phone()})
plain("POST", "/v1/invitations", lambda: {"email": new_email("invitat"), "role": "teacher"})
plain("POST", "/v1/tenants", lambda: {
    "name": f"Școala {unique()}", "kind": "school", "admin_email": new_email("director"),
    "admin_full_name": "Ion Pop", "admin_password": new_password()})
plain("POST", "/v1/registry/persons", person_body)
plain("POST", "/v1/classes", lambda: {"name": unique("cls")[:50], "school_year": YEAR})
plain("POST", "/v1/subjects", lambda: {"name": unique("materie"), "weekly_hours": 2})


def _credentials(w: World, caller: str) -> dict:
    ident = w.people[caller]
    return {"email": ident.email, "password": ident.password}


@route("POST", "/v1/auth/login")
def _login(w, c, v):
    return Call(w.token(c), "POST", "/v1/auth/login", json=_credentials(w, PAR))


@route("POST", "/v1/auth/refresh")
def _refresh(w, c, v):
    refresh = w.ok("POST", "/v1/auth/login", json=_credentials(w, PAR))["refresh_token"]
    return Call(w.token(c), "POST", "/v1/auth/refresh", json={"refresh_token": refresh})


@route("POST", "/v1/auth/password/forgot")
def _forgot(w, c, v):
    return Call(w.token(c), "POST", "/v1/auth/password/forgot", json={"email": w.people[PAR].email})


@route("POST", "/v1/auth/password/reset")
def _reset(w, c, v):
    ident = w.new_account(PAR)
    w.ok("POST", "/v1/auth/password/forgot", json={"email": ident.email})
    return Call(w.token(c), "POST", "/v1/auth/password/reset",
                json={"token": w.mail_token(ident.email), "new_password": new_password()})


@route("POST", "/v1/me/email/confirm")
def _confirm_email(w, c, v):
    ident, address = w.throwaway(PAR), new_email("nou")
    w.ok("POST", "/v1/me/email", ident.token, json={"current_password": ident.password, "new_email": address})
    return Call(w.token(c), "POST", "/v1/me/email/confirm", json={"token": w.mail_token(address)})


@route("POST", "/v1/invitations/accept")
def _accept(w, c, v):
    address = new_email("invitat")
    w.ok("POST", "/v1/invitations", w.admin("A"), json={"email": address, "role": "teacher"})
    return Call(w.token(c), "POST", "/v1/invitations/accept",
                json={"token": w.mail_token(address), "full_name": "Invitat Nou", "password": new_password()})


@route("POST", "/v1/oauth/token")
def _oauth(w, c, v):
    return Call(w.token(c), "POST", "/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": w.ids["A.client_id"],
        "client_secret": w.ids["client_secret"]})


@route("POST", "/v1/auth/2fa/verify")
def _verify(w, c, v):
    if c == PARTIAL:  # a session of its own, completed with a recovery code
        return Call(w.partial_login(), "POST", "/v1/auth/2fa/verify",
                    json={"method": "recovery", "code": w.people[PARTIAL].recovery_codes.pop()})
    return Call(w.token(c), "POST", "/v1/auth/2fa/verify", json={"method": "totp", "code": "000000"})


@route("POST", "/v1/auth/2fa/sms/confirm")
def _sms_confirm(w, c, v):
    token = w.token(c)
    if c in HUMANS:  # arrange: an SMS enrolment is pending, so the wrong code is what fails
        w.call("POST", "/v1/auth/2fa/sms", token, json={"phone": new_phone()})
    return Call(token, "POST", "/v1/auth/2fa/sms/confirm", json={"code": "000000"})


def _own_session(w: World, caller: str) -> tuple[str | None, Identity | None]:
    """For cells that end sessions or change the account: a throwaway account of the caller's
    role, a new session of the operator, a new partial login; others use their usual token."""
    if caller == OP:
        return w.fresh_session(w.people[OP]), w.people[OP]
    if caller in HUMANS:
        ident = w.throwaway(caller)
        return ident.token, ident
    if caller == PARTIAL:
        return w.partial_login(), None
    return w.token(caller), None


@route("POST", "/v1/auth/logout")
def _logout(w, c, v):
    return Call(_own_session(w, c)[0], "POST", "/v1/auth/logout")


@route("POST", "/v1/auth/logout-all")
def _logout_all(w, c, v):
    token, _ = _own_session(w, c)

    def after(r):
        if c == OP and r.status_code == 200:
            w.people[OP].token = ""  # every operator session ended: sign in again when next needed
    return Call(token, "POST", "/v1/auth/logout-all", after=after)


@route("POST", "/v1/me/password")
def _password(w, c, v):
    token, ident = _own_session(w, c)
    new = new_password()

    def after(r):
        if c == OP and r.status_code == 200:  # the other operator sessions ended; this one lives on
            w.people[OP].password, w.people[OP].token = new, token
    return Call(token, "POST", "/v1/me/password", after=after, json={
        "current_password": ident.password if ident else "some-password-1", "new_password": new})


@route("POST", "/v1/auth/2fa/totp/disable")
def _totp_disable(w, c, v):
    if c not in HUMANS or c == OP:
        return Call(w.token(c), "POST", "/v1/auth/2fa/totp/disable", json={"code": "000000"})
    ident = w.throwaway(c)
    if not ident.totp_secret:  # students and parents may opt in: enrol TOTP, then turn it off
        secret = w.ok("POST", "/v1/auth/2fa/totp", ident.token)["secret"]
        w.ok("POST", "/v1/auth/2fa/totp/confirm", ident.token, json={"code": w.totp(secret)})
        ident.totp_secret = secret
    return Call(ident.token, "POST", "/v1/auth/2fa/totp/disable", json={"code": w.totp(ident.totp_secret)})


@route("POST", "/v1/auth/2fa/recovery-codes")
def _recovery_codes(w, c, v):
    if c != OP:
        return Call(_own_session(w, c)[0], "POST", "/v1/auth/2fa/recovery-codes")

    def after(r):  # the operator's new codes replace the ones this module signs in with
        if r.status_code == 200:
            w.people[OP].recovery_codes = list(r.json()["recovery_codes"])
    return Call(w.token(OP), "POST", "/v1/auth/2fa/recovery-codes", after=after)


@route("POST", "/v1/me/email")
def _email(w, c, v):
    password = w.people[c].password if c in HUMANS else "some-password-1"
    return Call(w.token(c), "POST", "/v1/me/email",
                json={"current_password": password, "new_email": new_email("nou")})


def _tenant_field(w: World, c: str, v: str) -> dict:
    if v == "other-tenant-body":
        return {"tenant_id": w.ids["B.tenant"]}
    return {"tenant_id": w.ids["A.tenant"]} if c == OP else {}  # the operator names the institution


def _email_for(w: World, v: str, prefix: str) -> str:
    """A new address, or for "other-tenant-account" the address of an account of tenant B only."""
    return w.new_account(PAR, tenant="B").email if v == "other-tenant-account" else new_email(prefix)


@route("POST", "/v1/users")
def _create_user(w, c, v):
    return Call(w.token(c), "POST", "/v1/users", json={
        "email": _email_for(w, v, "profesor"), "full_name": "Cont Nou", "role": "teacher",
        "password": new_password(), **_tenant_field(w, c, v)})


@route("POST", "/v1/students")
def _create_student(w, c, v):
    return Call(w.token(c), "POST", "/v1/students",
                json={"email": _email_for(w, v, "elev"), "password": new_password(), **person_body()})


@route("POST", "/v1/integrations/clients")
def _create_client(w, c, v):
    return Call(w.token(c), "POST", "/v1/integrations/clients",
                json={"name": unique("client"), "scopes": ["catalog:read"], **_tenant_field(w, c, v)})


@route("DELETE", "/v1/integrations/clients/{client_id}")
def _revoke_client(w, c, v):
    tenant = "B" if v == "other-tenant" else "A"
    victim = w.ok("POST", "/v1/integrations/clients", w.admin(tenant),
                  json={"name": unique("victima"), "scopes": ["catalog:read"]})
    return Call(w.token(c), "DELETE", f"/v1/integrations/clients/{victim['client_id']}")


@route("POST", "/v1/users/{user_id}/unlock")
def _unlock(w, c, v):
    target = w.ids["B.unlock_target" if v == "other-tenant" else "A.unlock_target"]
    return Call(w.token(c), "POST", f"/v1/users/{target}/unlock")


@route("GET", "/v1/registry/persons/{person_id}")
def _get_person(w, c, v):
    ids = w.ids
    if c == CLERK:
        person = ids["A.student_person"] if v == "other-tenant" else ids["U.person"]
    else:
        mine, other = (("A.student2_person", "A.student_person") if c == STU2
                       else ("A.student_person", "A.student2_person"))
        person = ids[{"own": mine, "other-record": other, "other-tenant": "B.student_person"}[v]]
    return Call(w.token(c), "GET", f"/v1/registry/persons/{person}")


@route("POST", "/v1/classes/{class_id}/students")
def _enrol(w, c, v):
    ids = w.ids
    if v == "other-tenant-body":
        klass, person = ids["A.class"], ids["B.student_person"]
    else:
        person = w.ok("POST", "/v1/registry/persons", w.admin("A"), json=person_body())["id"]
        klass = ids["B.class" if v == "other-tenant" else "A.class"]
    return Call(w.token(c), "POST", f"/v1/classes/{klass}/students", json={"student_id": person})


@route("POST", "/v1/classes/{class_id}/teachers")
def _assign(w, c, v):
    ids = w.ids
    if v == "other-tenant":
        klass, subject, teacher = ids["B.class"], ids["B.subject"], ids["A.assignable_teacher"]
    else:
        subject = w.ok("POST", "/v1/subjects", w.admin("A"),
                       json={"name": unique("materie"), "weekly_hours": 1})["id"]
        teacher = ids["B.teacher" if v == "other-tenant-body" else "A.assignable_teacher"]
        klass = ids["A.class"]
    return Call(w.token(c), "POST", f"/v1/classes/{klass}/teachers",
                json={"subject_id": subject, "teacher_id": teacher})


@route("POST", "/v1/grades")
def _grade(w, c, v):
    ids = w.ids
    taught, not_taught = ("A.physics", "A.math") if c == ADMT else ("A.math", "A.physics")
    klass, subject, student = {
        "own": ("A.class", taught, "A.student_person"),
        "other-record": ("A.class", not_taught, "A.student_person"),
        "other-tenant-body": ("B.class", "B.subject", "B.student_person"),
    }[v]
    return Call(w.token(c), "POST", "/v1/grades", json={
        "class_id": ids[klass], "subject_id": ids[subject], "student_id": ids[student], "value": 9})


@route("GET", "/v1/grades")
def _grades(w, c, v):
    params = {"own": None, "other-tenant": {"class_id": w.ids["B.class"]},
              "other-record": {"student_id": w.ids["A.student_person"]}}[v]
    return Call(w.token(c), "GET", "/v1/grades", params=params)


@route("GET", "/v1/stats/grades")
def _stats(w, c, v):
    return Call(w.token(c), "GET", "/v1/stats/grades")


@route("PUT", "/v1/classes/{class_id}/homeroom")
def _homeroom(w, c, v):
    # a fresh teacher each time: a diriginte sees the whole class, which would change other cells
    teacher = w.new_account(TCH, tenant="B" if v == "other-tenant-body" else "A").user_id
    klass = w.ids["B.class" if v == "other-tenant" else "A.class"]
    return Call(w.token(c), "PUT", f"/v1/classes/{klass}/homeroom", json={"teacher_id": teacher})


@route("POST", "/v1/users/{user_id}/children")
def _link_child(w, c, v):
    parent = w.new_account(PAR, tenant="B" if v == "other-tenant" else "A").user_id
    pupil = w.ids["B.student_person" if v == "other-tenant-body" else "A.student_person"]
    return Call(w.token(c), "POST", f"/v1/users/{parent}/children", json={"student_id": pupil})


@route("GET", "/v1/audit/events")
def _audit(w, c, v):
    params = {"tenant_id": w.ids["B.tenant"], "limit": 200} if v == "other-tenant" else {"limit": 200}
    return Call(w.token(c), "GET", "/v1/audit/events", params=params)
