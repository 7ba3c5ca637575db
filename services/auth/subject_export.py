"""A person's export (access and portability, issue 11 §2), orchestrated by auth.

`POST /v1/rights/exports` records a job (`subject_exports`) and answers 202; a background
greenthread of the auth service runs it (`run_job`). The replica running it beats
(`heartbeat_at`) at each step; a job left queued, or running without a beat for `STALE_AFTER`
(its replica stopped), is taken over and started again from the beginning (`claim` makes sure two
replicas never run the same job). The job gathers
each service's part page by page: auth's own locally (`auth_part`), and
`subject_export_part(credential, subject, cursor, limit)` on registry, grades and audit, called
with a service credential of scope `subject_export`. Progress per service is kept in the job
(`parts`: status and records so far). A part that fails fails the whole job with a message naming
the service; nothing is ever reported done unless every part is.

The finished JSON document (docs/schemas/subject-export.v1.schema.json) and its PDF rendering are
stored in auth's database, in chunks (`subject_export_files` / `subject_export_chunks`). Each file
has a one-time download token, stored only as its hash: reading the finished job as the requester
issues a fresh link for each file not yet downloaded (earlier links of that file stop working);
the first download spends it; every link dies `LINK_TTL` after the job finished.
"""
from __future__ import annotations

import hmac
import json
import time
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from services.kernel.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import Principal, Role, require
from services.kernel.validation import page_args

from . import privacy
from .models import (AuthSession, Membership, ParentLink, RecoveryCode, SecondFactor, SubjectExport,
                     SubjectExportChunk, SubjectExportFile, Tenant, User)
from .security.tokens import new_token, token_hash

REMOTE_SERVICES = ("registry", "grades", "audit")
PARTS = ("auth",) + REMOTE_SERVICES
AUTH_SECTIONS = ("account", "memberships", "sign_ins", "privacy_acknowledgements", "second_factors")
PAGE_LIMIT = 500
MAX_PAGES = 10_000
LINK_TTL = 24 * 3600
STALE_AFTER = 300  # seconds without a beat after which a running job is taken over (> one RPC timeout)
READ_WINDOW = 600  # seconds after a download is opened during which its chunks may be read
CHUNK_BYTES = 256 * 1024
FORMATS = {"json": ("application/json", "json"), "pdf": ("application/pdf", "pdf")}
REQUESTERS = (Role.STUDENT, Role.PARENT, Role.SCHOOL_ADMIN)


class PartFailed(Exception):
    def __init__(self, service: str, message: str):
        super().__init__(message)
        self.service, self.message = service, message


# --- the request ---------------------------------------------------------------------------------

def _student_account(session: Session, tenant_id: str, person_id: str) -> str | None:
    return session.scalar(select(User.id).join(Membership, Membership.user_id == User.id).where(
        User.person_id == person_id, Membership.tenant_id == tenant_id, Membership.role == Role.STUDENT))


def known_to_auth(session: Session, tenant_id: str, person_id: str) -> bool:
    """A pupil with an account here, or followed by a parent here."""
    return bool(_student_account(session, tenant_id, person_id) or session.scalar(select(ParentLink.id).where(
        ParentLink.tenant_id == tenant_id, ParentLink.student_person_id == person_id).limit(1)))


def needs_registry_check(principal: Principal, person_id: str | None, user_id: str | None) -> bool:
    """The school admin names a person auth may not know (a pupil without an account): the
    registry, which owns persons, confirms they are of the school (a recorded view, REG-9)."""
    return bool(person_id and not user_id and Role.SCHOOL_ADMIN in principal.roles)


