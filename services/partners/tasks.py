"""Celery entry points of the partners service: thin, taking ids (or nothing) only."""
from __future__ import annotations

from celery import shared_task

from services.partners.models import db
from shared import outbox_relay
from shared.celery import Queues

ROUTES = {"partners.relay_outbox": Queues.OUTBOX}


@shared_task(name="partners.relay_outbox", acks_late=True)
def relay_outbox() -> dict[str, int]:
    """Post the outbox's unpublished events to notify, oldest first (queued after each
    commit that emitted events, and by beat every OUTBOX_SWEEP_S seconds)."""
    return outbox_relay.relay(db, "partners")
