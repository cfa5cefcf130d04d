"""What each person wants to hear, and where."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify.models import ChannelAddress, Preference, Recipient

DEFAULT_CHANNELS = ("email", "inapp")


def channels_for(session: Session, recipient: Recipient, event_type: str) -> list[str]:
    """The channels to use for this recipient and event type ([] when muted)."""
    prefs = {p.event_type: p for p in session.scalars(select(Preference).where(
        Preference.recipient_id == recipient.id,
        Preference.event_type.in_((event_type, "*"))))}
    chosen = prefs.get(event_type) or prefs.get("*")
    if chosen is not None and chosen.muted:
        return []
    wanted = list(chosen.channels) if chosen is not None else list(DEFAULT_CHANNELS)
    registered = {a.channel for a in session.scalars(select(ChannelAddress).where(
        ChannelAddress.recipient_id == recipient.id))}
    # Webhooks and Apprise go out only where the person registered an address.
    return [c for c in wanted if c in ("email", "inapp") or c in registered]
