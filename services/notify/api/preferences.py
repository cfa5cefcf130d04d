"""The signed-in person's preferences: language, channels per event type, mute; and the
webhook or Apprise address they want messages at."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import delete, select

from services.notify.models import ChannelAddress, Preference, Recipient, db
from services.notify.schemas import ChannelAddressSchema, PreferencesSchema
from shared import audit
from shared.auth import ALL_USER_ROLES, allow, current_actor
from shared.errors import abort

blp = Blueprint("preferences", __name__, description="Preferences")


def _me() -> Recipient:
    actor = current_actor()
    recipient = db.session.get(Recipient, uuid.UUID(actor.id)) if actor.kind == "user" else None
    if recipient is None:
        abort(404, "You are not in the recipient directory yet; it fills from partners' "
                   "events, so try again in a moment.", type="not-in-directory")
    return recipient


def _http_url(address: str) -> bool:
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 (raises ValueError when out of range)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [IPv6 literal, port 99999
        return False


def _dump(recipient: Recipient) -> dict:
    prefs = db.session.scalars(select(Preference).where(
        Preference.recipient_id == recipient.id).order_by(Preference.event_type))
    return {"locale": recipient.locale, "preferences": [
        {"event_type": p.event_type, "channels": p.channels, "muted": p.muted} for p in prefs]}


@blp.route("/api/v1/preferences")
class Preferences(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.response(200, PreferencesSchema)
    def get(self):
        """My language and notification preferences"""
        return _dump(_me())

    @allow(ALL_USER_ROLES)
    @blp.arguments(PreferencesSchema)
    @blp.response(200, PreferencesSchema)
    def put(self, data: dict):
        """Replace my preferences (channels per event type, or mute)"""
        recipient = _me()
        before = _dump(recipient)
        if "locale" in data:
            recipient.locale = data["locale"]
        if "preferences" in data:
            db.session.execute(delete(Preference).where(Preference.recipient_id == recipient.id))
            for item in data["preferences"]:
                db.session.add(Preference(recipient_id=recipient.id, **item))
        db.session.flush()
        after = _dump(recipient)
        audit.record(db.session, current_actor(), "preferences.updated", "recipient",
                     recipient.id, before, after)
        db.session.commit()
        return after


@blp.route("/api/v1/channels")
class Channels(MethodView):
    @allow(ALL_USER_ROLES)
    @blp.response(200, ChannelAddressSchema(many=True))
    def get(self):
        """My webhook and Apprise addresses"""
        return db.session.scalars(select(ChannelAddress).where(
            ChannelAddress.recipient_id == _me().id)).all()

    @allow(ALL_USER_ROLES)
    @blp.arguments(ChannelAddressSchema)
    @blp.response(200, ChannelAddressSchema)
    def put(self, data: dict):
        """Set my webhook (with its signing secret) or Apprise URL"""
        recipient = _me()
        if data["channel"] == "apprise":
            import apprise

            if apprise.Apprise.instantiate(data["address"]) is None:
                abort(422, "Some fields are not valid; see errors.",
                      errors={"address": ["Not an Apprise URL this server understands."]})
        elif not _http_url(data["address"]):
            abort(422, "Some fields are not valid; see errors.",
                  errors={"address": ["A webhook needs an http(s) URL."]})
        row = db.session.scalar(select(ChannelAddress).where(
            ChannelAddress.recipient_id == recipient.id,
            ChannelAddress.channel == data["channel"]))
        if row is None:
            row = ChannelAddress(recipient_id=recipient.id, channel=data["channel"])
            db.session.add(row)
        row.address, row.secret = data["address"], data.get("secret")
        db.session.flush()
        audit.record(db.session, current_actor(), "channel.set", "recipient", recipient.id,
                     None, {"channel": row.channel})
        db.session.commit()
        return row
