"""Offers: their lifecycle, validation against the vocabulary, and who may see them."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from services.partners.models import (
    Offer,
    OfferRegion,
    OfferTopic,
    Organisation,
    Topic,
    snapshot,
)
from services.partners.operations.access import same_organisation
from services.partners.schemas import check_offer_rules
from shared import audit, outbox
from shared.audit import Actor
from shared.auth import PARTNER_ROLES
from shared.clock import today_wib
from shared.db import current_db, is_postgresql, utcnow
from shared.errors import abort, invalid
from shared.regions import catalogue

OFFER_FIELDS = ("kind", "title", "description", "topics", "unit", "capacity", "reserved",
                "committed", "available_from", "available_to", "delivery_regions", "mode",
                "language", "status")
EDITABLE_STATUSES = frozenset({"draft", "submitted", "active", "exhausted"})
# action -> (states it may start from, state it leads to, timestamp it sets)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "submit": (frozenset({"draft"}), "submitted", "submitted_at"),
    "activate": (frozenset({"submitted"}), "active", "activated_at"),
    "withdraw": (frozenset({"draft", "submitted", "active", "exhausted"}), "withdrawn",
                 "withdrawn_at"),
    "exhaust": (frozenset({"active"}), "exhausted", "exhausted_at"),
    "replenish": (frozenset({"exhausted"}), "active", "activated_at"),
    "expire": (frozenset({"submitted", "active", "exhausted"}), "expired", "expired_at"),
}


def _check_topics(session: Session, codes: list[str]) -> None:
    known = set(session.scalars(select(Topic.code).where(
        Topic.code.in_(codes), Topic.is_active.is_(True))))
    unknown = [code for code in codes if code not in known]
    if unknown:
        invalid("topics", f"Not in the topic vocabulary: {', '.join(unknown)} "
                          "(GET /api/v1/topics lists them).")


def _set_topics_and_regions(offer: Offer, data: dict[str, Any]) -> None:
    """The link rows and their copies on the offer (the search reads the copies)."""
    if "topics" in data:
        offer.topic_codes = sorted(set(data["topics"]))
        offer.topic_rows = [OfferTopic(topic_code=code) for code in offer.topic_codes]
    if "delivery_regions" in data:
        offer.region_codes = sorted(set(data["delivery_regions"]))
        offer.region_rows = [OfferRegion(region_code=code) for code in offer.region_codes]


def _offer_snapshot(offer: Offer) -> dict[str, Any]:
    return snapshot(offer, OFFER_FIELDS)


def create(session: Session, actor: Actor, data: dict[str, Any]) -> Offer:
    """A draft offer of the caller's organisation."""
    if actor.role not in PARTNER_ROLES or actor.organisation_id is None:
        abort(403, "Only partner organisations make offers.")
    organisation = session.get(Organisation, uuid.UUID(actor.organisation_id))
    if organisation is None or organisation.status in {"rejected", "suspended"}:
        abort(409, "Your organisation cannot make offers while it is "
                   f"{organisation.status if organisation else 'unknown'}.",
              type="organisation-not-active")
    if data["available_to"] < today_wib():
        invalid("available_to", "The window has already ended.")
    _check_topics(session, data["topics"])
    fields = {k: v for k, v in data.items() if k not in {"topics", "delivery_regions"}}
    offer = Offer(**fields, organisation=organisation, status="draft", created_by=actor.id)
    _set_topics_and_regions(offer, data)
    session.add(offer)
    session.flush()
    audit.record(session, actor, "offer.created", "offer", offer.id, None, _offer_snapshot(offer))
    return offer


