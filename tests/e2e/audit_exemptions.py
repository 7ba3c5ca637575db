"""The only hand-written lists of the audit completeness test (`tests/e2e/audit_completeness.py`):
routes and RPC methods that leave no audit entry in the matrix run, each with the reason.
A mutation belongs here only if its change is recorded otherwise, or is not a change of
record (say which); reads reached only through GET routes need no line (the test sees that
they are reads). Reads called inside a mutation (one service asking another) are listed."""
from __future__ import annotations

ROUTES_WITHOUT_ENTRY: dict[tuple[str, str], str] = {
    ("POST", "/v1/auth/2fa/totp"): "starts an enrolment: a pending, unconfirmed TOTP secret; nothing is enabled "
                                   "until POST /v1/auth/2fa/totp/confirm, which records auth.totp_enabled",
    ("POST", "/v1/auth/2fa/totp/confirm"): "the matrix reaches it with a wrong code only (422); a confirmation "
                                           "records auth.totp_enabled (services/auth/sessions.py confirm_totp)",
    ("POST", "/v1/auth/2fa/sms/confirm"): "the matrix reaches it with a wrong code only (401); a confirmation "
                                          "records auth.sms_factor_enabled (services/auth/sessions.py confirm_sms)",
    ("POST", "/v1/auth/2fa/sms/send"): "the matrix callers have no SMS factor (422); sending a login code goes "
                                       "through issue_sms_code, which emits its event",
    ("POST", "/v1/auth/refresh"): "rotates the session's refresh token (session upkeep, not a change of record); "
                                  "the session's start (auth.login_succeeded), end (auth.session_revoked) and a "
                                  "reused token (auth.refresh_token_reused) are recorded",
}

# "*": every service (entrypoints of the shared ServiceBase)
RPCS_WITHOUT_ENTRY: dict[str, dict[str, str]] = {
    "*": {
        "ping": "readiness probe (GET /readyz calls it outside any request's correlation id)",
    },
    "auth": {
        "recent_revocations": "a read: the gateway polls it in the background for ended sessions",
        "get_member": "a read: grades asks whether an account is a teacher of the school (homeroom, assignment)",
        "refresh": "see ROUTES_WITHOUT_ENTRY POST /v1/auth/refresh",
        "totp_enrol": "see ROUTES_WITHOUT_ENTRY POST /v1/auth/2fa/totp",
        "totp_confirm": "see ROUTES_WITHOUT_ENTRY POST /v1/auth/2fa/totp/confirm",
        "sms_confirm": "see ROUTES_WITHOUT_ENTRY POST /v1/auth/2fa/sms/confirm",
        "send_login_sms": "see ROUTES_WITHOUT_ENTRY POST /v1/auth/2fa/sms/send",
    },
    "registry": {
        "get_person": "a read: grades checks that a person belongs to the school before enrolling them",
        "find_own_person_by_cnp": "a read: POST /v1/students reuses the school's own person when the CNP is registered already (not reached by the matrix, whose CNPs are new)",
        "subject_export_part": "a system call of auth's export job (service credential), no route: it records "
                               "registry.person_viewed on an export's first page; the export itself is auth's event",
    },
    "audit": {
        "subject_export_part": "a read for auth's export job (service credential), no route; the export request "
                               "and the download are auth's events",
        "tenant_audit_leaves": "a read, system only: the backup's restore drill compares a restored audit trail's "
                               "leaf hashes with the live log (service credential, scope tenant_data); the drill "
                               "records backup.drill_completed",
    },
}

# --- routes added in the domain wave ------------------------------------------------------------
ROUTES_WITHOUT_ENTRY.update({
    ("POST", "/v1/documents/verify"): "a read: compares a printout's fingerprint with the current record; POST "
                                      "only because the scanned QR text travels in the body",
    ("POST", "/v1/registry/batch"): "the matrix cell uses mode=validate, which writes nothing; written rows emit "
                                    "registry.person_imported (tests/e2e/test_registry_imports.py)",
    ("DELETE", "/v1/registry/persons/{person_id}"): "refused for everyone with the legal reason (REG-8): nothing "
                                                    "is ever deleted, so nothing changes",
    ("POST", "/v1/backup/cluster/runs"): "the matrix platform has no pgBackRest stanza (409); a run records "
                                         "backup.cluster_backup_requested/_finished (tests/e2e/test_backup_failover.py)",
    # KNOWN GAP (issue 8): these have refusal cells only; their success paths and events are covered by
    # tests/e2e/test_registry_*.py, not yet by a successful matrix cell
    ("POST", "/v1/registry/account-requests/{request_id}/approve"): "KNOWN GAP: no successful matrix cell yet; "
        "registry.account_request_decided in tests/e2e/test_registry_persons.py",
    ("POST", "/v1/registry/account-requests/{request_id}/reject"): "KNOWN GAP: as approve",
    ("POST", "/v1/registry/corrections/{correction_id}/approve"): "KNOWN GAP: no successful matrix cell yet; "
        "registry.correction_* in tests/e2e/test_registry_persons.py",
    ("POST", "/v1/registry/corrections/{correction_id}/reject"): "KNOWN GAP: as approve",
    ("POST", "/v1/registry/exports/enrolled"): "KNOWN GAP: central authority only, not a matrix column yet; "
        "registry.enrolled_students_exported in tests/e2e/test_registry_reports.py",
    ("POST", "/v1/registry/nomenclatures/{name}/values"): "KNOWN GAP: central authority only, not a matrix column yet",
    ("POST", "/v1/registry/nomenclatures/{name}/values/{code}/retire"): "KNOWN GAP: as above",
})


