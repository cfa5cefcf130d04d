"""Reports for DP3A: the collaboration report, as JSON or CSV."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from services.matching.models import db
from services.matching.operations import reports
from services.matching.schemas import ReportQueryArgsSchema
from shared.auth import DP3A_ROLES, allow

blp = Blueprint("reports", __name__, description="Reports")


@blp.route("/api/v1/reports/collaboration")
class Collaboration(MethodView):
    @allow(DP3A_ROLES)
    @blp.arguments(ReportQueryArgsSchema, location="query")
    @blp.doc(responses={"200": {"description": "The report (JSON, or CSV with format=csv)",
                                "content": {"application/json": {"schema": {"type": "object"}},
                                            "text/csv": {"schema": {"type": "string"}}}}})
    def get(self, args: dict):
        """Needs, coverage, who helps, rupiah by source, unmet topics, time to approval"""
        report = reports.collaboration(db.session, args["period_start"], args["period_end"],
                                       args["region"])
        if args["format"] == "csv":
            name = f"kolaborasi-{args['region']}-{args['period_start']}.csv"
            return Response(reports.as_csv(report), mimetype="text/csv", headers={
                "Content-Disposition": f'attachment; filename="{name}"'})
        return report
