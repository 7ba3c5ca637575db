"""Seed a demo school through the public HTTPS API, exactly as an operator and a school would."""
from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import pyotp

DEMO_AREAS: list = []  # filled below, once the helpers exist; order matters (catalog first)

DEMO_SCHOOL = "Liceul Teoretic „Ion Creangă” (demo)"
_WORDS = ("brad", "munte", "izvor", "lalea", "nisip", "vultur", "castan", "ploaie", "zmeu", "artar",
          "campie", "soim", "tarm", "ghinda", "stanca", "lunca")  # ASCII: easy to type in any shell


def passphrase() -> str:
    return "-".join(secrets.choice(_WORDS) for _ in range(4)) + f"-{secrets.randbelow(90) + 10}"


def operator_credentials(data_dir: Path) -> dict:
    """Created once per data dir, so every `make up` prints the same operator login."""
    path = data_dir / "operator.json"
    if path.exists():
        return json.loads(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    creds = {"email": "operator@demo.catalog.ro", "password": passphrase()}
    path.write_text(json.dumps(creds))
    path.chmod(0o600)
    return creds


class TotpDevice:
    """An authenticator app: the code of the next unused time step (the server refuses replays)."""

    def __init__(self, secret: str):
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    def code(self) -> str:
        while True:
            now = int(time.time() // 30)
            for step in (now - 1, now, now + 1):  # the server accepts one step either side
                if step > self.last_step and step >= now:
                    self.last_step = step
                    return self.totp.at(step * 30)
            time.sleep(max(0.05, (now + 1) * 30 - time.time()))


class Api:
    def __init__(self, base_url: str, ca_file: Path):
        self.http = httpx.Client(base_url=base_url, verify=str(ca_file), timeout=30)
        self.devices: dict[str, TotpDevice] = {}

    def call(self, method: str, path: str, token: str | None = None, **kw) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = self.http.request(method, path, headers=headers, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path} → {r.status_code}: {r.text}")
        return r.json()

    def device(self, secret: str) -> TotpDevice:
        return self.devices.setdefault(secret, TotpDevice(secret))

    def sign_in(self, email: str, password: str, totp_secret: str | None = None) -> dict:
        """Password, then the second factor: enrols TOTP first if the role needs one and has none.
        Returns the final login answer plus `totp_secret` (new or given) and any recovery codes."""
        answer = self.call("POST", "/v1/auth/login", json={"email": email, "password": password})
        if answer["status"] == "enrolment_required":
            partial = answer["access_token"]
            totp_secret = self.call("POST", "/v1/auth/2fa/totp", partial)["secret"]
            answer = self.call("POST", "/v1/auth/2fa/totp/confirm", partial,
                               json={"code": self.device(totp_secret).code()})
        elif answer["status"] == "second_factor_required":
            if not totp_secret:
                raise RuntimeError(f"{email} needs a second factor and no TOTP secret is known")
            answer = self._verify_totp(answer["access_token"], self.device(totp_secret))
        if answer.get("status") != "ok":
            raise RuntimeError(f"sign-in of {email} ended with {answer.get('status')}")
        return {**answer, "totp_secret": totp_secret}

    def _verify_totp(self, partial: str, device: TotpDevice) -> dict:
        # Another client (an earlier `make up`, another test process) may already have
        # spent this step's code: the server refuses replays, so move on to the next step.
        for _ in range(3):
            r = self.http.post("/v1/auth/2fa/verify", headers={"Authorization": f"Bearer {partial}"},
                               json={"method": "totp", "code": device.code()})
            if r.status_code != 401:
                break
        if r.status_code >= 400:
            raise RuntimeError(f"second factor refused → {r.status_code}: {r.text}")
        return r.json()

    def login(self, email: str, password: str, totp_secret: str | None = None) -> str:
        return self.sign_in(email, password, totp_secret)["access_token"]


def seed_demo(base_url: str, ca_file: Path, data_dir: Path) -> dict:
    """Idempotent per data dir: the result is saved and returned again on later starts."""
    marker = data_dir / "demo.json"
    if marker.exists():
        return json.loads(marker.read_text())
    operator = operator_credentials(data_dir)
    api = Api(base_url, ca_file)
    signed = api.sign_in(operator["email"], operator["password"], operator.get("totp_secret"))
    operator["totp_secret"] = signed["totp_secret"]
    (data_dir / "operator.json").write_text(json.dumps(operator))
    op = signed["access_token"]
    users = {
        "admin": {"email": "admin@demo-creanga.ro", "full_name": "Elena Dumitrescu", "password": passphrase()},
        "director": {"email": "director@demo-creanga.ro", "full_name": "Gheorghe Țurcanu",
                     "password": passphrase()},
        "teacher": {"email": "profesor@demo-creanga.ro", "full_name": "Ioana Mureșan", "password": passphrase()},
        "student": {"email": "elev@demo-creanga.ro", "full_name": "Andrei Bălănescu", "password": passphrase()},
    }
    tenant = api.call("POST", "/v1/tenants", op, json={
        "name": DEMO_SCHOOL, "kind": "school", "admin_email": users["admin"]["email"],
        "admin_full_name": users["admin"]["full_name"], "admin_password": users["admin"]["password"]})["tenant"]
    admin = _enrolled(api, users["admin"])
    signed_in = {}
    for role in ("director", "teacher"):
        u = users[role]
        users[role]["id"] = api.call("POST", "/v1/users", admin, json={
            "email": u["email"], "full_name": u["full_name"], "role": role, "password": u["password"]})["id"]
        signed_in[role] = _enrolled(api, users[role])
    student = api.call("POST", "/v1/students", admin, json={
        "email": users["student"]["email"], "password": users["student"]["password"],
        "last_name": "Bălănescu", "first_name": "Andrei", "cnp": "5090315400011"})
    klass = api.call("POST", "/v1/classes", admin, json={"name": "a IX-a A", "school_year": demo_catalog.YEAR})
    math = api.call("POST", "/v1/subjects", admin, json={"name": "Matematică", "weekly_hours": 4})
    api.call("POST", f"/v1/classes/{klass['id']}/students", admin, json={"student_id": student["person"]["id"]})
    api.call("POST", f"/v1/classes/{klass['id']}/teachers", admin,
             json={"subject_id": math["id"], "teacher_id": users["teacher"]["id"]})
    demo = {
        "tenant": tenant, "operator": operator, "users": users, "class": klass, "subject": math,
        "student_person": student["person"],
    }
    # the areas reuse these sessions: a second TOTP login in the same 30 s step would have to wait
    tokens = {"operator": op, "admin": admin, **signed_in}
    # Each area grows the demo school in a module of its own (deploy/local/demo_<area>.py):
    # `seed(api, demo, tokens)` adds what a person needs to try that area by hand.
    for area in DEMO_AREAS:
        area.seed(api, demo, tokens)
    marker.write_text(json.dumps(demo, ensure_ascii=False, indent=2))
    marker.chmod(0o600)
    return demo


def _enrolled(api: Api, user: dict) -> str:
    """Sign the user in once, enrolling TOTP; the secret is kept for the printed banner."""
    signed = api.sign_in(user["email"], user["password"], user.get("totp_secret"))
    user["totp_secret"] = signed["totp_secret"]
    return signed["access_token"]


# --- the areas' demo data, in the order they depend on each other ---
from deploy.local import demo_catalog, demo_documents, demo_registry  # noqa: E402

DEMO_AREAS.extend((demo_catalog, demo_registry, demo_documents))
# --- end of the areas' demo data ---
