"""Sending one notification: re-read its status, send, record the attempt."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, bindparam, case, insert, or_, select, update
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

# A delivery's statements, on the tables themselves (one row by id needs none of the ORM's
# bookkeeping), built once with bind parameters: building such a statement and its cache
# key costs more (~0.3 ms) than running it.
_N = Notification.__table__
_A = DeliveryAttempt.__table__
# Marks the notification `sending` and counts the attempt when it is queued (or stuck in
# sending) with attempts left; returns the row.
_CLAIM = (update(_N)
          .where(_N.c.id == bindparam("notification_id"),
                 or_(_N.c.status == "queued",
                     and_(_N.c.status == "sending",
                          _N.c.updated_at <= bindparam("stuck_before"))),
                 _N.c.attempts < bindparam("max_attempts"))
          .values(status="sending", attempts=_N.c.attempts + 1, updated_at=bindparam("now"))
          .returning(*_N.c))
_START = insert(_A)  # the columns come with the parameters
_FINISH = update(_A).where(_A.c.id == bindparam("attempt_id"))
_RECORD = update(_N).where(_N.c.id == bindparam("notification_id")).returning(_N.c.status)
# A temporary failure: retried while attempts are left, counted in the row, not in our
# copy (a sweeper may have handed it on meanwhile).
_RECORD_RETRY = _RECORD.values(status=case((_N.c.attempts < bindparam("max_attempts"),
                                            "queued"), else_="failed"))


def deliver(session_factory: Callable[[], Session], notification_id: uuid.UUID,
            smtp: SmtpSender, config: dict[str, Any]) -> str:
    """sent, retry (a temporary failure with attempts left), failed, or skipped (already
    sent, failed, or being sent by another worker right now)."""
    max_attempts = config["DELIVERY_MAX_ATTEMPTS"]
    with session_factory() as session:
        now = utcnow()
        stuck_before = now - timedelta(seconds=config["DELIVERY_STUCK_AFTER_S"])
        claimed = session.execute(_CLAIM, {
            "notification_id": notification_id, "stuck_before": stuck_before,
            "max_attempts": max_attempts, "now": now}).one_or_none()
        if claimed is None:
            result = _not_claimed(session, notification_id, max_attempts, stuck_before)
            session.commit()
            return result
        # A copy of the row for the channels to read (nothing is written through it).
        notification = Notification(**claimed._mapping)
        attempt_id = new_id()
        session.execute(_START, {"id": attempt_id, "notification_id": notification_id,
                                 "number": notification.attempts, "started_at": now})
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
        session.execute(_FINISH, {"attempt_id": attempt_id, "finished_at": now,
                                  "outcome": outcome, "detail": detail})
        row = {"notification_id": notification_id, "updated_at": now}
        if outcome == "sent":
            status = session.scalar(_RECORD, {**row, "status": "sent", "sent_at": now,
                                              "last_error": None})
        elif outcome == "temporary_failure":
            status = session.scalar(_RECORD_RETRY, {**row, "last_error": detail,
                                                    "max_attempts": max_attempts})
        else:
            status = session.scalar(_RECORD, {**row, "status": "failed", "last_error": detail})
        session.commit()
    # No row: deleted while we sent; there is nothing to record on.
    return {"sent": SENT, "queued": RETRY, "failed": FAILED}.get(status or "", SKIPPED)


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
