"""The capacity ledger: reserve, commit and release against an offer, each keyed by the
caller's reference, so a retry changes nothing and capacity never goes below zero.

The offer row is locked (SELECT ... FOR UPDATE) while its counters change; a CHECK
constraint on the table refuses over-commitment even if this code were wrong."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.partners.models import CapacityEntry, Offer, snapshot
from services.partners.operations.offers import get, transition
from shared import audit
from shared.audit import Actor
from shared.clock import today_wib
from shared.db import utcnow
from shared.errors import abort

ENTRY_FIELDS = ("offer_id", "reference", "quantity", "state")


def _entry(session: Session, offer_id: uuid.UUID, reference: str) -> CapacityEntry | None:
    return session.scalar(select(CapacityEntry).where(
        CapacityEntry.offer_id == offer_id, CapacityEntry.reference == reference))


def _locked_entry(session: Session, actor: Actor, offer_id: uuid.UUID, reference: str
                  ) -> tuple[Offer, CapacityEntry]:
    """The offer, locked, and its entry for `reference` (404 when there is none)."""
    offer = get(session, actor, offer_id, for_update=True)
    entry = _entry(session, offer.id, reference)
    if entry is None:
        abort(404, f"No reservation {reference!r} on this offer.")
    return offer, entry


def reserve(session: Session, actor: Actor, offer_id: uuid.UUID, reference: str,
            quantity: int) -> tuple[CapacityEntry, bool]:
    """Hold `quantity` for `reference`; (entry, created). The same call again returns the
    same entry and changes nothing."""
    offer = get(session, actor, offer_id, for_update=True)
    existing = _entry(session, offer.id, reference)
    if existing is not None:
        if existing.quantity != quantity:
            abort(409, f"Reference {reference!r} already holds {existing.quantity} "
                       f"{offer.unit}; use a new reference for a different quantity.",
                  type="reference-reused")
        if existing.state == "released":
            abort(409, f"Reference {reference!r} was released; use a new reference.",
                  type="reference-released")
        return existing, False
    if offer.status != "active" or offer.organisation.status != "verified":
        if offer.status == "exhausted":
            abort(409, "This offer has no capacity left.", type="capacity-exhausted",
                  remaining=0)
        abort(409, f"Capacity can only be reserved on an active offer of a verified "
                   f"organisation; this one is {offer.status}.", type="offer-not-active")
    if offer.available_to < today_wib():
        abort(409, "This offer's window has ended.", type="offer-not-active")
    if quantity > offer.remaining:
        abort(409, f"Only {offer.remaining} {offer.unit} remain; {quantity} were asked.",
              type="capacity-exhausted", remaining=offer.remaining)
    before = snapshot(offer, ("reserved", "committed", "status"))
    entry = CapacityEntry(offer_id=offer.id, reference=reference, quantity=quantity,
                          state="reserved", actor_id=actor.id)
    session.add(entry)
    offer.reserved += quantity
    if offer.remaining == 0:
        transition(session, actor, offer, "exhaust")
    session.flush()
    audit.record(session, actor, "capacity.reserved", "offer", offer.id, before,
                 {**snapshot(offer, ("reserved", "committed", "status")),
                  "reference": reference, "quantity": quantity})
    return entry, True


def commit(session: Session, actor: Actor, offer_id: uuid.UUID, reference: str
           ) -> CapacityEntry:
    """Turn a reservation into a commitment (help confirmed); repeating it changes nothing."""
    offer, entry = _locked_entry(session, actor, offer_id, reference)
    if entry.state == "committed":
        return entry
    if entry.state == "released":
        abort(409, "A released reservation cannot be committed.", type="illegal-transition",
              current_state=entry.state)
    before = snapshot(offer, ("reserved", "committed", "status"))
    offer.reserved -= entry.quantity
    offer.committed += entry.quantity
    entry.state = "committed"
    entry.committed_at = utcnow()
    session.flush()
    audit.record(session, actor, "capacity.committed", "offer", offer.id, before,
                 {**snapshot(offer, ("reserved", "committed", "status")),
                  "reference": reference, "quantity": entry.quantity})
    return entry


def release(session: Session, actor: Actor, offer_id: uuid.UUID, reference: str
            ) -> CapacityEntry:
    """Give a reservation or commitment back; repeating it changes nothing."""
    offer, entry = _locked_entry(session, actor, offer_id, reference)
    if entry.state == "released":
        return entry
    before = snapshot(offer, ("reserved", "committed", "status"))
    if entry.state == "reserved":
        offer.reserved -= entry.quantity
    else:
        offer.committed -= entry.quantity
    entry.state = "released"
    entry.released_at = utcnow()
    if offer.status == "exhausted" and offer.remaining > 0:
        transition(session, actor, offer, "replenish")
    session.flush()
    audit.record(session, actor, "capacity.released", "offer", offer.id, before,
                 {**snapshot(offer, ("reserved", "committed", "status")),
                  "reference": reference, "quantity": entry.quantity})
    return entry


def entries(session: Session, offer: Offer) -> list[CapacityEntry]:
    return list(session.scalars(select(CapacityEntry).where(CapacityEntry.offer_id == offer.id)
                                .order_by(CapacityEntry.created_at)))
