"""DP3A reads matching's audit log (programmes, needs, runs, decisions, deliveries), filtered
by object, actor, action and time, the same way as partners' log."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.matching.models import AuditEntry
from services.matching.schemas import AuditEntrySchema, AuditQueryArgsSchema
from shared.auth import DP3A_ROLES, allow
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("audit", __name__, description="Audit log")


@blp.route("/api/v1/audit-log")
class AuditLog(MethodView):
    @allow(DP3A_ROLES)
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, AuditEntrySchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """Who changed what and when, newest first"""
        statement = select(AuditEntry).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id)
        for name in ("object_type", "object_id", "actor_id", "action"):
            if args.get(name):
                statement = statement.where(getattr(AuditEntry, name) == args[name])
        if args.get("since"):
            statement = statement.where(AuditEntry.occurred_at >= args["since"])
        if args.get("until"):
            statement = statement.where(AuditEntry.occurred_at < args["until"])
        return statement
