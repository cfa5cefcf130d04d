"""Celery entry points of notify: thin, taking ids only."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_process_shutdown
from flask import current_app

from services.notify.channels import SmtpSender
from services.notify.models import db
from services.notify.operations import delivery, events
from shared.celery import Queues

DELIVER = {channel: f"notify.deliver_{channel}" for channel in
           ("email", "webhook", "inapp", "apprise")}
ROUTES = {"notify.fan_out": Queues.NOTIFY, "notify.deliver_*": Queues.NOTIFY,
          "notify.sweep_stuck": Queues.PERIODIC}
_smtp: SmtpSender | None = None


def _sender() -> SmtpSender:
    global _smtp  # one SMTP connection per worker process, reused across messages
    if _smtp is None:
        _smtp = SmtpSender(current_app.config)
    return _smtp


@worker_process_shutdown.connect
def _close_smtp(**kwargs: object) -> None:
    close_smtp()


def close_smtp() -> None:
    global _smtp
    if _smtp is not None:
        _smtp.close()
        _smtp = None


def enqueue(notification_ids: list[uuid.UUID], channels: dict[uuid.UUID, str]) -> None:
    for notification_id in notification_ids:
        deliver_tasks[channels[notification_id]].delay(str(notification_id))


@shared_task(name="notify.fan_out", acks_late=True)
def fan_out(event_id: str) -> int:
    """Make an event's notifications and queue their delivery."""
    with db.session_factory() as session:
        made = events.fan_out(session, uuid.UUID(event_id), current_app.config["PORTAL_URL"])
        from services.notify.models import Notification

        channels = {n.id: n.channel for n in session.query(Notification).filter(
            Notification.id.in_(made), Notification.status == "queued")} if made else {}
        session.commit()
    enqueue([i for i in made if i in channels], channels)
    return len(made)


def _deliver(task, notification_id: str) -> str:  # type: ignore[no-untyped-def]
    config = current_app.config
    result = delivery.deliver(db.session_factory, uuid.UUID(notification_id), _sender(), config)
    if result == delivery.RETRY:
        # Exponential backoff with full jitter, well below the broker's visibility timeout.
        base = config["DELIVERY_BACKOFF_S"] * (2 ** task.request.retries)
        raise task.retry(countdown=random.uniform(base / 2, base), max_retries=None)
    return result


def _make_deliver_task(channel: str):  # type: ignore[no-untyped-def]
    @shared_task(name=DELIVER[channel], bind=True, acks_late=True)
    def deliver(self, notification_id: str) -> str:  # type: ignore[no-untyped-def]
        """Send one notification; re-reads its status first."""
        return _deliver(self, notification_id)

    return deliver


deliver_tasks = {channel: _make_deliver_task(channel) for channel in DELIVER}


@shared_task(name="notify.sweep_stuck", acks_late=True)
def sweep_stuck() -> int:
    """Re-queue notifications stuck in queued or sending (lost tasks, killed workers)."""
    with db.session_factory() as session:
        from services.notify.models import Notification

        ids = delivery.stuck(session, timedelta(
            seconds=current_app.config["DELIVERY_STUCK_AFTER_S"]))
        channels = {n.id: n.channel for n in session.query(Notification).filter(
            Notification.id.in_(ids))} if ids else {}
        session.commit()
    enqueue(ids, channels)
    return len(ids)
