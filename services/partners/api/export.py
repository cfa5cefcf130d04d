"""The snapshot of active offers for the matching service."""
from __future__ import annotations

import orjson
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.partners.models import db
from services.partners.operations.export import active_offers
from shared.auth import SERVICE, allow
from shared.clock import today_wib
from shared.db import utcnow

blp = Blueprint("export", __name__, description="Snapshots for other services")


class ExportOrganisationSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    name = fields.String()
    sector = fields.String(allow_none=True)
    address_region = fields.String()
    operating_regions = fields.List(fields.String())


class ExportOfferSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    title = fields.String()
    description = fields.String()
    unit = fields.String()
    capacity = fields.Integer()
    reserved = fields.Integer()
    committed = fields.Integer()
    remaining = fields.Integer()
    available_from = fields.Date()
    available_to = fields.Date()
    mode = fields.String()
    language = fields.String()
    topics = fields.List(fields.String())
    delivery_regions = fields.List(fields.String())
    organisation = fields.Nested(ExportOrganisationSchema)


class OfferExportSchema(Schema):
    generated_at = fields.DateTime()
    count = fields.Integer()
    offers = fields.List(fields.Nested(ExportOfferSchema))


@blp.route("/api/v1/export/active-offers")
class ActiveOffersExport(MethodView):
    @allow(SERVICE)
    @blp.doc(responses={"200": {"description": "The snapshot", "content": {
        "application/json": {"schema": OfferExportSchema}}}})
    def get(self) -> Response:
        """Every matchable offer with its remaining capacity and organisation (services only)"""
        offers = active_offers(db.session, today_wib())
        body = orjson.dumps({"generated_at": utcnow(), "count": len(offers), "offers": offers},
                            default=str)
        return Response(body, mimetype="application/json")
