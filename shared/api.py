"""The common shape of a service app: config, JSON logs, database, OpenAPI, problem+json
errors, health checks and token verification."""
from __future__ import annotations

from typing import Any

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import prepare_response
from marshmallow import INCLUDE, Schema, fields

from shared import errors, health
from shared import logging as mitra_logging
from shared.auth import TokenVerifier
from shared.auth import init_app as init_auth
from shared.db import ServiceDatabase


class ProblemSchema(Schema):
    """RFC 9457 problem details. Extension members may follow (RFC 9457 section 3.2), e.g.
    `current_status` on an illegal transition or `remaining` when capacity runs out."""

    class Meta:
        unknown = INCLUDE  # documented as additionalProperties: true

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class OrjsonProvider(DefaultJSONProvider):
    """Fast JSON that knows UUIDs, dates and datetimes."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


class MitraApi(Api):
    """flask-smorest's Api, documenting every error as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        import http

        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, errors.PROBLEM_MIME)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem details (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, errors.PROBLEM_MIME)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_pagination_header(self) -> None:
        # X-Pagination holds a JSON object. OpenAPI 3 describes such a header with `content`;
        # flask-smorest's `schema` would mean the "simple" style (total,3,page,1).
        self.spec.components.header("PAGINATION", {
            "description": "Pagination metadata, as JSON",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }, lazy=True)


def create_service_app(config: dict[str, Any], db: ServiceDatabase,
                       verifier: TokenVerifier) -> tuple[Flask, MitraApi]:
    """A Flask app with everything a Mitra service shares; the caller registers blueprints."""
    app = Flask(config["SERVICE_NAME"])
    app.json = OrjsonProvider(app)
    app.config.update(config)
    mitra_logging.init_app(app)
    db.init_app(app)
    api = MitraApi(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    errors.init_app(app)  # after the Api, so our problem+json handlers win
    health.init_app(app)
    init_auth(app, verifier)
    return app, api
