"""Sending one notification: re-read its status, send, record the attempt."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, case, insert, or_, select, update
from sqlalchemy.orm import Session

from services.notify.channels import (
    PermanentFailure,
    SmtpSender,
    TemporaryFailure,
    send_apprise,
    send_webhook,
)
from services.notify.models import ChannelAddress, DeliveryAttempt, Notification
from shared.db import new_id, utcnow

SENT, RETRY, FAILED, SKIPPED = "sent", "retry", "failed", "skipped"


def deliver(session_factory: Callable[[], Session], notification_id: uuid.UUID,
            smtp: SmtpSender, config: dict[str, Any]) -> str:
    """sent, retry (a temporary failure with attempts left), failed, or skipped (already
    sent, failed, or being sent by another worker right now)."""
    max_attempts = config["DELIVERY_MAX_ATTEMPTS"]
    with session_factory() as session:
        now = utcnow()
        stuck_before = now - timedelta(seconds=config["DELIVERY_STUCK_AFTER_S"])
        notification = _claim(session, notification_id, max_attempts, stuck_before, now)
        if notification is None:
            result = _not_claimed(session, notification_id, max_attempts, stuck_before)
            session.commit()
            return result
        attempt_id = new_id()
        session.execute(insert(_ATTEMPTS).values(
            id=attempt_id, notification_id=notification.id, number=notification.attempts,
            started_at=now))
        secret = session.scalar(select(ChannelAddress.secret).where(
            ChannelAddress.recipient_id == notification.recipient_id,
            ChannelAddress.channel == "webhook")) if notification.channel == "webhook" else None
        session.commit()

    outcome, detail = "sent", None
    try:
        if notification.channel == "email":
            smtp.send(notification)
        elif notification.channel == "webhook":
            send_webhook(notification, secret, config)
        elif notification.channel == "apprise":
            send_apprise(notification)
        # in-app: the inbox is the notifications table itself; nothing leaves.
    except TemporaryFailure as exc:
        outcome, detail = "temporary_failure", str(exc)
    except PermanentFailure as exc:
        outcome, detail = "permanent_failure", str(exc)

    with session_factory() as session:
        now = utcnow()
        session.execute(update(_ATTEMPTS).where(_ATTEMPTS.c.id == attempt_id).values(
            finished_at=now, outcome=outcome, detail=detail))
        row = update(_NOTIFICATIONS).where(_NOTIFICATIONS.c.id == notification_id)
        if outcome == "sent":
            row = row.values(status="sent", sent_at=now, last_error=None)
        elif outcome == "temporary_failure":
            # Counted in the row, not in our copy: a sweeper may have handed it on meanwhile.
            row = row.values(status=case((_NOTIFICATIONS.c.attempts < max_attempts, "queued"),
                                         else_="failed"), last_error=detail)
        else:
            row = row.values(status="failed", last_error=detail)
        status = session.scalar(row.values(updated_at=now).returning(_NOTIFICATIONS.c.status))
        session.commit()
    # No row: deleted while we sent; there is nothing to record on.
    return {"sent": SENT, "queued": RETRY, "failed": FAILED}.get(status or "", SKIPPED)


# The tables themselves: statements on one row by id need none of the ORM's bookkeeping.
_NOTIFICATIONS = Notification.__table__
_ATTEMPTS = DeliveryAttempt.__table__


def _claim(session: Session, notification_id: uuid.UUID, max_attempts: int,
           stuck_before: datetime, now: datetime) -> Notification | None:
    """Mark the notification `sending` and count the attempt, in one statement, when it is
    queued (or stuck in sending) with attempts left; None otherwise. What is returned is a
    copy of the row, for the channels to read (nothing is written through it)."""
    table = _NOTIFICATIONS
    claimable = or_(table.c.status == "queued",
                    and_(table.c.status == "sending", table.c.updated_at <= stuck_before))
    row = session.execute(
        update(table)
        .where(table.c.id == notification_id, claimable, table.c.attempts < max_attempts)
        .values(status="sending", attempts=table.c.attempts + 1, updated_at=now)
        .returning(*table.c)).one_or_none()
    return Notification(**row._mapping) if row is not None else None


def _not_claimed(session: Session, notification_id: uuid.UUID, max_attempts: int,
                 stuck_before: datetime) -> str:
    """Skipped (gone, sent, failed, or being sent right now), or failed: every attempt so
    far was lost before it was recorded (a worker killed each time, say); stop here
    rather than let the sweeper re-queue it for ever."""
    notification = session.get(Notification, notification_id, with_for_update=True)
    if notification is None or notification.status in ("sent", "failed"):
        return SKIPPED
    if notification.status == "sending" and notification.updated_at > stuck_before:
        return SKIPPED
    if notification.attempts < max_attempts:
        return SKIPPED  # claimed by another worker between our two statements
    notification.status = "failed"
    notification.last_error = (f"gave up after {notification.attempts} attempts "
                               f"that never finished")
    return FAILED


def stuck(session: Session, older_than: timedelta) -> list[tuple[uuid.UUID, str]]:
    """Notifications left queued or sending for too long (a lost task, a killed worker),
    queued again: (id, channel) of each."""
    before = utcnow() - older_than
    rows = list(session.execute(select(Notification.id, Notification.channel).where(
        Notification.status.in_(("queued", "sending")), Notification.updated_at < before)
        .limit(1000)).tuples())
    if rows:
        session.execute(update(Notification).where(
            Notification.id.in_([row_id for row_id, _ in rows])).values(
            status="queued", updated_at=utcnow()))
    return rows
