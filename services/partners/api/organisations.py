"""Organisations: public registration, DP3A's verification queue, profile edits."""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.partners.models import Organisation, User, db
from services.partners.operations import accounts, organisations
from services.partners.operations.access import require_admin_of, require_member_or_dp3a
from services.partners.schemas import (
    InvitationCreateSchema,
    InvitationSchema,
    OrganisationQueryArgsSchema,
    OrganisationRegistrationSchema,
    OrganisationSchema,
    OrganisationUpdateSchema,
    ReasonRequiredSchema,
    RegistrationResultSchema,
    StatusChangeSchema,
    UserSchema,
)
from shared.auth import (
    ALL_USER_ROLES,
    DP3A_ROLES,
    PARTNER_ROLES,
    SERVICE,
    allow,
    current_actor,
    public,
)
from shared.errors import abort
from shared.etag import etag_for, require_match
from shared.idempotency import idempotent
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("organisations", __name__, description="Companies, universities, NGOs, DP3A")


def _load(organisation_id: uuid.UUID) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        abort(404, "No organisation with this id.")
    return organisation


@blp.route("/api/v1/organisations")
class Organisations(MethodView):
    @public
    @idempotent
    @blp.arguments(OrganisationRegistrationSchema)
    @blp.response(201, RegistrationResultSchema)
    def post(self, data: dict) -> tuple:
        """Register an organisation and its first administrator (awaits DP3A verification)"""
        organisation, admin = organisations.register(db.session, current_actor(), data)
        db.session.commit()
        location = url_for("organisations.OrganisationItem", organisation_id=organisation.id)
        return {"organisation": organisation, "admin": admin}, 201, {"Location": location}

    @allow(DP3A_ROLES, SERVICE)
    @blp.arguments(OrganisationQueryArgsSchema, location="query")
    @blp.response(200, OrganisationSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """List organisations, e.g. the verification queue (status=pending)"""
        statement = select(Organisation).order_by(Organisation.registered_at, Organisation.id)
        for name in ("kind", "status"):
            if args.get(name):
                statement = statement.where(getattr(Organisation, name) == args[name])
        if args.get("q"):
            statement = statement.where(Organisation.name.icontains(args["q"], autoescape=True))
        if args.get("region"):
            statement = statement.where(
                (Organisation.address_region == args["region"])
                | Organisation.address_region.startswith(args["region"] + ".", autoescape=True))
        return statement


@blp.route("/api/v1/organisations/<uuid:organisation_id>")
class OrganisationItem(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, OrganisationSchema)
    def get(self, organisation_id: uuid.UUID):
        """One organisation (DP3A: any; others: their own)"""
        actor = current_actor()
        require_member_or_dp3a(actor, organisation_id)
        organisation = _load(organisation_id)
        return organisation, 200, {"ETag": etag_for(organisation)}

    @allow("partner_admin", "dp3a_admin")
    @blp.arguments(OrganisationUpdateSchema)
    @blp.response(200, OrganisationSchema)
    def patch(self, changes: dict, organisation_id: uuid.UUID):
        """Edit an organisation's profile (its admins, or a DP3A admin); needs If-Match"""
        actor = current_actor()
        organisation = organisations.get_for_update(db.session, organisation_id)
        if actor.role != "dp3a_admin":
            require_admin_of(actor, organisation_id, agency=organisation.is_agency)
        require_match(organisation)
        organisations.update(db.session, actor, organisation, changes)
        db.session.commit()
        return organisation, 200, {"ETag": etag_for(organisation)}


def _status_route(action: str, schema: type, summary: str) -> None:
    class StatusChange(MethodView):
        @allow(DP3A_ROLES)
        @blp.arguments(schema)
        @blp.response(200, OrganisationSchema)
        def post(self, data: dict, organisation_id: uuid.UUID):
            actor = current_actor()
            organisation = organisations.get_for_update(db.session, organisation_id)
            organisations.change_status(db.session, actor, organisation, action,
                                        data.get("reason"))
            db.session.commit()
            return organisation

    StatusChange.post.__doc__ = summary
    StatusChange.__name__ = f"Organisation{action.title()}"
    blp.route(f"/api/v1/organisations/<uuid:organisation_id>/{action}")(StatusChange)


_status_route("verify", StatusChangeSchema, "Verify a pending organisation (DP3A)")
_status_route("reject", ReasonRequiredSchema, "Reject a pending organisation, with a reason")
_status_route("suspend", ReasonRequiredSchema, "Suspend a verified organisation, with a reason")
_status_route("reinstate", StatusChangeSchema, "Reinstate a suspended organisation")


@blp.route("/api/v1/organisations/<uuid:organisation_id>/users")
class OrganisationUsers(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, UserSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, organisation_id: uuid.UUID):
        """The people of an organisation (its admins and DP3A)"""
        actor = current_actor()
        organisation = _load(organisation_id)
        if not (actor.is_dp3a or actor.is_service):
            require_admin_of(actor, organisation_id, agency=organisation.is_agency)
        return select(User).where(User.organisation_id == organisation_id).order_by(
            User.created_at, User.id)


@blp.route("/api/v1/organisations/<uuid:organisation_id>/invitations")
class OrganisationInvitations(MethodView):
    @allow(PARTNER_ROLES, DP3A_ROLES)
    @idempotent
    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, InvitationSchema)
    def post(self, data: dict, organisation_id: uuid.UUID):
        """Invite a colleague; the token is shown once (notify also emails it)"""
        actor = current_actor()
        organisation = _load(organisation_id)
        lifetime = timedelta(days=current_app.config["INVITATION_DAYS"])
        invitation, token = accounts.invite(db.session, actor, organisation, data, lifetime)
        db.session.commit()
        invitation.token = token
        return invitation


