"""Registering organisations, editing them, and DP3A's verification decisions."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.partners.models import Offer, Organisation, User, snapshot
from services.partners.security import hash_password
from shared import audit, outbox
from shared.audit import Actor
from shared.db import utcnow
from shared.errors import abort

ORGANISATION_FIELDS = (
    "kind", "name", "nib", "npwp", "pddikti_code", "sector", "address", "address_region",
    "operating_regions", "website", "contact_name", "contact_email", "contact_phone", "status",
    "status_reason",
)
USER_FIELDS = ("email", "name", "role", "region_codes", "locale", "is_active")

# action -> (states it may start from, state it leads to, timestamp it sets)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "verify": (frozenset({"pending"}), "verified", "verified_at"),
    "reject": (frozenset({"pending"}), "rejected", "rejected_at"),
    "suspend": (frozenset({"verified"}), "suspended", "suspended_at"),
    "reinstate": (frozenset({"suspended"}), "verified", "verified_at"),
}


def _find_duplicate(session: Session, data: dict[str, Any]) -> Organisation | None:
    clauses = [getattr(Organisation, name) == data[name]
               for name in ("nib", "npwp", "pddikti_code") if data.get(name)]
    if not clauses:
        return None
    return session.scalars(select(Organisation).where(or_(*clauses))).first()


def _refuse_duplicate(actor: Actor, existing: Organisation) -> None:
    extra: dict[str, Any] = {}
    if actor.is_dp3a:  # only DP3A learns which organisation holds the identifier
        extra["existing"] = {"id": str(existing.id), "name": existing.name}
    abort(409, "An organisation with this NIB, NPWP or PDDikti code is already registered.",
          type="duplicate-organisation", **extra)


def register(session: Session, actor: Actor, data: dict[str, Any]) -> tuple[Organisation, User]:
    """A new organisation (pending verification) with its first administrator."""
    admin = data.pop("admin")
    existing = _find_duplicate(session, data)
    if existing is not None:
        _refuse_duplicate(actor, existing)
    if session.scalar(select(User.id).where(User.email == admin["email"])) is not None:
        abort(409, "An account with this email already exists; sign in instead.",
              type="duplicate-email", errors={"admin.email": ["Already registered."]})
    organisation = Organisation(**data, status="pending")
    user = User(organisation=organisation, email=admin["email"], name=admin["name"],
                role="partner_admin", locale=admin["locale"],
                password_hash=hash_password(admin["password"]))
    session.add_all([organisation, user])
    try:
        session.flush()
    except IntegrityError:  # a concurrent registration won the race
        session.rollback()
        abort(409, "This organisation or email was registered a moment ago.",
              type="duplicate-organisation")
    registrant = Actor(id=str(user.id), role=user.role, organisation_id=str(organisation.id))
    audit.record(session, registrant, "organisation.registered", "organisation",
                 organisation.id, None, snapshot(organisation, ORGANISATION_FIELDS))
    audit.record(session, registrant, "user.created", "user", user.id, None,
                 snapshot(user, USER_FIELDS))
    outbox.emit(session, "organisation.registered", "organisation", organisation.id, {
        "organisation_id": str(organisation.id), "name": organisation.name,
        "kind": organisation.kind, "address_region": organisation.address_region,
    })
    outbox.emit(session, "user.created", "user", user.id, user_event_payload(user))
    return organisation, user


def user_event_payload(user: User) -> dict[str, Any]:
    """What notify keeps in its recipient directory."""
    return {"user_id": str(user.id), "organisation_id": str(user.organisation_id),
            "email": user.email, "name": user.name, "role": user.role,
            "region_codes": list(user.region_codes), "locale": user.locale,
            "is_active": user.is_active}


def get_for_update(session: Session, organisation_id: uuid.UUID) -> Organisation:
    organisation = session.scalar(
        select(Organisation).where(Organisation.id == organisation_id).with_for_update())
    if organisation is None:
        abort(404, "No organisation with this id.")
    return organisation


def update(session: Session, actor: Actor, organisation: Organisation,
           changes: dict[str, Any]) -> Organisation:
    before = snapshot(organisation, ORGANISATION_FIELDS)
    for name, value in changes.items():
        setattr(organisation, name, value)
    session.flush()
    audit.record(session, actor, "organisation.updated", "organisation", organisation.id,
                 before, snapshot(organisation, ORGANISATION_FIELDS))
    return organisation


def change_status(session: Session, actor: Actor, organisation: Organisation, action: str,
                  reason: str | None) -> Organisation:
    """verify, reject, suspend or reinstate, from the states each allows."""
    sources, target, stamp = TRANSITIONS[action]
    if organisation.is_agency:
        abort(409, "The agency's own organisation cannot change status.", type="illegal-transition")
    if organisation.status not in sources:
        abort(409, f"Cannot {action} an organisation that is {organisation.status}.",
              type="illegal-transition", current_status=organisation.status)
    before = snapshot(organisation, ORGANISATION_FIELDS)
    now = utcnow()
    organisation.status = target
    organisation.status_reason = reason
    setattr(organisation, stamp, now)
    session.flush()
    audit.record(session, actor, f"organisation.{action}", "organisation", organisation.id,
                 before, snapshot(organisation, ORGANISATION_FIELDS))
    outbox.emit(session, f"organisation.{target}", "organisation", organisation.id, {
        "organisation_id": str(organisation.id), "name": organisation.name,
        "status": target, "reason": reason, "by": actor.id,
    })
    if target == "verified":
        _activate_submitted_offers(session, actor, organisation)
    return organisation


def _activate_submitted_offers(session: Session, actor: Actor,
                               organisation: Organisation) -> None:
    from services.partners.operations.offers import activate

    offers = session.scalars(select(Offer).where(
        Offer.organisation_id == organisation.id, Offer.status == "submitted")).all()
    for offer in offers:
        activate(session, actor, offer)
