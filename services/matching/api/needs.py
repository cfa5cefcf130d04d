"""Needs: what a class lacks. DP3A posts them anywhere, coordinators in their regions."""
from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint

from services.matching.clients import partners
from services.matching.models import db
from services.matching.operations import needs
from services.matching.schemas import (
    NeedCreateSchema,
    NeedQueryArgsSchema,
    NeedSchema,
    NeedUpdateSchema,
)
from shared.auth import ALL_USER_ROLES, DP3A_ROLES, SERVICE, allow, current_actor
from shared.errors import abort
from shared.etag import etag_for, require_match
from shared.http_client import ServiceUnavailable
from shared.idempotency import idempotent
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("needs", __name__, description="Needs of classes")


def topic_vocabulary() -> frozenset[str]:
    try:
        return partners().topic_codes()
    except ServiceUnavailable:
        abort(503, "The topic vocabulary could not be read from the partners service; "
                   "nothing was saved. Please try again in a moment.",
              type="partners-unavailable", headers={"Retry-After": "5"})
EDITORS = (DP3A_ROLES, "coordinator")


@blp.route("/api/v1/needs")
class Needs(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.arguments(NeedQueryArgsSchema, location="query")
    @blp.response(200, NeedSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """Search needs (coordinators see their regions' needs)"""
        return needs.search(current_actor(), args)

    @allow(*EDITORS)
    @idempotent
    @blp.arguments(NeedCreateSchema)
    @blp.response(201, NeedSchema)
    def post(self, data: dict):
        """Post a need of a programme's class"""
        need = needs.create(db.session, current_actor(), data, topic_vocabulary())
        db.session.commit()
        return need, 201, {"ETag": etag_for(need)}


@blp.route("/api/v1/needs/<uuid:need_id>")
class NeedItem(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, NeedSchema)
    def get(self, need_id: uuid.UUID):
        """One need"""
        need = needs.get(db.session, current_actor(), need_id)
        return need, 200, {"ETag": etag_for(need)}

    @allow(*EDITORS)
    @blp.arguments(NeedUpdateSchema)
    @blp.response(200, NeedSchema)
    def patch(self, changes: dict, need_id: uuid.UUID):
        """Edit a need; needs If-Match"""
        actor = current_actor()
        need = needs.get(db.session, actor, need_id, for_update=True)
        require_match(need)
        needs.update(db.session, actor, need, changes,
                     topic_vocabulary() if "topics" in changes else frozenset())
        db.session.commit()
        return need, 200, {"ETag": etag_for(need)}


@blp.route("/api/v1/needs/<uuid:need_id>/cancel")
class NeedCancel(MethodView):
    @allow(*EDITORS)
    @blp.response(200, NeedSchema)
    def post(self, need_id: uuid.UUID):
        """Cancel an open need"""
        actor = current_actor()
        need = needs.get(db.session, actor, need_id, for_update=True)
        needs.cancel(db.session, actor, need)
        db.session.commit()
        return need