def _subject_for(session: Session, principal: Principal, person_id: str | None, user_id: str | None,
                 registry_confirmed: bool = False) -> dict:
    """Whose data: a student's own, a parent's child's, or (school admin) any person of the school."""
    tenant = principal.tenant_id
    if Role.SCHOOL_ADMIN in principal.roles and (person_id or user_id):
        if user_id:
            user = session.get(User, user_id)
            if user is None or not session.scalar(select(Membership.id).where(
                    Membership.user_id == user_id, Membership.tenant_id == tenant)):
                raise NotFound("no account with that id in your institution")
            if person_id and person_id != user.person_id:
                raise InvalidInput("person_id and user_id name different people")
            return {"tenant_id": tenant, "person_id": user.person_id, "account_id": user.id}
        if not (registry_confirmed or known_to_auth(session, tenant, person_id)):
            raise NotFound("person not found")
        return {"tenant_id": tenant, "person_id": person_id, "account_id": _student_account(session, tenant, person_id)}
    if user_id is not None and user_id != principal.user_id:
        raise Forbidden("only the school's administrator exports another account's data")
    if person_id is None or person_id == principal.person_id:
        if Role.PARENT in principal.roles and Role.STUDENT not in principal.roles and person_id is None:
            # a parent's own account data (they are a person too), without registry or catalog data
            return {"tenant_id": tenant, "person_id": None, "account_id": principal.user_id}
        return {"tenant_id": tenant, "person_id": principal.person_id, "account_id": principal.user_id}
    if Role.PARENT in principal.roles and person_id in principal.children:
        return {"tenant_id": tenant, "person_id": person_id, "account_id": _student_account(session, tenant, person_id)}
    raise Forbidden("you may export only your own data or your own child's")


def request_export(session: Session, emit, principal: Principal, *, person_id: str | None = None,
                   user_id: str | None = None, registry_confirmed: bool = False) -> dict:
    require(principal, *REQUESTERS)
    if principal.is_integrator:
        raise Forbidden("your role may not do this")
    subject = _subject_for(session, principal, person_id, user_id, registry_confirmed)
    job = SubjectExport(tenant_id=principal.tenant_id, requested_by=principal.user_id, requester_role=principal.role,
                        person_id=subject["person_id"], account_id=subject["account_id"], status="queued",
                        parts=json.dumps(_fresh_parts()))
    session.add(job)
    session.flush()
    emit(session, "subject_export_requested", entity_type="subject_export", entity_id=job.id,
         after={"person_id": job.person_id, "account_id": job.account_id, "on_behalf": job.requested_by != job.account_id})
    return job_dict(job)


def _fresh_parts() -> dict:
    return {name: {"status": "pending", "records": 0} for name in PARTS}


def job_dict(job: SubjectExport, links: list[dict] | None = None) -> dict:
    parts = json.loads(job.parts)
    done = sum(1 for p in parts.values() if p["status"] == "done")
    data = {"id": job.id, "status": job.status, "person_id": job.person_id, "account_id": job.account_id,
            "requested_by": job.requested_by, "created_at": job.created_at, "finished_at": job.finished_at,
            "message": job.message, "progress": {"parts_done": done, "parts_total": len(parts), "parts": parts}}
    if job.status == "done":
        data["expires_at"] = (job.finished_at or 0) + LINK_TTL
        data["downloads"] = links or []
    return data


def _own_job(session: Session, principal: Principal, export_id: str) -> SubjectExport:
    job = session.get(SubjectExport, export_id)
    if job is None or job.tenant_id != principal.tenant_id or job.requested_by != principal.user_id:
        raise NotFound("export not found")
    return job


def get_export(session: Session, principal: Principal, export_id: str, *, base_path: str) -> dict:
    """The job; once done, a fresh one-time link for each file not yet downloaded."""
    require(principal, *REQUESTERS)
    job = _own_job(session, principal, export_id)
    links = []
    if job.status == "done":
        now = time.time()
        for f in session.scalars(select(SubjectExportFile).where(SubjectExportFile.export_id == job.id)
                                 .order_by(SubjectExportFile.format)):
            entry = {"format": f.format, "size": f.size, "expires_at": f.expires_at,
                     "downloaded_at": f.downloaded_at, "url": None}
            if f.downloaded_at is None and f.expires_at > now:
                token = new_token()
                f.token_hash = token_hash(token)
                entry["url"] = f"{base_path}/{job.id}/download?token={token}"
            links.append(entry)
    return job_dict(job, links)


