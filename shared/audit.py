"""The audit log: one entry per state change, written in the caller's transaction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shared.db import current_db
from shared.logging import current_request_id


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, an API key, a service, or the public (anonymous registration)."""

    id: str | None
    role: str | None
    organisation_id: str | None = None
    region_codes: tuple[str, ...] = ()
    locale: str = "id"
    kind: str = "user"  # user | api_key | service | anonymous

    @property
    def is_dp3a(self) -> bool:
        return self.role in {"dp3a_officer", "dp3a_admin"}

    @property
    def is_service(self) -> bool:
        return self.kind == "service"


ANONYMOUS = Actor(id=None, role=None, kind="anonymous")


def record(session: Session, actor: Actor, action: str, object_type: str, object_id: Any,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Add an audit entry to `session`; it commits with the change it describes."""
    entry_model = current_db().AuditEntry
    session.add(entry_model(
        actor_id=actor.id, actor_role=actor.role, action=action, object_type=object_type,
        object_id=str(object_id), before=before, after=after, request_id=current_request_id(),
    ))
