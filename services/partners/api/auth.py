"""Tokens: trade a password, an API key or service credentials for a short-lived JWT."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from services.partners.models import db
from services.partners.operations import accounts
from services.partners.ratelimit import limiter, login_key
from services.partners.schemas import JwksSchema, TokenRequestSchema, TokenSchema
from shared.auth import public

blp = Blueprint("auth", __name__, description="Sign-in and token issuing")


@blp.route("/api/v1/auth/token")
class Token(MethodView):
    @public
    @limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=login_key)
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    def post(self, data: dict) -> dict:
        """Trade credentials for an access token"""
        session = db.session
        config = current_app.config
        if data["grant_type"] == "password":
            claims = accounts.sign_in_with_password(session, data["email"], data["password"])
            minutes = config["ACCESS_TOKEN_MINUTES"]
        elif data["grant_type"] == "api_key":
            claims = accounts.sign_in_with_api_key(session, data["api_key"])
            minutes = config["ACCESS_TOKEN_MINUTES"]
        else:
            claims = accounts.sign_in_service(config["SERVICE_CLIENTS"], data["client_id"],
                                              data["client_secret"])
            minutes = config["SERVICE_TOKEN_MINUTES"]
        session.commit()
        lifetime = timedelta(minutes=minutes)
        token = current_app.extensions["mitra_keyring"].issue(
            claims, issuer=config["JWT_ISSUER"], audience=config["JWT_AUDIENCE"],
            lifetime=lifetime)
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": int(lifetime.total_seconds())}


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @public
    @blp.response(200, JwksSchema)
    def get(self) -> dict:
        """The public keys that verify our tokens"""
        return current_app.extensions["mitra_keyring"].jwks()


