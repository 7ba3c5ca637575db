"""Grade disputes: the right to rectification (CAT-11) applied to a grade.

A pupil disputes their own grade, a parent a child's: a reason, optionally the value (or qualifier)
they believe right and a reference to an attachment. The subject's teacher (assigned to that class
and subject) decides first. An approval changes the grade through the normal change path: a new
version whose reason names the dispute (CAT-15), a closed period's rules still applying (409
`period_closed`). After a teacher's rejection the requester may escalate once; the director then
decides finally (an approval is again a new version of the grade). Every step is an event whose
`data.after` carries `requester_id` (the account that asked), so auth can tell the requester of
each decision. Nothing is deleted: a decided dispute stays with its reasons.

Statuses: open → approved | rejected_by_teacher; rejected_by_teacher → escalated;
escalated → approved | rejected.
"""
from __future__ import annotations

import time

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import clean_text, page_args

from . import grades as catalog
from .averages import QUALIFIERS
from .common import owned
from .models import Grade, GradeDispute, TeachingAssignment

STATUSES = ("open", "rejected_by_teacher", "escalated", "approved", "rejected")
PENDING = ("open", "rejected_by_teacher", "escalated")
_COLUMNS = [c.name for c in GradeDispute.__table__.columns if c.name != "tenant_id"]


def dispute_dict(d: GradeDispute) -> dict:
    """The dispute as stored (every column but the tenant): also the events' after-image."""
    return {name: getattr(d, name) for name in _COLUMNS}


def _proposal(value, qualifier) -> tuple[int | None, str | None]:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10):
        raise InvalidInput("proposed_value must be a whole number from 1 to 10")
    if qualifier is not None and qualifier not in QUALIFIERS:
        raise InvalidInput("proposed_qualifier must be FB, B, S or I")
    if value is not None and qualifier is not None:
        raise InvalidInput("propose a value or a qualifier, not both")
    return value, qualifier


def open_dispute(session: Session, emit, principal: Principal, *, grade_id: str, reason: str,
                 proposed_value: int | None = None, proposed_qualifier: str | None = None,
                 attachment_ref: str | None = None) -> dict:
    require(principal, Role.STUDENT, Role.PARENT)
    reason = clean_text(reason, field="reason", max_len=1000)
    attachment_ref = clean_text(attachment_ref, field="attachment_ref", max_len=200) if attachment_ref else None
    proposed_value, proposed_qualifier = _proposal(proposed_value, proposed_qualifier)
    grade = owned(session, Grade, grade_id, principal, "grade")
    if Role.STUDENT in principal.roles and principal.person_id and grade.student_id == principal.person_id:
        role = Role.STUDENT.value
    elif Role.PARENT in principal.roles and grade.student_id in principal.children:
        role = Role.PARENT.value
    elif Role.PARENT in principal.roles:
        raise Forbidden("parents dispute only their own children's grades")
    else:
        raise Forbidden("students dispute only their own grades")
    if grade.status != "active":
        raise Conflict("a cancelled grade cannot be disputed")
    if session.scalar(select(GradeDispute.id).where(GradeDispute.tenant_id == principal.tenant_id,
                                                    GradeDispute.grade_id == grade.id,
                                                    GradeDispute.status.in_(PENDING)).limit(1)):
        raise Conflict("this grade already has a dispute that is not decided finally")
    row = GradeDispute(tenant_id=principal.tenant_id, grade_id=grade.id, class_id=grade.class_id,
                       subject_id=grade.subject_id, student_id=grade.student_id, requester_id=principal.user_id,
                       requester_role=role, disputed_version=grade.version, proposed_value=proposed_value,
                       proposed_qualifier=proposed_qualifier, reason=reason, attachment_ref=attachment_ref,
                       status="open")
    session.add(row)
    session.flush()
    after = dispute_dict(row)
    emit(session, "grade_dispute_opened", entity_type="grade_dispute", entity_id=row.id, after=after, reason=reason)
    return after


def _teaches(session: Session, principal: Principal, d: GradeDispute) -> bool:
    return session.scalar(select(TeachingAssignment.id).where(
        TeachingAssignment.tenant_id == principal.tenant_id, TeachingAssignment.class_id == d.class_id,
        TeachingAssignment.subject_id == d.subject_id, TeachingAssignment.teacher_id == principal.user_id)
        .limit(1)) is not None


