"""The alerts list: grades changed, cancelled, or written by someone other than the assigned
teacher. Raised by `grades.raise_alert` (which also emits `alert_raised`, the event the auth
service e-mails from); read here by the director (whole school) and the assigned teachers."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.identity import Principal, Role, require
from services.kernel.validation import page_args

from .models import Alert, SchoolClass, Subject


def list_alerts(session: Session, principal: Principal, *, limit: int | None = None,
                offset: int | None = None) -> dict:
    require(principal, Role.DIRECTOR, Role.TEACHER)
    limit, offset = page_args(limit, offset)
    q = select(Alert).where(Alert.tenant_id == principal.tenant_id)
    rows = session.scalars(q.order_by(Alert.created_at.desc())).all()
    if Role.DIRECTOR not in principal.roles:
        # JSON lists are not portably queryable: the recipients filter runs here (alerts are rare)
        rows = [a for a in rows if principal.user_id in (a.recipients or [])]
    page = rows[offset:offset + limit]
    classes = {c.id: c.name for c in session.scalars(select(SchoolClass).where(
        SchoolClass.id.in_({a.class_id for a in page})))} if page else {}
    subjects = {s.id: s.name for s in session.scalars(select(Subject).where(
        Subject.id.in_({a.subject_id for a in page})))} if page else {}
    items = [{"id": a.id, "kind": a.kind, "detail": a.detail, "grade_id": a.grade_id, "class_id": a.class_id,
              "class_name": classes.get(a.class_id), "subject_id": a.subject_id,
              "subject_name": subjects.get(a.subject_id), "student_id": a.student_id, "actor_id": a.actor_id,
              "created_at": a.created_at} for a in page]
    return {"items": items, "total": len(rows), "limit": limit, "offset": offset}