def update(session: Session, actor: Actor, offer: Offer, changes: dict[str, Any]) -> Offer:
    """Edit an offer; capacity never drops below what is already reserved or committed."""
    if offer.status not in EDITABLE_STATUSES:
        abort(409, f"A {offer.status} offer can no longer be changed.", type="illegal-transition",
              current_status=offer.status)
    changes = {k: v for k, v in changes.items() if v is not None or k == "description"}
    merged = {name: changes.get(name, getattr(offer, name))
              for name in ("unit", "mode", "capacity", "available_from", "available_to")}
    errors = check_offer_rules(offer.kind, merged)
    if errors:
        abort(422, "Some fields are not valid; see errors.", errors=errors)
    if "topics" in changes:
        _check_topics(session, changes["topics"])
    if "available_to" in changes and changes["available_to"] < today_wib():
        invalid("available_to", "The window cannot end in the past.")
    if merged["capacity"] < offer.reserved + offer.committed:
        invalid("capacity", f"{offer.reserved + offer.committed} {offer.unit} are already "
                            "reserved or committed; capacity cannot go below that.")
    before = _offer_snapshot(offer)
    for name, value in changes.items():
        if name not in {"topics", "delivery_regions"}:
            setattr(offer, name, value)
    _set_topics_and_regions(offer, changes)
    if changes:
        # Touch the row even when only topics or regions changed, so its version (the ETag)
        # moves on and an editor holding the old ETag gets 409 instead of overwriting.
        offer.updated_at = utcnow()
    if offer.status == "exhausted" and offer.remaining > 0:
        transition(session, actor, offer, "replenish")
    elif offer.status == "active" and offer.remaining == 0:
        transition(session, actor, offer, "exhaust")
    session.flush()
    audit.record(session, actor, "offer.updated", "offer", offer.id, before,
                 _offer_snapshot(offer))
    return offer


def transition(session: Session, actor: Actor, offer: Offer, action: str) -> None:
    sources, target, stamp = TRANSITIONS[action]
    if offer.status not in sources:
        abort(409, f"Cannot {action} an offer that is {offer.status}.",
              type="illegal-transition", current_status=offer.status)
    offer.status = target
    setattr(offer, stamp, utcnow())
    if target in {"active", "exhausted", "withdrawn", "expired"}:
        outbox.emit(session, f"offer.{'activated' if target == 'active' else target}", "offer",
                    offer.id, offer_event_payload(offer))


def offer_event_payload(offer: Offer) -> dict[str, Any]:
    return {"offer_id": str(offer.id), "organisation_id": str(offer.organisation_id),
            "title": offer.title, "kind": offer.kind, "status": offer.status,
            "remaining": offer.remaining, "unit": offer.unit,
            "available_to": offer.available_to.isoformat()}


def change_status(session: Session, actor: Actor, offer: Offer, action: str) -> Offer:
    """submit or withdraw, as the owner asks; submitting a verified organisation's offer
    activates it at once."""
    before = _offer_snapshot(offer)
    if action == "submit" and offer.available_to < today_wib():
        abort(409, "The offer's window has ended; change available_to first.",
              type="window-ended")
    transition(session, actor, offer, action)
    if action == "submit" and offer.organisation.status == "verified":
        transition(session, actor, offer, "activate")
    session.flush()
    audit.record(session, actor, f"offer.{action}", "offer", offer.id, before,
                 _offer_snapshot(offer))
    return offer


def activate(session: Session, actor: Actor, offer: Offer) -> None:
    """A submitted offer goes live (its organisation has just been verified)."""
    before = _offer_snapshot(offer)
    transition(session, actor, offer, "activate")
    session.flush()
    audit.record(session, actor, "offer.activate", "offer", offer.id, before,
                 _offer_snapshot(offer))


def expire_ended(session: Session, actor: Actor, today: date) -> int:
    """Mark every offer whose window ended before `today` as expired; returns how many."""
    offers = session.scalars(select(Offer).where(
        Offer.available_to < today, Offer.status.in_(TRANSITIONS["expire"][0]))).all()
    for offer in offers:
        before = _offer_snapshot(offer)
        transition(session, actor, offer, "expire")
        audit.record(session, actor, "offer.expire", "offer", offer.id, before,
                     _offer_snapshot(offer))
    session.flush()
    return len(offers)


