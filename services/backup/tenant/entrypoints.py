"""RPC entrypoints of the per-tenant backups, mixed into `BackupService` (thin: parse, check,
call the plain modules). Operator only, except the hand-over download, which the school's
own administrator and director may use for their school."""
from __future__ import annotations

import base64
import time
from datetime import datetime, timezone

from sqlalchemy import select

from services.kernel.errors import InvalidInput, NotFound
from services.kernel.identity import Role, require
from services.kernel.nameko_support import rpc

from . import changelog, contracts, jobs, sets
from .models import BackupSet, TenantContract
from .provider import TenantBackups

MAX_PAGE = 200
HANDOVER_CHUNK = 512 * 1024
SET_KINDS = ("full", "incremental", "handover")


def _page(limit, offset) -> tuple[int, int]:
    if not isinstance(limit, int) or not isinstance(offset, int) or not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit must be 1-{MAX_PAGE} and offset 0 or more")
    return limit, offset


def _instant(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("at must be an ISO 8601 date-time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if when.timestamp() > time.time() + 60:
        raise InvalidInput("at cannot be in the future")
    return when.isoformat()


class TenantBackupEntrypoints:
    backups = TenantBackups()

    def _operator(self):
        return require(self.ctx.principal, Role.OPERATOR)

    def _submit(self, kind: str, tenant_id: str | None, params: dict) -> dict:
        principal = self._operator()
        with self.db.transaction() as s:
            if tenant_id is not None and tenant_id not in contracts.known_tenants(s):
                raise NotFound("tenant not found")
            row = jobs.create(s, self.db.emitter(self.ctx), kind, tenant_id, principal.user_id, params)
            answer = jobs.job_dict(row)
        self.backups.spawn(answer["id"])
        return answer

    # --- tenants, sets, contracts ------------------------------------------------------

    @rpc
    def backup_tenants(self, limit: int = 50, offset: int = 0) -> dict:
        self._operator()
        limit, offset = _page(limit, offset)
        with self.db.reading() as s:
            ids = contracts.known_tenants(s)
            items = []
            for tenant_id in ids[offset:offset + limit]:
                item = contracts.contract_dict(s.get(TenantContract, tenant_id), tenant_id)
                item["sets"] = contracts.count_sets(s, tenant_id)
                items.append(item)
        return {"items": items, "total": len(ids), "limit": limit, "offset": offset}

    @rpc
    def backup_tenant(self, tenant_id: str) -> dict:
        self._operator()
        with self.db.reading() as s:
            if tenant_id not in contracts.known_tenants(s):
                raise NotFound("tenant not found")
            answer = contracts.contract_dict(s.get(TenantContract, tenant_id), tenant_id)
            latest = {}
            for kind in SET_KINDS:
                row = s.scalars(select(BackupSet).where(BackupSet.tenant_id == tenant_id, BackupSet.kind == kind)
                                .order_by(BackupSet.as_of.desc()).limit(1)).first()
                latest[kind] = sets.set_dict(row) if row else None
            answer["latest_sets"] = latest
            answer["change_log"] = changelog.summary(s, tenant_id)
        return answer

    @rpc
    def backup_sets(self, tenant_id: str, limit: int = 50, offset: int = 0) -> dict:
        self._operator()
        limit, offset = _page(limit, offset)
        with self.db.reading() as s:
            query = select(BackupSet).where(BackupSet.tenant_id == tenant_id)
            rows = list(s.scalars(query.order_by(BackupSet.as_of.desc()).limit(limit).offset(offset)))
            total = contracts.count_sets(s, tenant_id)
            if not total and tenant_id not in contracts.known_tenants(s):
                raise NotFound("tenant not found")
            return {"items": [sets.set_dict(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    @rpc
    def backup_start(self, tenant_id: str, kind: str) -> dict:
        if kind not in SET_KINDS:
            raise InvalidInput("kind must be full, incremental or handover")
        return self._submit(kind, tenant_id, {})

    @rpc
    def backup_record_contract(self, tenant_id: str, contract_end: str | None,
                               handover_recipient: str | None = None) -> dict:
        self._operator()
        with self.db.transaction() as s:
            return contracts.record_contract(s, self.db.emitter(self.ctx), tenant_id, contract_end=contract_end,
                                             handover_recipient=handover_recipient)

    @rpc
    def backup_set_legal_hold(self, tenant_id: str, hold: bool, reason: str | None = None) -> dict:
        self._operator()
        if not isinstance(hold, bool):
            raise InvalidInput("hold must be true or false")
        with self.db.transaction() as s:
            return contracts.set_legal_hold(s, self.db.emitter(self.ctx), tenant_id, hold=hold, reason=reason)

    @rpc
    def backup_handover_chunk(self, tenant_id: str, offset: int = 0) -> dict:
        """The hand-over archive, 512 KiB at a time (encrypted: to the school's key if it gave one)."""
        principal = require(self.ctx.principal, Role.OPERATOR, Role.SCHOOL_ADMIN, Role.DIRECTOR)
        if Role.OPERATOR not in principal.roles and principal.tenant_id != tenant_id:
            raise NotFound("no hand-over archive exists for this school yet")
        if not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset must be 0 or more")
        with self.db.reading() as s:
            row, path = contracts.handover_file(s, self.backups.config, tenant_id)
            size, name, digest = row.size_bytes, row.file_name, row.sha256
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(HANDOVER_CHUNK)
        return {"file_name": name, "size_bytes": size, "sha256": digest, "offset": offset,
                "data": base64.b64encode(data).decode(), "done": offset + len(data) >= size}

    # --- restores, drills, jobs --------------------------------------------------------

    @rpc
    def restore_start(self, tenant_id: str, mode: str = "fresh", at: str | None = None,
                      database_url_template: str | None = None, confirm_tenant_id: str | None = None,
                      services: list | None = None, reason: str | None = None) -> dict:
        if mode not in ("fresh", "live"):
            raise InvalidInput("mode must be fresh or live")
        params = {"mode": mode, "at": _instant(at), "reason": reason}
        if mode == "live":
            if confirm_tenant_id != tenant_id:
                raise InvalidInput("a live restore replaces this school's current data: confirm it by repeating "
                                   "the tenant id in confirm_tenant_id")
            if services is not None and (not isinstance(services, list) or
                                         not set(services) <= set(self.backups.config.services)):
                raise InvalidInput(f"services must be among {', '.join(self.backups.config.services)}")
            params["services"] = services
        else:
            if database_url_template is None:
                from services.kernel.settings import get_settings
                base = (get_settings().data_dir / "restores" / f"{tenant_id}-{int(time.time())}").resolve()
                base.mkdir(parents=True, exist_ok=True)
                database_url_template = f"sqlite:///{base}/{{service}}.db"
            if "{service}" not in database_url_template:
                raise InvalidInput("database_url_template must contain {service}")
            params["database_url_template"] = database_url_template
        return self._submit("restore", tenant_id, params)

    @rpc
    def drill_start(self, tenant_id: str | None = None) -> dict:
        return self._submit("drill", tenant_id, {})

    @rpc
    def retention_start(self) -> dict:
        return self._submit("retention", None, {})

    @rpc
    def jobs_list(self, kind: str | None = None, tenant_id: str | None = None, limit: int = 50,
                  offset: int = 0) -> dict:
        self._operator()
        limit, offset = _page(limit, offset)
        if kind is not None and kind not in jobs.KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(jobs.KINDS)}")
        with self.db.reading() as s:
            rows = jobs.page(s, kind=kind, tenant_id=tenant_id, limit=limit, offset=offset)
            return {"items": [jobs.job_dict(r) for r in rows], "limit": limit, "offset": offset}

    @rpc
    def job_get(self, job_id: str) -> dict:
        self._operator()
        with self.db.reading() as s:
            return jobs.job_dict(jobs.get(s, job_id))
