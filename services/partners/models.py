"""The partners database: organisations, people, API keys, topics, offers and the capacity
ledger, plus the shared audit, outbox and idempotency tables."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import ServiceDatabase, in_check, new_id, string_list, utcnow
from shared.vocabulary import KINDS, MODES, UNITS

db = ServiceDatabase()
Base = db.Base
AuditEntry = db.AuditEntry
OutboxEvent = db.OutboxEvent
IdempotencyRecord = db.IdempotencyRecord

ORGANISATION_KINDS = ("company", "university", "ngo", "government")
ORGANISATION_STATUSES = ("pending", "verified", "rejected", "suspended")
ROLES = ("partner_admin", "partner_member", "dp3a_officer", "dp3a_admin", "coordinator")
LOCALES = ("id", "en")
OFFER_KINDS, OFFER_UNITS, OFFER_MODES = KINDS, UNITS, MODES
OFFER_STATUSES = ("draft", "submitted", "active", "exhausted", "expired", "withdrawn")
LEDGER_STATES = ("reserved", "committed", "released")


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    nib: Mapped[str | None] = mapped_column(sa.String(13), unique=True)
    npwp: Mapped[str | None] = mapped_column(sa.String(16), unique=True)
    pddikti_code: Mapped[str | None] = mapped_column(sa.String(10), unique=True)
    sector: Mapped[str | None] = mapped_column(sa.String(100))
    address: Mapped[str | None] = mapped_column(sa.Text)
    address_region: Mapped[str] = mapped_column(sa.String(20))
    operating_regions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    website: Mapped[str | None] = mapped_column(sa.String(300))
    contact_name: Mapped[str] = mapped_column(sa.String(200))
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    contact_phone: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", index=True)
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    is_agency: Mapped[bool] = mapped_column(default=False)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(in_check("kind", ORGANISATION_KINDS), name="kind"),
        sa.CheckConstraint(in_check("status", ORGANISATION_STATUSES), name="status"),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("organisations.id"),
                                                       index=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    region_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    locale: Mapped[str] = mapped_column(sa.String(5), default="id")
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation] = relationship(back_populates="users")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(in_check("role", ROLES), name="role"),
        sa.CheckConstraint(in_check("locale", LOCALES), name="locale"),
    )


class Invitation(Base):
    __tablename__ = "invitations"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("organisations.id"),
                                                       index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    region_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    locale: Mapped[str] = mapped_column(sa.String(5), default="id")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (sa.CheckConstraint(in_check("role", ROLES), name="role"),)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("organisations.id"),
                                                       index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(20))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    created_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    __table_args__ = (sa.CheckConstraint(in_check("role", ROLES), name="role"),)


class Topic(Base):
    """The controlled vocabulary of topics and funding purposes."""

    __tablename__ = "topics"
    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    label_id: Mapped[str] = mapped_column(sa.String(120))
    label_en: Mapped[str] = mapped_column(sa.String(120))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Offer(Base):
    __tablename__ = "offers"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("organisations.id"),
                                                       index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    unit: Mapped[str] = mapped_column(sa.String(20))
    capacity: Mapped[int] = mapped_column(sa.BigInteger)
    reserved: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    committed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    available_from: Mapped[date]
    available_to: Mapped[date] = mapped_column(index=True)
    mode: Mapped[str] = mapped_column(sa.String(10))
    language: Mapped[str] = mapped_column(sa.String(5), default="id")
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    exhausted_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    expiry_warned_at: Mapped[datetime | None]
    # Copies of topic_rows and region_rows for the search: on PostgreSQL a GIN index finds
    # the offers on a topic or in a region without joining (0004). Kept in step by
    # operations.offers; the link tables stay the source of truth.
    topic_codes: Mapped[list[str]] = mapped_column(string_list(40), default=list)
    region_codes: Mapped[list[str]] = mapped_column(string_list(20), default=list)
    version: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    # Loaded only when changed: reads use the copies on the row (topic_codes, region_codes).
    topic_rows: Mapped[list[OfferTopic]] = relationship(
        cascade="all, delete-orphan", order_by="OfferTopic.topic_code")
    region_rows: Mapped[list[OfferRegion]] = relationship(
        cascade="all, delete-orphan", order_by="OfferRegion.region_code")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(in_check("kind", OFFER_KINDS), name="kind"),
        sa.CheckConstraint(in_check("unit", OFFER_UNITS), name="unit"),
        sa.CheckConstraint(in_check("mode", OFFER_MODES), name="mode"),
        sa.CheckConstraint(in_check("status", OFFER_STATUSES), name="status"),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        sa.CheckConstraint("reserved >= 0 AND committed >= 0", name="ledger_non_negative"),
        # The last line of defence against over-commitment, whatever the application does.
        sa.CheckConstraint("reserved + committed <= capacity", name="ledger_within_capacity"),
        sa.CheckConstraint("available_to >= available_from", name="window"),
        # Lists filter by status and kind and sort newest first; with the id it also answers
        # counts from the index alone (migration 0002).
        sa.Index("ix_offers_status_kind_created_at", "status", "kind", "created_at", "id"),
        # The search's filters in one GIN index (btree_gin for kind and status): PostgreSQL
        # finds the offers of a kind and status, on a topic, in a region, in one scan (0004).
        sa.Index("ix_offers_search", "kind", "status", "topic_codes", "region_codes",
                 postgresql_using="gin"),
    )

    @property
    def remaining(self) -> int:
        return self.capacity - self.reserved - self.committed

    @property
    def topics(self) -> list[str]:
        return list(self.topic_codes)

    @property
    def delivery_regions(self) -> list[str]:
        return list(self.region_codes)


class OfferTopic(Base):
    __tablename__ = "offer_topics"
    offer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True)
    topic_code: Mapped[str] = mapped_column(sa.ForeignKey("topics.code"), primary_key=True)

    # "Offers on this topic" from the index alone, without visiting the table (0002).
    __table_args__ = (sa.Index("ix_offer_topics_topic_code_offer_id", "topic_code", "offer_id"),)


class OfferRegion(Base):
    __tablename__ = "offer_regions"
    offer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True)
    region_code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)

    # "Offers delivered in these regions" from the index alone (0002).
    __table_args__ = (
        sa.Index("ix_offer_regions_region_code_offer_id", "region_code", "offer_id"),)


class CapacityEntry(Base):
    """One reservation against an offer, keyed by the caller's reference (a proposal id)."""

    __tablename__ = "capacity_ledger"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    offer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("offers.id"), index=True)
    reference: Mapped[str] = mapped_column(sa.String(100))
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    state: Mapped[str] = mapped_column(sa.String(20), default="reserved")
    actor_id: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    committed_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("offer_id", "reference"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(in_check("state", LEDGER_STATES), name="state"),
    )


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named attributes of a row as JSON-ready values, for audit before/after."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, (uuid.UUID, date, datetime)):
            value = value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
        out[name] = value
    return out
