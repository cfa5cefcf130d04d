"""Offers of funding, modules, trainers and facilities, and their capacity ledger."""
from __future__ import annotations

import uuid

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.partners.models import db
from services.partners.operations import capacity, offers
from services.partners.schemas import (
    RESERVATION_REFERENCE,
    CapacitySchema,
    OfferCreateSchema,
    OfferQueryArgsSchema,
    OfferSchema,
    OfferUpdateSchema,
    ReservationCreateSchema,
    ReservationSchema,
)
from shared.auth import ALL_USER_ROLES, DP3A_ROLES, PARTNER_ROLES, SERVICE, allow, current_actor
from shared.errors import abort
from shared.etag import etag_for, require_match
from shared.idempotency import idempotent
from shared.pagination import PAGINATION_ARGS, SelectPage
from shared.read_cache import ReadCache

blp = Blueprint("offers", __name__, description="Offers and their capacity")
# The offers list is the hottest read (partners' pages, the portal): its answers are kept until
# an offer, its topics or regions, or an organisation changes.
OFFERS_LIST = ReadCache("offers-list", {"offers", "offer_topics", "offer_regions",
                                        "organisations"})
LEDGER_CALLERS = (DP3A_ROLES, SERVICE)


@blp.route("/api/v1/offers")
class Offers(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @OFFERS_LIST.cached(lambda: offers.visibility(current_actor()))
    @blp.arguments(OfferQueryArgsSchema, location="query")
    @blp.response(200, OfferSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """Search offers (partners see their own; coordinators the active ones; DP3A all)"""
        return offers.search(current_actor(), args)

    @allow(PARTNER_ROLES)
    @idempotent
    @blp.arguments(OfferCreateSchema)
    @blp.response(201, OfferSchema)
    def post(self, data: dict):
        """Create a draft offer for my organisation"""
        offer = offers.create(db.session, current_actor(), data)
        db.session.commit()
        return offer, 201, {"Location": url_for("offers.OfferItem", offer_id=offer.id),
                            "ETag": etag_for(offer)}


@blp.route("/api/v1/offers/<uuid:offer_id>")
class OfferItem(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, OfferSchema)
    def get(self, offer_id: uuid.UUID):
        """One offer"""
        offer = offers.get(db.session, current_actor(), offer_id)
        return offer, 200, {"ETag": etag_for(offer)}

    @allow(PARTNER_ROLES)
    @blp.arguments(OfferUpdateSchema)
    @blp.response(200, OfferSchema)
    def patch(self, changes: dict, offer_id: uuid.UUID):
        """Edit my organisation's offer; needs If-Match"""
        actor = current_actor()
        offer = offers.get(db.session, actor, offer_id, for_update=True)
        offers.require_owner(actor, offer)
        require_match(offer)
        offers.update(db.session, actor, offer, changes)
        db.session.commit()
        return offer, 200, {"ETag": etag_for(offer)}


def _offer_action(action: str, summary: str) -> None:
    class OfferAction(MethodView):
        @allow(PARTNER_ROLES)
        @blp.response(200, OfferSchema)
        def post(self, offer_id: uuid.UUID):
            actor = current_actor()
            offer = offers.get(db.session, actor, offer_id, for_update=True)
            offers.require_owner(actor, offer)
            offers.change_status(db.session, actor, offer, action)
            db.session.commit()
            return offer, 200, {"ETag": etag_for(offer)}

    OfferAction.post.__doc__ = summary
    OfferAction.__name__ = f"Offer{action.title()}"
    blp.route(f"/api/v1/offers/<uuid:offer_id>/{action}")(OfferAction)


_offer_action("submit", "Submit a draft; it goes live once the organisation is verified")
_offer_action("withdraw", "Withdraw an offer (existing reservations stand)")


@blp.route("/api/v1/offers/<uuid:offer_id>/capacity")
class OfferCapacity(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, CapacitySchema)
    def get(self, offer_id: uuid.UUID):
        """Capacity, reserved, committed and remaining"""
        return offers.get(db.session, current_actor(), offer_id)


@blp.route("/api/v1/offers/<uuid:offer_id>/reservations")
class Reservations(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, ReservationSchema(many=True))
    def get(self, offer_id: uuid.UUID):
        """The ledger of an offer"""
        offer = offers.get(db.session, current_actor(), offer_id)
        return capacity.entries(db.session, offer)

    @allow(*LEDGER_CALLERS)
    @blp.arguments(ReservationCreateSchema)
    @blp.response(201, ReservationSchema)
    @blp.alt_response(200, schema=ReservationSchema, description="Already reserved: unchanged")
    def post(self, data: dict, offer_id: uuid.UUID):
        """Reserve capacity under a reference (e.g. a proposal id); a retry changes nothing"""
        entry, created = capacity.reserve(db.session, current_actor(), offer_id,
                                          data["reference"], data["quantity"])
        db.session.commit()
        return entry, 201 if created else 200


def _ledger_action(action: str, summary: str) -> None:
    operation = getattr(capacity, action)

    class LedgerAction(MethodView):
        @allow(*LEDGER_CALLERS)
        @blp.response(200, ReservationSchema)
        def post(self, offer_id: uuid.UUID, reference: str):
            if not RESERVATION_REFERENCE.fullmatch(reference):
                # No reservation can have this reference (and PostgreSQL cannot compare NUL).
                abort(404, f"No reservation {reference!r} on this offer.")
            entry = operation(db.session, current_actor(), offer_id, reference)
            db.session.commit()
            return entry

    LedgerAction.post.__doc__ = summary
    LedgerAction.__name__ = f"Reservation{action.title()}"
    blp.route(f"/api/v1/offers/<uuid:offer_id>/reservations/<string:reference>/{action}")(
        LedgerAction)


_ledger_action("commit", "Commit a reservation (help confirmed); a retry changes nothing")
_ledger_action("release", "Release a reservation or commitment; a retry changes nothing")
