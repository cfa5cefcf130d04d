"""Request and response shapes of the notify API."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from services.notify.catalogue import BY_TYPE
from services.notify.models import CHANNELS, LOCALES
from shared.errors import flatten_errors
from shared.fields import StrictSchema, Text, distinct, one_of

MAX_BATCH = 500  # events in one POST /api/v1/events/batch


def _unstorable(value: Any) -> str | None:
    """Why a JSON value cannot be stored and sent on (None when it can)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "Numbers must be finite (1e400 is infinity, which JSON cannot carry)."
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Text must be valid Unicode (no lone surrogates such as \\ud800)."
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        return next((problem for item in value if (problem := _unstorable(item))), None)
    return None


class EventInSchema(StrictSchema):
    id = fields.UUID(required=True, metadata={"description": "The outbox event id (dedup key)."})
    type = fields.String(required=True, validate=validate.Length(min=3, max=80))
    source = fields.String(required=True, validate=validate.Length(min=2, max=40))
    aggregate_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    aggregate_id = fields.String(required=True, validate=validate.Length(min=1, max=80))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None)
    payload = fields.Dict(required=True)

    @validates("payload")
    def _storable_payload(self, value: dict, **kwargs: object) -> None:
        problem = _unstorable(value)
        if problem:
            raise ValidationError(problem)

    @validates("occurred_at")
    def _representable_in_utc(self, value: datetime, **kwargs: object) -> None:
        try:
            value.astimezone(UTC)  # stored in UTC: 0001-01-01T00:00+05:00 is not
        except OverflowError as exc:
            raise ValidationError("Not a time that can be stored (out of range in UTC).") \
                from exc


@dataclass(frozen=True)
class RefusedEvent:
    """An item of a batch that is not a valid event: why, and its id when it has one."""

    id: uuid.UUID | None
    errors: dict[str, list[str]]


def _id_of(item: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(item["id"]) if isinstance(item, dict) else None
    except (TypeError, ValueError, AttributeError, KeyError):
        return None


class EventBatchInSchema(Schema):
    """A batch of events. Not a StrictSchema: its pre-load check would refuse the whole batch
    for one item holding NUL; each item gets EventIn's checks, NUL included, on its own."""

    class Meta:
        unknown = RAISE

    events = fields.List(
        fields.Raw(allow_none=True, metadata={
            # Any value is taken: an item that is not a valid EventIn is refused in the
            # results, not the batch (so the fuzzer's invalid items are not invalid requests).
            "anyOf": [{"$ref": "#/components/schemas/EventIn"}, {}],
            "description": "An EventIn; anything else is refused in its result."}),
        required=True, validate=validate.Length(min=1, max=MAX_BATCH),
        metadata={"description": f"1 to {MAX_BATCH} events, oldest first."})

    @post_load
    def _each_event(self, data: dict, **kwargs: object) -> dict:
        """Each item validated as POST /api/v1/events validates its body: the event's data,
        or a RefusedEvent saying why not."""
        schema = EventInSchema()
        loaded: list[dict[str, Any] | RefusedEvent] = []
        for item in data["events"]:
            try:
                loaded.append(schema.load(item))
            except ValidationError as exc:
                loaded.append(RefusedEvent(_id_of(item), flatten_errors(exc.messages)))
        return {"events": loaded}


class EventResultSchema(Schema):
    id = fields.UUID(dump_only=True, allow_none=True,
                     metadata={"description": "The event id (null when the item has none)."})
    status = fields.String(dump_only=True, metadata={
        "enum": ["created", "exists", "refused"],
        "description": "created; exists (already received, unchanged); refused (not valid, "
                       "see errors: nothing stored)."})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         dump_only=True, metadata={"description": "Why it was refused."})


class EventBatchOutSchema(Schema):
    results = fields.List(fields.Nested(EventResultSchema), dump_only=True,
                          metadata={"description": "One per event, in the order sent."})


class EventOutSchema(Schema):
    id = fields.UUID(dump_only=True)
    type = fields.String(dump_only=True, attribute="event_type")
    source = fields.String(dump_only=True)
    received_at = fields.DateTime(dump_only=True)
    processed_at = fields.DateTime(dump_only=True, allow_none=True)


