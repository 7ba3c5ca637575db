"""Demo data of the registry area: a university with a registrar, a few students with their
enrolments, and a CSV file to try the import with (printed paths are in demo.json)."""
from __future__ import annotations

import csv
import os
from pathlib import Path

from deploy.local.demo import Api, passphrase

UNIVERSITY = "Universitatea „Alexandru Ioan Cuza” din Iași (demo)"
YEAR = "2025-2026"
_STUDENTS = [
    ("6050315220017", "Popescu", "Popescu", "Ioana", "IS", "Informatică", "buget"),
    ("5040722220013", "Țăranu", "Țăranu", "Ștefan", "IS", "Informatică", "taxa_cpl"),
    ("6031130120016", "Mureșan", "Dobre", "Alexandra", "CJ", "Matematică", "buget"),
]


def _valid(cnp12: str) -> str:
    from services.registry.rules import cnp_check_digit
    return cnp12 + str(cnp_check_digit(cnp12))


def seed(api: Api, demo: dict, tokens: dict) -> None:
    op = tokens["operator"]
    admin = {"email": "admin@demo-uaic.ro", "full_name": "Mihaela Ursu", "password": passphrase()}
    clerk = {"email": "secretariat@demo-uaic.ro", "full_name": "Ana Secretar", "password": passphrase()}
    tenant = api.call("POST", "/v1/tenants", op, json={
        "name": UNIVERSITY, "kind": "university", "admin_email": admin["email"], "admin_full_name": admin["full_name"],
        "admin_password": admin["password"]})["tenant"]
    signed = api.sign_in(admin["email"], admin["password"])
    admin["totp_secret"] = signed["totp_secret"]
    api.call("POST", "/v1/users", signed["access_token"], json={
        "email": clerk["email"], "full_name": clerk["full_name"], "role": "registry_clerk",
        "password": clerk["password"]})
    signed = api.sign_in(clerk["email"], clerk["password"])
    clerk["totp_secret"] = signed["totp_secret"]
    token = signed["access_token"]
    persons = []
    for cnp, birth_name, name, first, county, programme, financing in _STUDENTS:
        cnp = _valid(cnp[:12])
        person = api.call("POST", "/v1/registry/persons", token, json={
            "last_name": name, "first_name": first, "cnp": cnp, "external_id": f"demo-{cnp[-6:]}",
            "record": {"personal": {"last_name_at_birth": birth_name, "birth_country": "RO", "birth_county": county,
                                    "civil_status": "necasatorit", "domicile_country": "RO", "domicile_county": county,
                                    "email": f"{first.lower()}.{cnp[-4:]}@student.demo-uaic.ro"},
                       "administrative": {"faculty_matriculation_number": f"INF-{cnp[-5:]}",
                                          "accommodation": "caminist"}}})
        api.call("POST", f"/v1/registry/persons/{person['id']}/enrolments", token, json={
            "academic_year": YEAR, "institution": UNIVERSITY, "faculty": "Facultatea de Informatică",
            "cycle": "licenta", "fundamental_domain": "Științe exacte", "domain": "Informatică",
            "programme": programme, "programme_locality": "Iași", "programme_language": "română",
            "programme_duration_years": 3, "programme_credits": 180, "study_year": 1, "form": "IF",
            "financing": financing, "scholarship_type": "nebursier", "enrolment_situation": "inmatriculat_admitere",
            "start_situation": "admis", "external_id": f"demo-enr-{cnp[-6:]}"})
        persons.append({"id": person["id"], "matriculation_code": person["matriculation_code"],
                        "name": f"{first} {name}"})
    example = Path(os.environ.get("PLATFORM_DATA_DIR", "var")) / "registry-import-example.csv"
    demo["registry"] = {"tenant": tenant, "admin": admin, "clerk": clerk, "persons": persons,
                        "import_file": str(write_example(example))}


def write_example(path: Path) -> Path:
    """A CSV (UTF-8) of the persons_enrolments template: five good rows and one with a wrong
    nomenclature value, to see the per-row report."""
    columns = ["external_id", "cnp", "citizenship", "last_name_at_birth", "last_name", "first_name", "birth_country",
               "birth_county", "civil_status", "academic_year", "cycle", "programme", "study_year", "form", "financing"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for i in range(6):
            cnp = _valid(f"60{5 + i % 2}0{1 + i}1{5 + i}220{40 + i}"[:12])
            writer.writerow([f"import-demo-{i}", cnp, "RO", "Moldovan", "Moldovan", f"Ilinca{i}", "RO", "IS",
                             "necasatorit", YEAR, "licenta", "Informatică", "1", "IF",
                             "gratuit" if i == 5 else "buget"])
    return path
