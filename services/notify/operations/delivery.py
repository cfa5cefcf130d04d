"""Sending one notification: re-read its status, send, record the attempt."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.notify.channels import (
    PermanentFailure,
    SmtpSender,
    TemporaryFailure,
    send_apprise,
    send_webhook,
)
from services.notify.models import ChannelAddress, DeliveryAttempt, Notification
from shared.db import utcnow

SENT, RETRY, FAILED, SKIPPED = "sent", "retry", "failed", "skipped"


def deliver(session_factory: Callable[[], Session], notification_id: uuid.UUID,
            smtp: SmtpSender, config: dict[str, Any]) -> str:
    """sent, retry (a temporary failure with attempts left), failed, or skipped (already
    sent, failed, or being sent by another worker right now)."""
    stuck_before = utcnow() - timedelta(seconds=config["DELIVERY_STUCK_AFTER_S"])
    with session_factory() as session:
        notification = session.get(Notification, notification_id, with_for_update=True)
        if notification is None or notification.status in ("sent", "failed"):
            return SKIPPED
        if notification.status == "sending" and notification.updated_at > stuck_before:
            return SKIPPED
        if notification.attempts >= config["DELIVERY_MAX_ATTEMPTS"]:
            # Every attempt so far was lost before it was recorded (a worker killed each
            # time, say): stop here rather than let the sweeper re-queue it for ever.
            notification.status = "failed"
            notification.last_error = (f"gave up after {notification.attempts} attempts "
                                       f"that never finished")
            session.commit()
            return FAILED
        notification.status = "sending"
        notification.attempts += 1
        attempt = DeliveryAttempt(notification_id=notification.id, number=notification.attempts)
        session.add(attempt)
        secret = session.scalar(select(ChannelAddress.secret).where(
            ChannelAddress.recipient_id == notification.recipient_id,
            ChannelAddress.channel == "webhook"))
        session.commit()
        session.expunge(notification)
        attempt_id = attempt.id

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
        session.execute(update(DeliveryAttempt).where(DeliveryAttempt.id == attempt_id).values(
            finished_at=now, outcome=outcome, detail=detail))
        row = session.get(Notification, notification_id, with_for_update=True)
        if outcome == "sent":
            row.status, row.sent_at, row.last_error = "sent", now, None
            result = SENT
        elif outcome == "temporary_failure" and row.attempts < config["DELIVERY_MAX_ATTEMPTS"]:
            row.status, row.last_error = "queued", detail
            result = RETRY
        else:
            row.status, row.last_error = "failed", detail
            result = FAILED
        session.commit()
    return result


def stuck(session: Session, older_than: timedelta) -> list[uuid.UUID]:
    """Notifications left queued or sending for too long (a lost task, a killed worker)."""
    before = utcnow() - older_than
    rows = list(session.scalars(select(Notification.id).where(
        Notification.status.in_(("queued", "sending")), Notification.updated_at < before)
        .limit(1000)))
    if rows:
        session.execute(update(Notification).where(Notification.id.in_(rows)).values(
            status="queued", updated_at=utcnow()))
    return rows
