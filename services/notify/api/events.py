"""Events from the services' outboxes, stored once by their id."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from services.notify.models import db
from services.notify.operations import events
from services.notify.schemas import EventInSchema, EventOutSchema
from services.notify.tasks import fan_out
from shared.auth import SERVICE, allow

blp = Blueprint("events", __name__, description="Events in")


@blp.route("/api/v1/events")
class Events(MethodView):
    @allow(SERVICE)
    @blp.arguments(EventInSchema)
    @blp.response(202, EventOutSchema)
    @blp.alt_response(200, schema=EventOutSchema, description="Already received: unchanged")
    def post(self, data: dict):
        """Receive an event (services only); the same id again changes nothing"""
        event, created = events.store(db.session, data)
        db.session.commit()
        if event.processed_at is None:
            # Also when it is a repeat: the sender may be repeating it because queueing the
            # fan-out failed after the event was stored (fan-out makes each notification once).
            fan_out.delay(str(event.id))
        return event, 202 if created else 200
