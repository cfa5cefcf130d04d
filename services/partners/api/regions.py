"""The Kemendagri region catalogue, for forms and validation messages."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from services.partners.schemas import RegionQueryArgsSchema, RegionSchema
from shared.auth import public
from shared.errors import abort
from shared.regions import catalogue

blp = Blueprint("regions", __name__, description="Kemendagri regions")


@blp.route("/api/v1/regions")
class Regions(MethodView):
    @public
    @blp.arguments(RegionQueryArgsSchema, location="query")
    @blp.response(200, RegionSchema(many=True))
    def get(self, args: dict):
        """The regions directly under `parent` (or the provinces)"""
        return catalogue().children(args.get("parent"))


@blp.route("/api/v1/regions/<string:code>")
class RegionItem(MethodView):
    @public
    @blp.response(200, RegionSchema)
    def get(self, code: str):
        """One region"""
        region = catalogue().get(code)
        if region is None:
            abort(404, f"No region with code {code!r}.")
        return region