def decide_dispute(session: Session, emit, principal: Principal, *, dispute_id: str, approve: bool, reason: str,
                   value: int | None = None, qualifier: str | None = None) -> dict:
    """The subject's teacher decides an open dispute; the director an escalated one, finally."""
    catalog.refuse_administrators(principal, "decide grade disputes")
    require(principal, Role.TEACHER, Role.DIRECTOR)
    if not isinstance(approve, bool):
        raise InvalidInput("approve must be true or false")
    reason = clean_text(reason, field="reason", max_len=1000)
    d = owned(session, GradeDispute, dispute_id, principal, "grade dispute")
    if d.status == "open":
        if Role.TEACHER not in principal.roles or not _teaches(session, principal, d):
            if Role.DIRECTOR in principal.roles:
                raise Conflict("the subject's teacher decides first; the director decides only an escalated dispute")
            raise Forbidden("only the subject's teacher decides this dispute")
        stage = "teacher"
    elif d.status == "escalated":
        if Role.DIRECTOR not in principal.roles:
            raise Forbidden("an escalated dispute is decided by the director")
        stage = "director"
    elif d.status == "rejected_by_teacher":
        raise Conflict("the teacher has rejected this dispute; only the requester may escalate it now")
    else:
        raise Conflict("this dispute has been decided finally")
    before = dispute_dict(d)
    now = time.time()
    if stage == "teacher":
        d.teacher_decided_by, d.teacher_decided_at, d.teacher_reason = principal.user_id, now, reason
    else:
        d.director_decided_by, d.director_decided_at, d.director_reason = principal.user_id, now, reason
    if approve:
        grade = session.get(Grade, d.grade_id)
        new_value, new_qualifier = _proposal(value, qualifier)
        if new_value is None and new_qualifier is None:
            new_value, new_qualifier = d.proposed_value, d.proposed_qualifier
        if new_value is None and new_qualifier is None:
            raise InvalidInput("the dispute proposes no value: send the corrected value (or qualifier)")
        why = f"grade dispute {d.id} approved: {reason}"[:500]
        if stage == "teacher":  # the normal change path, as if the teacher corrected the grade
            changed = catalog.change_grade(session, emit, principal, grade_id=grade.id,
                                           expected_version=grade.version, reason=why, value=new_value,
                                           qualifier=new_qualifier)
        else:
            changed = catalog.change_by_decision(session, emit, principal, grade=grade,
                                                 expected_version=grade.version, reason=why, value=new_value,
                                                 qualifier=new_qualifier)
        d.status, d.resulting_version = "approved", changed["version"]
        fact = "grade_dispute_approved"
    else:
        d.status = "rejected_by_teacher" if stage == "teacher" else "rejected"
        fact = "grade_dispute_rejected"
    session.flush()
    after = dispute_dict(d)
    emit(session, fact, entity_type="grade_dispute", entity_id=d.id, after=after, before=before, reason=reason)
    return after


def escalate_dispute(session: Session, emit, principal: Principal, *, dispute_id: str,
                     reason: str | None = None) -> dict:
    """After the teacher's rejection, the requester asks the director to decide."""
    require(principal, Role.STUDENT, Role.PARENT)
    d = owned(session, GradeDispute, dispute_id, principal, "grade dispute")
    if d.requester_id != principal.user_id:
        raise Forbidden("only the person who opened the dispute may escalate it")
    if d.status != "rejected_by_teacher":
        raise Conflict("only a dispute the teacher has rejected can be escalated (once)")
    reason = clean_text(reason, field="reason", max_len=1000) if reason else None
    before = dispute_dict(d)
    d.status, d.escalated_at, d.escalation_reason = "escalated", time.time(), reason
    session.flush()
    after = dispute_dict(d)
    emit(session, "grade_dispute_escalated", entity_type="grade_dispute", entity_id=d.id, after=after,
         before=before, reason=reason)
    return after


def list_disputes(session: Session, principal: Principal, *, status: str | None = None,
                  limit: int | None = None, offset: int | None = None) -> dict:
    """Each role what concerns it: the director the school's, a teacher those of the subjects they
    teach in each class, a parent their children's (and their own requests), a pupil their own."""
    require(principal, Role.DIRECTOR, Role.TEACHER, Role.PARENT, Role.STUDENT)
    limit, offset = page_args(limit, offset)
    q = select(GradeDispute).where(GradeDispute.tenant_id == principal.tenant_id)
    if Role.DIRECTOR not in principal.roles:
        seen = []
        if Role.TEACHER in principal.roles:
            ta = TeachingAssignment
            seen.append(select(ta.id).where(ta.tenant_id == principal.tenant_id, ta.teacher_id == principal.user_id,
                                            and_(ta.class_id == GradeDispute.class_id,
                                                 ta.subject_id == GradeDispute.subject_id)).exists())
        if Role.PARENT in principal.roles:
            seen.append(GradeDispute.requester_id == principal.user_id)
            if principal.children:
                seen.append(GradeDispute.student_id.in_(sorted(principal.children)))
        if Role.STUDENT in principal.roles and principal.person_id:
            seen.append(GradeDispute.student_id == principal.person_id)
        if not seen:
            return {"items": [], "total": 0, "limit": limit, "offset": offset}
        q = q.where(or_(*seen))
    if status:
        if status not in STATUSES:
            raise InvalidInput("status must be one of: " + ", ".join(STATUSES))
        q = q.where(GradeDispute.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(GradeDispute.created_at.desc(), GradeDispute.id).limit(limit)
                           .offset(offset)).all()
    return {"items": [dispute_dict(r) for r in rows], "total": total, "limit": limit, "offset": offset}
