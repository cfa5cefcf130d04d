"""The in-app inbox of the signed-in person."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.notify.models import Notification, db
from services.notify.schemas import InboxQueryArgsSchema, NotificationSchema, UnreadCountSchema
from shared.auth import ALL_USER_ROLES, allow, current_actor
from shared.db import utcnow
from shared.errors import abort
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("inbox", __name__, description="In-app inbox")


def _mine() -> sa.Select:
    return select(Notification).where(Notification.channel == "inapp",
                                      Notification.recipient_id == uuid.UUID(current_actor().id))


@blp.route("/api/v1/inbox")
class Inbox(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.arguments(InboxQueryArgsSchema, location="query")
    @blp.response(200, NotificationSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """My messages, newest first"""
        statement = _mine().order_by(Notification.created_at.desc(), Notification.id)
        if args["unread"]:
            statement = statement.where(Notification.read_at.is_(None))
        return statement


@blp.route("/api/v1/inbox/unread-count")
class UnreadCount(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.response(200, UnreadCountSchema)
    def get(self):
        """How many of my messages are unread"""
        count = db.session.scalar(select(sa.func.count()).select_from(
            _mine().where(Notification.read_at.is_(None)).subquery()))
        return {"unread": count or 0}


@blp.route("/api/v1/inbox/<uuid:notification_id>/read")
class MarkRead(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.response(200, NotificationSchema)
    def post(self, notification_id: uuid.UUID):
        """Mark one of my messages read (again changes nothing)"""
        notification = db.session.scalar(_mine().where(Notification.id == notification_id))
        if notification is None:
            abort(404, "No message with this id in your inbox.")
        if notification.read_at is None:
            notification.read_at = utcnow()
            db.session.commit()
        return notification
