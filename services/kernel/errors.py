"""The one error catalogue shared by every service and the gateway.

Services raise these; nameko serialises them by class name; the gateway maps the
class name back to (HTTP status, code) through `ERROR_TABLE`, so one table decides
what an integrator sees: `{"error": CODE, "message": ...}`.
"""
from __future__ import annotations

import json


class AppError(Exception):
    """`AppError(message, details)`: a dict `details` reaches the caller beside the message
    (e.g. the current version on a stale write, the warnings that block a closing)."""
    code = "internal"
    status = 500

    def __init__(self, message: str, *details):
        # details travel as JSON text: nameko turns every non-string leaf of an error's args into
        # text on the wire, so a dict would reach the caller with its numbers as strings
        if details and isinstance(details[0], dict):
            details = (DETAILS_PREFIX + json.dumps(details[0], ensure_ascii=False), *details[1:])
        super().__init__(message, *details)
        self.message = message

    @property
    def details(self) -> dict:
        return decode_details(self.args)


DETAILS_PREFIX = "details:"


def decode_details(args) -> dict:
    """The dict an error was raised with (`AppError(message, {...})`), from its (wire) args."""
    if len(args) > 1 and isinstance(args[1], str) and args[1].startswith(DETAILS_PREFIX):
        try:
            decoded = json.loads(args[1][len(DETAILS_PREFIX):])
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


class InvalidInput(AppError):
    code, status = "invalid_input", 422


class NotAuthenticated(AppError):
    code, status = "not_authenticated", 401


class SecondFactorRequired(AppError):
    code, status = "second_factor_required", 401


class Forbidden(AppError):
    code, status = "forbidden", 403


class NotFound(AppError):
    code, status = "not_found", 404


class Conflict(AppError):
    code, status = "conflict", 409


class StaleVersion(AppError):
    """A change naming a version that is no longer the current one; args[1] carries `current`."""
    code, status = "stale_version", 409


class PeriodClosed(AppError):
    """A write into a closed (locked) period of the catalog."""
    code, status = "period_closed", 409


class RateLimited(AppError):
    code, status = "rate_limited", 429


class ServiceUnavailable(AppError):
    code, status = "service_unavailable", 503


ERROR_TABLE: dict[str, tuple[int, str]] = {
    cls.__name__: (cls.status, cls.code)
    for cls in (InvalidInput, NotAuthenticated, SecondFactorRequired, Forbidden, NotFound,
                Conflict, StaleVersion, PeriodClosed, RateLimited, ServiceUnavailable)
}
EXPECTED_ERRORS = tuple(AppError.__subclasses__())
