"""The transactional outbox: events are written with the change, relayed after commit."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from shared.db import current_db

# Set in session.info by emit: after this session commits, the relay task is queued
# (shared/outbox_relay.py, trigger_after_commit).
PENDING_KEY = "mitra_outbox_pending"


def emit(session: Session, event_type: str, aggregate_type: str, aggregate_id: Any,
         payload: dict[str, Any]) -> uuid.UUID:
    """Add an event to the outbox in `session`; it is only visible once the caller commits."""
    model = current_db().OutboxEvent
    event = model(id=uuid.uuid4(), event_type=event_type, aggregate_type=aggregate_type,
                  aggregate_id=str(aggregate_id), payload=payload)
    session.add(event)
    session.info[PENDING_KEY] = True
    return event.id