def list_exports(session: Session, principal: Principal, *, limit=None, offset=None) -> dict:
    """The caller's own export jobs, newest first (links only on reading one job)."""
    require(principal, *REQUESTERS)
    limit, offset = page_args(limit, offset)
    q = select(SubjectExport).where(SubjectExport.tenant_id == principal.tenant_id,
                                    SubjectExport.requested_by == principal.user_id)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(SubjectExport.created_at.desc(), SubjectExport.id).limit(limit).offset(offset))
    items = [{k: v for k, v in job_dict(job).items() if k != "downloads"} for job in rows]
    return {"items": items,
            "total": total, "limit": limit, "offset": offset}


# --- the download -------------------------------------------------------------------------------

def open_download(session: Session, emit, principal: Principal, export_id: str, token: str) -> dict:
    require(principal, *REQUESTERS)
    job = _own_job(session, principal, export_id)
    wanted = token_hash(token or "")
    f = session.scalar(select(SubjectExportFile).where(SubjectExportFile.export_id == job.id,
                                                       SubjectExportFile.token_hash == wanted))
    if f is None or not hmac.compare_digest(f.token_hash, wanted):
        raise NotFound("this download link is not valid; read the export again for a new one")
    if f.downloaded_at is not None:
        raise Conflict("this file was already downloaded; a download link works once (request a new export)")
    if f.expires_at < time.time():
        raise Conflict("this download link has expired; request a new export")
    f.downloaded_at = time.time()
    emit(session, "subject_export_downloaded", entity_type="subject_export", entity_id=job.id,
         after={"format": f.format, "person_id": job.person_id, "account_id": job.account_id})
    content_type, ext = FORMATS[f.format]
    return {"file_id": f.id, "format": f.format, "content_type": content_type, "chunks": f.chunks, "size": f.size,
            "filename": f"export-date-personale-{job.id[:8]}.{ext}"}


def read_chunk(session: Session, principal: Principal, file_id: str, seq: int) -> bytes:
    require(principal, *REQUESTERS)
    f = session.get(SubjectExportFile, file_id)
    job = session.get(SubjectExport, f.export_id) if f else None
    if (job is None or job.tenant_id != principal.tenant_id or job.requested_by != principal.user_id
            or f.downloaded_at is None or f.downloaded_at < time.time() - READ_WINDOW):
        raise NotFound("file not found")
    body = session.scalar(select(SubjectExportChunk.body).where(SubjectExportChunk.file_id == file_id,
                                                                SubjectExportChunk.seq == int(seq)))
    if body is None:
        raise NotFound("file not found")
    return bytes(body)


# --- auth's own part ----------------------------------------------------------------------------

def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z") if ts else None


def auth_records(session: Session, subject: dict) -> list[dict]:
    """Account, memberships, sign-ins, privacy acknowledgements, second factors (kinds and dates
    only: never a hash, a secret or a code)."""
    account_id, tenant_id = subject.get("account_id"), subject["tenant_id"]
    user = session.get(User, account_id) if account_id else None
    if user is None:
        return []
    items = [{"section": "account", "record": {
        "id": user.id, "email": user.email, "full_name": user.full_name, "person_id": user.person_id,
        "status": user.status, "created_at": _iso(user.created_at), "password_changed_at": _iso(user.password_changed_at)}}]
    for role, created, tname in session.execute(
            select(Membership.role, Membership.created_at, Tenant.name).join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user.id, Membership.tenant_id == tenant_id).order_by(Membership.role)):
        items.append({"section": "memberships", "record": {"tenant_id": tenant_id, "institution": tname,
                                                           "role": role, "created_at": _iso(created)}})
    for s in session.scalars(select(AuthSession).where(AuthSession.user_id == user.id,
                                                       AuthSession.tenant_id == tenant_id)
                             .order_by(AuthSession.created_at)):
        items.append({"section": "sign_ins", "record": {
            "session_id": s.id, "signed_in_at": _iso(s.created_at), "factors": sorted(s.factors.split()),
            "roles": [r for r in s.roles.split(",") if r], "ended_at": _iso(s.revoked_at),
            "end_reason": s.revoked_reason}})
    for ack in privacy.acknowledgements_of(session, user.id, tenant_id):
        items.append({"section": "privacy_acknowledgements", "record": {
            "version": ack["version"], "acknowledged_at": _iso(ack["acknowledged_at"])}})
    factor = session.get(SecondFactor, user.id)
    if factor and factor.totp_secret:
        items.append({"section": "second_factors", "record": {"kind": "totp", "updated_at": _iso(factor.updated_at)}})
    if factor and factor.phone:
        items.append({"section": "second_factors", "record": {"kind": "sms", "updated_at": _iso(factor.updated_at)}})
    left = len(session.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                             RecoveryCode.used_at.is_(None))).all())
    if left:
        items.append({"section": "second_factors", "record": {"kind": "recovery_codes", "unused": left}})
    return items


