"""The recipient directory, kept in step with partners through its user events."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from services.notify.models import Recipient


def apply_user_event(session: Session, payload: dict[str, Any]) -> Recipient:
    """Create or update the recipient a `user.created` / `user.updated` event describes."""
    recipient = session.get(Recipient, uuid.UUID(payload["user_id"]))
    if recipient is None:
        recipient = Recipient(id=uuid.UUID(payload["user_id"]))
        session.add(recipient)
    recipient.organisation_id = uuid.UUID(payload["organisation_id"])
    recipient.email = payload["email"]
    recipient.name = payload["name"]
    recipient.role = payload["role"]
    recipient.region_codes = list(payload.get("region_codes") or [])
    recipient.locale = payload.get("locale") if payload.get("locale") in ("id", "en") else "id"
    recipient.is_active = bool(payload.get("is_active", True))
    return recipient
