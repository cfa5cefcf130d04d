"""Who hears of an event: audiences resolved against the recipient directory."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify.catalogue import (
    BY_TYPE,
    DP3A,
    INVITEE,
    ORG_ADMINS,
    REGION_COORDINATORS,
    REQUESTER,
)
from services.notify.models import Recipient
from shared.regions import covers


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def recipients_for(session: Session, event_type: str, payload: dict[str, Any],
                   memo: dict[Any, Any] | None = None) -> list[Recipient]:
    """The active recipients of an event, each once. `memo` (a dict the caller keeps for a
    batch of events) remembers each audience's directory read for the next event."""
    kind = BY_TYPE.get(event_type)
    if kind is None:
        return []
    memo = {} if memo is None else memo
    found: dict[uuid.UUID, Recipient] = {}
    for audience in kind.audiences:
        if audience == INVITEE:  # may add the invitee to the directory: never remembered
            people = [invitee(session, payload)] if payload.get("email") else []
        else:
            key = ("audience", audience, *_audience_key(audience, payload))
            if key not in memo:
                memo[key] = _audience(session, audience, payload)
            people = memo[key]
            if audience == REGION_COORDINATORS:
                region = payload.get("need_region") or ""
                people = [r for r in people if any(covers(code, region)
                                                   for code in r.region_codes)]
        for person in people:
            found.setdefault(person.id, person)
    return list(found.values())


def _audience_key(audience: str, payload: dict[str, Any]) -> tuple[Any, ...]:
    """What an audience's directory read depends on."""
    if audience == ORG_ADMINS:
        return (_uuid(payload.get("organisation_id")),)
    if audience == REQUESTER:
        return (_uuid(payload.get("requested_by")),)
    return ()


def _audience(session: Session, audience: str, payload: dict[str, Any]) -> list[Recipient]:
    """The active people of an audience (every coordinator, for REGION_COORDINATORS: the
    caller keeps those whose regions cover the need)."""
    active = select(Recipient).where(Recipient.is_active.is_(True))
    if audience == DP3A:
        return list(session.scalars(active.where(
            Recipient.role.in_(("dp3a_officer", "dp3a_admin")))))
    if audience == ORG_ADMINS:
        organisation = _uuid(payload.get("organisation_id"))
        return list(session.scalars(active.where(
            Recipient.organisation_id == organisation,
            Recipient.role == "partner_admin"))) if organisation else []
    if audience == REGION_COORDINATORS:
        return list(session.scalars(active.where(Recipient.role == "coordinator")))
    if audience == REQUESTER:
        requester = _uuid(payload.get("requested_by"))
        person = session.get(Recipient, requester) if requester else None
        return [person] if person is not None and person.is_active else []
    return []


def invitee(session: Session, payload: dict[str, Any]) -> Recipient:
    """Someone invited who has no account yet: a directory entry keyed by the invitation."""
    recipient_id = uuid.uuid5(uuid.NAMESPACE_URL, f"mitra:invitation:{payload['invitation_id']}")
    recipient = session.get(Recipient, recipient_id)
    if recipient is None:
        recipient = Recipient(
            id=recipient_id, organisation_id=_uuid(payload.get("organisation_id")),
            email=payload["email"], name=payload.get("name") or payload["email"], role=None,
            region_codes=[], locale=payload.get("locale") if payload.get("locale") in (
                "id", "en") else "id", is_active=True)
        session.add(recipient)
        session.flush()
    return recipient
