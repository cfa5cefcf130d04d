"""Accepting an invitation creates the invited person's account."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from services.partners.models import db
from services.partners.operations import accounts
from services.partners.schemas import InvitationAcceptSchema, UserSchema
from shared.auth import public

blp = Blueprint("invitations", __name__, description="Joining an organisation")


@blp.route("/api/v1/invitations/accept")
class AcceptInvitation(MethodView):
    @public
    @blp.arguments(InvitationAcceptSchema)
    @blp.response(201, UserSchema)
    def post(self, data: dict):
        """Accept an invitation with its token, choosing a name and password"""
        user = accounts.accept_invitation(db.session, data["token"], data["name"],
                                          data["password"], data.get("locale"))
        db.session.commit()
        return user
