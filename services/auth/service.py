"""Auth service entrypoints: parse arguments, call the rule modules, send messages after commit.

Rules: argon2 runs on OS threads (`tpool`) and never inside a transaction; e-mails and
SMS are sent only after the transaction that created them has committed.
"""
from __future__ import annotations

import base64
import os
import time

from eventlet import tpool
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.kernel.batch_consumer import event_batch_consumer
from services.kernel.errors import InvalidInput, NotAuthenticated
from services.kernel.events import Envelope
from services.kernel.identity import TokenSigner
from services.kernel.logging import get_logger
from services.kernel import service_credentials
from services.kernel.nameko_support import CallContext, Database, RequestContext, ServiceBase, rpc
from services.kernel.runner import nameko_config
from services.kernel.settings import get_settings

from . import accounts, catalog_notices, clients, export_pdf, privacy, rights, sessions, subject_export
from .config import AuthSecrets, get_auth_settings, load_secrets, outbox_dir
from .models import Base
from .security.passwords import verify_password
from .senders import HttpSms, OutboxEmail, OutboxSms, SmtpEmail

log = get_logger(__name__)


class Signer(DependencyProvider):
    def setup(self):
        settings = get_settings()
        self.signer = TokenSigner(settings.private_key_path().read_bytes(),
                                  ttl_seconds=settings.access_token_minutes * 60)

    def get_dependency(self, worker_ctx) -> TokenSigner:
        return self.signer


class Secrets(DependencyProvider):
    def setup(self):
        self.secrets = load_secrets()

    def get_dependency(self, worker_ctx) -> AuthSecrets:
        return self.secrets


class Messenger:
    def __init__(self, email, sms):
        self.email, self.sms = email, sms

    def send_email(self, message: tuple[str, str, str] | None) -> None:
        if message:
            try:
                self.email.send(*message)
            except Exception as exc:  # noqa: BLE001 - the user can ask again; never leak details
                log.error("email.send_failed", error_type=type(exc).__name__)

    def send_sms(self, message: tuple[str, str]) -> None:
        try:
            self.sms.send(*message)
        except Exception as exc:  # noqa: BLE001
            log.error("sms.send_failed", error_type=type(exc).__name__)
            raise InvalidInput("the text message could not be sent; try again or use another method") from exc


class Messages(DependencyProvider):
    def setup(self):
        auth = get_auth_settings()
        email = SmtpEmail(auth.smtp_url, auth.mail_from) if auth.smtp_url else OutboxEmail(outbox_dir() / "email.jsonl")
        sms = HttpSms(auth.sms_provider_url, auth.sms_provider_token) if auth.sms_provider_url \
            else OutboxSms(outbox_dir() / "sms.jsonl")
        self.messenger = Messenger(email, sms)

    def get_dependency(self, worker_ctx) -> Messenger:
        return self.messenger


class ExportRunner(DependencyProvider):
    """Runs subject export jobs on managed greenthreads of this container, and at start resumes
    (from the beginning) the jobs a stopped replica left queued or running.

    Exports are background work: at most `SUBJECT_EXPORT_CONCURRENCY` (1) run at once in a replica,
    the others wait their turn (queued, with their progress), and the PDF is drawn on an OS thread,
    so a burst of requests never starves the sign-ins this process answers, nor the other services'
    workers that the parts are read from."""

    def setup(self):
        self._turns = Semaphore(max(1, int(os.environ.get("SUBJECT_EXPORT_CONCURRENCY", "1"))))
        self._mine: set[str] = set()  # jobs this replica runs or holds waiting for their turn

    def _store(self):
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        return database.get_dependency(None)

    def start(self):
        self.resume()

    def resume(self) -> None:
        with self._store().reading() as s:
            pending = subject_export.resumable_jobs(s)
        for job_id in pending:
            self.spawn(job_id)

    def spawn(self, job_id: str) -> None:
        if job_id in self._mine:  # waiting for its turn here: still queued, not lost
            return
        self._mine.add(job_id)
        self.container.spawn_managed_thread(lambda: self._run(job_id), identifier=f"subject_export.{job_id}")

    def _run(self, job_id: str) -> None:
        try:
            with self._turns:
                self._run_now(job_id)
        finally:
            self._mine.discard(job_id)

    def _run_now(self, job_id: str) -> None:
        from nameko.standalone.rpc import ClusterRpcProxy
        store = self._store()
        ctx = CallContext(correlation_id=job_id, token=None, verifier=None, _principal=None, _checked=True)
        timeout = float(os.environ.get("SUBJECT_EXPORT_RPC_TIMEOUT_SECONDS", "120"))
        try:
            with ClusterRpcProxy(nameko_config(get_settings()), timeout=timeout) as proxy:
                def fetch(service, subject, cursor):
                    if service == "auth":
                        with store.reading() as s:
                            return subject_export.auth_part(s, subject, cursor)
                    credential = service_credentials.issue("auth", service, "subject_export")
                    return proxy[service].subject_export_part(credential=credential, subject=subject, cursor=cursor,
                                                              limit=subject_export.PAGE_LIMIT)
                subject_export.run_job(store, ctx, job_id, fetch,
                                       lambda document: tpool.execute(export_pdf.render, document))
        except Exception as exc:  # noqa: BLE001 - e.g. the broker went away: the job says so
            log.error("subject_export.crashed", job_id=job_id, error_type=type(exc).__name__)
            subject_export.fail_unfinished(store, ctx, job_id, "the export could not reach the other services; "
                                                               "request it again")

    def get_dependency(self, worker_ctx):
        return self


