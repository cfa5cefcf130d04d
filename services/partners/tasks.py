"""Celery entry points of the partners service: thin, taking ids (or nothing) only."""
from __future__ import annotations

from celery import shared_task
from flask import current_app

from services.partners.models import db
from services.partners.operations import offers
from shared import outbox_relay
from shared.audit import Actor
from shared.celery import Queues
from shared.clock import today_wib

ROUTES = {"partners.relay_outbox": Queues.OUTBOX,
          "partners.warn_expiring_offers": Queues.PERIODIC,
          "partners.expire_offers": Queues.PERIODIC}
SYSTEM = Actor(id="system:beat", role="system", kind="service")


@shared_task(name="partners.relay_outbox", acks_late=True)
def relay_outbox() -> dict[str, int]:
    """Post the outbox's unpublished events to notify, oldest first (queued after each
    commit that emitted events, and by beat every OUTBOX_SWEEP_S seconds)."""
    return outbox_relay.relay(db, "partners")


@shared_task(name="partners.warn_expiring_offers", acks_late=True)
def warn_expiring_offers() -> int:
    """Tell partners whose offers end within OFFER_EXPIRY_WARNING_DAYS (once per offer)."""
    with db.session_factory() as session:
        count = offers.warn_expiring(session, SYSTEM, today_wib(),
                                     current_app.config["OFFER_EXPIRY_WARNING_DAYS"])
        session.commit()
    return count


@shared_task(name="partners.expire_offers", acks_late=True)
def expire_offers() -> int:
    """Mark offers whose window has ended as expired."""
    with db.session_factory() as session:
        count = offers.expire_ended(session, SYSTEM, today_wib())
        session.commit()
    return count
