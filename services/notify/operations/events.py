"""Events in, notifications out: each event stored once, each notification made once."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.notify.catalogue import DIRECTORY_EVENTS
from services.notify.models import (
    ChannelAddress,
    Event,
    Notification,
    Recipient,
    Template,
)
from services.notify.operations import directory, preferences, routing, templates
from services.notify.rendering import RenderError, render
from shared.db import new_id, utcnow


def store(session: Session, data: dict[str, Any]) -> tuple[Event, bool]:
    """(event, created): the same event id again changes nothing, even when two senders
    post it at the same moment (the relay and its sweeper)."""
    event = session.get(Event, data["id"])
    if event is not None:
        return event, False
    result = session.execute(_insert(session)(Event.__table__).values(
        id=data["id"], source=data["source"], event_type=data["type"],
        aggregate_type=data["aggregate_type"], aggregate_id=data["aggregate_id"],
        payload=data["payload"], occurred_at=data["occurred_at"], received_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=[Event.id]).returning(Event.__table__.c.id))
    created = result.scalar() is not None  # nothing returned: another request stored it
    event = session.get(Event, data["id"])
    assert event is not None
    return event, created


@dataclass(frozen=True)
class Made:
    """A notification made by a fan-out: what is needed to queue its delivery."""

    id: uuid.UUID
    channel: str
    status: str


def store_many(session: Session, events: list[dict[str, Any]]
               ) -> tuple[list[str], list[uuid.UUID]]:
    """Store a batch of valid events with one INSERT: ("created" or "exists" for each, in
    order; the ids whose fan-out is still to do, in order). An id repeated in the batch is
    stored once, its later copies are "exists"; a repeat of an event already stored changes
    nothing, as with store()."""
    if not events:
        return [], []
    first: dict[uuid.UUID, dict[str, Any]] = {}
    for data in events:
        first.setdefault(data["id"], data)
    start = utcnow()
    # One microsecond apart: the order of the batch stays the order notify received them in.
    rows = [{"id": data["id"], "source": data["source"], "event_type": data["type"],
             "aggregate_type": data["aggregate_type"], "aggregate_id": data["aggregate_id"],
             "payload": data["payload"], "occurred_at": data["occurred_at"],
             "received_at": start + timedelta(microseconds=n)}
            for n, data in enumerate(first.values())]
    created = set(session.execute(_insert(session)(Event.__table__).values(rows)
                                  .on_conflict_do_nothing(index_elements=[Event.id])
                                  .returning(Event.__table__.c.id)).scalars())
    statuses = []
    for data in events:
        statuses.append("created" if data["id"] in created else "exists")
        created.discard(data["id"])  # a later copy in the batch: already there
    unprocessed = set(session.scalars(select(Event.id).where(
        Event.id.in_(list(first)), Event.processed_at.is_(None))))
    return statuses, [event_id for event_id in first if event_id in unprocessed]


def _insert(session: Session) -> Callable[..., Any]:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def fan_out(session: Session, event_id: uuid.UUID, portal_url: str) -> list[uuid.UUID]:
    """Make the event's notifications (one per recipient and allowed channel) and mark the
    event processed; returns the ids of the notifications made now."""
    return [made.id for made in fan_out_many(session, [event_id], portal_url)]


def fan_out_many(session: Session, event_ids: list[uuid.UUID], portal_url: str) -> list[Made]:
    """fan_out for a batch of events, in the order notify received them: their directory,
    preference and template reads made once for the batch, their notifications written
    with one INSERT. Events already processed (or unknown) are left alone."""
    events = sorted(session.scalars(
        select(Event).where(Event.id.in_(event_ids), Event.processed_at.is_(None))
        # Locked in id order, so that two fan-outs of overlapping batches cannot deadlock.
        .order_by(Event.id).with_for_update()), key=lambda e: (e.received_at, e.id))
    if not events:
        return []
    existing = {tuple(row) for row in session.execute(
        select(Notification.event_id, Notification.recipient_id, Notification.channel)
        .where(Notification.event_id.in_([e.id for e in events])))}
    lookups = _Lookups(session)
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for event in events:
        if event.event_type in DIRECTORY_EVENTS:
            directory.apply_user_event(session, event.payload)
            lookups.forget()  # the directory changed: later events read it afresh
        else:
            for recipient in lookups.recipients(event):
                for channel in lookups.channels(recipient, event.event_type):
                    if (event.id, recipient.id, channel) in existing:
                        continue
                    row = _compose(lookups, event, recipient, channel, portal_url)
                    if row is not None:
                        rows.append({**row, "created_at": now, "updated_at": now})
        event.processed_at = now
    session.flush()
    if not rows:
        return []
    made = session.execute(insert(Notification.__table__).returning(
        Notification.id, Notification.channel, Notification.status), rows)
    return [Made(*row) for row in made]


class _Lookups:
    """The reads a batch of events shares (audiences, preferences, templates, addresses),
    each made once per batch."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.memo: dict[Any, Any] = {}

    def _once(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = read()
        return self.memo[key]

    def forget(self) -> None:
        self.memo.clear()

    def recipients(self, event: Event) -> list[Recipient]:
        return routing.recipients_for(self.session, event.event_type, event.payload,
                                      self.memo)

    def channels(self, recipient: Recipient, event_type: str) -> list[str]:
        return self._once(("channels", recipient.id, event_type), lambda: (
            preferences.channels_for(self.session, recipient, event_type)))

    def template(self, event_type: str, channel: str, locale: str) -> Template | None:
        return self._once(("template", event_type, channel, locale), lambda: (
            templates.current(self.session, event_type, channel, locale)))

    def address(self, recipient: Recipient, channel: str) -> str:
        return self._once(("address", recipient.id, channel), lambda: self.session.scalar(
            select(ChannelAddress.address).where(ChannelAddress.recipient_id == recipient.id,
                                                 ChannelAddress.channel == channel)) or "")


def _compose(lookups: _Lookups, event: Event, recipient: Recipient, channel: str,
             portal_url: str) -> dict[str, Any] | None:
    """The notification's row, rendered; None when there is no template for it."""
    base = {"id": new_id(), "event_id": event.id, "event_type": event.event_type,
            "recipient_id": recipient.id, "channel": channel, "locale": recipient.locale,
            "status": "queued", "attempts": 0, "last_error": None}
    if channel == "webhook":
        body = json.dumps({"id": str(event.id), "type": event.event_type,
                           "occurred_at": event.occurred_at.isoformat(),
                           "payload": event.payload}, ensure_ascii=False, sort_keys=True)
        return {**base, "address": lookups.address(recipient, "webhook"),
                "template_version": None, "subject": event.event_type, "body_text": body,
                "body_html": None}
    template = lookups.template(event.event_type, channel, recipient.locale)
    if template is None:
        return None
    context = {**event.payload, "recipient_name": recipient.name, "portal_url": portal_url,
               "locale": recipient.locale}
    address = recipient.email if channel == "email" else (
        str(recipient.id) if channel == "inapp" else lookups.address(recipient, channel))
    try:
        # One line: a line break (from a name, say) must not end up in a mail header.
        subject = " ".join(render(template.subject, context).split())
        text = render(template.body_text, context)
        html = render(template.body_html, context, html=True) if template.body_html else None
    except RenderError as exc:
        # Templates are checked when saved; an event missing a variable is recorded, not sent.
        return {**base, "status": "failed", "address": address,
                "template_version": template.version, "subject": event.event_type,
                "body_text": "", "body_html": None, "last_error": f"template: {exc}"}
    return {**base, "address": address, "template_version": template.version,
            "subject": subject, "body_text": text, "body_html": html}
