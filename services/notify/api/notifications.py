"""Notifications and their delivery attempts, for DP3A to follow up."""
from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.notify.models import DeliveryAttempt, Notification, db
from services.notify.schemas import (
    NotificationDetailSchema,
    NotificationQueryArgsSchema,
    NotificationSchema,
)
from shared.auth import ALL_USER_ROLES, DP3A_ROLES, SERVICE, allow, current_actor
from shared.errors import abort
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("notifications", __name__, description="Notifications and deliveries")


@blp.route("/api/v1/notifications")
class Notifications(MethodView):
    @allow(DP3A_ROLES, SERVICE)
    @blp.arguments(NotificationQueryArgsSchema, location="query")
    @blp.response(200, NotificationSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self, args: dict):
        """Every notification, newest first, with its status"""
        statement = select(Notification).order_by(Notification.created_at.desc(),
                                                  Notification.id)
        for name, value in args.items():
            statement = statement.where(getattr(Notification, name) == value)
        return statement


@blp.route("/api/v1/notifications/<uuid:notification_id>")
class NotificationItem(MethodView):
    @allow(ALL_USER_ROLES, SERVICE)
    @blp.response(200, NotificationDetailSchema)
    def get(self, notification_id: uuid.UUID):
        """One notification with its delivery attempts (DP3A, or its recipient)"""
        actor = current_actor()
        notification = db.session.get(Notification, notification_id)
        if notification is None or not (actor.is_dp3a or actor.is_service
                                        or str(notification.recipient_id) == actor.id):
            abort(404, "No notification with this id.")
        notification.delivery_attempts = list(db.session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.notification_id == notification.id)
            .order_by(DeliveryAttempt.number)))
        return notification