def is_web_form(method: str, path: str) -> bool:
    """Page forms (gateway/web/) answer with redirects and pages, and call the same service RPCs as
    the JSON routes: the RPC half of the completeness test requires each of those RPCs to leave its
    entry, so a form needs no entry of its own here."""
    return method == "POST" and (path == "/web" or path.startswith("/web/"))

RPCS_WITHOUT_ENTRY["*"].update({
    name: "system only: the backup service calls it with a service credential (no route, no matrix cell); "
          "its writes emit <service>.tenant_data_restored / tenant_changes_replayed (tests/e2e/test_backup_tenant.py)"
    for name in ("tenant_export_open", "tenant_export_chunk", "tenant_export_close", "tenant_import_chunk",
                 "tenant_replay", "tenant_checksums")
})
RPCS_WITHOUT_ENTRY["*"]["tenant_row_changes"] = (
    "a read, system only: the backup service pages a tenant's captured row changes with a service credential when "
    "it seals an incremental set (no route, no matrix cell); the set is backup.set_created "
    "(tests/e2e/test_backup_pit_restore.py)")
RPCS_WITHOUT_ENTRY.setdefault("auth", {}).update({
    "names_for_documents": "a read: documents ask for the school's and the teachers' names to print",
})
RPCS_WITHOUT_ENTRY.setdefault("grades", {}).update({
    "documents_verify": "see ROUTES_WITHOUT_ENTRY POST /v1/documents/verify",
    "documents_file": "a read: a generated file's metadata before its chunks are streamed",
    "my_children": "a read: the web page of a parent's erasure request or export lists their children to choose "
                   "from; the request itself is auth's event (auth.erasure_request_answered)",
})
RPCS_WITHOUT_ENTRY.setdefault("backup", {}).update({
    "get_cluster_run": "a read (GET /v1/backup/cluster/runs/{run_id}); the matrix has no run to show",
    "trigger_cluster_backup": "see ROUTES_WITHOUT_ENTRY POST /v1/backup/cluster/runs",
})
RPCS_WITHOUT_ENTRY.setdefault("registry", {}).update({
    "batch_upsert": "see ROUTES_WITHOUT_ENTRY POST /v1/registry/batch",
    "report_double_financing": "a read (central authority), not a matrix column yet",
    "add_nomenclature_value": "KNOWN GAP: see ROUTES_WITHOUT_ENTRY",
    "retire_nomenclature_value": "KNOWN GAP: see ROUTES_WITHOUT_ENTRY",
    "decide_account_request": "KNOWN GAP: see ROUTES_WITHOUT_ENTRY",
    "decide_correction": "KNOWN GAP: see ROUTES_WITHOUT_ENTRY",
    "export_enrolled": "KNOWN GAP: see ROUTES_WITHOUT_ENTRY",
})

# --- data-subject rights (issue 11): rgrades ---------------------------------------------------------
ROUTES_WITHOUT_ENTRY.update({
    ("POST", "/v1/school-import"): "the matrix's school has a catalog, so every cell is refused (409); a successful "
                                   "import emits grades.school_imported (tests/e2e/test_rights_grades.py)",
})
RPCS_WITHOUT_ENTRY.setdefault("grades", {}).update({
    **{name: "staging of an upload (see ROUTES_WITHOUT_ENTRY POST /v1/school-import); the import itself is "
             "grades.school_imported, emitted by school_import_finish"
       for name in ("school_import_start", "school_import_chunk", "school_import_finish", "school_import_abandon")},
    "subject_export_part": "a read, system only: auth's export job calls it with a service credential "
                           "(scope subject_export); the export's request and download are auth's events",
})
RPCS_WITHOUT_ENTRY.setdefault("auth", {}).update({
    "subject_export_chunk": "a read: the chunks of an export file whose one-time link was spent "
                            "(auth.subject_export_downloaded, tests/e2e/test_rights_auth.py); the matrix has no link",
    "subject_export_part": "a read for a system caller only (service credential, scope subject_export): auth's own "
                           "export job reads its part locally; the job records auth.subject_export_completed/failed",
    "privacy_notice_pending": "a read: /v1/me asks it while the token says a privacy notice was pending",
    "open_subject_export_download": "the matrix holds no download link (one-time secrets, issued only by reading "
                                    "a finished export), so it reaches it with a wrong token only (404); a "
                                    "download records auth.subject_export_downloaded (tests/e2e/test_rights_auth.py)",
})
