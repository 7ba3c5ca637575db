"""Catalog messages sent by auth, which owns the contact addresses, from the grades events:

* `grades.alert_raised` (a grade changed, cancelled, or written by a delegate or under an
  amendment): an e-mail to the subject's assigned teachers and the school's directors;
* `grades.grade_recorded` / `grades.absence_recorded`: to the pupil and their parents who opted
  in, immediately or as a daily digest.

Idempotent on `event_id` (the inbox): a redelivered event sends nothing again. Messages are
built inside the transaction that records the event as processed and sent after it commits.
No grade value ever appears in a subject line.

Data-subject rights (issue 11):

* `registry.processing_restricted` / `registry.processing_restriction_lifted`: the person ids under
  a restriction of processing, per tenant (`restricted_persons`; the newest `occurred_at` wins, so a
  late redelivery of an older event changes nothing). While it holds, no catalog message about that
  pupil goes to the pupil or their parents, immediately or in a digest. Staff alerts about changed
  grades still go out: they protect the legal record itself, which the restriction keeps.
* `registry.rectification_approved/rejected`, `grades.grade_dispute_approved/rejected`: the
  requester (`data.after.requester_id`) is told the decision and its reason, in Romanian and
  English. Essential: sent even under a restriction.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.errors import Forbidden, InvalidInput
from services.kernel.events import Envelope
from services.kernel.identity import Principal, Role, require

from .models import CatalogDigestItem, CatalogNoticePreference, Membership, ParentLink, RestrictedPerson, User

CONSUMER = "auth.catalog_notices"
CHOICES = ("off", "immediate", "digest")
CATALOG_TYPES = ("grades.alert_raised", "grades.grade_recorded", "grades.absence_recorded")
RESTRICTION_TYPES = ("registry.processing_restricted", "registry.processing_restriction_lifted")
DECISION_TYPES = ("registry.rectification_approved", "registry.rectification_rejected",
                  "grades.grade_dispute_approved", "grades.grade_dispute_rejected")
Mail = tuple[str, str, str]  # to, subject, body


def _emails(session: Session, user_ids) -> dict[str, str]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids), User.status == "active")).all())


def _directors(session: Session, tenant_id: str) -> list[str]:
    return list(session.scalars(select(Membership.user_id).where(Membership.tenant_id == tenant_id,
                                                                 Membership.role == Role.DIRECTOR)))


def _alert_mails(session: Session, event: Envelope) -> list[Mail]:
    alert = event.data.get("after") or {}
    people = set(alert.get("recipients") or [])
    if alert.get("notify_directors"):
        people |= set(_directors(session, event.tenant_id))
    subject = "Catalog alert: " + {
        "grade_changed": "a grade was changed", "grade_cancelled": "a grade was cancelled",
        "grade_recorded_by_delegation": "a grade was written by a delegated teacher",
        "grade_recorded_by_amendment": "a grade was written under an amendment",
    }.get(alert.get("kind"), "a grade needs your attention")
    body = (f"{alert.get('detail', 'a grade needs your attention').capitalize()}: {alert.get('subject_name')}, "
            f"class {alert.get('class_name')}, at {event.occurred_at[:16].replace('T', ' ')} UTC.\n"
            f"Reason given: {event.reason or '-'}\n\nIf you did not expect this, tell the school's director; "
            "the change and who made it are in the alerts list (GET /v1/alerts) and in the audit trail.\n")
    return [(email, subject, body) for email in _emails(session, people).values()]


def is_restricted(session: Session, tenant_id: str, person_id: str | None) -> bool:
    if not person_id:
        return False
    row = session.get(RestrictedPerson, (tenant_id, person_id))
    return bool(row and row.restricted)


def _restriction(session: Session, event: Envelope) -> tuple[tuple[str, str], bool]:
    """Apply the event (the newest `occurred_at` wins); the (tenant, person) and whether the
    person is restricted now."""
    after = event.data.get("after") or {}
    person_id = after.get("person_id") or event.entity.id
    restricted = event.type == "registry.processing_restricted"
    row = session.get(RestrictedPerson, (event.tenant_id, person_id))
    if row is None:
        row = RestrictedPerson(tenant_id=event.tenant_id, person_id=person_id, restricted=restricted,
                               occurred_at=event.occurred_at)
        session.add(row)
        session.flush()
    elif event.occurred_at >= row.occurred_at:
        row.restricted, row.occurred_at = restricted, event.occurred_at
    return (event.tenant_id, person_id), bool(row.restricted)


def _decision_mails(session: Session, event: Envelope) -> list[Mail]:
    after = event.data.get("after") or {}
    emails = _emails(session, [after["requester_id"]] if after.get("requester_id") else [])
    if not emails:
        return []
    approved = event.type.endswith("_approved")
    registry = event.type.startswith("registry.")
    reason = after.get("decision_reason") or after.get("reason") or event.reason or "-"
    what_ro = "cererea de rectificare a datelor din registrul matricol" if registry else "contestația notei"
    what_en = "your request to rectify your registry data" if registry else "your grade dispute"
    verdict_ro, verdict_en = ("a fost aprobată", "was approved") if approved else ("a fost respinsă", "was rejected")
    extra_ro = (" Datele au fost corectate ca o versiune nouă; versiunea veche rămâne în evidență." if approved and registry
                else " Nota a fost modificată ca o versiune nouă." if approved else "")
    extra_en = (" The data were corrected as a new version; the old version stays on record." if approved and registry
                else " The grade was changed as a new version." if approved else "")
    subject = f"Decizie: {what_ro} {verdict_ro} / Decision: {what_en} {verdict_en}"
    body = (f"Bună ziua,\n\n{what_ro[0].upper() + what_ro[1:]} {verdict_ro}.{extra_ro}\nMotivul: {reason}\n\n"
            f"Hello,\n\n{what_en[0].upper() + what_en[1:]} {verdict_en}.{extra_en}\nReason: {reason}\n\n"
            f"Referință / Reference: {event.entity.type} {event.entity.id}\n")
    return [(email, subject, body) for email in emails.values()]


class _NewsLookups:
    """What the news e-mails of one batch of events need, read with a few queries per tenant
    rather than five per event: restrictions, the pupils' own accounts and parents, their
    preferences and addresses. A restriction event of the same batch updates it in order."""

    def __init__(self, session: Session, events: list[Envelope]):
        by_tenant: dict[str, set[str]] = {}
        for e in events:
            student = (e.data.get("after") or {}).get("student_id")
            if student:
                by_tenant.setdefault(e.tenant_id, set()).add(student)
        self.restricted: set[tuple[str, str]] = set()
        self.followers: dict[tuple[str, str], set[str]] = {}
        self.prefs: dict[tuple[str, str], CatalogNoticePreference] = {}
        users: set[str] = set()
        for tenant, students in by_tenant.items():
            ids = sorted(students)
            self.restricted.update((tenant, r.person_id) for r in session.scalars(select(RestrictedPerson).where(
                RestrictedPerson.tenant_id == tenant, RestrictedPerson.person_id.in_(ids))) if r.restricted)
            pupils = session.execute(select(User.person_id, User.id).join(Membership, Membership.user_id == User.id)
                                     .where(User.person_id.in_(ids), Membership.tenant_id == tenant,
                                            Membership.role == Role.STUDENT)).all()
            parents = session.execute(select(ParentLink.student_person_id, ParentLink.parent_user_id).where(
                ParentLink.tenant_id == tenant, ParentLink.student_person_id.in_(ids))).all()
            followers = set()
            for student, user in [*pupils, *parents]:
                self.followers.setdefault((tenant, student), set()).add(user)
                followers.add(user)
            if followers:
                self.prefs.update(((tenant, p.user_id), p) for p in session.scalars(select(CatalogNoticePreference)
                                  .where(CatalogNoticePreference.tenant_id == tenant,
                                         CatalogNoticePreference.user_id.in_(sorted(followers)))))
            users |= followers
        self.emails = _emails(session, users)

    def restriction(self, key: tuple[str, str], restricted: bool) -> None:
        """What `_restriction` made of a restriction event of the same batch."""
        if restricted:
            self.restricted.add(key)
        else:
            self.restricted.discard(key)


def _news_mails(session: Session, event: Envelope, what: str, lookups: _NewsLookups) -> list[Mail]:
    after = event.data.get("after") or {}
    student = after.get("student_id")
    if (event.tenant_id, student) in lookups.restricted:
        return []  # restriction of processing: no catalog messages about this pupil
    followers = sorted(lookups.followers.get((event.tenant_id, student), ()))
    if not followers:
        return []
    prefs = {u: getattr(lookups.prefs[event.tenant_id, u], what) for u in followers
             if (event.tenant_id, u) in lookups.prefs}
    if what == "grades":
        mark = after.get("value") if after.get("value") is not None else after.get("qualifier")
        line = f"{after.get('awarded_on')}: a new grade, {mark} ({after.get('kind')})"
        subject = "Catalog: a new grade was recorded"
    else:
        line = f"{after.get('occurred_on')}, hour {after.get('hour')}: a new absence"
        subject = "Catalog: a new absence was recorded"
    mails = []
    for user_id in followers:
        if prefs.get(user_id) == "immediate" and user_id in lookups.emails:
            mails.append((lookups.emails[user_id], subject, f"{line}.\n\nSign in to the catalog to see the details.\n"))
        elif prefs.get(user_id) == "digest":
            session.add(CatalogDigestItem(user_id=user_id, line=line[:300], tenant_id=event.tenant_id,
                                          person_id=student))
    return mails


def handle_events(session: Session, newly_processed, envelopes: list[Envelope]) -> list[Mail]:
    """The e-mails to send once this transaction commits (none for events seen before)."""
    wanted = [e for e in envelopes if e.type in CATALOG_TYPES + RESTRICTION_TYPES + DECISION_TYPES]
    if not wanted:
        return []
    fresh = newly_processed(session, [e.event_id for e in wanted], CONSUMER)
    todo = [e for e in wanted if e.event_id in fresh and e.tenant_id]
    lookups = _NewsLookups(session, [e for e in todo if e.type in ("grades.grade_recorded", "grades.absence_recorded")])
    mails: list[Mail] = []
    for event in todo:
        if event.type in RESTRICTION_TYPES:
            lookups.restriction(*_restriction(session, event))
        elif event.type in DECISION_TYPES:
            mails += _decision_mails(session, event)
        elif event.type == "grades.alert_raised":
            mails += _alert_mails(session, event)
        else:
            mails += _news_mails(session, event, "grades" if event.type == "grades.grade_recorded" else "absences",
                                 lookups)
    return mails


def due_digests(session: Session, now: float | None = None) -> list[Mail]:
    """Yesterday's (and older) lines, one e-mail per person, marked sent in this transaction."""
    now = now or time.time()
    midnight = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    items = session.scalars(select(CatalogDigestItem).where(CatalogDigestItem.sent_at.is_(None),
                                                            CatalogDigestItem.created_at < midnight.timestamp())
                            .order_by(CatalogDigestItem.user_id, CatalogDigestItem.created_at).limit(5000)).all()
    by_user: dict[str, list[str]] = {}
    restricted: dict[tuple, bool] = {}
    for item in items:
        item.sent_at = now
        key = (item.tenant_id, item.person_id)
        if key not in restricted:
            restricted[key] = bool(item.tenant_id) and is_restricted(session, item.tenant_id, item.person_id)
        if restricted[key]:
            continue  # restricted since the line was queued: dropped, never sent
        by_user.setdefault(item.user_id, []).append(item.line)
    emails = _emails(session, by_user)
    return [(emails[u], "Catalog: your daily summary", "\n".join(lines) + "\n\nSign in to the catalog to see more.\n")
            for u, lines in by_user.items() if u in emails]


