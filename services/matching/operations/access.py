"""Who may see and change which programme, need and proposal."""
from __future__ import annotations

from shared.audit import Actor
from shared.auth import PARTNER_ROLES
from shared.errors import abort
from shared.regions import covers


def in_my_regions(actor: Actor, region: str) -> bool:
    """A coordinator acts only inside the regions she is scoped to."""
    return any(covers(mine, region) for mine in actor.region_codes)


def require_need_editor(actor: Actor, region: str) -> None:
    if actor.is_dp3a:
        return
    if actor.role == "coordinator" and in_my_regions(actor, region):
        return
    abort(403, "Coordinators post and edit needs only in their own regions.",
          type="outside-your-regions")


def can_see_need(actor: Actor, region: str) -> bool:
    if actor.is_dp3a or actor.is_service or actor.role in PARTNER_ROLES:
        return True
    return actor.role == "coordinator" and in_my_regions(actor, region)
