"""Confirmed deliveries with their ratings: partners read those of their organisation,
coordinators those of their regions, DP3A all."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.matching.models import Delivery, Need, Proposal
from services.matching.schemas import DeliveryQueryArgsSchema, DeliveryRecordSchema
from shared.auth import ALL_USER_ROLES, PARTNER_ROLES, allow, current_actor
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("deliveries", __name__, description="Confirmed deliveries and ratings")


@blp.route("/api/v1/deliveries")
class Deliveries(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.arguments(DeliveryQueryArgsSchema, location="query")
    @blp.response(200, DeliveryRecordSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """Confirmed deliveries, newest first (partners: their own; coordinators: their
        regions)"""
        actor = current_actor()
        statement = (select(Delivery).join(Proposal, Delivery.proposal_id == Proposal.id)
                     .join(Need, Proposal.need_id == Need.id)
                     .order_by(Delivery.confirmed_at.desc(), Delivery.id))
        if actor.role in PARTNER_ROLES:
            statement = statement.where(
                Delivery.organisation_id == uuid.UUID(actor.organisation_id))
        elif actor.role == "coordinator":
            statement = statement.where(sa.or_(*[
                (Need.region == code) | Need.region.startswith(code + ".", autoescape=True)
                for code in actor.region_codes] or [sa.false()]))
        if args.get("organisation_id") is not None:
            statement = statement.where(Delivery.organisation_id == args["organisation_id"])
        if args.get("need_id") is not None:
            statement = statement.where(Proposal.need_id == args["need_id"])
        return statement