def set_preferences(session: Session, emit, principal: Principal, *, grades: str, absences: str) -> dict:
    require(principal, Role.PARENT, Role.STUDENT)
    if grades not in CHOICES or absences not in CHOICES:
        raise InvalidInput("grades and absences must each be off, immediate or digest")
    if principal.is_integrator:
        raise Forbidden("your role may not do this")
    row = session.scalar(select(CatalogNoticePreference).where(CatalogNoticePreference.user_id == principal.user_id,
                                                               CatalogNoticePreference.tenant_id == principal.tenant_id))
    before = {"grades": row.grades, "absences": row.absences} if row else None
    if row is None:
        row = CatalogNoticePreference(user_id=principal.user_id, tenant_id=principal.tenant_id)
        session.add(row)
    row.grades, row.absences = grades, absences
    session.flush()
    after = {"grades": grades, "absences": absences}
    emit(session, "catalog_notices_set", entity_type="user", entity_id=principal.user_id, after=after, before=before)
    return after


def get_preferences(session: Session, principal: Principal) -> dict:
    require(principal, Role.PARENT, Role.STUDENT)
    row = session.scalar(select(CatalogNoticePreference).where(CatalogNoticePreference.user_id == principal.user_id,
                                                               CatalogNoticePreference.tenant_id == principal.tenant_id))
    return {"grades": row.grades if row else "off", "absences": row.absences if row else "off"}
