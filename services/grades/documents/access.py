"""Who may have which document (pure rules, checked in the service after the gateway's).

The year-end catalog, its XLSX and the verification of a printout: the director, and the
class's homeroom teacher for their class. A report card: those two, and the pupil's parents and
the pupil as the catalog's own rule for report cards decides (`views.report_card`, which the
documents read as the caller). A whole school's set: the director.
"""
from __future__ import annotations

from services.kernel.errors import Forbidden
from services.kernel.identity import Principal, Role, require

NOT_HOMEROOM = "only the director and the class's homeroom teacher may print its documents"


def may_print_class(principal: Principal, homeroom_teacher_id: str | None) -> None:
    require(principal, Role.DIRECTOR, Role.TEACHER)
    if Role.DIRECTOR in principal.roles:
        return
    if principal.has_any((Role.SCHOOL_ADMIN, Role.OPERATOR)) or principal.user_id != homeroom_teacher_id:
        raise Forbidden(NOT_HOMEROOM)


def may_print_report_card(principal: Principal) -> None:
    """The roles that may ask. Staff are then checked against the class with `may_print_class`;
    whose report card a parent or a pupil may have is the catalog's rule, applied when the
    report card is read as the caller (`source.load_report_card`)."""
    require(principal, Role.DIRECTOR, Role.TEACHER, Role.PARENT, Role.STUDENT)


def is_staff(principal: Principal) -> bool:
    return principal.has_any((Role.DIRECTOR, Role.TEACHER))


def may_run_school_set(principal: Principal) -> None:
    require(principal, Role.DIRECTOR)
