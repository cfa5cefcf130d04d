"""Celery entry points of the matching service: thin, taking ids only."""
from __future__ import annotations

import uuid

from celery import shared_task
from flask import current_app

from services.matching.clients import partners
from services.matching.models import db
from services.matching.operations import decisions, needs, runs
from shared import outbox_relay
from shared.audit import Actor
from shared.celery import Queues
from shared.clock import today_wib

ROUTES = {"matching.run_match": Queues.MATCHING,
          "matching.reconcile_reservations": Queues.PERIODIC,
          "matching.relay_outbox": Queues.OUTBOX,
          "matching.request_feedback": Queues.PERIODIC}


@shared_task(name="matching.run_match", acks_late=True)
def run_match(run_id: str) -> None:
    """Do one match run; re-reads the run and does nothing unless it is still queued."""
    runs.execute(db.session_factory, uuid.UUID(run_id), partners().active_offers,
                 current_app.config["MATCH_MILP_TIME_LIMIT_S"] or None)


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


@shared_task(name="matching.request_feedback", acks_late=True)
def request_feedback() -> int:
    """Ask coordinators to rate help whose need's window has passed (once per need)."""
    with db.session_factory() as session:
        count = needs.request_feedback(
            session, Actor(id="system:beat", role="system", kind="service"), today_wib())
        session.commit()
    return count