def warn_expiring(session: Session, actor: Actor, today: date, within_days: int) -> int:
    """Tell each partner once that a live offer's window ends within `within_days`."""
    offers = session.scalars(select(Offer).where(
        Offer.status.in_(("active", "exhausted")), Offer.available_to >= today,
        Offer.available_to <= today + timedelta(days=within_days),
        Offer.expiry_warned_at.is_(None))).all()
    for offer in offers:
        offer.expiry_warned_at = utcnow()
        outbox.emit(session, "offer.expiring", "offer", offer.id, offer_event_payload(offer))
        audit.record(session, actor, "offer.expiry_warned", "offer", offer.id, None,
                     {"available_to": offer.available_to.isoformat()})
    session.flush()
    return len(offers)


def get(session: Session, actor: Actor, offer_id: uuid.UUID, *, for_update: bool = False
        ) -> Offer:
    """An offer the caller may see (404 otherwise, so others' drafts stay private)."""
    statement = select(Offer).where(Offer.id == offer_id)
    if for_update:
        statement = statement.with_for_update(of=Offer)
    offer = session.scalar(statement)
    if offer is None or not can_view(actor, offer):
        abort(404, "No offer with this id.")
    return offer


def can_view(actor: Actor, offer: Offer) -> bool:
    if actor.is_dp3a or actor.is_service or same_organisation(actor, offer.organisation_id):
        return True
    return actor.role == "coordinator" and offer.status == "active"


def require_owner(actor: Actor, offer: Offer) -> None:
    if not (actor.role in PARTNER_ROLES and same_organisation(actor, offer.organisation_id)):
        abort(403, "Only the organisation that made this offer may change it.",
              type="not-your-offer")


def _shares_any(copy: Any, link_offer: Any, link_code: Any, codes: list[str]) -> Any:
    """Offers with any of `codes`: on PostgreSQL by the GIN-indexed copy on the offer (`&&`),
    elsewhere (SQLite) through the link table."""
    if is_postgresql(current_db().session):
        return copy.overlap(sa.cast(sorted(set(codes)), postgresql.ARRAY(sa.String)))
    return sa.exists().where(link_offer == Offer.id, link_code.in_(codes))


def visibility(actor: Actor) -> str:
    """Which offers the caller may list: DP3A and services "all", coordinators the "active"
    ones, partners their own organisation's ("organisation:<id>")."""
    if actor.is_dp3a or actor.is_service:
        return "all"
    if actor.role == "coordinator":
        return "active"
    return f"organisation:{actor.organisation_id}"


def search(actor: Actor, args: dict[str, Any]) -> sa.Select:
    """The offers the caller may see, filtered; newest first."""
    statement = select(Offer).order_by(Offer.created_at.desc(), Offer.id)
    seen = visibility(actor)
    if seen == "active":
        statement = statement.where(Offer.status == "active")
    elif seen != "all":
        statement = statement.where(Offer.organisation_id == uuid.UUID(actor.organisation_id))
    for name in ("kind", "status", "organisation_id", "mode"):
        if args.get(name) is not None:
            statement = statement.where(getattr(Offer, name) == args[name])
    if args.get("topic"):
        statement = statement.where(_shares_any(
            Offer.topic_codes, OfferTopic.offer_id, OfferTopic.topic_code, args["topic"]))
    if args.get("region"):
        statement = statement.where(_shares_any(
            Offer.region_codes, OfferRegion.offer_id, OfferRegion.region_code,
            catalogue().ancestors(args["region"])))
    if args.get("available_from"):
        statement = statement.where(Offer.available_to >= args["available_from"])
    if args.get("available_to"):
        statement = statement.where(Offer.available_from <= args["available_to"])
    if args.get("q"):
        statement = statement.where(Offer.title.icontains(args["q"], autoescape=True))
    return statement
