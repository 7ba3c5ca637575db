"""`Idempotency-Key`: a write retried with the same key (same caller) gets its first answer again
and creates nothing new. The reply is stored in the write's own transaction, so a write that
failed stored nothing and may be retried."""
from __future__ import annotations

import time

from sqlalchemy import bindparam, select

from services.kernel.errors import Conflict, InvalidInput
from services.kernel.identity import Principal
from services.kernel.model_base import new_id

from .models import IdempotentReply

_R = IdempotentReply.__table__
_FIND = select(_R.c.operation, _R.c.reply).where(_R.c.tenant_id == bindparam("tenant_id"),
                                                  _R.c.user_id == bindparam("user_id"), _R.c.key == bindparam("key"))
_STORE = _R.insert()


def check_key(key) -> str | None:
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 100 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 100 printable characters")
    return key


def stored_reply(db, principal: Principal, key: str | None, operation: str) -> dict | None:
    if key is None:
        return None
    row = db.execute(_FIND, {"tenant_id": principal.tenant_id, "user_id": principal.user_id, "key": key}).first()
    if row is None:
        return None
    if row.operation != operation:
        raise Conflict("that Idempotency-Key was already used for another kind of request")
    return row.reply


def store_reply(db, principal: Principal, key: str | None, operation: str, reply: dict) -> None:
    if key is not None:
        db.execute(_STORE, {"id": new_id(), "tenant_id": principal.tenant_id, "user_id": principal.user_id,
                            "key": key, "operation": operation, "reply": reply, "created_at": time.time()})
