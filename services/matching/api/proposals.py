"""Proposals: DP3A approves or rejects, the partner accepts or declines, the coordinator
confirms delivery and rates it."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.matching.clients import partners
from services.matching.models import Need, Proposal, db
from services.matching.operations import alternatives, decisions
from services.matching.schemas import (
    AlternativeQueryArgsSchema,
    AlternativeSchema,
    DecisionResultSchema,
    DecisionSchema,
    DeclineSchema,
    DeliverySchema,
    ProposalQueryArgsSchema,
    ProposalSchema,
    RejectionSchema,
)
from shared.auth import ALL_USER_ROLES, DP3A_ROLES, PARTNER_ROLES, allow, current_actor
from shared.errors import Problem, abort
from shared.http_client import ServiceUnavailable
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("proposals", __name__, description="Proposals and decisions")
VISIBLE_TO_PARTNERS = ("approved", "accepted", "fulfilled", "declined")


def _visible(statement: sa.Select) -> sa.Select:
    """Partners see their approved matches; coordinators those of their regions."""
    actor = current_actor()
    if actor.role in PARTNER_ROLES:
        return statement.where(Proposal.organisation_id == uuid.UUID(actor.organisation_id),
                               Proposal.status.in_(VISIBLE_TO_PARTNERS))
    if actor.role == "coordinator":
        return statement.join(Need, Proposal.need_id == Need.id).where(sa.or_(*[
            (Need.region == code) | Need.region.startswith(code + ".", autoescape=True)
            for code in actor.region_codes] or [sa.false()]))
    return statement


@blp.route("/api/v1/proposals")
class Proposals(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.arguments(ProposalQueryArgsSchema, location="query")
    @blp.response(200, ProposalSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """Proposals with their explanations, best first"""
        statement = select(Proposal).order_by(Proposal.need_id, Proposal.score.desc(),
                                              Proposal.id)
        for name in ("run_id", "need_id", "offer_id", "organisation_id", "status"):
            if args.get(name) is not None:
                statement = statement.where(getattr(Proposal, name) == args[name])
        return _visible(statement)


@blp.route("/api/v1/proposals/<uuid:proposal_id>")
class ProposalItem(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.response(200, ProposalSchema)
    def get(self, proposal_id: uuid.UUID):
        """One proposal with its explanation"""
        proposal = db.session.scalar(_visible(select(Proposal).where(
            Proposal.id == proposal_id)))
        if proposal is None:
            abort(404, "No proposal with this id.")
        return proposal


@blp.route("/api/v1/proposals/<uuid:proposal_id>/alternatives")
class ProposalAlternatives(MethodView):
    @allow(DP3A_ROLES)
    @blp.arguments(AlternativeQueryArgsSchema, location="query")
    @blp.response(200, AlternativeSchema(many=True))
    def get(self, args: dict, proposal_id: uuid.UUID):
        """The other offers that could serve the proposal's need today, best first"""
        try:
            return alternatives.for_proposal(db.session, proposal_id,
                                             partners().active_offers, args["limit"])
        except ServiceUnavailable:
            abort(503, "The active offers could not be read from the partners service. "
                       "Please try again in a moment.", type="partners-unavailable",
                  headers={"Retry-After": "5"})


@blp.route("/api/v1/proposals/approve")
class ApproveMany(MethodView):
    @allow(DP3A_ROLES)
    @blp.arguments(DecisionSchema)
    @blp.response(200, DecisionResultSchema(many=True))
    def post(self, data: dict):
        """Approve one or many proposals; each answer says approved, stale (why) or unchanged"""
        results = []
        for proposal_id in data["proposal_ids"]:
            try:
                proposal, why = decisions.approve(db.session, current_actor(), partners(),
                                                  proposal_id)
                db.session.commit()
                results.append({"proposal_id": proposal.id, "status": proposal.status,
                                 "detail": why})
            except Problem as problem:
                db.session.rollback()
                results.append({"proposal_id": proposal_id, "status": "unchanged",
                                "detail": problem.detail})
        return results


@blp.route("/api/v1/proposals/<uuid:proposal_id>/approve")
class Approve(MethodView):
    @allow(DP3A_ROLES)
    @blp.response(200, ProposalSchema)
    def post(self, proposal_id: uuid.UUID):
        """Approve: reserves the capacity at partners (stale if it is gone)"""
        proposal, _ = decisions.approve(db.session, current_actor(), partners(), proposal_id)
        db.session.commit()
        return proposal


@blp.route("/api/v1/proposals/<uuid:proposal_id>/reject")
class Reject(MethodView):
    @allow(DP3A_ROLES)
    @blp.arguments(RejectionSchema)
    @blp.response(200, ProposalSchema)
    def post(self, data: dict, proposal_id: uuid.UUID):
        """Reject a proposal, with a reason"""
        proposal = decisions.reject(db.session, current_actor(), proposal_id, data["reason"])
        db.session.commit()
        return proposal


@blp.route("/api/v1/proposals/<uuid:proposal_id>/accept")
class Accept(MethodView):
    @allow(PARTNER_ROLES)
    @blp.response(200, ProposalSchema)
    def post(self, proposal_id: uuid.UUID):
        """The offering organisation accepts an approved match"""
        proposal = decisions.accept(db.session, current_actor(), proposal_id)
        db.session.commit()
        return proposal


@blp.route("/api/v1/proposals/<uuid:proposal_id>/decline")
class Decline(MethodView):
    @allow(PARTNER_ROLES)
    @blp.arguments(DeclineSchema)
    @blp.response(200, ProposalSchema)
    def post(self, data: dict, proposal_id: uuid.UUID):
        """The offering organisation declines: the capacity goes back, the need reopens"""
        proposal = decisions.decline(db.session, current_actor(), partners(), proposal_id,
                                     data["reason"])
        db.session.commit()
        return proposal


@blp.route("/api/v1/proposals/<uuid:proposal_id>/delivery")
class ConfirmDelivery(MethodView):
    @allow(DP3A_ROLES, "coordinator")
    @blp.arguments(DeliverySchema)
    @blp.response(201, DeliverySchema)
    def post(self, data: dict, proposal_id: uuid.UUID):
        """The coordinator confirms delivery and rates it"""
        delivery = decisions.confirm_delivery(db.session, current_actor(), partners(),
                                              proposal_id, data)
        db.session.commit()
        return delivery