def auth_part(session: Session, subject: dict, cursor: str | None = None, limit: int = PAGE_LIMIT) -> dict:
    """The same page shape as the other services' `subject_export_part` (an offset as cursor)."""
    start = int(cursor or 0)
    items = auth_records(session, subject)
    page = items[start:start + limit]
    return {"items": page, "next_cursor": str(start + limit) if start + limit < len(items) else None}


# --- the job ------------------------------------------------------------------------------------

def _set_part(store, job_id: str, service: str, **values) -> None:
    with store.transaction() as s:
        job = s.get(SubjectExport, job_id)
        parts = json.loads(job.parts)
        parts[service].update(values)
        job.parts, job.heartbeat_at = json.dumps(parts), time.time()


def claim(session: Session, job_id: str, now: float) -> bool:
    """Take the job to run it: a queued one, or a running one whose replica stopped beating.
    One UPDATE, so two replicas never run the same job."""
    taken = session.execute(update(SubjectExport).where(
        SubjectExport.id == job_id,
        or_(SubjectExport.status == "queued",
            and_(SubjectExport.status == "running", or_(SubjectExport.heartbeat_at.is_(None),
                                                        SubjectExport.heartbeat_at < now - STALE_AFTER))))
        .values(status="running", heartbeat_at=now))
    return taken.rowcount == 1


def _check_page(service: str, page) -> tuple[list[dict], str | None]:
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise PartFailed(service, f"the {service} service answered its part in an unexpected shape")
    for item in page["items"]:
        if not (isinstance(item, dict) and isinstance(item.get("section"), str) and isinstance(item.get("record"), dict)):
            raise PartFailed(service, f"the {service} service answered a record without a section")
    cursor = page.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise PartFailed(service, f"the {service} service answered a cursor that is not a string")
    return page["items"], cursor


def gather(store, job_id: str, service: str, subject: dict, fetch: Callable[..., dict]) -> dict[str, list]:
    """Every page of one service's part, as {section: [records]}, recording progress."""
    _set_part(store, job_id, service, status="running", records=0)
    sections: dict[str, list] = {}
    cursor, seen, count = None, set(), 0
    for _ in range(MAX_PAGES):
        try:
            page = fetch(service, subject, cursor)
        except PartFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - named on the job, never half-reported as done
            raise PartFailed(service, describe_failure(service, exc)) from exc
        items, cursor = _check_page(service, page)
        for item in items:
            sections.setdefault(item["section"], []).append(item["record"])
        count += len(items)
        _set_part(store, job_id, service, records=count)
        if cursor is None:
            _set_part(store, job_id, service, status="done")
            return sections
        if cursor in seen:
            raise PartFailed(service, f"the {service} service repeated a page cursor")
        seen.add(cursor)
    raise PartFailed(service, f"the {service} service's part has more than {MAX_PAGES} pages")


def describe_failure(service: str, exc: BaseException) -> str:
    kind = type(exc).__name__
    if kind == "MethodNotFound":
        return f"the {service} service does not offer its part of the export (subject_export_part is missing)"
    if kind == "UnknownService":
        return f"the {service} service is not running; try again later"
    if kind in ("RpcTimeout", "Timeout"):
        return f"the {service} service did not answer in time; try again later"
    if isinstance(exc, AppError):
        return f"the {service} service refused its part: {exc.message}"
    return f"the {service} service failed to export its part ({kind})"