class AttemptSchema(Schema):
    number = fields.Integer(dump_only=True)
    started_at = fields.DateTime(dump_only=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)
    outcome = fields.String(dump_only=True, allow_none=True)
    detail = fields.String(dump_only=True, allow_none=True)


class NotificationSchema(Schema):
    id = fields.UUID(dump_only=True)
    event_id = fields.UUID(dump_only=True)
    event_type = fields.String(dump_only=True)
    recipient_id = fields.UUID(dump_only=True)
    channel = fields.String(dump_only=True)
    address = fields.String(dump_only=True)
    locale = fields.String(dump_only=True)
    template_version = fields.Integer(dump_only=True, allow_none=True)
    subject = fields.String(dump_only=True)
    body_text = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    attempts = fields.Integer(dump_only=True)
    last_error = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    sent_at = fields.DateTime(dump_only=True, allow_none=True)
    read_at = fields.DateTime(dump_only=True, allow_none=True)


class NotificationDetailSchema(NotificationSchema):
    delivery_attempts = fields.List(fields.Nested(AttemptSchema), dump_only=True)


class NotificationQueryArgsSchema(StrictSchema):
    event_id = fields.UUID()
    recipient_id = fields.UUID()
    channel = fields.String(validate=one_of(CHANNELS))
    status = fields.String(validate=one_of(("queued", "sending", "sent", "failed")))


class InboxQueryArgsSchema(StrictSchema):
    unread = fields.Boolean(load_default=False)


class UnreadCountSchema(Schema):
    unread = fields.Integer(dump_only=True)


class PreferenceSchema(StrictSchema):
    event_type = fields.String(required=True, metadata={"description": "An event type, or *"})
    channels = fields.List(fields.String(validate=one_of(CHANNELS)), required=True,
                           validate=[validate.Length(max=4), distinct])
    muted = fields.Boolean(load_default=False)

    @validates_schema
    def _known_type(self, data: dict, **kwargs: object) -> None:
        if data.get("event_type") != "*" and data.get("event_type") not in BY_TYPE:
            raise ValidationError(f"Unknown event type; one of: *, "
                                  f"{', '.join(sorted(BY_TYPE))}.", "event_type")


class PreferencesSchema(StrictSchema):
    locale = fields.String(validate=one_of(LOCALES))
    preferences = fields.List(fields.Nested(PreferenceSchema), validate=validate.Length(max=50))

    @validates_schema
    def _one_entry_per_type(self, data: dict, **kwargs: object) -> None:
        types = [item["event_type"] for item in data.get("preferences") or []]
        if len(set(types)) != len(types):
            raise ValidationError("Each event type (and *) may appear only once.",
                                  "preferences")


class ChannelAddressSchema(StrictSchema):
    channel = fields.String(required=True, validate=one_of(("webhook", "apprise")))
    address = fields.String(required=True, validate=validate.Length(min=5, max=2000))
    secret = fields.String(load_only=True, validate=validate.Length(min=16, max=200),
                           metadata={"description": "Webhook signing secret (HMAC-SHA256)."})
    id = fields.UUID(dump_only=True)
    created_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _secret_for_webhooks(self, data: dict, **kwargs: object) -> None:
        if data.get("channel") == "webhook" and not data.get("secret"):
            raise ValidationError("A webhook needs a signing secret of 16+ characters.",
                                  "secret")


class TemplateSchema(Schema):
    event_type = fields.String(dump_only=True)
    channel = fields.String(dump_only=True)
    locale = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)
    subject = fields.String(dump_only=True)
    body_text = fields.String(dump_only=True)
    body_html = fields.String(dump_only=True, allow_none=True)
    created_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class TemplateEditSchema(StrictSchema):
    subject = Text(min=1, max=300, required=True)
    body_text = Text(min=1, max=20000, required=True)
    body_html = fields.String(validate=validate.Length(max=50000), allow_none=True)


class TemplatePreviewSchema(Schema):
    subject = fields.String(dump_only=True)
    body_text = fields.String(dump_only=True)
    body_html = fields.String(dump_only=True, allow_none=True)
    variables = fields.List(fields.String(), dump_only=True)
