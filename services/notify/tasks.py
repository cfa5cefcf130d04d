"""Celery entry points of notify: thin, taking ids only."""
from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable
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
ROUTES = {"notify.fan_out*": Queues.NOTIFY, "notify.deliver_*": Queues.NOTIFY,
          "notify.sweep_stuck": Queues.PERIODIC}
_smtp: SmtpSender | None = None
log = logging.getLogger(__name__)


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


def enqueue(notifications: Iterable[tuple[uuid.UUID, str]]) -> None:
    """Queue the delivery of each (notification id, channel), through one producer."""
    celery = current_app.extensions["celery"]
    with celery.producer_or_acquire() as producer:
        for notification_id, channel in notifications:
            deliver_tasks[channel].apply_async((str(notification_id),), producer=producer)


@shared_task(name="notify.fan_out", acks_late=True)
def fan_out(event_id: str) -> int:
    """Make an event's notifications and queue their delivery."""
    return _fan_out([uuid.UUID(event_id)])


@shared_task(name="notify.fan_out_many", acks_late=True)
def fan_out_many(event_ids: list[str]) -> int:
    """fan_out for a batch of events (from POST /api/v1/events/batch), in one transaction.
    Should the batch fail, each event is fanned out on its own, so that one event that
    cannot be does not hold back the others."""
    try:
        return _fan_out([uuid.UUID(event_id) for event_id in event_ids])
    except Exception:
        if len(event_ids) == 1:
            raise
        log.exception("fan-out of %d events failed; each is queued on its own", len(event_ids))
        with current_app.extensions["celery"].producer_or_acquire() as producer:
            for event_id in event_ids:
                fan_out.apply_async((event_id,), producer=producer)
        return 0


def _fan_out(event_ids: list[uuid.UUID]) -> int:
    with db.session_factory() as session:
        made = events.fan_out_many(session, event_ids, current_app.config["PORTAL_URL"])
        session.commit()
    enqueue((n.id, n.channel) for n in made if n.status == "queued")
    return len(made)


def _deliver(task, notification_id: str) -> str:  # type: ignore[no-untyped-def]
    config = current_app.config
    assert db.engine is not None and db.session_factory is not None
    # One connection for the whole delivery (its two short transactions): one checkout from
    # the pool, and one pre-ping, instead of two.
    with db.engine.connect() as connection:
        result = delivery.deliver(lambda: db.session_factory(bind=connection),
                                  uuid.UUID(notification_id), _sender(), config)
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
        stuck = delivery.stuck(session, timedelta(
            seconds=current_app.config["DELIVERY_STUCK_AFTER_S"]))
        session.commit()
    enqueue(stuck)
    return len(stuck)
