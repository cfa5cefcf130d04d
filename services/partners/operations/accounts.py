"""People and machines: sign-in, tokens, invitations, user administration, API keys."""
from __future__ import annotations

import hmac
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.partners.models import ApiKey, Invitation, Organisation, User, snapshot
from services.partners.operations.access import require_admin_of
from services.partners.operations.organisations import USER_FIELDS, user_event_payload
from services.partners.security import (
    hash_password,
    new_api_key,
    new_invitation_token,
    parse_api_key,
    same_secret,
    sha256_hex,
    verify_password,
)
from shared import audit, outbox
from shared.audit import Actor
from shared.auth import DP3A_ROLES, PARTNER_ROLES
from shared.db import utcnow
from shared.errors import abort, invalid

AGENCY_ROLES = DP3A_ROLES | {"coordinator"}


def _unauthorised(detail: str = "Wrong email or password.") -> None:
    abort(401, detail, type="invalid-credentials")


def claims_for_user(user: User) -> dict[str, Any]:
    return {"sub": str(user.id), "typ": "user", "role": user.role,
            "org": str(user.organisation_id), "regions": list(user.region_codes),
            "locale": user.locale, "name": user.name, "email": user.email}


def sign_in_with_password(session: Session, email: str, password: str) -> dict[str, Any]:
    user = session.scalar(select(User).where(User.email == email.lower()))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        _unauthorised()
    if not user.is_active:
        _unauthorised("This account has been deactivated; ask your administrator.")
    user.last_login_at = utcnow()
    return claims_for_user(user)


def sign_in_with_api_key(session: Session, presented: str) -> dict[str, Any]:
    prefix = parse_api_key(presented)
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    if key is None or key.revoked_at is not None or not same_secret(key.key_hash, presented):
        _unauthorised("This API key is not valid or has been revoked.")
    key.last_used_at = utcnow()
    return {"sub": str(key.id), "typ": "api_key", "role": key.role,
            "org": str(key.organisation_id), "regions": [], "locale": "id"}


def sign_in_service(clients: dict[str, str], client_id: str, secret: str) -> dict[str, Any]:
    expected = clients.get(client_id)
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        _unauthorised("Unknown service client or wrong secret.")
    return {"sub": f"service:{client_id}", "typ": "service", "role": "service"}


# --- invitations ----------------------------------------------------------------------------

def _require_person(actor: Actor, what: str) -> None:
    """Invitations and API keys record the person who made them; a machine client has none
    (and must not be able to mint more credentials)."""
    if actor.kind != "user":
        abort(403, f"Only a person may {what}; this token belongs to a machine client.",
              type="people-only")


def _check_role_for_organisation(organisation: Organisation, role: str,
                                 region_codes: list[str]) -> None:
    allowed = AGENCY_ROLES if organisation.is_agency else PARTNER_ROLES
    if role not in allowed:
        invalid("role", f"This organisation's people can be: {', '.join(sorted(allowed))}.")
    if role == "coordinator" and not region_codes:
        invalid("region_codes", "A coordinator needs at least one region.")
    if role != "coordinator" and region_codes:
        invalid("region_codes", "Only coordinators are scoped to regions.")


def invite(session: Session, actor: Actor, organisation: Organisation, data: dict[str, Any],
           lifetime: timedelta) -> tuple[Invitation, str]:
    """An invitation to join `organisation`; the token is returned once and stored hashed."""
    require_admin_of(actor, organisation.id, agency=organisation.is_agency)
    _require_person(actor, "invite people")
    _check_role_for_organisation(organisation, data["role"], data["region_codes"])
    if session.scalar(select(User.id).where(User.email == data["email"])) is not None:
        abort(409, "This person already has an account.", type="duplicate-email",
              errors={"email": ["Already registered."]})
    for pending in session.scalars(select(Invitation).where(
            Invitation.organisation_id == organisation.id, Invitation.email == data["email"],
            Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))):
        pending.revoked_at = utcnow()  # the newest invitation replaces older ones
    token, token_hash = new_invitation_token()
    invitation = Invitation(organisation_id=organisation.id, token_hash=token_hash,
                            invited_by=uuid.UUID(actor.id), expires_at=utcnow() + lifetime,
                            **data)
    session.add(invitation)
    session.flush()
    audit.record(session, actor, "invitation.created", "invitation", invitation.id, None,
                 snapshot(invitation, ("email", "role", "region_codes", "organisation_id")))
    outbox.emit(session, "user.invited", "invitation", invitation.id, {
        "invitation_id": str(invitation.id), "organisation_id": str(organisation.id),
        "organisation_name": organisation.name, "email": invitation.email,
        "name": invitation.name, "role": invitation.role, "locale": invitation.locale,
        "token": token, "expires_at": invitation.expires_at.isoformat(),
    })
    return invitation, token


