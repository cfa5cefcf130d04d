"""The notify database: events received, the recipient directory with their channels and
preferences, versioned templates, notifications and their delivery attempts."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import ServiceDatabase, in_check, new_id, utcnow

db = ServiceDatabase()
Base = db.Base
AuditEntry = db.AuditEntry

CHANNELS = ("email", "webhook", "inapp", "apprise")
TEMPLATED_CHANNELS = ("email", "inapp", "apprise")  # a webhook carries the event as JSON
LOCALES = ("id", "en")
NOTIFICATION_STATUSES = ("queued", "sending", "sent", "failed")
ATTEMPT_OUTCOMES = ("sent", "temporary_failure", "permanent_failure")


class Event(Base):
    """An event from a service's outbox, stored once by its id."""

    __tablename__ = "events"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str] = mapped_column(sa.String(80), index=True)
    aggregate_type: Mapped[str] = mapped_column(sa.String(40))
    aggregate_id: Mapped[str] = mapped_column(sa.String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)


class Recipient(Base):
    """A person who can be told things, kept in step with partners through its events."""

    __tablename__ = "recipients"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the partners user id
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    region_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    locale: Mapped[str] = mapped_column(sa.String(5), default="id")
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (sa.CheckConstraint(in_check("locale", LOCALES), name="locale"),)


class ChannelAddress(Base):
    """Where a recipient wants webhooks or Apprise messages (email goes to their address)."""

    __tablename__ = "channel_addresses"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("recipients.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(20))
    address: Mapped[str] = mapped_column(sa.Text)
    secret: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(in_check("channel", ("webhook", "apprise")), name="channel"),
        sa.UniqueConstraint("recipient_id", "channel"),
    )


class Preference(Base):
    """Which channels a recipient wants for an event type (`*`: every type), or mute."""

    __tablename__ = "preferences"
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True)
    event_type: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(sa.JSON)
    muted: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Template(Base):
    """One version of the words for an event type, channel and language."""

    __tablename__ = "templates"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_type: Mapped[str] = mapped_column(sa.String(80))
    channel: Mapped[str] = mapped_column(sa.String(20))
    locale: Mapped[str] = mapped_column(sa.String(5))
    version: Mapped[int]
    subject: Mapped[str] = mapped_column(sa.Text)
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("event_type", "channel", "locale", "version"),
        sa.CheckConstraint(in_check("channel", TEMPLATED_CHANNELS), name="channel"),
        sa.CheckConstraint(in_check("locale", LOCALES), name="locale"),
    )


class Notification(Base):
    """One message: one event, one recipient, one channel; never two."""

    __tablename__ = "notifications"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("events.id"), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(80))
    recipient_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("recipients.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(20))
    address: Mapped[str] = mapped_column(sa.Text)
    locale: Mapped[str] = mapped_column(sa.String(5))
    template_version: Mapped[int | None]
    subject: Mapped[str] = mapped_column(sa.Text)
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("event_id", "recipient_id", "channel"),
        sa.CheckConstraint(in_check("channel", CHANNELS), name="channel"),
        sa.CheckConstraint(in_check("status", NOTIFICATION_STATUSES), name="status"),
    )

    @property
    def message_id(self) -> str:
        """The email Message-ID: fixed per notification, so a repeat is recognisably the same."""
        return f"<{self.id}@mitra.notify>"


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(20))
    detail: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.CheckConstraint(f"outcome IS NULL OR {in_check('outcome', ATTEMPT_OUTCOMES)}",
                           name="outcome"),
    )
