"""Programmes: one kelurahan's Sekoper Cinta class for a period."""
from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.matching.models import Programme, db
from services.matching.operations import programmes
from services.matching.schemas import (
    ProgrammeCreateSchema,
    ProgrammeQueryArgsSchema,
    ProgrammeSchema,
    ProgrammeUpdateSchema,
)
from shared.auth import ALL_USER_ROLES, DP3A_ROLES, SERVICE, allow, current_actor
from shared.etag import etag_for, require_match
from shared.idempotency import idempotent
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("programmes", __name__, description="Programmes")


@blp.route("/api/v1/programmes")
class Programmes(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.arguments(ProgrammeQueryArgsSchema, location="query")
    @blp.response(200, ProgrammeSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """List programmes"""
        statement = select(Programme).order_by(Programme.period_start.desc(), Programme.id)
        if args.get("region"):
            code = args["region"]
            statement = statement.where((Programme.region == code) | Programme.region.startswith(
                code + ".", autoescape=True))
        return statement

    @allow(DP3A_ROLES)
    @idempotent
    @blp.arguments(ProgrammeCreateSchema)
    @blp.response(201, ProgrammeSchema)
    def post(self, data: dict):
        """Create a programme (DP3A)"""
        programme = programmes.create(db.session, current_actor(), data)
        db.session.commit()
        return programme, 201, {"ETag": etag_for(programme)}


@blp.route("/api/v1/programmes/<uuid:programme_id>")
class ProgrammeItem(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, ProgrammeSchema)
    def get(self, programme_id: uuid.UUID):
        """One programme"""
        programme = programmes.get(db.session, programme_id)
        return programme, 200, {"ETag": etag_for(programme)}

    @allow(DP3A_ROLES)
    @blp.arguments(ProgrammeUpdateSchema)
    @blp.response(200, ProgrammeSchema)
    def patch(self, changes: dict, programme_id: uuid.UUID):
        """Edit a programme; needs If-Match"""
        programme = programmes.get(db.session, programme_id)
        require_match(programme)
        programmes.update(db.session, current_actor(), programme, changes)
        db.session.commit()
        return programme, 200, {"ETag": etag_for(programme)}