def build_document(job: SubjectExport, tenant_name: str, parts: dict[str, dict]) -> dict:
    auth = {section: [] for section in AUTH_SECTIONS}
    auth.update(parts.get("auth", {}))
    return {
        "$schema": "https://schemas.catalog.invalid/subject-export.v1.schema.json",
        "format": "subject-export", "version": 1, "export_id": job.id,
        "generated_at": _iso(time.time()),
        "controller": {"tenant_id": job.tenant_id, "name": tenant_name},
        "subject": {"person_id": job.person_id, "account_id": job.account_id},
        "requested_by": {"user_id": job.requested_by, "role": job.requester_role},
        "parts": {"auth": auth, **{name: parts[name] for name in REMOTE_SERVICES if name in parts}},
    }


def _store_file(session: Session, job_id: str, fmt: str, data: bytes, expires_at: float) -> None:
    chunks = [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
    f = SubjectExportFile(export_id=job_id, format=fmt, token_hash=token_hash(new_token()), size=len(data),
                          chunks=len(chunks), expires_at=expires_at)
    session.add(f)
    session.flush()
    for seq, body in enumerate(chunks):
        session.add(SubjectExportChunk(file_id=f.id, seq=seq, body=body))


def run_job(store, ctx, job_id: str, fetch: Callable[..., dict], render_pdf: Callable[[dict], bytes]) -> None:
    """Runs one export to the end (done, or failed with the failing service named)."""
    with store.transaction() as s:
        if not claim(s, job_id, time.time()):
            return
        job = s.get(SubjectExport, job_id)
        job.parts, job.message = json.dumps(_fresh_parts()), None
        subject = {"tenant_id": job.tenant_id, "person_id": job.person_id, "account_id": job.account_id}
    gathered: dict[str, dict] = {}
    try:
        for service in PARTS:
            gathered[service] = gather(store, job_id, service, subject, fetch)
        with store.reading() as s:
            job = s.get(SubjectExport, job_id)
            tenant = s.get(Tenant, job.tenant_id)
            document = build_document(job, tenant.name if tenant else "", gathered)
        json_bytes = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        pdf_bytes = render_pdf(document)
    except PartFailed as exc:
        _set_part(store, job_id, exc.service, status="failed")
        _finish(store, ctx, job_id, "failed", exc.message)
        return
    except Exception as exc:  # noqa: BLE001 - recorded on the job; the greenthread must not die silently
        _finish(store, ctx, job_id, "failed", f"the export could not be assembled ({type(exc).__name__})")
        return
    with store.transaction() as s:
        now = time.time()
        _store_file(s, job_id, "json", json_bytes, now + LINK_TTL)
        _store_file(s, job_id, "pdf", pdf_bytes, now + LINK_TTL)
    counts = {name: sum(len(v) for v in part.values()) for name, part in gathered.items()}
    _finish(store, ctx, job_id, "done", None, counts=counts)


def _finish(store, ctx, job_id: str, status: str, message: str | None, counts: dict | None = None) -> None:
    with store.transaction() as s:
        job = s.get(SubjectExport, job_id)
        job.status, job.message, job.finished_at = status, message, time.time()
        after = {"status": status, "person_id": job.person_id, "account_id": job.account_id}
        if counts is not None:
            after["records"] = counts
        if message:
            after["message"] = message
        store.emit(s, ctx, "subject_export_completed" if status == "done" else "subject_export_failed",
                   entity_type="subject_export", entity_id=job_id, after=after, tenant_id=job.tenant_id)


def resumable_jobs(session: Session, now: float | None = None) -> list[str]:
    """Jobs nobody runs: queued for a while (their start was lost), or running without a beat."""
    now = now or time.time()
    return list(session.scalars(select(SubjectExport.id).where(or_(
        and_(SubjectExport.status == "queued", SubjectExport.created_at < now - 30),
        and_(SubjectExport.status == "running", or_(SubjectExport.heartbeat_at.is_(None),
                                                    SubjectExport.heartbeat_at < now - STALE_AFTER))))))



def fail_unfinished(store, ctx, job_id: str, message: str) -> None:
    with store.reading() as s:
        job = s.get(SubjectExport, job_id)
        unfinished = job is not None and job.status in ("queued", "running")
    if unfinished:
        _finish(store, ctx, job_id, "failed", message)
