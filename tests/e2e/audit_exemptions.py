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
    },
}
