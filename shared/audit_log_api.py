"""The audit log as an API resource, the same in every service: DP3A reads who changed what
and when, filtered by object, actor, action and time, newest first (shared/audit.py writes it)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import Select, select

from shared.auth import DP3A_ROLES, allow
from shared.db import current_db
from shared.fields import StrictSchema, Text
from shared.pagination import PAGINATION_ARGS, SelectPage


class AuditEntrySchema(Schema):
    id = fields.UUID(dump_only=True)
    occurred_at = fields.DateTime(dump_only=True)
    actor_id = fields.String(dump_only=True, allow_none=True)
    actor_role = fields.String(dump_only=True, allow_none=True)
    action = fields.String(dump_only=True)
    object_type = fields.String(dump_only=True)
    object_id = fields.String(dump_only=True)
    before = fields.Dict(dump_only=True, allow_none=True)
    after = fields.Dict(dump_only=True, allow_none=True)
    request_id = fields.String(dump_only=True, allow_none=True)


class AuditQueryArgsSchema(StrictSchema):
    object_type = Text(min=1, max=40)
    object_id = Text(min=1, max=80)
    actor_id = Text(min=1, max=80)
    action = Text(min=1, max=80)
    since = fields.AwareDateTime(default_timezone=None)
    until = fields.AwareDateTime(default_timezone=None)


def audit_log_blueprint(what: str) -> Blueprint:
    """`GET /api/v1/audit-log` of the service whose app registers it; `what` says, for the
    OpenAPI description, which changes the service records."""
    blp = Blueprint("audit", __name__, description=f"Audit log: {what}")

    @blp.route("/api/v1/audit-log")
    class AuditLog(MethodView):
        @allow(DP3A_ROLES)
        @blp.arguments(AuditQueryArgsSchema, location="query")
        @blp.response(200, AuditEntrySchema(many=True))
        @blp.paginate(SelectPage, **PAGINATION_ARGS)
        def get(self, args: dict):
            """Who changed what and when, newest first"""
            return entries(args)

    return blp


def entries(args: dict) -> Select:
    entry = current_db().AuditEntry
    statement = select(entry).order_by(entry.occurred_at.desc(), entry.id)
    for name in ("object_type", "object_id", "actor_id", "action"):
        if args.get(name):
            statement = statement.where(getattr(entry, name) == args[name])
    if args.get("since"):
        statement = statement.where(entry.occurred_at >= args["since"])
    if args.get("until"):
        statement = statement.where(entry.occurred_at < args["until"])
    return statement
