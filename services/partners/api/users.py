"""People: one's own profile, an admin's changes to colleagues, API keys."""
from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.partners.models import ApiKey, User, db
from services.partners.operations import accounts
from services.partners.schemas import (
    ApiKeyCreateSchema,
    ApiKeySchema,
    SelfUpdateSchema,
    UserAdminUpdateSchema,
    UserSchema,
)
from shared.auth import ALL_USER_ROLES, allow, current_actor
from shared.errors import abort
from shared.etag import etag_for, require_match
from shared.idempotency import idempotent
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("users", __name__, description="People and machine clients")
ADMIN_ROLES = ("partner_admin", "dp3a_admin")


def _me() -> User:
    actor = current_actor()
    if actor.kind != "user":
        abort(403, "Only a person has a profile; this token belongs to a machine client.")
    return accounts.get_user(db.session, uuid.UUID(actor.id))


@blp.route("/api/v1/users/me")
class Me(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.response(200, UserSchema)
    def get(self):
        """Who I am"""
        user = _me()
        return user, 200, {"ETag": etag_for(user)}

    @allow(ALL_USER_ROLES)
    @blp.arguments(SelfUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, changes: dict):
        """Change my name, language or password; needs If-Match"""
        user = _me()
        require_match(user)
        accounts.update_self(db.session, current_actor(), user, changes)
        db.session.commit()
        return user, 200, {"ETag": etag_for(user)}


@blp.route("/api/v1/users/<uuid:user_id>")
class UserItem(MethodView):
    @allow(ADMIN_ROLES)
    @blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID):
        """A colleague (administrators of the same organisation)"""
        user = accounts.get_user(db.session, user_id)
        if str(user.organisation_id) != current_actor().organisation_id:
            abort(404, "No user with this id in your organisation.")
        return user, 200, {"ETag": etag_for(user)}

    @allow(ADMIN_ROLES)
    @blp.arguments(UserAdminUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, changes: dict, user_id: uuid.UUID):
        """Change a colleague's role, regions or access; needs If-Match"""
        user = accounts.get_user(db.session, user_id)
        if str(user.organisation_id) != current_actor().organisation_id:
            abort(404, "No user with this id in your organisation.")
        require_match(user)
        accounts.administer_user(db.session, current_actor(), user, changes)
        db.session.commit()
        return user, 200, {"ETag": etag_for(user)}


@blp.route("/api/v1/api-keys")
class ApiKeys(MethodView):
    @allow(ADMIN_ROLES)
    @blp.response(200, ApiKeySchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self):
        """My organisation's API keys (never the secret)"""
        organisation_id = uuid.UUID(current_actor().organisation_id)
        return select(ApiKey).where(ApiKey.organisation_id == organisation_id).order_by(
            ApiKey.created_at, ApiKey.id)

    @allow(ADMIN_ROLES)
    @idempotent
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeySchema)
    def post(self, data: dict):
        """Create an API key for a machine client; the key is shown only in this answer"""
        key, full = accounts.create_api_key(db.session, current_actor(), data["name"],
                                            data["role"])
        db.session.commit()
        key.key = full
        return key


@blp.route("/api/v1/api-keys/<uuid:key_id>")
class ApiKeyItem(MethodView):
    @allow(ADMIN_ROLES)
    @blp.response(200, ApiKeySchema)
    def delete(self, key_id: uuid.UUID):
        """Revoke an API key (it stops working at once for new tokens)"""
        key = accounts.revoke_api_key(db.session, current_actor(), key_id)
        db.session.commit()
        return key
