"""Imports through the gateway (CSV, XLSX, XML, and the batch web service), on SQLite and
PostgreSQL: streamed to the registry, per-row reports, the three modes, idempotent re-import,
malformed files refused with a clear message and nothing half-written."""
from __future__ import annotations

import csv
import io
import time
import uuid

import pytest

from tests.e2e.registry_helpers import fresh_cnp, university

pytestmark = pytest.mark.e2e

COLUMNS = ["external_id", "cnp", "last_name_at_birth", "last_name", "first_name", "citizenship", "birth_country",
           "birth_county", "civil_status", "academic_year", "cycle", "programme", "study_year", "form", "financing"]


@pytest.fixture(scope="module")
def clerk(platform):
    return university(platform)["clerk"]


def rows(n: int, **override) -> list[dict]:
    tag = uuid.uuid4().hex[:6]
    return [{"external_id": f"{tag}-{i}", "cnp": fresh_cnp(), "last_name_at_birth": "Mureșan", "last_name": "Mureșan",
             "first_name": "Ștefan", "citizenship": "RO", "birth_country": "RO", "birth_county": "CJ",
             "civil_status": "necasatorit", "academic_year": "2025-2026", "cycle": "licenta",
             "programme": "Informatică", "study_year": "1", "form": "IF", "financing": "buget", **override}
            for i in range(n)]


