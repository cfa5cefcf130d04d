"""Who may see and change which organisation's things."""
from __future__ import annotations

import uuid

from shared.audit import Actor
from shared.errors import abort


def same_organisation(actor: Actor, organisation_id: uuid.UUID) -> bool:
    return actor.organisation_id is not None and actor.organisation_id == str(organisation_id)


def require_member_or_dp3a(actor: Actor, organisation_id: uuid.UUID) -> None:
    """DP3A and services see every organisation; others only their own."""
    if actor.is_dp3a or actor.is_service or same_organisation(actor, organisation_id):
        return
    abort(403, "This belongs to another organisation.", type="not-your-organisation")


def require_admin_of(actor: Actor, organisation_id: uuid.UUID, *, agency: bool) -> None:
    """Partner admins manage their own organisation; DP3A admins manage the agency's."""
    if same_organisation(actor, organisation_id) and (
        actor.role == "partner_admin" or (agency and actor.role == "dp3a_admin")
    ):
        return
    abort(403, "Only an administrator of this organisation may do this.",
          type="not-your-organisation")
