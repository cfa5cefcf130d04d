"""Celery entry points of the matching service: thin, taking ids only."""
from __future__ import annotations

import uuid

from celery import shared_task

from services.matching.clients import partners
from services.matching.models import db
from services.matching.operations import decisions, runs
from shared import outbox_relay
from shared.celery import Queues

ROUTES = {"matching.run_match": Queues.MATCHING,
          "matching.reconcile_reservations": Queues.PERIODIC,
          "matching.relay_outbox": Queues.OUTBOX}


@shared_task(name="matching.run_match", acks_late=True)
def run_match(run_id: str) -> None:
    """Do one match run; re-reads the run and does nothing unless it is still queued."""
    runs.execute(db.session_factory, uuid.UUID(run_id), partners().active_offers)


@shared_task(name="matching.reconcile_reservations", acks_late=True)
def reconcile_reservations() -> dict[str, int]:
    """Repair any divergence between approved proposals and reservations at partners."""
    with db.session_factory() as session:
        fixed = decisions.reconcile(session, partners())
        session.commit()
    return fixed


@shared_task(name="matching.relay_outbox", acks_late=True)
def relay_outbox() -> dict[str, int]:
    """Post the outbox's unpublished events to notify, oldest first (queued after each
    commit that emitted events, and by beat every OUTBOX_SWEEP_S seconds)."""
    return outbox_relay.relay(db, "matching")
