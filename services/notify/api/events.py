"""Events from the services' outboxes, stored once by their id."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from services.notify.models import db
from services.notify.operations import events
from services.notify.schemas import (
    EventBatchInSchema,
    EventBatchOutSchema,
    EventInSchema,
    EventOutSchema,
    RefusedEvent,
)
from services.notify.tasks import fan_out, fan_out_many
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


@blp.route("/api/v1/events/batch")
class EventBatch(MethodView):
    @allow(SERVICE)
    @blp.arguments(EventBatchInSchema)
    @blp.response(200, EventBatchOutSchema)
    def post(self, data: dict):
        """Receive up to 500 events at once (services only), each answered on its own"""
        # Each is validated and stored as POST /api/v1/events would: created, exists (the
        # same id again, also twice in one batch, changes nothing) or refused with its
        # errors, while the others are stored.
        items = data["events"]
        valid = [item for item in items if not isinstance(item, RefusedEvent)]
        statuses, pending = events.store_many(db.session, valid)
        db.session.commit()
        if pending:
            # As for a single event, repeats still unprocessed are fanned out again.
            fan_out_many.delay([str(event_id) for event_id in pending])
        answers = iter(statuses)
        return {"results": [
            {"id": item.id, "status": "refused", "errors": item.errors}
            if isinstance(item, RefusedEvent) else {"id": item["id"], "status": next(answers)}
            for item in items]}
