"""Who may have which document (pure rules, checked in the service after the gateway's).

The year-end catalog, its XLSX and the verification of a printout: the director, and the
class's homeroom teacher for their class. A report card: those two, the pupil's parents
(the pupils their token lists) and the pupil. A whole school's set: the director.
"""
from __future__ import annotations

from services.kernel.errors import Forbidden
from services.kernel.identity import Principal, Role, require

NOT_HOMEROOM = "only the director and the class's homeroom teacher may print its documents"
OWN_REPORT_CARD = "you may print only your own report card"
CHILD_REPORT_CARD = "parents may print only their own children's report cards"


def may_print_class(principal: Principal, homeroom_teacher_id: str | None) -> None:
    require(principal, Role.DIRECTOR, Role.TEACHER)
    if Role.DIRECTOR in principal.roles:
        return
    if principal.has_any((Role.SCHOOL_ADMIN, Role.OPERATOR)) or principal.user_id != homeroom_teacher_id:
        raise Forbidden(NOT_HOMEROOM)


def may_print_report_card(principal: Principal, student_id: str) -> None:
    """Before anything is read: a parent or pupil asking for someone else's is refused at once.
    Staff are checked against the class with `may_print_class` once the class is read."""
    require(principal, Role.DIRECTOR, Role.TEACHER, Role.PARENT, Role.STUDENT)
    if principal.has_any((Role.DIRECTOR, Role.TEACHER)):
        return
    if Role.PARENT in principal.roles and student_id in principal.children:
        return
    if Role.STUDENT in principal.roles and principal.person_id == student_id:
        return
    raise Forbidden(CHILD_REPORT_CARD if Role.PARENT in principal.roles else OWN_REPORT_CARD)


def is_staff(principal: Principal) -> bool:
    return principal.has_any((Role.DIRECTOR, Role.TEACHER))


def may_run_school_set(principal: Principal) -> None:
    require(principal, Role.DIRECTOR)
