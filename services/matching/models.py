"""The matching database: programmes, needs, match runs, proposals and delivery feedback,
plus the shared audit, outbox and idempotency tables."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import ServiceDatabase, in_check, new_id, utcnow
from shared.vocabulary import KINDS, MODES, UNITS  # noqa: F401 - re-exported

db = ServiceDatabase()
Base = db.Base
AuditEntry = db.AuditEntry
OutboxEvent = db.OutboxEvent

NEED_KINDS = KINDS
NEED_STATUSES = ("open", "partially_matched", "matched", "fulfilled", "cancelled")
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
PROPOSAL_STATUSES = ("proposed", "approved", "accepted", "fulfilled", "rejected", "declined",
                     "superseded", "stale")
# Proposals that hold capacity at partners and count toward a need's coverage.
HOLDING = ("approved", "accepted", "fulfilled")


class Programme(Base):
    """E.g. "Sekoper Cinta Kelurahan Mustikasari 2027"."""

    __tablename__ = "programmes"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(200))
    region: Mapped[str] = mapped_column(sa.String(20), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    cohort_size: Mapped[int]
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("period_end >= period_start", name="period"),
        sa.CheckConstraint("cohort_size > 0", name="cohort_positive"),
    )


class Need(Base):
    __tablename__ = "needs"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    programme_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programmes.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    topics: Mapped[list[str]] = mapped_column(sa.JSON)
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    unit: Mapped[str] = mapped_column(sa.String(20))
    window_start: Mapped[date]
    window_end: Mapped[date]
    region: Mapped[str] = mapped_column(sa.String(20), index=True)
    priority: Mapped[int] = mapped_column(default=3)
    accepted_modes: Mapped[list[str]] = mapped_column(sa.JSON)
    single_offer: Mapped[bool] = mapped_column(default=False)
    excluded_organisations: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(20), default="open", index=True)
    covered: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None]
    feedback_requested_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    programme: Mapped[Programme] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(in_check("kind", NEED_KINDS), name="kind"),
        sa.CheckConstraint(in_check("unit", UNITS), name="unit"),
        sa.CheckConstraint(in_check("status", NEED_STATUSES), name="status"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("covered >= 0 AND covered <= quantity", name="covered_within"),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        sa.CheckConstraint("window_end >= window_start", name="window"),
    )

    @property
    def remaining(self) -> int:
        return self.quantity - self.covered


class MatchRun(Base):
    __tablename__ = "match_runs"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    scope: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    weights: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    phase: Mapped[str | None] = mapped_column(sa.String(40))
    progress: Mapped[float] = mapped_column(default=0.0)
    phases: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    requested_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]

    __table_args__ = (sa.CheckConstraint(in_check("status", RUN_STATUSES), name="status"),)


class RunNeed(Base):
    """The needs a run covers, so that two runs never work on the same need at once."""

    __tablename__ = "run_needs"
    run_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("match_runs.id", ondelete="CASCADE"),
                                              primary_key=True)
    need_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("needs.id"), primary_key=True,
                                               index=True)
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        # At most one queued or running run per need, enforced by the database.
        sa.Index("uq_run_needs_active_need", "need_id", unique=True,
                 postgresql_where=sa.text("active"), sqlite_where=sa.text("active")),
    )


class Proposal(Base):
    __tablename__ = "proposals"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    run_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("match_runs.id"), index=True)
    need_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("needs.id"), index=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organisation_name: Mapped[str] = mapped_column(sa.String(200))
    organisation_kind: Mapped[str] = mapped_column(sa.String(20))
    offer_title: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    unit: Mapped[str] = mapped_column(sa.String(20))
    score: Mapped[float]
    explanation: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20), default="proposed", index=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(sa.String(80))
    approved_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]
    stale_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    need: Mapped[Need] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(in_check("status", PROPOSAL_STATUSES), name="status"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("score >= 0 AND score <= 1", name="score_range"),
    )


class Delivery(Base):
    """The coordinator's confirmation that help arrived, with her rating and notes."""

    __tablename__ = "deliveries"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    proposal_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("proposals.id"), unique=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    delivered_quantity: Mapped[int] = mapped_column(sa.BigInteger)
    rating: Mapped[int]
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    facilitator_notes: Mapped[str] = mapped_column(sa.Text, default="")
    confirmed_by: Mapped[str | None] = mapped_column(sa.String(80))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)

    proposal: Mapped[Proposal] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint("delivered_quantity >= 0", name="delivered_non_negative"),
    )