def offload(fn, *args):
    """argon2 releases the GIL: run it on an OS thread so the hub keeps serving."""
    return tpool.execute(fn, *args)


class AuthService(ServiceBase):
    name = "auth"
    db = Database("auth", Base.metadata)
    ctx = RequestContext("auth")
    signer = Signer()
    secrets = Secrets()
    messages = Messages()
    run_export = ExportRunner()
    registry = RpcProxy("registry")

    @property
    def _refresh_ttl(self) -> int:
        return get_auth_settings().refresh_token_days * 86400

    def _fail_unless_ok(self, result: dict, message: str = sessions.GENERIC_LOGIN_ERROR) -> dict:
        if result.get("status") == "failed":
            raise NotAuthenticated(message)
        return result

    # -- institutions and accounts ----------------------------------------------------
    @rpc
    def create_tenant(self, name, kind, admin_email, admin_full_name, admin_password) -> dict:
        principal = self.ctx.require_principal()
        password_hash = offload(accounts.new_password_hash, admin_password, admin_email, admin_full_name)
        with self.db.transaction() as s:
            return accounts.create_tenant(
                s, self.db.emitter(self.ctx), principal, name=name, kind=kind,
                admin_email=admin_email, admin_full_name=admin_full_name, admin_password_hash=password_hash)

    @rpc
    def create_user(self, email, full_name, role, password=None, person_id=None, tenant_id=None) -> dict:
        principal = self.ctx.require_principal()
        password_hash = offload(accounts.new_password_hash, password, email, full_name)
        with self.db.transaction() as s:
            return accounts.create_user(
                s, self.db.emitter(self.ctx), principal, email=email, full_name=full_name, role=role,
                password_hash=password_hash, person_id=person_id, tenant_id=tenant_id)

    @rpc
    def get_member(self, user_id) -> dict:
        with self.db.reading() as s:
            return accounts.get_member(s, self.ctx.require_principal(), user_id)

    @rpc
    def names_for_documents(self, user_ids) -> dict:
        with self.db.reading() as s:
            return accounts.names_for_documents(s, self.ctx.require_principal(), user_ids)

    @rpc
    def list_members(self, limit=None, offset=None, role=None) -> dict:
        with self.db.reading() as s:
            return accounts.list_members(s, self.ctx.require_principal(), limit=limit, offset=offset, role=role)

    @rpc
    def list_tenants(self, limit=None, offset=None) -> dict:
        with self.db.reading() as s:
            return accounts.list_tenants(s, self.ctx.require_principal(), limit=limit, offset=offset)

    @rpc
    def unlock_user(self, user_id) -> dict:
        with self.db.transaction() as s:
            return accounts.unlock_user(s, self.db.emitter(self.ctx), self.ctx.require_principal(), user_id=user_id)

    @rpc
    def link_parent(self, parent_user_id, student_person_id) -> dict:
        with self.db.transaction() as s:
            return accounts.link_parent(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                        parent_user_id=parent_user_id, student_person_id=student_person_id)

    @rpc
    def create_invitation(self, email, role) -> dict:
        principal = self.ctx.require_principal()
        with self.db.transaction() as s:
            result, message = accounts.create_invitation(s, self.db.emitter(self.ctx), principal, email=email,
                                                         role=role, base_url=get_auth_settings().public_base_url)
        self.messages.send_email(message)
        return result

    @rpc
    def accept_invitation(self, token, full_name, password) -> dict:
        with self.db.reading() as s:
            email, _tenant = accounts.invitation_email(s, token)
        password_hash = offload(accounts.new_password_hash, password, email, full_name)
        with self.db.transaction() as s:
            return accounts.accept_invitation(s, self.db.emitter(self.ctx), token=token, full_name=full_name,
                                              password_hash=password_hash)

    # -- login ------------------------------------------------------------------------
    @rpc
    def login(self, email, password, tenant_id=None, client_ip=None) -> dict:
        # Hashing happens between two short transactions: never hold the database while
        # argon2 runs. The throttle check comes first and costs no hashing.
        auth = get_auth_settings()
        with self.db.reading() as s:
            sessions.check_throttle(s, sessions.throttle_keys(email, client_ip), time.time())
            candidate = sessions.login_candidate(s, email)
        ok, new_hash = offload(sessions.check_password, candidate, password)
        with self.db.transaction() as s:
            result = sessions.finish_login(s, self.db.emitter(self.ctx), self.signer, candidate, ok, new_hash,
                                           email=email, tenant_id=tenant_id, client_ip=client_ip,
                                           partial_ttl=auth.partial_token_minutes * 60,
                                           refresh_ttl=self._refresh_ttl)
        if result["status"] == "locked":
            raise NotAuthenticated(sessions.LOCKED_MESSAGE)
        if result["status"] == "deactivated":
            raise NotAuthenticated(sessions.DEACTIVATED_MESSAGE)
        return self._fail_unless_ok(result)

    @rpc
    def verify_second_factor(self, method, code) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.transaction() as s:
            result = sessions.verify_second_factor(s, self.db.emitter(self.ctx), self.signer, self.secrets,
                                                   principal, method=method, code=code,
                                                   refresh_ttl=self._refresh_ttl)
        return self._fail_unless_ok(result, "that code is not valid")

    @rpc
    def send_login_sms(self) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.transaction() as s:
            message = sessions.send_login_sms(s, self.db.emitter(self.ctx), self.secrets, principal)
        self.messages.send_sms(message)
        return {"status": "sent"}

    @rpc
    def refresh(self, refresh_token) -> dict:
        with self.db.transaction() as s:
            result = sessions.refresh(s, self.db.emitter(self.ctx), self.signer, refresh_token=refresh_token,
                                      refresh_ttl=self._refresh_ttl)
        return self._fail_unless_ok(result, "invalid or expired refresh token; sign in again")

    @rpc
    def logout(self) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.transaction() as s:
            sessions.revoke_sessions(s, self.db.emitter(self.ctx), principal.user_id, reason="logout",
                                     only=principal.session_id)
        return {"status": "ok"}

    @rpc
    def logout_everywhere(self) -> dict:
        principal = self.ctx.require_principal()
        with self.db.transaction() as s:
            ended = sessions.revoke_sessions(s, self.db.emitter(self.ctx), principal.user_id, reason="logout_all")
        return {"status": "ok", "sessions_ended": len(ended)}

    @rpc
    def recent_revocations(self, since) -> dict:
        """For gateways starting up: sessions revoked while they were not listening."""
        with self.db.reading() as s:
            return {"session_ids": sessions.recent_revocations(s, float(since))}

    # -- second factors ---------------------------------------------------------------
    @rpc
    def factor_status(self) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.reading() as s:
            return sessions.factor_status(s, principal)

    @rpc
    def totp_enrol(self) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.transaction() as s:
            return sessions.start_totp_enrolment(s, self.secrets, principal, issuer=get_auth_settings().issuer)

    @rpc
    def totp_confirm(self, code) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.transaction() as s:
            return sessions.confirm_totp(s, self.db.emitter(self.ctx), self.signer, self.secrets, principal,
                                         code=code, refresh_ttl=self._refresh_ttl)

    @rpc
    def totp_disable(self, code) -> dict:
        principal = self.ctx.require_principal()
        with self.db.transaction() as s:
            return sessions.disable_totp(s, self.db.emitter(self.ctx), self.secrets, principal, code=code)

    @rpc
    def sms_enrol(self, phone) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.transaction() as s:
            message = sessions.start_sms_enrolment(s, self.db.emitter(self.ctx), self.secrets, principal, phone=phone)
        self.messages.send_sms(message)
        return {"status": "sent"}

    @rpc
    def sms_confirm(self, code) -> dict:
        principal = self.ctx.require_principal(allow_partial=True)
        with self.db.transaction() as s:
            result = sessions.confirm_sms(s, self.db.emitter(self.ctx), self.signer, self.secrets, principal,
                                          code=code, refresh_ttl=self._refresh_ttl)
        return self._fail_unless_ok(result, "that code is not valid")

    @rpc
    def regenerate_recovery_codes(self) -> dict:
        principal = self.ctx.require_principal()
        with self.db.transaction() as s:
            return sessions.regenerate_recovery_codes(s, self.db.emitter(self.ctx), self.secrets, principal)

    # -- self-service ----------------------------------------------------------------
    def _current_password_ok(self, principal, password) -> bool:
        with self.db.reading() as s:
            stored = accounts.password_hash_of(s, principal.user_id)
        ok, _ = offload(verify_password, stored, password or "")
        return ok

    @rpc
    def change_password(self, current_password, new_password) -> dict:
        principal = self.ctx.require_principal()
        ok = self._current_password_ok(principal, current_password)
        with self.db.reading() as s:
            member = accounts.get_member(s, principal, principal.user_id)
        new_hash = offload(accounts.new_password_hash, new_password, member["email"], member["full_name"]) if ok else ""
        with self.db.transaction() as s:
            return accounts.change_password(s, self.db.emitter(self.ctx), principal, current_ok=ok, new_hash=new_hash)

    @rpc
    def request_password_reset(self, email) -> dict:
        with self.db.transaction() as s:
            message = accounts.request_password_reset(s, self.db.emitter(self.ctx), email=email,
                                                      base_url=get_auth_settings().public_base_url)
        self.messages.send_email(message)
        return {"status": "accepted"}

    @rpc
    def reset_password(self, token, new_password) -> dict:
        with self.db.reading() as s:
            email, full_name = accounts.reset_target(s, token)
        new_hash = offload(accounts.new_password_hash, new_password, email, full_name)
        with self.db.transaction() as s:
            return accounts.reset_password(s, self.db.emitter(self.ctx), token=token, new_hash=new_hash)

    @rpc
    def request_email_change(self, current_password, new_email) -> dict:
        principal = self.ctx.require_principal()
        ok = self._current_password_ok(principal, current_password)
        with self.db.transaction() as s:
            message = accounts.request_email_change(s, self.db.emitter(self.ctx), principal, current_ok=ok,
                                                    new_email=new_email,
                                                    base_url=get_auth_settings().public_base_url)
        self.messages.send_email(message)
        return {"status": "sent"}

    @rpc
    def confirm_email_change(self, token) -> dict:
        with self.db.transaction() as s:
            return accounts.confirm_email_change(s, self.db.emitter(self.ctx), token=token)

    # -- integrators ------------------------------------------------------------------
    @rpc
    def create_client(self, name, scopes, tenant_id=None) -> dict:
        with self.db.transaction() as s:
            return clients.create_client(s, self.db.emitter(self.ctx), self.ctx.require_principal(), name=name,
                                         scopes=scopes, tenant_id=tenant_id)

    @rpc
    def list_clients(self) -> dict:
        with self.db.reading() as s:
            return clients.list_clients(s, self.ctx.require_principal())

    @rpc
    def revoke_client(self, client_id) -> dict:
        with self.db.transaction() as s:
            return clients.revoke_client(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                         client_id=client_id)

    @rpc
    def client_token(self, client_id, client_secret, scope=None) -> dict:
        with self.db.transaction() as s:
            result = clients.issue_client_token(s, self.db.emitter(self.ctx), self.signer, client_id=client_id,
                                                client_secret=client_secret, scope=scope)
        return self._fail_unless_ok(result, "invalid client credentials")

    # --- catalog messages: learnt from the grades events, sent after commit, once per event -----
    @event_batch_consumer("auth.catalog_notices", max_batch=100)
    def catalog_events(self, envelopes: list[Envelope]) -> None:
        with self.db.transaction() as s:
            mails = catalog_notices.handle_events(s, self.db.newly_processed, envelopes)
        for mail in mails:
            self.messages.send_email(mail)

    @timer(interval=300)
    def catalog_digests(self) -> None:
        """Daily digests: the lines of days already over, one e-mail per person."""
        with self.db.transaction() as s:
            mails = catalog_notices.due_digests(s)
        for mail in mails:
            self.messages.send_email(mail)

    @rpc
    def set_catalog_notices(self, grades, absences) -> dict:
        with self.db.transaction() as s:
            return catalog_notices.set_preferences(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                                   grades=grades, absences=absences)

    @rpc
    def get_catalog_notices(self) -> dict:
        with self.db.reading() as s:
            return catalog_notices.get_preferences(s, self.ctx.require_principal())

    # --- data-subject rights (issue 11): privacy notice, erasure, deactivation, exports ----------
    @timer(interval=60)
    def resume_subject_exports(self) -> None:
        """Exports whose replica stopped (or whose start was lost) are taken over."""
        self.run_export.resume()

    @rpc
    def privacy_notice(self, lang=None) -> dict:
        with self.db.reading() as s:
            return privacy.get_notice(s, self.ctx.require_principal(), lang=lang)

    @rpc
    def publish_privacy_notice(self, text_ro, text_en) -> dict:
        with self.db.transaction() as s:
            return privacy.publish(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                   text_ro=text_ro, text_en=text_en)

    @rpc
    def acknowledge_privacy_notice(self, version) -> dict:
        with self.db.transaction() as s:
            return privacy.acknowledge(s, self.db.emitter(self.ctx), self.ctx.require_principal(), version=version)

    @rpc
    def privacy_notice_pending(self) -> dict:
        principal = self.ctx.require_principal()
        with self.db.reading() as s:
            return {"privacy_notice_pending": privacy.pending(s, principal.user_id, principal.tenant_id)}

    @rpc
    def erasure_request(self, person_id=None, reason=None) -> dict:
        with self.db.transaction() as s:
            return rights.answer_erasure_request(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                                 person_id=person_id, reason=reason)

    @rpc
    def deactivate_user(self, user_id, reason) -> dict:
        with self.db.transaction() as s:
            return rights.deactivate(s, self.db.emitter(self.ctx), self.ctx.require_principal(), user_id=user_id,
                                     reason=reason)

    @rpc
    def reactivate_user(self, user_id, reason) -> dict:
        with self.db.transaction() as s:
            return rights.reactivate(s, self.db.emitter(self.ctx), self.ctx.require_principal(), user_id=user_id,
                                     reason=reason)

    @rpc
    def start_subject_export(self, person_id=None, user_id=None) -> dict:
        principal = self.ctx.require_principal()
        confirmed = False
        if subject_export.needs_registry_check(principal, person_id, user_id):
            with self.db.reading() as s:
                known = subject_export.known_to_auth(s, principal.tenant_id, person_id)
            if not known:  # outside any transaction of ours; NotFound when not a person of the school
                self.registry.get_person(person_id=person_id)
                confirmed = True
        with self.db.transaction() as s:
            job = subject_export.request_export(s, self.db.emitter(self.ctx), principal, person_id=person_id,
                                                user_id=user_id, registry_confirmed=confirmed)
        self.run_export.spawn(job["id"])
        return job

    @rpc
    def list_subject_exports(self, limit=None, offset=None) -> dict:
        with self.db.reading() as s:
            return subject_export.list_exports(s, self.ctx.require_principal(), limit=limit, offset=offset)

    @rpc
    def subject_export_job(self, export_id, base_path="/v1/rights/exports") -> dict:
        # a write unit: reading a finished job issues fresh one-time links (their hashes are stored)
        with self.db.transaction() as s:
            return subject_export.get_export(s, self.ctx.require_principal(), export_id, base_path=base_path)

    @rpc
    def open_subject_export_download(self, export_id, token) -> dict:
        with self.db.transaction() as s:
            return subject_export.open_download(s, self.db.emitter(self.ctx), self.ctx.require_principal(),
                                                export_id, token)

    @rpc
    def subject_export_chunk(self, file_id, seq) -> dict:
        with self.db.reading() as s:
            data = subject_export.read_chunk(s, self.ctx.require_principal(), file_id, seq)
        return {"data": base64.b64encode(data).decode("ascii")}

    @rpc
    def subject_export_part(self, credential, subject, cursor=None, limit=500) -> dict:
        """auth's part of a person's export, for a caller holding a `subject_export` credential
        (auth's own job reads it locally)."""
        service_credentials.verify(credential, self.name, "subject_export")
        with self.db.reading() as s:
            return subject_export.auth_part(s, subject, cursor, min(int(limit), 1000))


def bootstrap() -> None:
    """Create the first platform operator from PLATFORM_OPERATOR_EMAIL/PASSWORD, once."""
    from services.kernel.db import make_engine, make_sessionmaker
    from services.kernel.settings import database_url
    settings = get_settings()
    if not (settings.operator_email and settings.operator_password):
        return
    engine = make_engine(database_url("auth"), pool_size=1)
    try:
        password_hash = accounts.new_password_hash(settings.operator_password, settings.operator_email)
        with make_sessionmaker(engine).begin() as s:
            accounts.ensure_platform_operator(s, settings.operator_email, password_hash)
    finally:
        engine.dispose()