def accept_invitation(session: Session, token: str, name: str, password: str,
                      locale: str | None) -> User:
    invitation = session.scalar(select(Invitation).where(
        Invitation.token_hash == sha256_hex(token)).with_for_update())
    if invitation is None or invitation.revoked_at is not None:
        abort(404, "This invitation does not exist or was replaced by a newer one.")
    if invitation.accepted_at is not None:
        abort(409, "This invitation was already used; sign in instead.",
              type="invitation-used")
    if invitation.expires_at < utcnow():
        abort(409, "This invitation has expired; ask for a new one.", type="invitation-expired")
    if session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
        abort(409, "This person already has an account.", type="duplicate-email")
    user = User(organisation_id=invitation.organisation_id, email=invitation.email, name=name,
                role=invitation.role, region_codes=list(invitation.region_codes),
                locale=locale or invitation.locale, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    invitation.accepted_at = utcnow()
    invitation.user_id = user.id
    actor = Actor(id=str(user.id), role=user.role, organisation_id=str(user.organisation_id))
    audit.record(session, actor, "user.created", "user", user.id, None,
                 snapshot(user, USER_FIELDS))
    outbox.emit(session, "user.created", "user", user.id, user_event_payload(user))
    return user


# --- users ------------------------------------------------------------------------------------

def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        abort(404, "No user with this id.")
    return user


def update_self(session: Session, actor: Actor, user: User, changes: dict[str, Any]) -> User:
    before = snapshot(user, USER_FIELDS)
    if "new_password" in changes:
        if not verify_password(user.password_hash, changes.pop("current_password")):
            invalid("current_password", "This is not your current password.")
        user.password_hash = hash_password(changes.pop("new_password"))
    for name, value in changes.items():
        setattr(user, name, value)
    session.flush()
    audit.record(session, actor, "user.updated", "user", user.id, before,
                 snapshot(user, USER_FIELDS))
    outbox.emit(session, "user.updated", "user", user.id, user_event_payload(user))
    return user


def administer_user(session: Session, actor: Actor, user: User, changes: dict[str, Any]
                    ) -> User:
    """An organisation's admin changes a colleague's role, regions or access."""
    organisation = user.organisation
    require_admin_of(actor, organisation.id, agency=organisation.is_agency)
    role = changes.get("role", user.role)
    regions = changes.get("region_codes", user.region_codes if role == "coordinator" else [])
    _check_role_for_organisation(organisation, role, regions)
    if str(user.id) == actor.id and (role != user.role or changes.get("is_active") is False):
        abort(409, "You cannot change your own role or deactivate yourself.",
              type="self-change")
    admin_role = "dp3a_admin" if organisation.is_agency else "partner_admin"
    losing_admin = user.role == admin_role and (
        role != admin_role or changes.get("is_active") is False)
    if losing_admin:
        admins = session.scalar(select(func.count()).select_from(User).where(
            User.organisation_id == organisation.id, User.role == admin_role,
            User.is_active.is_(True)))
        if admins <= 1:
            abort(409, "This is the organisation's last administrator.", type="last-admin")
    before = snapshot(user, USER_FIELDS)
    user.role = role
    user.region_codes = regions
    if "is_active" in changes:
        user.is_active = changes["is_active"]
    session.flush()
    audit.record(session, actor, "user.administered", "user", user.id, before,
                 snapshot(user, USER_FIELDS))
    outbox.emit(session, "user.updated", "user", user.id, user_event_payload(user))
    return user


# --- API keys ---------------------------------------------------------------------------------

def create_api_key(session: Session, actor: Actor, name: str, role: str) -> tuple[ApiKey, str]:
    """A key for a machine client of the caller's organisation, acting with `role`."""
    organisation = session.get(Organisation, uuid.UUID(actor.organisation_id))
    require_admin_of(actor, organisation.id, agency=organisation.is_agency)
    _require_person(actor, "create API keys")
    allowed = (DP3A_ROLES if organisation.is_agency else PARTNER_ROLES)
    if role not in allowed:
        invalid("role", f"Keys of this organisation can act as: {', '.join(sorted(allowed))}.")
    full, prefix, key_hash = new_api_key()
    key = ApiKey(organisation_id=organisation.id, name=name, role=role, prefix=prefix,
                 key_hash=key_hash, created_by=uuid.UUID(actor.id))
    session.add(key)
    session.flush()
    audit.record(session, actor, "api_key.created", "api_key", key.id, None,
                 snapshot(key, ("name", "role", "prefix", "organisation_id")))
    return key, full


def revoke_api_key(session: Session, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or str(key.organisation_id) != actor.organisation_id:
        abort(404, "No API key with this id in your organisation.")
    organisation = session.get(Organisation, key.organisation_id)
    require_admin_of(actor, organisation.id, agency=organisation.is_agency)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        audit.record(session, actor, "api_key.revoked", "api_key", key.id,
                     {"revoked_at": None}, {"revoked_at": key.revoked_at.isoformat()})
    return key