def as_csv(data: list[dict], columns=COLUMNS, delimiter=",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(data)
    return out.getvalue().encode("utf-8")


def run(clerk, body: bytes, fmt: str = "csv", mode: str = "accept_valid") -> dict:
    r = clerk.call("POST", "/v1/registry/imports", params={"format": fmt, "mode": mode}, content=body)
    assert r.status_code == 202, r.text
    job = r.json()
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = clerk.ok("GET", f"/v1/registry/imports/{job['id']}")
    assert job["status"] in ("done", "failed"), job
    return job


def problems(clerk, job) -> list[dict]:
    r = clerk.call("GET", f"/v1/registry/imports/{job['id']}/problems.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def registered(clerk, external_ids) -> int:
    found = 0
    for ext in external_ids:
        r = clerk.call("POST", "/v1/registry/batch", json={"mode": "validate", "rows": [{"external_id": ext}]})
        found += r.json()["unchanged"]
    return found


def test_csv_accept_valid_reports_rows_and_a_re_import_changes_nothing(clerk):
    data = rows(30)
    data[7]["financing"] = "gratis"
    data[12]["cnp"] = data[12]["cnp"][:12] + str((int(data[12]["cnp"][12]) + 1) % 10)
    job = run(clerk, as_csv(data))
    assert job["status"] == "done" and job["rows_done"] == 30 and job["errors"] == 2, job
    assert job["rows_written"] == 28 and job["rate_rows_per_second"]
    report = problems(clerk, job)
    assert {(p["row"], p["field"]) for p in report} >= {("9", "financing"), ("14", "personal.cnp.control_digit")}
    assert any("nomenclature financing" in p["message"] for p in report)
    again = run(clerk, as_csv(data))
    assert again["rows_written"] == 0 and again["errors"] == 2, again
    # the people are there once, with their enrolment
    listed = clerk.ok("GET", "/v1/registry/persons", params={"q": "Mureșan", "limit": 200})
    assert listed["total"] >= 28


def test_all_or_nothing_writes_nothing_when_one_row_is_wrong_and_everything_otherwise(clerk):
    data = rows(12)
    data[-1]["civil_status"] = "concubinaj"
    job = run(clerk, as_csv(data), mode="all_or_nothing")
    assert job["status"] == "failed" and "nothing was written" in job["message"], job
    assert registered(clerk, [r["external_id"] for r in data]) == 0
    data[-1]["civil_status"] = "casatorit"
    job = run(clerk, as_csv(data, delimiter=";"), mode="all_or_nothing")
    assert job["status"] == "done" and job["rows_written"] == 12, job
    assert registered(clerk, [r["external_id"] for r in data]) == 12


def test_validate_only_writes_nothing(clerk):
    data = rows(5)
    job = run(clerk, as_csv(data), mode="validate")
    assert job["status"] == "done" and job["errors"] == 0 and job["rows_written"] == 0
    assert registered(clerk, [r["external_id"] for r in data]) == 0


@pytest.mark.parametrize("body,phrase", [
    (as_csv(rows(2)).decode().replace("ș", "ş").replace("Ș", "Ş").encode("cp1250"), "Windows-1250"),
    (b"\xff\xfe\x00\x01garbage", "UTF-16"),
    (b"external_id,last_name\n1,\x80\x81\n", "not valid UTF-8"),
    (as_csv(rows(2), columns=COLUMNS + ["shoe_size"]), "unknown column"),
    (as_csv(rows(2), columns=[c for c in COLUMNS if c != "external_id"]), "external_id"),
    (b"", "empty"),
])
def test_malformed_csv_files_are_refused_clearly(clerk, body, phrase):
    if not body:
        r = clerk.call("POST", "/v1/registry/imports", params={"format": "csv"}, content=body)
        assert r.status_code == 422 and phrase in r.json()["message"]
        return
    job = run(clerk, body, mode="all_or_nothing")
    assert job["status"] == "failed" and phrase in job["message"], job


def test_xlsx_is_read_in_read_only_mode(clerk):
    from openpyxl import Workbook
    data = rows(6)
    data[2]["form"] = "seral"
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for row in data:
        sheet.append([int(row[c]) if c == "study_year" else row[c] for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    job = run(clerk, out.getvalue(), fmt="xlsx")
    assert job["status"] == "done" and job["rows_written"] == 5 and job["errors"] == 1, job
    assert [p["field"] for p in problems(clerk, job)] == ["form"]
    bad = run(clerk, b"PK\x03\x04 not really a workbook", fmt="xlsx")
    assert bad["status"] == "failed" and "not an Excel workbook" in bad["message"]


def xml_of(data: list[dict], prolog: str = "") -> bytes:
    body = "".join("<row>" + "".join(f"<{k}>{v}</{k}>" for k, v in row.items()) + "</row>" for row in data)
    return f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<import>{body}</import>'.encode()


BILLION_LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
EXTERNAL = '<!DOCTYPE row [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def test_xml_imports_and_entity_tricks_are_refused(clerk):
    data = rows(4)
    job = run(clerk, xml_of(data), fmt="xml", mode="all_or_nothing")
    assert job["status"] == "done" and job["rows_written"] == 4, job
    bomb = rows(1, first_name="&lol3;")
    job = run(clerk, xml_of(bomb, BILLION_LAUGHS), fmt="xml", mode="all_or_nothing")
    assert job["status"] == "failed" and "DTD" in job["message"], job
    leak = rows(1, first_name="&xxe;")
    job = run(clerk, xml_of(leak, EXTERNAL), fmt="xml", mode="all_or_nothing")
    assert job["status"] == "failed" and "external references" in job["message"], job
    assert registered(clerk, [bomb[0]["external_id"], leak[0]["external_id"]]) == 0
    job = run(clerk, b"<import><row><external_id>x</row></import>", fmt="xml")
    assert job["status"] == "failed" and "not well-formed" in job["message"]


def test_the_batch_web_service_validates_like_the_files(clerk):
    data = rows(3)
    data[1]["cycle"] = "liceu"
    r = clerk.call("POST", "/v1/registry/batch", json={"mode": "all_or_nothing", "rows": data})
    assert r.status_code == 200 and not r.json()["written"] and r.json()["problems"][0]["field"] == "cycle"
    data[1]["cycle"] = "master"
    out = clerk.ok("POST", "/v1/registry/batch", json={"mode": "all_or_nothing", "rows": data})
    assert out["written"] and out["created"] == 3
    again = clerk.ok("POST", "/v1/registry/batch", json={"mode": "accept_valid", "rows": data})
    assert again["created"] == 0 and again["unchanged"] == 3
    r = clerk.call("POST", "/v1/registry/batch", json={"rows": [{"external_id": "x", "hair": "brown"}]})
    assert r.status_code == 422 and "hair" in r.json()["message"]


def test_templates_and_schemas_are_published_at_stable_urls(platform):
    with platform.client() as anonymous:
        template = anonymous.get("/v1/registry/templates/enrolments.csv")
        assert template.status_code == 200
        header = template.content.decode("utf-8-sig").strip().split(",")
        assert header[0] == "external_id" and {"academic_year", "cycle", "financing"} <= set(header)
        xsd = anonymous.get("/v1/registry/schemas/import.xsd")
        assert xsd.status_code == 200 and b'name="cnp"' in xsd.content
        schema = anonymous.get("/v1/registry/schemas/batch.schema.json").json()
        financing = schema["properties"]["rows"]["items"]["properties"]["financing"]
        assert "nomenclature financing" in financing["description"] and schema["required"] == ["rows"]
        assert anonymous.get("/v1/registry/templates/nope.csv").status_code == 422
