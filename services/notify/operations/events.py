"""Events in, notifications out: each event stored once, each notification made once."""
from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.notify.catalogue import DIRECTORY_EVENTS
from services.notify.models import ChannelAddress, Event, Notification, Recipient
from services.notify.operations import directory, preferences, routing, templates
from services.notify.rendering import RenderError, render
from shared.db import utcnow


def store(session: Session, data: dict[str, Any]) -> tuple[Event, bool]:
    """(event, created): the same event id again changes nothing, even when two senders
    post it at the same moment (the relay and its sweeper)."""
    event = session.get(Event, data["id"])
    if event is not None:
        return event, False
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = session.execute(insert(Event.__table__).values(
        id=data["id"], source=data["source"], event_type=data["type"],
        aggregate_type=data["aggregate_type"], aggregate_id=data["aggregate_id"],
        payload=data["payload"], occurred_at=data["occurred_at"], received_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=[Event.id]).returning(Event.__table__.c.id))
    created = result.scalar() is not None  # nothing returned: another request stored it
    event = session.get(Event, data["id"])
    assert event is not None
    return event, created


def fan_out(session: Session, event_id: uuid.UUID, portal_url: str) -> list[uuid.UUID]:
    """Make the event's notifications (one per recipient and allowed channel) and mark the
    event processed; returns the ids of the notifications made now."""
    event = session.get(Event, event_id, with_for_update=True)
    if event is None or event.processed_at is not None:
        return []
    made: list[uuid.UUID] = []
    if event.event_type in DIRECTORY_EVENTS:
        directory.apply_user_event(session, event.payload)
    else:
        existing = {(n.recipient_id, n.channel) for n in session.scalars(
            select(Notification).where(Notification.event_id == event.id))}
        for recipient in routing.recipients_for(session, event.event_type, event.payload):
            for channel in preferences.channels_for(session, recipient, event.event_type):
                if (recipient.id, channel) in existing:
                    continue
                notification = _compose(session, event, recipient, channel, portal_url)
                if notification is not None:
                    session.add(notification)
                    made.append(notification.id)
    event.processed_at = utcnow()
    session.flush()
    return made


def _compose(session: Session, event: Event, recipient: Recipient, channel: str,
             portal_url: str) -> Notification | None:
    base = {"id": uuid.uuid4(), "event_id": event.id, "event_type": event.event_type,
            "recipient_id": recipient.id, "channel": channel, "locale": recipient.locale,
            "status": "queued"}
    if channel == "webhook":
        address = _address(session, recipient, "webhook")
        body = json.dumps({"id": str(event.id), "type": event.event_type,
                           "occurred_at": event.occurred_at.isoformat(),
                           "payload": event.payload}, ensure_ascii=False, sort_keys=True)
        return Notification(**base, address=address, template_version=None,
                            subject=event.event_type, body_text=body, body_html=None)
    template = templates.current(session, event.event_type, channel, recipient.locale)
    if template is None:
        return None
    context = {**event.payload, "recipient_name": recipient.name, "portal_url": portal_url,
               "locale": recipient.locale}
    address = recipient.email if channel == "email" else (
        str(recipient.id) if channel == "inapp" else _address(session, recipient, channel))
    try:
        # One line: a line break (from a name, say) must not end up in a mail header.
        subject = " ".join(render(template.subject, context).split())
        text = render(template.body_text, context)
        html = render(template.body_html, context, html=True) if template.body_html else None
    except RenderError as exc:
        # Templates are checked when saved; an event missing a variable is recorded, not sent.
        return Notification(**{**base, "status": "failed"}, address=address,
                            template_version=template.version, subject=event.event_type,
                            body_text="", body_html=None, last_error=f"template: {exc}")
    return Notification(**base, address=address, template_version=template.version,
                        subject=subject, body_text=text, body_html=html)


def _address(session: Session, recipient: Recipient, channel: str) -> str:
    return session.scalar(select(ChannelAddress.address).where(
        ChannelAddress.recipient_id == recipient.id, ChannelAddress.channel == channel)) or ""
