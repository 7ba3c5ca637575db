"""The single versioned event envelope for every state change in every service.

`type` is `<service>.<past_tense_fact>` (e.g. `grades.grade_recorded`). `data` holds the
after-image and, on changes, the before-image. Consumers are idempotent on `event_id`.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .errors import InvalidInput

ENVELOPE_VERSION = 1
EVENTS_EXCHANGE = "platform.events"
_TYPE_RE = re.compile(r"^[a-z]+\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Actor:
    id: str
    role: str


@dataclass(frozen=True)
class Entity:
    type: str
    id: str


@dataclass(frozen=True)
class Envelope:
    type: str
    tenant_id: str | None
    actor: Actor
    entity: Entity
    data: dict[str, Any]
    correlation_id: str
    reason: str | None = None
    version: int = ENVELOPE_VERSION
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def __post_init__(self):
        if not _TYPE_RE.match(self.type):
            raise InvalidInput(f"event type {self.type!r} is not '<service>.<fact>'")

    @property
    def service(self) -> str:
        return self.type.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> "Envelope":
        try:
            return cls(
                event_id=str(uuid.UUID(raw["event_id"])),
                type=raw["type"],
                version=int(raw["version"]),
                occurred_at=datetime.fromisoformat(raw["occurred_at"]).isoformat(),
                tenant_id=raw.get("tenant_id"),
                actor=Actor(**raw["actor"]),
                reason=raw.get("reason"),
                entity=Entity(**raw["entity"]),
                data=dict(raw["data"]),
                correlation_id=str(raw["correlation_id"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"malformed event envelope: {exc}") from exc


def change_data(after: dict[str, Any] | None, before: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"after": after}
    if before is not None:
        data["before"] = before
    return data
